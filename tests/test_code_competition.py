"""Code competitions: predict from a run folder alone, package a run as a Kaggle dataset and kernel, push it
through the real client to the fake Kaggle (dataset, kernel, its run, a code submission), and run the packaged
kernel as Kaggle would: a fresh virtualenv with only the notebook image's packages, no network, inputs laid out
as under /kaggle/input. One APTOS run (small-cnn: a registered model the installed wheel can rebuild; 2 folds x
1 epoch at 16 px, flipped TTA) is trained once for the module and copied into each test's HARNESS_HOME."""
import csv
import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import numpy as np
import pytest

import layouts
from conftest import FAST, folder_competition, registered
from fake_kaggle import FakeKaggle, kaggle_env
from harness import competition, cuts, inference, kaggle_io, leaderboard, package, paths, predict, submission
from harness.cli import main

APTOS = "aptos2019-blindness-detection"
RUN = "r1"
TRAIN = ("--model", "small-cnn", "--folds", "2", "--epochs", "1", "--image-size", "16", "--batch-size", "8",
         "--workers", "1", "--seed", "3")
# What a Kaggle notebook image has of this venv's packages: all but the Kaggle client (predicting needs none),
# the extras only tests use, and the checkout's own editable harness (the wheel is what must run).
NOT_IN_IMAGE = ("kaggle", "kagglesdk", "kaggle_harness", "__editable__", "jax", "jaxlib", "pytest", "_pytest")


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """HARNESS_HOME holding APTOS (from the fake Kaggle) and its finished run r1."""
    root = tmp_path_factory.mktemp("aptos")
    with pytest.MonkeyPatch.context() as mp, FakeKaggle().serve() as server:
        kaggle_env(mp, root, server)
        mp.setenv("HARNESS_HOME", str(root / "home"))
        layouts.serve(server, APTOS)
        assert main(["submit", APTOS, *TRAIN, "--run-id", RUN]) == 0
    return root / "home"


@pytest.fixture
def run_home(trained, home):
    shutil.copytree(trained, home)
    return home


def rows_by_id(path) -> dict:
    with open(path, newline="") as f:
        header, *rows = list(csv.reader(f))
    return {"header": header, **{r[0]: r[1:] for r in rows}}


def submitted_csv() -> Path:
    (row,) = leaderboard.rows(APTOS)
    return Path(row["submission"])


def error_line(capsys) -> str:
    """The one error line a failed command printed (progress bars may precede it); never a traceback."""
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("harness: error:")]
    assert len(errors) == 1 and "Traceback" not in err, err
    return errors[0]


# --- predict from a run folder alone ------------------------------------------------------------------------

