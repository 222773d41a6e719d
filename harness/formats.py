"""Submission formats: how predictions become the columns of a competition's CSV, and back again.

The TFDS FeatureConnector idea applied to CSVs: one registered object per format knows its columns, encodes
predictions into rows, says what is wrong with a row as Kaggle's grader would, and decodes rows back into
predictions so the file itself is what gets scored (or blended). The column names are the competition's
(`id_column`, `label_column`, or one column per class); its module picks a format by name.

Predictions are (N, K) as the model gives them: K = 1 for binary (P of classes[1]) and ordinal (the
regressed grade), one column per class otherwise. `cuts` are the thresholds fitted on the out-of-fold
predictions (harness.cuts) where the task has them.
"""
import math

import numpy as np

from harness import cuts as decisions
from harness.registry import Registry

ROW_SUM_TOLERANCE = 1e-6  # probabilities of one row must sum to 1 this closely (Kaggle's log-loss graders)

FORMATS = Registry("submission format")


def register_format(cls):
    """Register one instance of the decorated Format class under its `name`."""
    FORMATS.add(cls.name, cls())
    return cls


def get(name: str) -> "Format":
    return FORMATS.get(name)


class Format:
    """A submission format. Rows are [id, *value fields]; the methods below see the value fields only."""
    name = ""
    tasks = ()  # the tasks whose predictions this format can write
    holds = "labels"  # "labels": the CSV holds decisions; "scores": it holds the probabilities themselves

    def columns(self, comp) -> list:
        """The CSV header."""
        return [comp.id_column, comp.label_column]

    def describe(self, comp) -> str:
        """What the value columns hold, for `harness info`."""
        raise NotImplementedError

    def encode(self, comp, preds, cuts=None) -> list:
        """The value fields of one row per prediction."""
        raise NotImplementedError

    def problem(self, comp, fields):
        """Why Kaggle would reject these value fields, or None."""
        raise NotImplementedError

    def decode(self, comp, rows) -> np.ndarray:
        """Value fields read back from a CSV as (N, K) predictions for the metrics."""
        raise NotImplementedError


class LabelColumn(Format):
    """One label column after the id; a subclass says what a label means, how predictions become labels
    (labels), what makes one invalid (label_problem) and how it reads back (put: into a row of predictions)."""

    def describe(self, comp):
        return f"{comp.label_column} = {self.meaning(comp)}"

    def encode(self, comp, preds, cuts=None):
        return [[value] for value in self.labels(comp, preds, cuts)]

    def problem(self, comp, fields):
        return self.label_problem(comp, fields[0])

    def decode(self, comp, rows):
        out = np.zeros((len(rows), comp.num_outputs))
        for n, fields in enumerate(rows):
            self.put(comp, fields[0], out[n])
        return out


def _put_class(comp, index: int, row) -> None:
    """One-hot, or the index itself where the prediction is one column (binary)."""
    if len(row) == 1:
        row[0] = index
    else:
        row[index] = 1.0


def _probability(text: str) -> float:
    """The value as a float, NaN when it is not a number (NaN fails every range check)."""
    try:
        return float(text)
    except ValueError:
        return math.nan


@register_format
class ClassName(LabelColumn):
    name, tasks = "class", ("binary", "multiclass")

    def meaning(self, comp):
        return "the class name"

    def labels(self, comp, preds, cuts):
        return [comp.classes[i] for i in decisions.labels(comp, preds, cuts)]

    def label_problem(self, comp, label):
        return None if label in comp.classes else \
            f"{comp.label_column} must be one of {', '.join(comp.classes)}"

    def put(self, comp, label, row):
        _put_class(comp, comp.classes.index(label), row)


@register_format
class ClassCode(LabelColumn):
    name, tasks = "code", ("binary", "multiclass")
    what = "class code"

    def meaning(self, comp):
        return f"the class's integer code 0..{len(comp.classes) - 1} ({', '.join(comp.classes)})"

    def labels(self, comp, preds, cuts):
        return [str(i) for i in decisions.labels(comp, preds, cuts)]

    def label_problem(self, comp, label):
        ok = label.isdigit() and int(label) < len(comp.classes)
        return None if ok else f"{comp.label_column} must be an integer {self.what} 0..{len(comp.classes) - 1}"

    def put(self, comp, label, row):
        _put_class(comp, int(label), row)


@register_format
class Probability(LabelColumn):
    name, tasks, holds = "probability", ("binary",), "scores"

    def meaning(self, comp):
        lo, hi = comp.clip
        return f"P({comp.classes[1]})" + (f", clipped to [{lo}, {hi}]" if (lo, hi) != (0.0, 1.0) else "")

    def labels(self, comp, preds, cuts):
        return [f"{p:.6f}" for p in np.clip(np.asarray(preds, dtype=np.float64)[:, 0], *comp.clip)]

    def label_problem(self, comp, label):
        return None if 0.0 <= _probability(label) <= 1.0 else \
            f"{comp.label_column} must be a probability between 0 and 1 (no NaN or inf)"

    def put(self, comp, label, row):
        row[0] = float(label)


@register_format
class Probabilities(Format):
    """One probability column per class, named by the class, in the competition's (sample submission's) order."""
    name, tasks, holds = "probabilities", ("multiclass",), "scores"

    def columns(self, comp):
        return [comp.id_column, *comp.classes]

    def describe(self, comp):
        return f"one probability column per class ({len(comp.classes)}), each row summing to 1"

    def encode(self, comp, preds, cuts=None):
        p = np.clip(np.asarray(preds, dtype=np.float64), *comp.clip)
        p = p / p.sum(axis=1, keepdims=True)  # float32 softmax rows are off by up to ~1e-7 a column
        return [[f"{v:.10g}" for v in row] for row in p]  # 10 digits: 120 columns still sum to 1 within 1e-8

    def problem(self, comp, fields):
        p = [_probability(f) for f in fields]
        bad = next((c for c, v in zip(comp.classes, p) if not 0.0 <= v <= 1.0), None)
        if bad is not None:
            return f"column {bad} must be a probability between 0 and 1 (no NaN or inf)"
        if abs(math.fsum(p) - 1.0) > ROW_SUM_TOLERANCE:
            return f"the {len(p)} probabilities must sum to 1 within {ROW_SUM_TOLERANCE} (they sum to {math.fsum(p)!r})"
        return None

    def decode(self, comp, rows):
        return np.array(rows, dtype=np.float64).reshape(len(rows), len(comp.classes))


@register_format
class ClassList(LabelColumn):
    name, tasks = "classes", ("multilabel",)

    def meaning(self, comp):
        return "space-separated class names (any number, none included)"

    def labels(self, comp, preds, cuts):
        return [" ".join(comp.classes[c] for c in np.flatnonzero(row)) for row in decisions.labels(comp, preds, cuts)]

    def label_problem(self, comp, label):
        unknown = [c for c in label.split() if c not in comp.classes]
        return f"unknown class {unknown[0]!r}; {comp.label_column} holds space-separated names from " \
               f"{', '.join(comp.classes)}" if unknown else None

    def put(self, comp, label, row):
        row[[comp.classes.index(c) for c in label.split()]] = 1.0


@register_format
class Grade(ClassCode):
    """An integer grade; the regressed grade is cut by thresholds fitted on the out-of-fold predictions."""
    name, tasks = "grade", ("ordinal",)
    what = "grade"

    def meaning(self, comp):
        return f"the integer grade 0..{len(comp.classes) - 1} ({', '.join(comp.classes)})"
