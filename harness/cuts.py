"""Decision thresholds ("cuts") fitted on out-of-fold predictions, saved with the run, applied to the test.

Where a task's prediction is not yet a label, a cut makes it one, fitted on data no fold trained on:
- multilabel: one threshold per class, the F1-best on that class's OOF probabilities;
- ordinal: K-1 increasing boundaries turning the regressed grade into an integer grade, the best for the
  competition's metric (quadratic weighted kappa), by coordinate search from rounding (0.5, 1.5, ...),
  as APTOS competitors fitted them;
- binary and multiclass: none (P >= 0.5, argmax).
"""
from pathlib import Path

import numpy as np

from harness import atomic

FILE = "cuts.json"
F1_GRID = np.linspace(0.05, 0.95, 19)
GRADE_STEP = 0.05  # resolution of the grade boundaries' search
GRADE_PASSES = 3  # coordinate-search sweeps over all boundaries


def fit(comp, oof, y_true, metric) -> np.ndarray | None:
    """The cuts for `comp`'s task from OOF predictions (rows with NaN, i.e. of failed folds, left out)."""
    valid = ~np.isnan(oof).any(axis=1)
    oof, y_true = oof[valid], y_true[valid]
    if comp.task == "multilabel":
        return _per_class_f1(oof, y_true)
    if comp.task == "ordinal":
        return _grade_boundaries(oof[:, 0], y_true, len(comp.classes), metric)
    return None


def labels(comp, preds, cuts=None) -> np.ndarray:
    """Decisions per row: class index (binary, multiclass), integer grade (ordinal) or 0/1 matrix (multilabel)."""
    preds = np.asarray(preds)
    if comp.task == "multilabel":
        return (preds >= (0.5 if cuts is None else np.asarray(cuts))).astype(np.int64)
    if comp.task == "ordinal":
        return np.digitize(preds[:, 0], _rounding(len(comp.classes)) if cuts is None else cuts)
    return hard_labels(preds)


def hard_labels(y_prob, threshold=0.5) -> np.ndarray:
    """Class index per row of probabilities: P >= threshold for one column (binary), else the argmax."""
    y_prob = np.asarray(y_prob)
    if y_prob.shape[1] == 1:
        return (y_prob[:, 0] >= threshold).astype(np.int64)
    return y_prob.argmax(axis=1)


def save(folder: Path, cuts) -> None:
    atomic.write_json(Path(folder) / FILE, {"cuts": None if cuts is None else [round(float(c), 6) for c in cuts]})


def load(folder: Path) -> np.ndarray | None:
    """The cuts saved with a run (None where its task has none)."""
    cuts = atomic.read_json(Path(folder) / FILE)["cuts"]
    return None if cuts is None else np.asarray(cuts)


def _rounding(k: int) -> np.ndarray:
    return np.arange(k - 1) + 0.5


def _per_class_f1(oof, y_true) -> np.ndarray:
    best = np.full(oof.shape[1], 0.5)
    for c in range(oof.shape[1]):
        positives = y_true[:, c].sum()
        if positives == 0:
            continue
        f1 = [2 * ((oof[:, c] >= t) & (y_true[:, c] == 1)).sum() / ((oof[:, c] >= t).sum() + positives)
              for t in F1_GRID]
        best[c] = F1_GRID[int(np.argmax(f1))]
    return best


def _grade_boundaries(grade, y_true, k: int, metric) -> np.ndarray:
    """Move one boundary at a time to the metric's best value between its neighbours, a few sweeps."""
    cuts = _rounding(k)

    def score(c):
        return metric(y_true, np.digitize(grade, c)[:, None])

    best = score(cuts)
    for _ in range(GRADE_PASSES):
        for i in range(k - 1):
            low = cuts[i - 1] if i else cuts[i] - 1
            high = cuts[i + 1] if i < k - 2 else cuts[i] + 1
            steps = max(2, round((high - low) / GRADE_STEP))
            for value in np.linspace(low, high, steps + 1)[1:-1]:  # strictly between the neighbours
                trial = cuts.copy()
                trial[i] = value
                s = score(trial)
                if metric.better(s, best):
                    best, cuts = s, trial
    return cuts
