"""Ensemble the finished folds: out-of-fold predictions for scoring, averaged test predictions to submit."""
from pathlib import Path

import numpy as np

from harness.errors import HarnessError
from harness import atomic, metrics
from harness.train import fold_dir

FALLBACK = "fallback.json"


def ensemble(run_folder, comp, cache, folds, results):
    """(oof, test) probabilities from the folds that finished; a failed fold is never averaged in."""
    done = [r for r in results if r.status == "done"]
    if not done:
        raise HarnessError(f"Every fold failed in {run_folder} (see each fold's result.json); "
                           f"try a lower --learning-rate or another --model.")
    k = comp.num_outputs
    oof = np.full((len(cache.train_ids), k), np.nan, dtype="float32")
    tests = []
    for r in done:
        oof[folds == r.fold] = np.load(fold_dir(run_folder, r.fold) / "oof.npy")
        tests.append(np.load(fold_dir(run_folder, r.fold) / "test.npy"))
    test = np.mean(tests, axis=0).astype("float32")
    if len(test) and not cache.test_ok.all():
        test[~cache.test_ok] = prior(comp, cache)  # undecodable test images still get a row
    return oof, test


def prior(comp, cache) -> np.ndarray:
    """Class frequencies of the training set: the fallback prediction for an image that cannot be read."""
    y = metrics.truth(comp, cache.train_labels)
    if comp.task == "multilabel":
        return y.mean(axis=0).astype("float32")
    if comp.num_outputs == 1:  # binary: P(classes[1]); ordinal: the mean grade
        return np.array([y.mean()], dtype="float32")
    return (np.bincount(y, minlength=len(comp.classes)) / len(y)).astype("float32")


def save_fallback(folder: Path, comp, cache) -> None:
    """Keep the fallback prediction with the run: `harness predict --images` has no training labels to compute it."""
    atomic.write_json(Path(folder) / FALLBACK, {"fallback": [float(v) for v in prior(comp, cache)]})


def load_fallback(folder: Path) -> np.ndarray:
    return np.asarray(atomic.read_json(Path(folder) / FALLBACK)["fallback"], dtype="float32")
