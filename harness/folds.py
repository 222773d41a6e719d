"""Seeded stratified K-fold assignments, stored per competition so every model sees the same folds.

Exact duplicate images (same bytes) share a group and so always land in the same fold.
"""
import csv
import io

import numpy as np
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold

from harness import atomic, paths
from harness.errors import HarnessError


def assign(labels, k: int, seed: int, task: str, groups=None) -> np.ndarray:
    """Fold number (0..k-1) for each training example."""
    n = len(labels)
    if n < k:
        raise HarnessError(f"{n} training images cannot be split into {k} folds; use --folds {max(2, n)} or fewer.")
    if task == "multilabel":
        return _iterative_multilabel(np.asarray(labels), k, seed, groups)
    y = np.asarray(labels)
    counts = np.bincount(y)
    smallest = counts[counts > 0].min()
    if smallest < k:
        cls = int(np.flatnonzero(counts == smallest)[0])
        raise HarnessError(f"Class index {cls} has only {smallest} training image(s), fewer than the {k} folds; "
                           f"use --folds {max(2, int(smallest))} or add images.")
    folds = np.empty(n, dtype=np.int64)
    if groups is not None and len(set(groups)) < n:
        splitter = StratifiedGroupKFold(k, shuffle=True, random_state=seed).split(np.zeros(n), y, groups)
    else:
        splitter = StratifiedKFold(k, shuffle=True, random_state=seed).split(np.zeros(n), y)
    for fold, (_, val) in enumerate(splitter):
        folds[val] = fold
    return folds


def _iterative_multilabel(y, k, seed, groups=None):
    """Iterative stratification (Sechidis et al., 2011): rarest labels are placed first, each in the fold
    that needs it most; duplicate groups move together."""
    rng = np.random.default_rng(seed)
    groups = np.arange(len(y)) if groups is None else np.unique(groups, return_inverse=True)[1]
    n_groups = groups.max() + 1
    gy = np.zeros((n_groups, y.shape[1]), dtype=np.int64)
    np.add.at(gy, groups, y)
    gy = (gy > 0).astype(np.int64)
    size = np.bincount(groups, minlength=n_groups)
    want_n = np.full(k, len(y) / k)
    want_c = np.tile(y.sum(axis=0) / k, (k, 1)).astype(float)
    fold_of = np.full(n_groups, -1)
    left = set(range(n_groups))
    while left:
        idx = np.fromiter(left, dtype=np.int64)
        counts = gy[idx].sum(axis=0)
        if counts.sum() == 0:
            for g in rng.permutation(idx):
                f = int(np.argmax(want_n + rng.random(k) * 1e-9))
                fold_of[g] = f
                want_n[f] -= size[g]
            break
        label = int(np.argmin(np.where(counts > 0, counts, np.inf)))
        for g in rng.permutation(idx[gy[idx, label] > 0]):
            need = want_c[:, label]
            best = np.flatnonzero(need == need.max())
            if len(best) > 1:
                best = best[want_n[best] == want_n[best].max()]
            f = int(rng.choice(best))
            fold_of[g] = f
            want_n[f] -= size[g]
            want_c[f] -= gy[g]
            left.discard(int(g))
    return fold_of[groups]


def load_or_make(comp, cache, k: int, seed: int) -> np.ndarray:
    """Folds for the cache's training ids, from data/<comp>/folds/ (made and stored on first use)."""
    path = paths.data_dir(comp.name) / "folds" / f"k{k}-seed{seed}.csv"
    if path.exists():
        with open(path, newline="", encoding="utf-8") as f:
            stored = {r["id"]: int(r["fold"]) for r in csv.DictReader(f)}
        if set(stored) == set(cache.train_ids):
            return np.array([stored[i] for i in cache.train_ids], dtype=np.int64)
    labels = multi_hot(cache.train_labels, len(comp.classes)) if comp.task == "multilabel" else cache.train_labels
    folds = assign(labels, k, seed, comp.task, groups=cache.train_sha)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")  # quotes ids holding a comma or a quote
    writer.writerow(("id", "fold"))
    writer.writerows(zip(cache.train_ids, folds.tolist()))
    atomic.write_text(path, buf.getvalue())
    return folds


def multi_hot(labels, num_classes: int) -> np.ndarray:
    out = np.zeros((len(labels), num_classes), dtype=np.uint8)
    for row, classes in enumerate(labels):
        out[row, list(classes)] = 1
    return out
