"""Each metric against scikit-learn's (or Kaggle's) definition, with its direction."""
import numpy as np
import pytest
from sklearn import metrics as skm

from harness import metrics
from harness.errors import HarnessError


def test_accuracy_binary_and_multiclass():
    assert metrics.get("accuracy")(np.array([1, 0, 1]), np.array([[0.9], [0.2], [0.4]])) == pytest.approx(2 / 3)
    probs = np.array([[0.1, 0.9, 0], [0.8, 0.1, 0.1]])
    assert metrics.get("accuracy")(np.array([1, 0]), probs) == 1.0


def test_log_loss_matches_sklearn():
    y = np.array([0, 1, 1, 0])
    p = np.array([0.1, 0.8, 0.6, 0.3])
    assert metrics.get("log_loss")(y, p[:, None]) == pytest.approx(skm.log_loss(y, p))
    assert not metrics.get("log_loss").greater_is_better


def test_map_and_samples_f1():
    y = np.array([[1, 0], [0, 1], [1, 1]])
    p = np.array([[0.9, 0.2], [0.3, 0.7], [0.6, 0.4]])
    assert metrics.get("map")(y, p) == pytest.approx(np.mean([skm.average_precision_score(y[:, c], p[:, c])
                                                               for c in range(2)]))
    assert metrics.get("samples_f1")(y, p) == pytest.approx(skm.f1_score(y, p >= 0.5, average="samples"))


def test_roc_auc_matches_sklearn_and_is_nan_with_one_class():
    y, p = np.array([0, 1, 1, 0, 1]), np.array([0.2, 0.9, 0.4, 0.5, 0.7])
    assert metrics.get("roc_auc")(y, p[:, None]) == pytest.approx(skm.roc_auc_score(y, p))
    assert np.isnan(metrics.get("roc_auc")(np.ones(3, int), p[:3, None]))
    assert metrics.get("roc_auc").needs == "scores" and metrics.get("roc_auc").tasks == ("binary",)


def test_multiclass_log_loss_matches_sklearn_and_is_not_renormalised():
    y = np.array([0, 2, 1, 2])
    p = np.random.default_rng(0).dirichlet(np.ones(4), size=4)  # a 4th class no row belongs to
    assert metrics.get("multiclass_log_loss")(y, p) == pytest.approx(skm.log_loss(y, p, labels=range(4)))
    unnormalised = p * 0.5
    assert metrics.get("multiclass_log_loss")(y, unnormalised) == pytest.approx(
        -np.mean(np.log(unnormalised[np.arange(4), y])))  # rows are graded as written, not rescaled
    assert metrics.get("multiclass_log_loss")(np.array([0]), np.array([[0.0, 1.0]])) == pytest.approx(
        -np.log(1e-15))  # clipped, not infinite


def test_micro_f1_equals_accuracy_for_one_label_per_image():
    y = np.array([0, 1, 2, 2, 1])
    p = np.eye(3)[[0, 2, 2, 1, 1]]
    assert metrics.get("micro_f1")(y, p) == pytest.approx(skm.f1_score(y, p.argmax(1), average="micro")) \
        == pytest.approx(metrics.get("accuracy")(y, p))


def test_quadratic_kappa_matches_sklearn_on_grades_and_rounds_a_regressed_grade():
    y = np.array([0, 1, 2, 3, 4, 2])
    grades = np.array([0, 2, 2, 3, 3, 1])
    expected = skm.cohen_kappa_score(y, grades, weights="quadratic")
    kappa = metrics.get("quadratic_kappa")
    assert kappa(y, grades[:, None]) == pytest.approx(expected)
    assert kappa(y, (grades + np.array([0.3, -0.4, 0.2, 0.1, -0.2, 0.49]))[:, None]) == pytest.approx(expected)
    assert kappa(y, np.eye(5)[grades]) == pytest.approx(expected)  # one column per grade: its argmax


def test_direction_decides_better():
    assert metrics.get("roc_auc").better(0.9, 0.8) and not metrics.get("roc_auc").better(0.8, 0.9)
    assert metrics.get("multiclass_log_loss").better(0.2, 0.3) and not metrics.get("log_loss").better(0.3, 0.2)
    assert not metrics.get("quadratic_kappa").better(float("nan"), 0.1)


def test_unknown_metric_lists_the_known_ones():
    with pytest.raises(HarnessError, match=r"Unknown metric 'auc-roc-9000'. Known: accuracy, log_loss, macro_f1, .*"
                                           r"Received: metric='auc-roc-9000'"):
        metrics.get("auc-roc-9000")