def test_predict_images_gives_the_submit_csv_and_a_fallback_row(run_home, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(inference, "CHUNK", 2)  # 5 images + 1 broken file: three chunks
    hidden = tmp_path / "hidden"
    shutil.copytree(paths.raw_dir(APTOS) / "test_images", hidden)
    (hidden / "0badc0ffee00.png").write_bytes(b"<html>not an image</html>")
    out = tmp_path / "predicted.csv"
    shutil.rmtree(paths.data_dir(APTOS) / "cache")  # no training cache: the run folder is all there is
    assert main(["predict", APTOS, "--run-id", RUN, "--images", str(hidden), "--out", str(out)]) == 0
    assert "6 images through fold(s) 1, 2 with flipped TTA" in capsys.readouterr().out
    got, want = rows_by_id(out), rows_by_id(submitted_csv())
    comp, folder = competition.get(APTOS), paths.runs_dir(APTOS) / RUN
    fallback = cuts.labels(comp, predict.load_fallback(folder)[None], cuts.load(folder))[0]
    assert got.pop("0badc0ffee00") == [str(fallback)]
    assert got == want and len(want) == 6  # header + 5 test ids, every grade the same


def test_predict_images_refuses_what_it_cannot_name(run_home, tmp_path, capsys):
    assert main(["predict", APTOS, "--images", str(tmp_path)]) == 2
    assert "--images and --out go together" in error_line(capsys)
    assert main(["predict", APTOS, "--images", str(tmp_path / "none"), "--out", str(tmp_path / "x.csv")]) == 2
    assert "must be a folder of test images" in error_line(capsys)
    (tmp_path / "twice").mkdir()
    for name in ("abc.png", "abc.jpg"):
        (tmp_path / "twice" / name).write_bytes(layouts.encoded(0, 0, fmt="PNG"))
    assert main(["predict", APTOS, "--images", str(tmp_path / "twice"), "--out", str(tmp_path / "x.csv")]) == 2
    assert "both give id_code 'abc'" in error_line(capsys)
    assert main(["predict", "marvel", "--images", str(tmp_path / "twice"), "--out", str(tmp_path / "x.csv")]) == 2
    assert "does not name its test images by file" in error_line(capsys)


def test_decoding_streams_chunks_through_the_prepare_pool(tmp_path, monkeypatch):
    """Enough images for worker processes: chunks arrive in order, each decoded as prepare decodes, bad ones named."""
    from harness import images

    monkeypatch.setattr(inference, "CHUNK", 30)
    paths_ = []
    for n in range(70):
        paths_.append(tmp_path / f"{n:03d}.png")
        paths_[-1].write_bytes(layouts.encoded(n % 5, n, fmt="PNG") if n != 41 else b"")
    chunks = list(inference._decoded([str(p) for p in paths_], 16, workers=2))
    assert [(first, len(x)) for first, x, _ in chunks] == [(0, 30), (30, 30), (60, 10)]
    x = np.concatenate([x for _, x, _ in chunks])
    results = [r for _, _, rs in chunks for r in rs]
    assert [n for n, (ok, _, _) in enumerate(results) if not ok] == [41] and "empty file" in results[41][1]
    assert np.array_equal(x[7], images.decode_file(paths_[7], 16)[0]) and not list(tmp_path.glob("*.npy"))


def test_cached_features_run_predicts_from_its_folder(tiny_transfer, tmp_path):
    """A cached-features run's fold weights are its head only: the frozen backbone is saved beside the run."""
    comp = folder_competition("fx-cached", classes=("a", "b"), per_class=8, test=6, task="binary",
                              label_format="probability", metric="log_loss", file_id="stem")
    with registered(comp):
        assert main(["submit", comp.name, "--model", "tiny-transfer", "--cached-features", "--folds", "2",
                     "--epochs", "1", "--image-size", "16", "--workers", "1", "--batch-size", "8",
                     "--run-id", "c1"]) == 0
        out = tmp_path / "predicted.csv"
        assert main(["predict", comp.name, "--run-id", "c1", "--images", str(paths.raw_dir(comp.name) / "test"),
                     "--out", str(out)]) == 0
        (row,) = leaderboard.rows(comp.name)
    got, want = rows_by_id(out), rows_by_id(row["submission"])
    assert got.pop("header") == want.pop("header") and got.keys() == want.keys() and len(got) == 6
    assert [float(got[i][0]) for i in want] == pytest.approx([float(v[0]) for v in want.values()], abs=1e-5)
    assert (paths.runs_dir(comp.name) / "c1" / inference.BACKBONE).is_file()


# --- the command line around code competitions --------------------------------------------------------------

def test_info_and_upload_name_the_code_competition(fake, tiny_model, capsys):
    assert main(["info", APTOS]) == 0
    assert f"code competition" in capsys.readouterr().out
    assert main(["submit", APTOS, *FAST, "--upload"]) == 2
    assert f"harness package {APTOS} --run-id RUN --push" in error_line(capsys)
    assert not paths.runs_dir(APTOS).exists() and fake.calls("DownloadDataFiles") == []


def test_package_refuses_a_csv_competition(capsys):
    assert main(["package", "dogs-vs-cats", "--owner", "someone"]) == 2
    assert "not a code competition" in error_line(capsys)


# --- package and push ---------------------------------------------------------------------------------------

@pytest.fixture
def pushing(fake, run_home, monkeypatch):
    """The fake Kaggle, polling without sleeping, its kernel runs leaving the run's own submit CSV."""
    monkeypatch.setattr(kaggle_io, "_sleep", lambda s: None)
    name = package.default_name(APTOS, RUN)
    fake.set_kernel_run(name, files={"submission.csv": submitted_csv().read_bytes()}, running_polls=2)
    return fake, f"{FakeKaggle.USERNAME}/{name}"


def test_package_push_runs_the_kernel_and_records_its_public_score(pushing, capsys):
    fake, ref = pushing
    fake.set_result(APTOS, public_score=0.7312, pending_polls=1)
    assert main(["package", APTOS, "--run-id", RUN, "--push", "--message", "fold ensemble"]) == 0
    run = paths.runs_dir(APTOS) / RUN
    (files,) = fake.datasets[ref]
    manifest = json.loads(files["harness-run.json"])
    assert set(files) == {"harness-run.json", manifest["wheel"], *manifest["files"].values()}
    assert set(manifest["files"]) == {"config.json", "cuts.json", "fallback.json", "fold0/result.json",
                                      "fold0/model.weights.h5", "fold1/result.json", "fold1/model.weights.h5"}
    assert all(files[flat] == (run / relative).read_bytes() for relative, flat in manifest["files"].items())
    assert manifest["wheel"].endswith("-py3-none-any.whl") and manifest["test_images"] == f"{APTOS}/test_images"
    (kernel,) = fake.kernels[ref]
    assert kernel["competitionDataSources"] == [APTOS] and kernel["datasetDataSources"] == [ref]
    assert kernel["enableInternet"] is False and kernel["enableGpu"] is True and kernel["kernelType"] == "script"
    assert kernel["text"] == (Path(inference.__file__).with_name("kaggle_kernel.py")).read_text()
    (submitted,) = fake.calls("CreateCodeSubmission")
    assert submitted["body"] == {"competitionName": APTOS, "kernelOwner": FakeKaggle.USERNAME,
                                 "kernelSlug": ref.split("/")[1], "kernelVersion": 1, "fileName": "submission.csv",
                                 "submissionDescription": "fold ensemble"}
    (row,) = leaderboard.rows(APTOS)
    assert row["public_score"] == pytest.approx(0.7312) and row["public_error"] is None
    assert "public score 0.7312" in capsys.readouterr().out
    written = [p for p in paths.home().rglob("*") if p.is_file()]
    assert not [p for p in written if FakeKaggle.KEY.encode() in p.read_bytes()]  # credentials written nowhere

    assert main(["package", APTOS, "--run-id", RUN, "--push"]) == 0  # again: a new version of each
    assert len(fake.datasets[ref]) == 2 and len(fake.kernels[ref]) == 2
    assert fake.calls("CreateCodeSubmission")[-1]["body"]["kernelVersion"] == 2


LOG = json.dumps([{"stream_name": "stdout", "time": 2.0, "data": "harness kernel: running harness predict\n"},
                  {"stream_name": "stderr", "time": 9.0, "data": "harness: error: something broke at row 7\n"}])


@pytest.mark.parametrize("trouble, expected", [
    (lambda fake, name: fake.refuse_dataset(name, "The requested title is already in use by a dataset"),
     "Kaggle refused to create dataset"),
    (lambda fake, name: fake.require_rules(APTOS), f"https://www.kaggle.com/c/{APTOS}/rules"),
    (lambda fake, name: fake.set_kernel_run(name, status="ERROR", log=LOG, failure="Your notebook hit an error"),
     "ended with status error (Your notebook hit an error); its log ends: harness kernel: running harness predict "
     "| harness: error: something broke at row 7"),
    (lambda fake, name: fake.set_kernel_run(name, files={}), "finished without writing submission.csv"),
    (lambda fake, name: fake.fail_next(400, method="CreateCodeSubmission", message="Your team has used its daily "
                                       "Submission allowance (5) today"), "daily Submission allowance"),
], ids=["dataset-slug-taken", "rules-not-accepted", "kernel-error", "no-output", "quota"])
def test_every_push_failure_is_one_sentence(pushing, capsys, trouble, expected):
    fake, ref = pushing
    trouble(fake, ref.split("/")[1])
    assert main(["package", APTOS, "--run-id", RUN, "--push"]) == 2
    assert expected in error_line(capsys)
    assert leaderboard.rows(APTOS)[0]["public_score"] is None


# --- the packaged kernel, run as Kaggle runs it -------------------------------------------------------------

def kaggle_image(root: Path) -> Path:
    """A virtualenv whose only packages are this one's, minus NOT_IN_IMAGE, reached through one .pth line (a
    folder of links), as fast as a venv gets and with nothing installed twice; returns its python."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root / "venv")], check=True)
    shelf = root / "image-packages"
    shelf.mkdir()
    for entry in Path(sysconfig.get_paths()["purelib"]).iterdir():
        if not entry.name.lower().startswith(NOT_IN_IMAGE) and not entry.name.endswith(".pth"):
            (shelf / entry.name).symlink_to(entry)
    python = root / "venv" / "bin" / "python"
    site = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    Path(site, "kaggle-image.pth").write_text(f"{shelf}\n")
    return python


def test_packaged_kernel_writes_a_valid_submission_offline(run_home, tmp_path, capsys):
    assert main(["package", APTOS, "--run-id", RUN, "--owner", "someone"]) == 0
    built = paths.runs_dir(APTOS) / RUN / "kaggle"
    kaggle = tmp_path / "kaggle"
    shutil.copytree(built / "dataset", kaggle / "input" / package.default_name(APTOS, RUN))
    shutil.copytree(paths.raw_dir(APTOS), kaggle / "input" / APTOS)  # the competition's data, as mounted
    (kaggle / "working").mkdir()
    python = kaggle_image(tmp_path)
    dead = "http://127.0.0.1:9"  # no network: any request fails at once
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "HARNESS_KAGGLE_INPUT": str(kaggle / "input"),
           "HARNESS_KAGGLE_WORKING": str(kaggle / "working"), "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": "",
           **{name: dead for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy")}}
    probe = subprocess.run([python, "-c", "import harness"], cwd=kaggle / "working", env=env, capture_output=True)
    assert probe.returncode != 0  # the checkout's harness is out of reach: the wheel is what runs
    done = subprocess.run([python, built / "kernel" / "inference.py"], cwd=kaggle / "working", env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    assert "harness kernel: packages: " in done.stdout and "tensorflow 2." in done.stdout
    out = kaggle / "working" / "submission.csv"
    assert sorted(os.listdir(kaggle / "working")) == ["submission.csv"]  # nothing else becomes the output
    comp = competition.get(APTOS)
    submission.validate_file(comp, out, [i.id for i in comp.list_test(paths.raw_dir(APTOS))])
    assert rows_by_id(out) == rows_by_id(submitted_csv())


def test_kernel_says_what_the_image_lacks(capsys):
    from harness import kaggle_kernel

    with pytest.raises(SystemExit) as stopped:
        kaggle_kernel.check_packages({"numpy": "999.0", "no_such_module_here": ""})
    err = capsys.readouterr().err
    assert stopped.value.code == 1 and err.count("\n") == 1 and err.startswith("harness kernel: ")
    assert f"numpy {np.__version__} is older than 999.0" in err and "no_such_module_here is missing" in err
    assert kaggle_kernel._numbers("2.16.1rc0") == (2, 16, 1) > kaggle_kernel._numbers("2.9")
