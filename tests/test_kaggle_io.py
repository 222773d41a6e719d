"""harness.kaggle_io through the real `kaggle` client against the fake Kaggle on 127.0.0.1, and the download
stage's one completion marker around it."""
import json
import shutil
import socket
import threading

import pytest
import requests

from fake_kaggle import FakeKaggle, dogs_vs_cats_zip, kaggle_env, make_zip
from harness import competition, download, kaggle_io, paths
from harness.archives import CorruptArchive
from harness.competition import Source
from harness.errors import HarnessError

DOGS = Source("competition", "dogs-vs-cats")
ANIMALS = Source("dataset", "alessiocorrado99/animals10")


@pytest.fixture
def sleeps(monkeypatch):
    """Record backoff waits instead of sleeping."""
    waits = []
    monkeypatch.setattr(kaggle_io, "_sleep", waits.append)
    return waits


@pytest.fixture
def fake(fake, sleeps):
    """conftest's fake Kaggle, serving a tiny dogs-vs-cats, with backoff waits recorded instead of slept."""
    fake.add_competition("dogs-vs-cats", dogs_vs_cats_zip())
    return fake


def tree(root):
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def error_of(fn, *args, **kwargs) -> str:
    with pytest.raises(HarnessError) as err:
        fn(*args, **kwargs)
    return str(err.value)


# --- downloads -----------------------------------------------------------------------------------

def test_competition_download_unpacks_nested_zips(fake, tmp_path):
    dest = kaggle_io.download(DOGS, tmp_path / "raw")
    assert dest == tmp_path / "raw"
    assert tree(dest) == ["sampleSubmission.csv", "test1/1.jpg", "train/cat.1.jpg", "train/dog.1.jpg"]
    assert fake.calls("DownloadDataFiles")[0]["body"]["competitionName"] == "dogs-vs-cats"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".raw.download")] == []


def test_dataset_download(fake, tmp_path):
    fake.add_dataset(ANIMALS.slug, make_zip({"raw-img/cane/OIP-1.jpeg": b"dog", "translate.py": b"x = 1\n"}))
    dest = kaggle_io.download(ANIMALS, tmp_path / "animals")
    assert tree(dest) == ["raw-img/cane/OIP-1.jpeg", "translate.py"]
    body = fake.calls("DownloadDataset")[0]["body"]
    assert (body["ownerSlug"], body["datasetSlug"]) == ("alessiocorrado99", "animals10")


def test_rerun_is_a_no_op_and_force_downloads_again(fake):
    comp = competition.get("dogs-vs-cats")
    raw = download.fetch(comp)
    assert json.loads((raw / download.MARKER).read_text())["slug"] == "dogs-vs-cats" and download.is_complete(comp)
    fake.log.clear()
    download.fetch(comp)
    assert fake.log == []
    download.fetch(comp, force=True)
    assert len(fake.calls("DownloadDataFiles")) == 1


def test_a_marker_of_another_source_or_a_torn_one_means_download_again(fake):
    comp = competition.get("dogs-vs-cats")
    raw = download.fetch(comp)
    for marker in ('{"kind": "competition", "slug": "dogs-vs-cats-redux-kernels-edition"}', '{"kind": "comp'):
        (raw / download.MARKER).write_text(marker)
        assert not download.is_complete(comp)
        fake.log.clear()
        download.fetch(comp)
        assert len(fake.calls("DownloadDataFiles")) == 1 and download.is_complete(comp)


def test_builtin_sources_use_the_same_marker(tiny):
    raw = download.fetch(tiny)
    assert json.loads((raw / download.MARKER).read_text())["kind"] == "builtin"
    shutil.rmtree(raw / "train")  # a marked folder is trusted as it is, not built again...
    assert download.fetch(tiny) == raw and not (raw / "train").exists()
    assert (download.fetch(tiny, force=True) / "train").is_dir()  # ...unless forced


def test_unfinished_dest_is_replaced(fake, tmp_path):
    (tmp_path / "raw").mkdir()
    (tmp_path / "raw" / "half-written.jpg").write_bytes(b"")
    kaggle_io.download(DOGS, tmp_path / "raw")
    assert "half-written.jpg" not in tree(tmp_path / "raw")


