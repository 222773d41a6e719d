"""Metrics as plain functions f(y_true, y_pred) with a direction, so a leaderboard sorts one way.

y_true: (N,) class indices (binary, multiclass, ordinal grades) or (N, C) 0/1 (multilabel).
y_pred: (N, K) predictions; K = 1 for binary (P of classes[1]) and ordinal (the grade), else one column
per class. A metric declares the tasks it grades; test_contracts checks each competition's against its task.
"""
from dataclasses import dataclass
from typing import Callable

import numpy as np
from sklearn import metrics as skm

from harness.cuts import hard_labels
from harness.folds import multi_hot
from harness.registry import Registry

SINGLE_LABEL = ("binary", "multiclass")


@dataclass(frozen=True)
class Metric:
    name: str
    fn: Callable
    greater_is_better: bool
    needs: str = "labels"  # "labels": graded on decisions (a CSV of labels suffices); "scores": on probabilities
    tasks: tuple = SINGLE_LABEL

    def __call__(self, y_true, y_pred) -> float:
        return float(self.fn(np.asarray(y_true), np.asarray(y_pred, dtype=np.float64)))

    def better(self, a: float, b: float) -> bool:
        """True when score `a` beats score `b` in this metric's direction (a NaN never beats anything)."""
        return a > b if self.greater_is_better else a < b


METRICS = Registry("metric")


def metric(name: str, greater_is_better: bool, needs: str = "labels", tasks: tuple = SINGLE_LABEL):
    """Register `fn` under `name`."""
    def wrap(fn):
        METRICS.add(name, Metric(name, fn, greater_is_better, needs, tasks))
        return fn
    return wrap


def get(name: str) -> Metric:
    return METRICS.get(name)


def truth(comp, labels) -> np.ndarray:
    """Labels as metrics take them: class indices (grades), or a 0/1 matrix for multilabel."""
    if comp.task == "multilabel":
        return multi_hot(labels, len(comp.classes)).astype(np.int64)
    return np.asarray(labels, dtype=np.int64)


def _multilabel_hard(y_prob, thresholds=0.5):
    return (np.asarray(y_prob) >= thresholds).astype(np.int64)


@metric("accuracy", greater_is_better=True)
def accuracy(y_true, y_prob):
    return np.mean(hard_labels(y_prob) == y_true)


@metric("log_loss", greater_is_better=False, needs="scores")
def log_loss(y_true, y_prob):
    """Log loss with each row rescaled to sum to one (binary: one column of P(classes[1]))."""
    p = np.clip(y_prob, 1e-15, 1 - 1e-15)
    if p.shape[1] == 1:
        p = np.concatenate([1 - p, p], axis=1)
    p = p / p.sum(axis=1, keepdims=True)
    return -np.mean(np.log(p[np.arange(len(y_true)), y_true]))


@metric("multiclass_log_loss", greater_is_better=False, needs="scores", tasks=("multiclass",))
def multiclass_log_loss(y_true, y_prob):
    """Kaggle's multi-class log loss: the true class's probability, clipped to [1e-15, 1 - 1e-15], not rescaled
    (the submission format writes rows that sum to one)."""
    p = np.clip(y_prob[np.arange(len(y_true)), y_true], 1e-15, 1 - 1e-15)
    return -np.mean(np.log(p))


@metric("roc_auc", greater_is_better=True, needs="scores", tasks=("binary",))
def roc_auc(y_true, y_prob):
    """Area under the ROC curve of P(classes[1]); NaN when only one class is present (it is undefined)."""
    if len(np.unique(y_true)) < 2:
        return float("nan")
    return skm.roc_auc_score(y_true, y_prob[:, 0])


@metric("macro_f1", greater_is_better=True)
def macro_f1(y_true, y_prob):
    return skm.f1_score(y_true, hard_labels(y_prob), average="macro", zero_division=0)


@metric("micro_f1", greater_is_better=True)
def micro_f1(y_true, y_prob):
    """F1 over all decisions pooled; for one label per image it equals accuracy (plant seedlings' metric)."""
    return skm.f1_score(y_true, hard_labels(y_prob), average="micro", zero_division=0)


@metric("quadratic_kappa", greater_is_better=True, tasks=("ordinal",))
def quadratic_kappa(y_true, y_pred):
    """Cohen's kappa with quadratic weights on integer grades: a regressed grade is rounded first, so pass
    grades decided by fitted thresholds (harness.cuts) to grade what the submission will hold."""
    grades = np.rint(y_pred[:, 0]) if y_pred.shape[1] == 1 else y_pred.argmax(axis=1)
    return skm.cohen_kappa_score(y_true, grades.astype(np.int64), weights="quadratic")


@metric("samples_f1", greater_is_better=True, tasks=("multilabel",))
def samples_f1(y_true, y_prob):
    return skm.f1_score(y_true, _multilabel_hard(y_prob), average="samples", zero_division=0)


@metric("map", greater_is_better=True, needs="scores", tasks=("multilabel",))
def mean_average_precision(y_true, y_prob):
    """Mean over classes with at least one positive of the area under the precision-recall curve."""
    present = y_true.sum(axis=0) > 0
    aps = [skm.average_precision_score(y_true[:, c], y_prob[:, c]) for c in np.flatnonzero(present)]
    return float(np.mean(aps)) if aps else float("nan")
