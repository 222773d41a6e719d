"""Write, validate and grade submission CSVs in each competition's own format (harness.formats).

Validation follows Kaggle's grader: the header exactly as the competition's columns (and as its sample
submission, where Kaggle ships one), every test id exactly once, no extra rows, values valid for the
format (no NaN, labels in range or in the class list, probability rows summing to 1). Each failure
names the file, the line and the rule.
"""
import csv
import io
from pathlib import Path

import numpy as np

from harness import atomic
from harness import metrics as metric_registry
from harness.errors import HarnessError


def write(comp, ids, preds, path: Path, cuts=None, raw_dir=None) -> Path:
    """Encode, validate (against the sample submission in `raw_dir` too), then write the CSV atomically."""
    broken = np.flatnonzero(np.isnan(np.asarray(preds, dtype=np.float64)).any(axis=1))
    if len(broken):  # caught here, before argmax or a threshold could turn NaN into some class or grade
        raise HarnessError(f"{path}, line {broken[0] + 2}: the prediction for {comp.id_column} {ids[broken[0]]!r} is "
                           f"NaN; a submission needs a number for every test id (did a fold's model diverge?).")
    header = comp.format.columns(comp)
    rows = [[i, *fields] for i, fields in zip(ids, comp.format.encode(comp, preds, cuts))]
    validate(comp, rows, ids, path)
    if raw_dir is not None:
        check_sample(comp, ids, raw_dir, path)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    atomic.write_text(path, buf.getvalue())
    return path


def read(path: Path, columns=None):
    """(header, rows) of a CSV file as strings; `columns` (a competition's) only words the empty-file error."""
    try:
        with open(path, newline="", encoding="utf-8") as f:
            table = list(csv.reader(f))
    except (OSError, UnicodeDecodeError) as e:
        raise HarnessError(f"Cannot read submission {path}: {e}.") from None
    if not table:
        wanted = f"the header {','.join(columns)}" if columns else "a header"
        raise HarnessError(f"{path} is empty; a submission needs {wanted} and one row per test id.")
    return table[0], table[1:]


def validate_file(comp, path: Path, test_ids) -> None:
    """The file on disk as Kaggle will read it: exact header, then every row."""
    columns = comp.format.columns(comp)
    header, rows = read(path, columns)
    if header != columns:
        raise HarnessError(f"{path}: the header must be exactly {_show(columns)}. Received: {_show(header)}")
    validate(comp, rows, test_ids, path)


def validate(comp, rows, test_ids, where) -> None:
    """Raise HarnessError at the first row Kaggle would reject."""
    columns = comp.format.columns(comp)
    expected = set(test_ids)
    seen = set()
    for n, row in enumerate(rows, start=2):  # line 1 is the header
        if len(row) != len(columns):
            raise HarnessError(f"{where}, line {n}: a row must have {len(columns)} fields ({_show(columns)}). "
                               f"Received: {_show(row)}")
        id_ = row[0]
        if id_ in seen:
            raise HarnessError(f"{where}, line {n}: {comp.id_column} {id_!r} appears more than once; each test id "
                               f"exactly once.")
        if id_ not in expected:
            raise HarnessError(f"{where}, line {n}: {comp.id_column} {id_!r} is not a test id of {comp.name}.")
        seen.add(id_)
        problem = comp.format.problem(comp, row[1:])
        if problem:
            received = f"{columns[1]}={row[1]!r}" if len(row) == 2 else _show(row[1:])
            raise HarnessError(f"{where}, line {n}: {problem}. Received: {received}")
    if len(seen) != len(expected):
        missing = sorted(expected - seen)
        raise HarnessError(f"{where}: {len(missing)} test id(s) have no row (first: {missing[0]!r}); "
                           f"Kaggle requires all {len(expected)} ids.")


def check_columns(comp, raw_dir: Path) -> None:
    """The competition's columns are those of its sample submission, where Kaggle ships one (checked after
    the download, before any training)."""
    sample = _sample(comp, raw_dir)
    if sample is None:
        return
    columns = comp.format.columns(comp)
    with open(sample, newline="", encoding="utf-8") as f:
        header = next(csv.reader(f), [])  # the header alone: a sample can have tens of thousands of rows
    if _clean(header) != columns:
        raise HarnessError(f"{comp.name}: the submission's columns {_show(columns)} differ from those of {sample} "
                           f"({_show(_clean(header))}); fix the module's id_column, label_column or classes.")


def check_sample(comp, ids, raw_dir: Path, where) -> None:
    """Same columns and same ids as the competition's own sample submission, where it ships one."""
    sample = _sample(comp, raw_dir)
    if sample is None:
        return
    check_columns(comp, raw_dir)
    sample_ids = {r[0] for r in read(sample)[1] if r}
    if sample_ids != set(ids):
        odd = sorted(set(ids) ^ sample_ids)[0]
        raise HarnessError(f"{where}: its ids differ from those of {sample} (e.g. {odd!r} is in one only); the "
                           f"test images listed do not match Kaggle's sample submission.")


def grade(comp, path: Path, solution: dict, test_ids, test_preds) -> dict:
    """Score the CSV against the hidden answers, the way Kaggle grades it: {metric: score}."""
    _, rows = read(path)
    by_id = {r[0]: r[1:] for r in rows}
    missing = [i for i in solution if i not in by_id]
    if missing:
        raise HarnessError(f"{path}: no row for solution id {missing[0]!r}.")
    ids = [i for i in test_ids if i in solution]
    y_true = metric_registry.truth(comp, [solution[i] for i in ids])
    from_csv = comp.format.decode(comp, [by_id[i] for i in ids])
    position = {i: n for n, i in enumerate(test_ids)}
    preds = np.asarray(test_preds)[[position[i] for i in ids]]
    scores = {}
    for name in (comp.metric, *comp.extra_metrics):
        metric = metric_registry.get(name)
        scores[name] = metric(y_true, _graded(comp, metric, from_csv, preds))
    return scores


def score(comp, metric, y_true, preds, cuts=None) -> float:
    """The score `preds` get once written in the competition's format (out-of-fold: as if submitted)."""
    as_written = comp.format.decode(comp, comp.format.encode(comp, preds, cuts))
    return metric(y_true, _graded(comp, metric, as_written, preds))


def _graded(comp, metric, from_csv, preds):
    """What a metric grades: the file's values, except a metric that needs scores when the file holds labels."""
    return from_csv if metric.needs == "labels" or comp.format.holds == "scores" else preds


def _sample(comp, raw_dir):
    path = Path(raw_dir) / comp.sample_submission if comp.sample_submission else None
    return path if path is not None and path.exists() else None


def _clean(header) -> list:
    """Header names as Kaggle matches them: without a byte-order mark or surrounding spaces."""
    return [h.strip().lstrip("\ufeff") for h in header]


def header_text(comp) -> str:
    """The competition's CSV header as `harness info` shows it (long ones shortened)."""
    return _show(comp.format.columns(comp))


def _show(fields, limit: int = 6) -> str:
    fields = list(fields)
    return ",".join(fields[:limit]) + (f",... ({len(fields)} columns)" if len(fields) > limit else "")