def test_concurrent_downloads_of_one_competition_fetch_once(fake):
    comp = competition.get("dogs-vs-cats")
    threads = [threading.Thread(target=download.fetch, args=(comp,)) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(fake.calls("DownloadDataFiles")) == 1
    assert "train/cat.1.jpg" in tree(paths.raw_dir("dogs-vs-cats"))


def test_non_kaggle_source_is_refused(tmp_path):
    assert "builtin" in error_of(kaggle_io.download, Source("builtin", "toy"), tmp_path / "raw")


# --- errors --------------------------------------------------------------------------------------

def test_truncated_archive_is_downloaded_once_more(fake, tmp_path):
    fake.truncate("dogs-vs-cats", times=1)
    kaggle_io.download(DOGS, tmp_path / "raw")
    assert len(fake.calls("file")) == 2
    assert "train/dog.1.jpg" in tree(tmp_path / "raw")


@pytest.mark.parametrize("html", [False, True])
def test_archive_corrupt_twice_is_an_error(fake, tmp_path, html):
    fake.truncate("dogs-vs-cats", times=None, html=html)
    with pytest.raises(CorruptArchive) as err:
        kaggle_io.download(DOGS, tmp_path / "raw")
    assert "corrupt twice" in str(err.value) and "https://www.kaggle.com/c/dogs-vs-cats" in str(err.value)
    assert len(fake.calls("file")) == 2
    assert not (tmp_path / "raw").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".raw.download")] == []


def test_rules_not_accepted_prints_the_rules_url_without_retrying(fake, tmp_path, sleeps):
    fake.require_rules("dogs-vs-cats")
    text = error_of(kaggle_io.download, DOGS, tmp_path / "raw")
    assert "https://www.kaggle.com/c/dogs-vs-cats/rules" in text and "accept" in text and "403" in text
    assert len(fake.calls("DownloadDataFiles")) == 1 and sleeps == []


def test_unknown_slug_suggests_harness_list(fake, tmp_path):
    text = error_of(kaggle_io.download, Source("competition", "dogs-vs-catz"), tmp_path / "raw")
    assert "'dogs-vs-catz'" in text and "`harness list`" in text and "404" in text


def test_bad_key_says_so_without_showing_it(fake, tmp_path, monkeypatch):
    monkeypatch.setenv("KAGGLE_KEY", "wrong-key-123456")
    text = error_of(kaggle_io.download, DOGS, tmp_path / "raw")
    assert "401" in text and "https://www.kaggle.com/settings" in text and "expired" in text
    assert "wrong-key-123456" not in text


def test_rate_limit_is_retried_honouring_retry_after(fake, tmp_path, sleeps):
    fake.fail_next(429, times=2, retry_after=7)
    kaggle_io.download(DOGS, tmp_path / "raw")
    assert sleeps == [7.0, 7.0]
    assert len(fake.calls("DownloadDataFiles")) == 3


def test_rate_limit_retries_are_bounded_and_capped(fake, tmp_path, sleeps):
    fake.fail_next(429, times=100, retry_after=3600)
    text = error_of(kaggle_io.download, DOGS, tmp_path / "raw")
    assert "429" in text and "wait a few minutes" in text
    assert len(fake.calls("DownloadDataFiles")) == kaggle_io.RATE_LIMIT_TRIES
    assert sleeps == [kaggle_io.RATE_LIMIT_CAP_S] * (kaggle_io.RATE_LIMIT_TRIES - 1)


def test_unreachable_kaggle(fake, tmp_path, monkeypatch):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    for name in ("HTTP_PROXY", "http_proxy"):
        monkeypatch.setenv(name, f"http://127.0.0.1:{closed}")
    text = error_of(kaggle_io.download, DOGS, tmp_path / "raw")
    assert text.startswith("Cannot reach Kaggle") and "network" in text


def test_no_credentials_explains_how_to_log_in(monkeypatch, tmp_path):
    with FakeKaggle().serve() as server:
        kaggle_env(monkeypatch, tmp_path, server, credentials=False)
        text = error_of(kaggle_io.download, DOGS, tmp_path / "raw")
        assert server.log == []
    for hint in ("KAGGLE_API_TOKEN", "~/.kaggle/access_token", "kaggle.json", "KAGGLE_USERNAME + KAGGLE_KEY"):
        assert hint in text


def test_kaggle_json_credentials_work(fake, tmp_path, monkeypatch):
    monkeypatch.delenv("KAGGLE_USERNAME")
    monkeypatch.delenv("KAGGLE_KEY")
    config = tmp_path / "kaggle-config" / "kaggle.json"
    config.write_text(json.dumps({"username": FakeKaggle.USERNAME, "key": FakeKaggle.KEY}))
    config.chmod(0o600)
    assert "train/cat.1.jpg" in tree(kaggle_io.download(DOGS, tmp_path / "raw"))


def test_access_token_is_introspected_then_used(fake, tmp_path, monkeypatch):
    monkeypatch.delenv("KAGGLE_USERNAME")
    monkeypatch.delenv("KAGGLE_KEY")
    monkeypatch.setenv("KAGGLE_API_TOKEN", FakeKaggle.TOKEN)
    kaggle_io.download(DOGS, tmp_path / "raw")
    assert [e["method"] for e in fake.log][:2] == ["IntrospectToken", "DownloadDataFiles"]


