"""Faults: a NaN fold, a full disk, a torn cache, and user mistakes on the command line (one line, no traceback)."""
import errno
import json
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from clirun import ROOT, env
from harness import atomic, download, leaderboard, models, pipeline, prepare
from harness.config import RunConfig
from harness.errors import HarnessError


def _full(*args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")


def test_nan_fold_is_failed_and_never_ensembled(tiny, monkeypatch):
    import keras

    real, calls = models.loss_for, []

    def loss_for(task):  # the second fold's loss is NaN from its first batch
        calls.append(task)
        return real(task) if len(calls) == 1 else (lambda y_true, y_pred: keras.ops.mean(y_pred) * np.nan)

    monkeypatch.setattr(models, "loss_for", loss_for)
    outcome = pipeline.submit(RunConfig("tiny", folds=2, epochs=1, image_size=16, batch_size=8, workers=1))
    assert outcome.failed_folds == [1]
    text = pipeline.summary(outcome)
    assert "fold 2: FAILED: the loss became NaN" in text and "left out of the ensemble: fold(s) 2" in text
    run = outcome.run.folder
    assert json.loads((run / "fold1" / "result.json").read_text())["status"] == "failed"
    np.testing.assert_array_equal(np.load(run / "test.npy"), np.load(run / "fold0" / "test.npy"))
    assert json.loads((run / "summary.json").read_text())["failed_folds"] == [1]
    row = leaderboard.rows("tiny")[0]
    assert json.loads(row["fold_scores"])[1] is None


@pytest.mark.parametrize("write", [
    lambda path: atomic.write_json(path, {"v": 2}),
    lambda path: atomic.save_npy(path, np.arange(10)),
])
def test_disk_full_is_one_clear_error_and_the_old_file_stays(tmp_path, monkeypatch, write):
    path = tmp_path / "data.bin"
    atomic.write_bytes(path, b"old contents")

    def partial(self_or_file, *args, **kwargs):  # some bytes reach the temporary file, then the disk is full
        target = self_or_file if hasattr(self_or_file, "write") else open(self_or_file, "wb")
        target.write(b"half")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Path, "write_bytes", partial)
    monkeypatch.setattr(np, "save", partial)
    with pytest.raises(HarnessError, match=r"The disk is full while writing .*data\.bin; free some space") as e:
        write(path)
    assert "\n" not in str(e.value)
    assert path.read_bytes() == b"old contents"
    assert [p.name for p in tmp_path.iterdir()] == ["data.bin"]  # no temporary file left behind


def test_disk_full_on_the_leaderboard_is_one_clear_error(monkeypatch):
    class Full:
        def execute(self, *args):
            raise sqlite3.OperationalError("database or disk is full")

        def close(self):
            pass

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    monkeypatch.setattr(leaderboard, "connect", lambda path=None: Full())
    with pytest.raises(HarnessError, match="Cannot record run r1 on the leaderboard .*database or disk is full"):
        leaderboard.record(competition="c", run_id="r1", model="m", metric="accuracy", greater_is_better=True,
                           folds=2, fold_scores=[], oof_score=0.5, test_score=None, config={}, extra_scores={},
                           wall_time=1.0, submission="x.csv")


def test_truncated_or_edited_cache_is_rebuilt(tiny):
    download.fetch(tiny)
    first = prepare.prepare(tiny, 16, workers=1)
    pixels, folder = np.array(first.train_x), first.folder
    del first
    assert prepare.prepare(tiny, 16, workers=1).decoded == 0  # intact: reused

    npy = folder / "train.npy"
    npy.write_bytes(npy.read_bytes()[:-100])  # a torn array from an older crash
    again = prepare.prepare(tiny, 16, workers=1)
    assert again.decoded > 0 and np.array_equal(np.array(again.train_x), pixels)

    index = folder / "train.csv"
    text = index.read_text()
    index.write_text(text.replace(",0,", ",1,", 1))  # same size, different content: caught by the hash
    assert len(index.read_text()) == len(text)
    assert prepare.prepare(tiny, 16, workers=1).decoded > 0
    assert index.read_text() == text


def test_missing_manifest_means_rebuild(tiny):
    download.fetch(tiny)
    folder = prepare.prepare(tiny, 16, workers=1).folder
    (folder / prepare.MANIFEST).unlink()  # a crash before the manifest, the commit point, was written
    assert prepare.prepare(tiny, 16, workers=1).decoded > 0


ABSL = re.compile(r"^([IWEF]\d{4} |WARNING: All log messages before absl)")


def _broken_run(home: Path) -> None:
    folder = home / "runs" / "digits" / "broken"
    folder.mkdir(parents=True)
    (folder / "config.json").write_text('{"competition": "digits", "folds": ')  # torn by an old crash


CASES = [
    (["info", "nope"], "Unknown competition 'nope'"),
    (["train", "digits", "--folds", "1"], "`folds` must be at least 2"),
    (["submit", "digits", "--image-size", "4"], "`image_size` must be between 8 and 1024"),
    (["train", "digits", "--model", "nope"], "Unknown model 'nope'"),
    (["predict", "digits"], "No runs of digits"),
    (["predict", "digits", "--run-id", "broken"], "is not a valid run configuration"),
]


def test_cli_user_errors_are_one_line(tmp_path):
    procs = []
    for n, (args, _) in enumerate(CASES):  # all at once: each child spends most of its time importing
        home = tmp_path / f"home{n}"
        if "broken" in args:
            _broken_run(home)
        procs.append(subprocess.Popen([sys.executable, "-m", "harness", *args], cwd=ROOT, env=env(home),
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    for proc, (args, says) in zip(procs, CASES):
        _, stderr = proc.communicate(timeout=180)
        lines = [line for line in stderr.splitlines() if line.strip() and not ABSL.match(line)]
        assert proc.returncode == 2, (args, stderr)
        assert "Traceback" not in stderr, (args, stderr)
        assert len(lines) == 1 and lines[0].startswith("harness: error: ") and says in lines[0], (args, lines)


def test_the_file_is_validated_again_before_upload(monkeypatch):
    from conftest import folder_competition, registered
    from harness import submission

    real_write, uploads = submission.write, []

    def write_then_lose_a_row(*args, **kwargs):  # e.g. edited by hand, or torn
        path = real_write(*args, **kwargs)
        path.write_text("".join(path.read_text().splitlines(keepends=True)[:-1]))
        return path

    monkeypatch.setattr(submission, "write", write_then_lose_a_row)
    monkeypatch.setattr(pipeline, "_upload", lambda *args: uploads.append(args))
    monkeypatch.setattr(pipeline, "_check_uploadable", lambda comp: None)  # the fixture is no Kaggle competition
    with registered(folder_competition("no-answers", solution=None)), \
            pytest.raises(HarnessError, match=r"1 test id\(s\) have no row .*Kaggle requires all 6 ids"):
        pipeline.submit(RunConfig("no-answers", folds=2, epochs=1, image_size=16, batch_size=8, workers=1),
                        upload=True)
    assert uploads == []
