"""Kill `harness submit` mid-fold with SIGKILL, run it again: finished folds are kept, the killed fold resumes
from its last epoch, and the CSV is byte-for-byte that of an uninterrupted run with the same seed."""
import json
import signal
import time
from pathlib import Path

import numpy as np

from clirun import FAST, cli, start

ARGS = ("submit", "fx-binary", *FAST, "--epochs", "3", "--patience", "1")


def _wait_for(pattern_root: Path, pattern: str, ok, proc, timeout=240):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for path in pattern_root.glob(pattern):
            try:
                if ok(path):
                    return path
            except (OSError, ValueError):
                pass  # being replaced right now
        assert proc.poll() is None, f"the run ended (rc {proc.returncode}) before the kill point was reached"
        time.sleep(0.02)
    raise AssertionError(f"no {pattern} under {pattern_root} within {timeout}s")


def _only(folder: Path, pattern: str) -> Path:
    found = list(folder.glob(pattern))
    assert len(found) == 1, found
    return found[0]


def test_killed_mid_fold_resumes_to_the_same_csv(tmp_path):
    reference, victim = tmp_path / "reference", tmp_path / "victim"
    ref_proc = start(reference, *ARGS)  # both start at once: two cores, half the wall time
    proc = start(victim, *ARGS)
    # Kill during fold 2's second epoch: fold 1 is finished, fold 2 has one epoch checkpointed.
    _wait_for(victim / "runs", "fx-binary/*/fold1/backup/state.json",
              lambda p: json.loads(p.read_text())["epoch"] == 1, proc)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    run = _only(victim / "runs" / "fx-binary", "*/")
    assert (run / "fold0" / "result.json").exists() and not (run / "fold1" / "result.json").exists()
    fold0_before = (run / "fold0" / "test.npy").read_bytes()

    resumed = cli(victim, *ARGS)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "fold 1/2" not in resumed.stdout, "the finished fold was trained again"
    assert "resuming from" in resumed.stdout and "after epoch 1" in resumed.stdout
    assert "(resumed)" in resumed.stdout
    assert (run / "fold0" / "test.npy").read_bytes() == fold0_before
    assert not (run / "fold1" / "backup").exists(), "a finished fold keeps no resume state"

    assert ref_proc.wait(timeout=240) == 0
    ref_run = _only(reference / "runs" / "fx-binary", "*/")
    for fold in ("fold0", "fold1"):
        np.testing.assert_array_equal(np.load(run / fold / "test.npy"), np.load(ref_run / fold / "test.npy"))
        a, b = (json.loads((r / fold / "result.json").read_text()) for r in (run, ref_run))
        assert a["history"] == b["history"] and a["best_epoch"] == b["best_epoch"] and a["epochs"] == 3
    csv = _only(victim / "submissions" / "fx-binary", "*.csv").read_bytes()
    assert csv == _only(reference / "submissions" / "fx-binary", "*.csv").read_bytes()
