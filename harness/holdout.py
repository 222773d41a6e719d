"""Held-out test splits for sources that publish no test labels (animals-10, VOC 2012, local folders).

The split is deterministic and independent of listing order: within each stratum (the class, or for
multi-label images their rarest class) images are ranked by a hash of their relative path and the first
`fraction` of them become the test set (harness.layout.image_id gives ids that never name the class).
"""
import hashlib
from collections import Counter, defaultdict
from pathlib import Path

from harness.competition import Item

FRACTION = 0.1


def split(items, fraction: float = FRACTION, salt: str = "holdout"):
    """(train, test) lists of labelled items; every stratum of 2+ images gives at least one to test."""
    if not 0 < fraction < 1:
        raise ValueError(f"`fraction` must be between 0 and 1. Received: fraction={fraction}")
    strata = defaultdict(list)
    for item, key in zip(items, _strata([i.label for i in items])):
        strata[key].append(item)
    train, test = [], []
    for members in strata.values():
        members.sort(key=lambda i: (_digest(f"{salt}:{i.id}"), i.id))
        n_test = max(1, round(fraction * len(members))) if len(members) >= 2 else 0
        test += members[:n_test]
        train += members[n_test:]
    order = {id(i): n for n, i in enumerate(items)}
    return sorted(train, key=lambda i: order[id(i)]), sorted(test, key=lambda i: order[id(i)])


class HeldOut:
    """list_train / list_test / solution for a competition over `list_all(raw)`, split by `split()`."""

    def __init__(self, list_all, fraction: float = FRACTION):
        self.list_all, self.fraction = list_all, fraction

    def _split(self, raw):
        return split(self.list_all(Path(raw)), self.fraction)

    def list_train(self, raw):
        return self._split(raw)[0]

    def list_test(self, raw):
        return [Item(i.id, i.path) for i in self._split(raw)[1]]

    def solution(self, raw):
        return {i.id: i.label for i in self._split(raw)[1]}


def _strata(labels):
    """Single-label: the label. Multi-label: the image's rarest class overall (empty tuples share -1)."""
    if not any(isinstance(y, (tuple, list)) for y in labels):
        return labels
    counts = Counter(c for y in labels for c in y)
    return [min(y, key=lambda c: (counts[c], c)) if y else -1 for y in labels]


def _digest(text: str) -> str:
    return hashlib.blake2b(text.encode("utf-8", "surrogateescape"), digest_size=16).hexdigest()
