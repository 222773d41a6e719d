"""Write, validate and grade submission CSVs in Kaggle's `id,label` format.

Validation follows Kaggle's grader: exact header, every test id exactly once, no extra rows, no NaN,
labels in range or in the class list. Each failure names the file, the row and the rule.
"""
import csv
import io
import math
from pathlib import Path

import numpy as np

from harness import atomic
from harness import metrics as metric_registry
from harness.errors import HarnessError

HEADER = ["id", "label"]


def encode(comp, probs, thresholds=None) -> list:
    """The `label` column for each row of test probabilities, in the competition's format."""
    fmt = comp.label_format
    if fmt == "probability":
        lo, hi = comp.clip
        return [_float(p) for p in np.clip(probs[:, 0], lo, hi)]
    if fmt == "classes":
        t = 0.5 if thresholds is None else np.asarray(thresholds)
        return [" ".join(comp.classes[c] for c in np.flatnonzero(row >= t)) for row in probs]
    idx = metric_registry.hard_labels(probs)
    return [str(i) for i in idx] if fmt == "index" else [comp.classes[i] for i in idx]


def write(comp, ids, probs, path: Path, thresholds=None) -> Path:
    """Validate, then write the CSV atomically."""
    rows = list(zip(ids, encode(comp, probs, thresholds)))
    validate(comp, rows, ids, path)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(HEADER)
    writer.writerows(rows)
    atomic.write_text(path, buf.getvalue())
    return path


def read(path: Path):
    """(header, rows) of a submission file, rows as (id, label) strings."""
    try:
        with open(path, newline="", encoding="utf-8") as f:
            table = list(csv.reader(f))
    except (OSError, UnicodeDecodeError) as e:
        raise HarnessError(f"Cannot read submission {path}: {e}.") from None
    if not table:
        raise HarnessError(f"{path} is empty; a submission needs the header {','.join(HEADER)} and one row per test id.")
    return table[0], table[1:]


def validate_file(comp, path: Path, test_ids) -> None:
    header, rows = read(path)
    if header != HEADER:
        raise HarnessError(f"{path}: the header must be exactly {','.join(HEADER)}. Received: {','.join(header)}")
    validate(comp, rows, test_ids, path)


def validate(comp, rows, test_ids, where) -> None:
    """Raise HarnessError at the first row Kaggle would reject."""
    expected = set(test_ids)
    seen = set()
    for n, row in enumerate(rows, start=2):  # line 1 is the header
        if len(row) != 2:
            raise HarnessError(f"{where}, line {n}: a row must have 2 fields (id,label). Received: {row}")
        id_, label = row
        if id_ in seen:
            raise HarnessError(f"{where}, line {n}: id {id_!r} appears more than once; each test id exactly once.")
        if id_ not in expected:
            raise HarnessError(f"{where}, line {n}: id {id_!r} is not a test id of {comp.name}.")
        seen.add(id_)
        problem = _label_problem(comp, label)
        if problem:
            raise HarnessError(f"{where}, line {n}: {problem}. Received: label={label!r}")
    if len(seen) != len(expected):
        missing = sorted(expected - seen)
        raise HarnessError(f"{where}: {len(missing)} test id(s) have no row (first: {missing[0]!r}); "
                           f"Kaggle requires all {len(expected)} ids.")


def check_sample(comp, path: Path, raw_dir: Path) -> None:
    """Same header and same ids as the competition's own sample submission, where it ships one."""
    if not comp.sample_submission or not (raw_dir / comp.sample_submission).exists():
        return
    sample = raw_dir / comp.sample_submission
    s_header, s_rows = read(sample)
    header, rows = read(path)
    if [h.strip() for h in s_header] != header:
        raise HarnessError(f"{path}: header {header} differs from {sample}'s {s_header}.")
    if {r[0] for r in s_rows} != {r[0] for r in rows}:
        raise HarnessError(f"{path}: its ids differ from those of {sample}.")


def _label_problem(comp, label: str):
    fmt = comp.label_format
    if fmt == "index":
        ok = label.isdigit() and int(label) < len(comp.classes)
        return None if ok else f"the label must be a class index 0..{len(comp.classes) - 1}"
    if fmt == "class":
        return None if label in comp.classes else f"the label must be one of {', '.join(comp.classes)}"
    if fmt == "probability":
        try:
            p = float(label)
        except ValueError:
            p = math.nan
        return None if 0.0 <= p <= 1.0 else "the label must be a probability between 0 and 1 (no NaN or inf)"
    unknown = [c for c in label.split() if c not in comp.classes]
    return f"unknown class {unknown[0]!r}; labels are space-separated names from {', '.join(comp.classes)}" \
        if unknown else None


def decode(comp, labels) -> np.ndarray:
    """Labels read back from a CSV as (N, K) predictions, so a metric can grade the file itself."""
    k = comp.num_outputs
    out = np.zeros((len(labels), k), dtype="float64")
    for row, label in enumerate(labels):
        if comp.label_format == "probability":
            out[row, 0] = float(label)
        elif comp.label_format == "classes":
            out[row, [comp.classes.index(c) for c in label.split()]] = 1.0
        else:
            idx = int(label) if comp.label_format == "index" else comp.classes.index(label)
            out[row, 0 if k == 1 else idx] = float(idx) if k == 1 else 1.0
    return out


def grade(comp, path: Path, solution: dict, test_ids, test_probs) -> dict:
    """Score the CSV against the hidden answers, the way Kaggle grades it: {metric: score}.

    Metrics that need probabilities (mAP, log loss on hard labels) read the saved test probabilities."""
    _, rows = read(path)
    by_id = dict(rows)
    missing = [i for i in solution if i not in by_id]
    if missing:
        raise HarnessError(f"{path}: no row for solution id {missing[0]!r}.")
    ids = [i for i in test_ids if i in solution]
    y_true = metric_registry.truth(comp, [solution[i] for i in ids])
    from_csv = decode(comp, [by_id[i] for i in ids])
    position = {i: n for n, i in enumerate(test_ids)}
    probs = np.asarray(test_probs)[[position[i] for i in ids]]
    scores = {}
    for name in (comp.metric, *comp.extra_metrics):
        metric = metric_registry.get(name)
        use_csv = metric.needs == "labels" or comp.label_format == "probability"
        scores[name] = metric(y_true, from_csv if use_csv else probs)
    return scores


def _float(p) -> str:
    return f"{float(p):.6f}"
