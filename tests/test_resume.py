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


def test_throttled_checkpoint_saves_the_newest_best_weights(tmp_path, monkeypatch):
    """With `every_s`, epochs between saves are skipped, yet a save keeps the best weights of a skipped epoch."""
    import keras

    from harness import checkpoint

    clock = [0.0]
    monkeypatch.setattr(checkpoint.time, "monotonic", lambda: clock[0])
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    early = keras.callbacks.EarlyStopping(restore_best_weights=True)
    saver = checkpoint.EpochCheckpoint(tmp_path / "backup", early, every_s=25)
    saver.set_model(model)
    saver.on_train_begin()
    saved = []
    for epoch, best_epoch in enumerate([0, 1, 1, 3, 3, 3]):  # 10 s an epoch: saves after epochs 3 and 6
        clock[0] += 10
        early.best, early.best_epoch = 1.0 / (best_epoch + 1), best_epoch
        early.best_weights = [np.full((2, 1), float(best_epoch)), np.zeros(1)]
        saver.on_epoch_end(epoch, {"loss": 1.0})
        state = saver._load()
        saved.append(state and state["epoch"])
    assert saved == [None, None, 3, 3, 3, 6]
    assert state["best_epoch"] == 3 and len(state["history"]["loss"]) == 6
    with np.load(tmp_path / "backup" / state["best_weights"]) as best:
        assert best["w0"][0, 0] == 3.0, "the best weights of skipped epoch 4, not those saved after epoch 3"


def test_batch_order_ignores_pythons_global_random(tmp_path):
    """Each epoch's order is Batches' (seed, epoch) permutation alone, so a resumed process replays it; Keras'
    own reshuffle of a PyDataset's batches draws from Python's global `random` and must stay off."""
    import random
    import types

    import keras

    from harness import backend, train

    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(64, 4)).astype("float32"), rng.integers(0, 3, 64)
    weights = []
    for state in (1, 2):
        backend.seed_everything(0)
        model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="softmax")])
        train.compile_model(model, types.SimpleNamespace(task="multiclass"), 0.1)
        random.seed(state)
        data = train.Batches(x, np.arange(48), y[:48], batch_size=6, shuffle=True, seed=5)
        train._fit(model, data, train.Batches(x, np.arange(48, 64), y[48:], 6), 3, 3, tmp_path / str(state))
        weights.append(np.concatenate([np.ravel(w) for w in model.get_weights()]))
    np.testing.assert_array_equal(weights[0], weights[1])
