"""Ensemble the finished folds: out-of-fold predictions for scoring, averaged test predictions to submit."""
import numpy as np

from harness.errors import HarnessError
from harness import metrics
from harness.train import fold_dir


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
    if comp.task == "binary":
        return np.array([y.mean()], dtype="float32")
    return (np.bincount(y, minlength=len(comp.classes)) / len(y)).astype("float32")


def thresholds(oof, y_true, grid=np.linspace(0.05, 0.95, 19)) -> np.ndarray:
    """Per-class decision thresholds for multi-label output: the F1-best value on the OOF predictions."""
    valid = ~np.isnan(oof).any(axis=1)
    oof, y_true = oof[valid], y_true[valid]
    best = np.full(oof.shape[1], 0.5)
    for c in range(oof.shape[1]):
        positives = y_true[:, c].sum()
        if positives == 0:
            continue
        f1 = [2 * ((oof[:, c] >= t) & (y_true[:, c] == 1)).sum() / ((oof[:, c] >= t).sum() + positives)
              for t in grid]
        best[c] = grid[int(np.argmax(f1))]
    return best
