import csv
from types import SimpleNamespace

import numpy as np
import pytest

from conftest import folder_competition
from harness import folds, paths
from harness.errors import HarnessError


def test_stratified_and_seeded():
    y = np.repeat([0, 1, 2], [50, 30, 20])
    a = folds.assign(y, 5, seed=1, task="multiclass")
    assert np.array_equal(a, folds.assign(y, 5, seed=1, task="multiclass"))
    assert not np.array_equal(a, folds.assign(y, 5, seed=2, task="multiclass"))
    for f in range(5):
        assert np.array_equal(np.bincount(y[a == f]), [10, 6, 4])


def test_duplicates_share_a_fold():
    y = np.array([0, 1] * 20)
    groups = [f"g{i}" for i in range(40)]
    groups[3] = groups[5] = groups[7] = "same-bytes"  # three copies of one image (labels 1, 1, 1)
    a = folds.assign(y, 4, seed=0, task="binary", groups=groups)
    assert a[3] == a[5] == a[7]


def test_multilabel_iterative_stratification_balances_every_label():
    rng = np.random.default_rng(0)
    y = (rng.random((200, 6)) < [0.5, 0.3, 0.2, 0.1, 0.05, 0.04]).astype(int)
    a = folds.assign(y, 4, seed=0, task="multilabel")
    per_fold = np.array([y[a == f].sum(axis=0) for f in range(4)])
    assert (per_fold.max(axis=0) - per_fold.min(axis=0) <= 2).all()
    assert abs(np.bincount(a).max() - np.bincount(a).min()) <= 4


def test_too_few_images_per_class_says_what_to_do():
    with pytest.raises(HarnessError, match="--folds 2"):
        folds.assign(np.array([0, 0, 0, 0, 1, 1]), 3, seed=0, task="binary")


def test_stored_folds_survive_ids_with_commas_quotes_and_newlines(monkeypatch):
    comp = folder_competition("f-quotes", classes=("a", "b"))
    ids = ["plain", "a,b.jpg", 'say "cheese".png', "two\nlines", "x", "y"]
    cache = SimpleNamespace(train_ids=ids, train_labels=[0, 1, 0, 1, 0, 1], train_sha=[str(i) for i in range(6)])
    made = folds.load_or_make(comp, cache, 2, seed=0)
    with open(paths.data_dir(comp.name) / "folds" / "k2-seed0.csv", newline="", encoding="utf-8") as f:
        assert {r["id"]: int(r["fold"]) for r in csv.DictReader(f)} == dict(zip(ids, made.tolist()))
    monkeypatch.setattr(folds, "assign", lambda *a, **k: pytest.fail("the stored folds were not read back"))
    np.testing.assert_array_equal(folds.load_or_make(comp, cache, 2, seed=0), made)