def test_secrets_in_server_messages_are_scrubbed(fake, tmp_path, monkeypatch):
    monkeypatch.setenv("KAGGLE_API_TOKEN", "tok-never-shown-42")  # rejected by introspection, falls back to key
    fake.fail_next(500, message=f"internal error for key {FakeKaggle.KEY} token tok-never-shown-42")
    text = error_of(kaggle_io.download, DOGS, tmp_path / "raw")
    assert FakeKaggle.KEY not in text and "tok-never-shown-42" not in text and "***" in text
    assert "HTTP 500" in text


def test_kaggle_json_key_is_scrubbed(tmp_path, monkeypatch):
    monkeypatch.setenv("KAGGLE_CONFIG_DIR", str(tmp_path))
    monkeypatch.delenv("KAGGLE_KEY", raising=False)
    (tmp_path / "kaggle.json").write_text(json.dumps({"username": "u", "key": "json-key-9876"}))
    assert kaggle_io.scrub("failed with json-key-9876!") == "failed with ***!"


@pytest.mark.parametrize("message, status", [
    ("401 Client Error: Unauthorized for url: http://x/api", 401),
    ("403 - Forbidden - You must accept this competition's rules", 403),
    ("404 Client Error: Not Found for url: http://x", 404),
    ("429 - Too Many Requests", 429),
    ("Submission must have 12500 rows", None)])
def test_status_is_parsed_from_a_bare_message(message, status):
    assert kaggle_io._status(requests.HTTPError(message)) == status


# --- submissions ---------------------------------------------------------------------------------

def write_csv(tmp_path):
    path = tmp_path / "submission.csv"
    path.write_text("id,label\n1,0\n")
    return path


def test_upload_then_wait_for_score(fake, tmp_path, sleeps):
    fake.set_result("dogs-vs-cats", public_score=0.93, pending_polls=2)
    ref = kaggle_io.upload("dogs-vs-cats", write_csv(tmp_path), "fold ensemble")
    state = kaggle_io.wait_for_score("dogs-vs-cats", ref, timeout_s=60, poll_s=5)
    assert state == {"status": "complete", "public_score": 0.93, "error": None, "description": "fold ensemble"}
    assert list(fake.uploads.values()) == [b"id,label\n1,0\n"]
    assert sleeps == [5, 5]


def test_the_score_read_back_is_that_of_the_submission_just_made(fake, tmp_path, sleeps):
    fake.set_result("dogs-vs-cats", public_score=0.61, pending_polls=1)
    ours = kaggle_io.upload("dogs-vs-cats", write_csv(tmp_path), "ours")
    fake.set_result("dogs-vs-cats", public_score=0.99, pending_polls=0)
    theirs = kaggle_io.upload("dogs-vs-cats", write_csv(tmp_path), "another process's, newer")
    assert ours != theirs and fake.submissions["dogs-vs-cats"][0]["ref"] == theirs  # theirs is listed first
    state = kaggle_io.wait_for_score("dogs-vs-cats", ours, timeout_s=60, poll_s=0)
    assert state["public_score"] == 0.61 and state["description"] == "ours"


def test_upload_error_description_is_surfaced(fake, tmp_path, sleeps):
    fake.set_result("dogs-vs-cats", error="Submission must have 12500 rows")
    ref = kaggle_io.upload("dogs-vs-cats", write_csv(tmp_path), "bad")
    state = kaggle_io.wait_for_score("dogs-vs-cats", ref, timeout_s=60, poll_s=0)
    assert state["status"] == "error" and state["error"] == "Submission must have 12500 rows"
    assert state["public_score"] is None


def test_wait_for_score_returns_pending_at_timeout(fake, tmp_path):
    fake.set_result("dogs-vs-cats", public_score=0.5, pending_polls=1000)
    ref = kaggle_io.upload("dogs-vs-cats", write_csv(tmp_path), "slow")
    assert kaggle_io.wait_for_score("dogs-vs-cats", ref, timeout_s=0, poll_s=1)["status"] == "pending"


def test_upload_to_competition_with_unaccepted_rules(fake, tmp_path):
    fake.require_rules("dogs-vs-cats")
    text = error_of(kaggle_io.upload, "dogs-vs-cats", write_csv(tmp_path), "x")
    assert "https://www.kaggle.com/c/dogs-vs-cats/rules" in text


def test_upload_of_missing_file(tmp_path):
    assert "no such file" in error_of(kaggle_io.upload, "dogs-vs-cats", tmp_path / "nope.csv", "x")


def test_a_submission_kaggle_does_not_list(fake):
    assert "does not list submission 1234" in error_of(kaggle_io.submission_state, "dogs-vs-cats", 1234)
