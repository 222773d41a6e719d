"""Metrics as plain functions f(y_true, y_prob) with a direction, so a leaderboard sorts one way.

y_true: (N,) class indices (binary, multiclass) or (N, C) 0/1 (multilabel).
y_prob: (N, K) probabilities; K = 1 for binary (P of classes[1]), else one column per class.
"""
from dataclasses import dataclass
from typing import Callable

import numpy as np
from sklearn import metrics as skm

from harness.folds import multi_hot
from harness.registry import Registry


@dataclass(frozen=True)
class Metric:
    name: str
    fn: Callable
    greater_is_better: bool
    needs: str = "labels"  # "labels": a CSV of hard labels suffices; "scores": needs probabilities

    def __call__(self, y_true, y_prob) -> float:
        return float(self.fn(np.asarray(y_true), np.asarray(y_prob, dtype=np.float64)))

    def better(self, a: float, b: float) -> bool:
        return a > b if self.greater_is_better else a < b


METRICS = Registry("metric")


def metric(name: str, greater_is_better: bool, needs: str = "labels"):
    """Register `fn` under `name`."""
    def wrap(fn):
        METRICS.add(name, Metric(name, fn, greater_is_better, needs))
        return fn
    return wrap


def get(name: str) -> Metric:
    return METRICS.get(name)


def truth(comp, labels) -> np.ndarray:
    """Labels as metrics take them: class indices, or a 0/1 matrix for multilabel."""
    if comp.task == "multilabel":
        return multi_hot(labels, len(comp.classes)).astype(np.int64)
    return np.asarray(labels, dtype=np.int64)


def hard_labels(y_prob, thresholds=0.5):
    """Class index per row (binary, multiclass) or 0/1 matrix (multilabel when thresholds is an array)."""
    y_prob = np.asarray(y_prob)
    if y_prob.shape[1] == 1:
        return (y_prob[:, 0] >= thresholds).astype(np.int64)
    return y_prob.argmax(axis=1)


def _multilabel_hard(y_prob, thresholds=0.5):
    return (np.asarray(y_prob) >= thresholds).astype(np.int64)


@metric("accuracy", greater_is_better=True)
def accuracy(y_true, y_prob):
    return np.mean(hard_labels(y_prob) == y_true)


@metric("log_loss", greater_is_better=False, needs="scores")
def log_loss(y_true, y_prob):
    p = np.clip(y_prob, 1e-15, 1 - 1e-15)
    if p.shape[1] == 1:
        p = np.concatenate([1 - p, p], axis=1)
    p = p / p.sum(axis=1, keepdims=True)
    return -np.mean(np.log(p[np.arange(len(y_true)), y_true]))


@metric("macro_f1", greater_is_better=True)
def macro_f1(y_true, y_prob):
    return skm.f1_score(y_true, hard_labels(y_prob), average="macro", zero_division=0)


@metric("samples_f1", greater_is_better=True)
def samples_f1(y_true, y_prob):
    return skm.f1_score(y_true, _multilabel_hard(y_prob), average="samples", zero_division=0)


@metric("map", greater_is_better=True, needs="scores")
def mean_average_precision(y_true, y_prob):
    """Mean over classes with at least one positive of the area under the precision-recall curve."""
    present = y_true.sum(axis=0) > 0
    aps = [skm.average_precision_score(y_true[:, c], y_prob[:, c]) for c in np.flatnonzero(present)]
    return float(np.mean(aps)) if aps else float("nan")
