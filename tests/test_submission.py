"""Submission formats and validation, one test per rule Kaggle's grader applies; each error names the line
and the rule. Every registered format round-trips: predictions -> CSV -> predictions."""
import math

import numpy as np
import pytest

from conftest import folder_competition
from harness import formats, submission
from harness.errors import HarnessError

IDS = ["t0", "t1", "t2"]
MULTI = folder_competition("v-multi", classes=("cat", "dog", "fox"))
INDEX = folder_competition("v-index", classes=("cat", "dog", "fox"), label_format="code")
PROB = folder_competition("v-prob", classes=("cat", "dog"), task="binary", label_format="probability",
                          metric="log_loss")
TAGS = folder_competition("v-tags", classes=("sky", "sea", "sun"), task="multilabel", label_format="classes",
                          metric="samples_f1")
SPECIES = folder_competition("v-species", classes=("Black-grass", "Common Chickweed", "Fat Hen"), id_column="file",
                             label_column="species")
BREEDS = folder_competition("v-breeds", classes=("akita", "black-and-tan_coonhound", "pug"),
                            label_format="probabilities", metric="multiclass_log_loss")
GRADES = folder_competition("v-grades", classes=("none", "mild", "moderate", "severe"), task="ordinal",
                            label_format="grade", metric="quadratic_kappa", id_column="id_code",
                            label_column="diagnosis")
# one competition per registered format: a new format joins the round-trip test by adding a line here
BY_FORMAT = {"class": SPECIES, "code": INDEX, "probability": PROB, "probabilities": BREEDS, "classes": TAGS,
             "grade": GRADES}


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


def test_header_is_the_competitions_own(tmp_path):
    submission.validate_file(SPECIES, _file(tmp_path, "file,species\nt0,Fat Hen\nt1,Black-grass\nt2,Fat Hen\n"), IDS)
    assert "header must be exactly file,species" in _error(SPECIES, tmp_path, "id,label\nt0,Fat Hen\n")


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
    header = "id,akita,black-and-tan_coonhound,pug"
    assert "line 2: a row must have 4 fields" in _error(BREEDS, tmp_path, f"{header}\nt0,0.5,0.5\n")


def test_class_name_must_be_in_the_class_list(tmp_path):
    message = _error(MULTI, tmp_path, "id,label\nt0,cat\nt1,wolf\nt2,cat\n")
    assert "line 3" in message and "one of cat, dog, fox" in message and "'wolf'" in message


@pytest.mark.parametrize("label", ["3", "-1", "1.0", "nan", "dog", ""])
def test_class_index_must_be_in_range(tmp_path, label):
    message = _error(INDEX, tmp_path, f"id,label\nt0,0\nt1,{label}\nt2,2\n")
    assert "line 3" in message and "integer class code 0..2" in message


@pytest.mark.parametrize("label", ["nan", "NaN", "inf", "-inf", "1.5", "-0.1", "", "dog"])
def test_probability_must_be_finite_and_in_range(tmp_path, label):
    message = _error(PROB, tmp_path, f"id,label\nt0,0.5\nt1,{label}\nt2,0.5\n")
    assert "line 3" in message and "probability between 0 and 1" in message


@pytest.mark.parametrize("row, rule", [("0.5,0.5,0.1", "sum to 1 within 1e-06"), ("1.2,-0.2,0", "column akita"),
                                       ("nan,0.5,0.5", "column akita"), ("0.3,0.3,0.3999", "sum to 1")])
def test_probability_rows_are_probabilities_summing_to_one(tmp_path, row, rule):
    header = "id,akita,black-and-tan_coonhound,pug"
    message = _error(BREEDS, tmp_path, f"{header}\nt0,0.2,0.3,0.5\nt1,{row}\nt2,1,0,0\n")
    assert "line 3" in message and rule in message


