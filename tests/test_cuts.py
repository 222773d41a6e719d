"""Decision cuts fitted on out-of-fold predictions: per-class F1 thresholds (multilabel) and grade boundaries
(ordinal) that beat plain rounding, saved beside the run."""
import json

import numpy as np

from conftest import folder_competition
from harness import cuts, metrics

GRADES = folder_competition("c-grades", classes=("0", "1", "2", "3", "4"), task="ordinal", label_format="grade",
                            metric="quadratic_kappa")
TAGS = folder_competition("c-tags", classes=("sky", "sea"), task="multilabel", label_format="classes",
                          metric="map")
KAPPA = metrics.get("quadratic_kappa")


def biased_regressor(n=400, seed=0):
    """True grades and a regressor that shrinks them towards 2, as a squared-error fit on skewed data does."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 5, n)
    return y, (2 + 0.5 * (y - 2) + rng.normal(0, 0.25, n))[:, None]


def test_grade_boundaries_beat_rounding_and_stay_ordered():
    y, oof = biased_regressor()
    fitted = cuts.fit(GRADES, oof, y, KAPPA)
    assert len(fitted) == 4 and np.all(np.diff(fitted) > 0)
    rounded = KAPPA(y, cuts.labels(GRADES, oof)[:, None])
    assert KAPPA(y, cuts.labels(GRADES, oof, fitted)[:, None]) > rounded + 0.05
    y2, oof2 = biased_regressor(seed=1)  # the same regressor on data the cuts were not fitted on
    assert KAPPA(y2, cuts.labels(GRADES, oof2, fitted)[:, None]) > KAPPA(y2, cuts.labels(GRADES, oof2)[:, None])


def test_rows_of_failed_folds_are_left_out():
    y, oof = biased_regressor()
    with_nan = oof.copy()
    with_nan[:50] = np.nan
    np.testing.assert_array_equal(cuts.fit(GRADES, with_nan, y, KAPPA), cuts.fit(GRADES, oof[50:], y[50:], KAPPA))


def test_multilabel_thresholds_are_the_f1_best_per_class():
    y = np.array([[1, 0], [1, 1], [0, 1], [0, 0]] * 5)
    oof = np.array([[0.3, 0.9], [0.35, 0.8], [0.1, 0.7], [0.2, 0.1]] * 5)
    fitted = cuts.fit(TAGS, oof, y, metrics.get("map"))
    np.testing.assert_allclose(fitted, [0.25, 0.15])  # the lowest grid values with the best F1 (1.0)
    assert cuts.labels(TAGS, oof[:4], fitted).tolist() == [[1, 1], [1, 1], [0, 1], [0, 0]]


def test_single_label_tasks_have_no_cuts_and_cuts_are_saved(tmp_path):
    tiny = folder_competition("c-multi")
    assert cuts.fit(tiny, np.eye(3), np.arange(3), metrics.get("accuracy")) is None
    cuts.save(tmp_path, np.array([0.5, 1.25]))
    assert json.loads((tmp_path / cuts.FILE).read_text()) == {"cuts": [0.5, 1.25]}
    np.testing.assert_array_equal(cuts.load(tmp_path), [0.5, 1.25])
    cuts.save(tmp_path, None)
    assert cuts.load(tmp_path) is None
