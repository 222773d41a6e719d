"""Submission validation, one test per rule Kaggle's grader applies; each error names the line and the rule."""
import math

import numpy as np
import pytest

from conftest import folder_competition
from harness import submission
from harness.errors import HarnessError

IDS = ["t0", "t1", "t2"]
MULTI = folder_competition("v-multi", classes=("cat", "dog", "fox"))
INDEX = folder_competition("v-index", classes=("cat", "dog", "fox"), label_format="index")
PROB = folder_competition("v-prob", classes=("cat", "dog"), task="binary", label_format="probability",
                          metric="log_loss")
TAGS = folder_competition("v-tags", classes=("sky", "sea", "sun"), task="multilabel", label_format="classes",
                          metric="samples_f1")


def _file(tmp_path, text):
    path = tmp_path / "sub.csv"
    path.write_text(text, encoding="utf-8")
    return path


def _error(comp, tmp_path, text, ids=IDS) -> str:
    with pytest.raises(HarnessError) as e:
        submission.validate_file(comp, _file(tmp_path, text), ids)
    message = str(e.value)
    assert "\n" not in message and str(tmp_path / "sub.csv") in message
    return message


def test_a_valid_file_passes(tmp_path):
    submission.validate_file(MULTI, _file(tmp_path, "id,label\nt0,cat\nt2,fox\nt1,dog\n"), IDS)
    submission.validate_file(TAGS, _file(tmp_path, "id,label\nt0,sky sea\nt1,\nt2,sun\n"), IDS)


@pytest.mark.parametrize("header", ["id,class", "label,id", "Id,label", "\ufeffid,label", "id,label,extra"])
def test_header_must_be_exact(tmp_path, header):
    assert "header must be exactly id,label" in _error(MULTI, tmp_path, f"{header}\nt0,cat\nt1,cat\nt2,cat\n")


def test_empty_file(tmp_path):
    assert "is empty" in _error(MULTI, tmp_path, "")


def test_every_id_exactly_once(tmp_path):
    message = _error(MULTI, tmp_path, "id,label\nt0,cat\nt1,cat\nt0,dog\nt2,cat\n")
    assert "line 4" in message and "'t0' appears more than once" in message


def test_missing_id(tmp_path):
    message = _error(MULTI, tmp_path, "id,label\nt0,cat\nt2,cat\n")
    assert "1 test id(s) have no row (first: 't1')" in message and "all 3 ids" in message


def test_no_extra_rows(tmp_path):
    message = _error(MULTI, tmp_path, "id,label\nt0,cat\nt1,cat\nt2,cat\nt9,cat\n")
    assert "line 5" in message and "'t9' is not a test id" in message


def test_row_with_wrong_field_count(tmp_path):
    assert "line 3: a row must have 2 fields" in _error(MULTI, tmp_path, "id,label\nt0,cat\nt1,cat,dog\nt2,cat\n")


def test_class_name_must_be_in_the_class_list(tmp_path):
    message = _error(MULTI, tmp_path, "id,label\nt0,cat\nt1,wolf\nt2,cat\n")
    assert "line 3" in message and "one of cat, dog, fox" in message and "'wolf'" in message


@pytest.mark.parametrize("label", ["3", "-1", "1.0", "nan", "dog", ""])
def test_class_index_must_be_in_range(tmp_path, label):
    message = _error(INDEX, tmp_path, f"id,label\nt0,0\nt1,{label}\nt2,2\n")
    assert "line 3" in message and "class index 0..2" in message


@pytest.mark.parametrize("label", ["nan", "NaN", "inf", "-inf", "1.5", "-0.1", "", "dog"])
def test_probability_must_be_finite_and_in_range(tmp_path, label):
    message = _error(PROB, tmp_path, f"id,label\nt0,0.5\nt1,{label}\nt2,0.5\n")
    assert "line 3" in message and "probability between 0 and 1" in message


def test_multilabel_labels_come_from_the_vocabulary(tmp_path):
    message = _error(TAGS, tmp_path, "id,label\nt0,sky\nt1,sea moon\nt2,sun\n")
    assert "line 3" in message and "unknown class 'moon'" in message


def test_write_refuses_nan_predictions_and_keeps_the_old_file(tmp_path):
    path = tmp_path / "out.csv"
    probs = np.array([[0.2], [0.7], [0.4]], dtype="float32")
    submission.write(PROB, IDS, probs, path)
    before = path.read_bytes()
    probs[1, 0] = math.nan
    with pytest.raises(HarnessError, match="line 3.*probability"):
        submission.write(PROB, IDS, probs, path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]  # no temporary file left behind


def test_write_then_validate_round_trip(tmp_path):
    probs = np.eye(3, dtype="float32")[[2, 0, 1]]
    for comp in (MULTI, INDEX):
        path = submission.write(comp, IDS, probs, tmp_path / f"{comp.name}.csv")
        submission.validate_file(comp, path, IDS)
    path = submission.write(TAGS, IDS, probs, tmp_path / "tags.csv")
    submission.validate_file(TAGS, path, IDS)
    assert path.read_text().splitlines() == ["id,label", "t0,sun", "t1,sky", "t2,sea"]
