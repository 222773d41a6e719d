import numpy as np
import pytest
from sklearn import metrics as skm

from harness import metrics


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


def test_unknown_metric_lists_the_known_ones():
    with pytest.raises(Exception, match="accuracy"):
        metrics.get("auc-roc-9000")