@pytest.mark.parametrize("label", ["1.6", "4", "-1", "", "mild"])
def test_grades_are_integers_in_range(tmp_path, label):
    message = _error(GRADES, tmp_path, f"id_code,diagnosis\nt0,0\nt1,{label}\nt2,3\n")
    assert "line 3" in message and "diagnosis must be an integer grade 0..3" in message


def test_multilabel_labels_come_from_the_vocabulary(tmp_path):
    message = _error(TAGS, tmp_path, "id,label\nt0,sky\nt1,sea moon\nt2,sun\n")
    assert "line 3" in message and "unknown class 'moon'" in message


def test_write_refuses_nan_predictions_and_keeps_the_old_file(tmp_path):
    path = tmp_path / "out.csv"
    probs = np.array([[0.2], [0.7], [0.4]], dtype="float32")
    submission.write(PROB, IDS, probs, path)
    before = path.read_bytes()
    probs[1, 0] = math.nan
    with pytest.raises(HarnessError, match="line 3: the prediction for id 't1' is NaN"):
        submission.write(PROB, IDS, probs, path)
    for comp in (GRADES, INDEX):  # argmax or a threshold would have made NaN a class or a grade
        with pytest.raises(HarnessError, match="is NaN"):
            submission.write(comp, IDS, np.full((3, comp.num_outputs), np.nan), tmp_path / "nan.csv")
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


def test_every_format_round_trips_through_its_csv(tmp_path):
    assert set(BY_FORMAT) == set(formats.FORMATS.names()), "add a competition for the new format to BY_FORMAT"
    rng = np.random.default_rng(0)
    for name, comp in BY_FORMAT.items():
        assert comp.label_format == name
        preds = rng.dirichlet(np.ones(comp.num_outputs), size=3).astype("float32") if comp.num_outputs > 1 \
            else rng.random((3, 1)).astype("float32") * (len(comp.classes) - 1 if comp.task == "ordinal" else 1)
        path = submission.write(comp, IDS, preds, tmp_path / f"{name}.csv")
        submission.validate_file(comp, path, IDS)
        header, rows = submission.read(path)
        again = comp.format.decode(comp, [r[1:] for r in rows])
        assert header == comp.format.columns(comp) and again.shape == preds.shape, name
        rewritten = submission.read(submission.write(comp, IDS, again, tmp_path / f"{name}-again.csv"))[1]
        np.testing.assert_allclose(comp.format.decode(comp, [r[1:] for r in rewritten]), again, atol=1e-9)


def test_probabilities_keep_enough_digits_to_sum_to_one(tmp_path):
    preds = np.random.default_rng(1).dirichlet(np.ones(3) * 0.01, size=50).astype("float32")
    path = submission.write(BREEDS, [f"t{i}" for i in range(50)], preds, tmp_path / "p.csv")
    rows = submission.read(path)[1]
    assert max(abs(math.fsum(map(float, r[1:])) - 1) for r in rows) < 1e-8
    np.testing.assert_allclose(BREEDS.format.decode(BREEDS, [r[1:] for r in rows]), preds, atol=1e-6)


def test_grades_are_cut_by_the_fitted_thresholds(tmp_path):
    preds = np.array([[0.4], [0.7], [2.6]], dtype="float32")
    rows = submission.read(submission.write(GRADES, IDS, preds, tmp_path / "g.csv"))[1]
    assert [r[1] for r in rows] == ["0", "1", "3"]  # rounding without cuts
    rows = submission.read(submission.write(GRADES, IDS, preds, tmp_path / "g.csv", cuts=[0.8, 1.5, 2.7]))[1]
    assert [r[1] for r in rows] == ["0", "0", "2"]


def test_a_format_must_fit_the_task():
    with pytest.raises(ValueError, match=r"label_format must be one of \['grade'\] for a ordinal task"):
        folder_competition("v-bad", task="ordinal", label_format="class")
    with pytest.raises(HarnessError, match="Unknown submission format 'index'. Known: class, classes, code"):
        folder_competition("v-bad", label_format="index")
