"""Where a command's time went: seconds per stage (download, prepare, train fold N, predict, ...).

A stage run inside another is taken out of the outer one, so every second counts once and the stages add
up to at most the wall time. The record is per process: `reset()` starts a new one.
"""
import contextlib
import time

FOLD = "train fold "  # a fold's stage is this plus its number; describe() gathers them under `train`
_seconds = {}  # stage -> its own seconds
_nested = []  # for each open stage, the seconds spent in stages inside it


def reset() -> None:
    _seconds.clear()


@contextlib.contextmanager
def stage(name: str):
    """Count the block's time as stage `name` (added to what it already has)."""
    started = time.perf_counter()
    _seconds.setdefault(name, 0.0)  # listed in the order the stages started
    _nested.append(0.0)
    try:
        yield
    finally:
        spent, inner = time.perf_counter() - started, _nested.pop()
        _seconds[name] = _seconds.get(name, 0.0) + spent - inner  # reset() may have run inside the block
        if _nested:
            _nested[-1] += spent


def folds(wanted):
    """Yield each fold of `wanted` (0-based), counting the loop body as stage `train fold N` (1-based)."""
    for fold in wanted:
        with stage(f"{FOLD}{fold + 1}"):
            yield fold


def seconds() -> dict:
    """{stage: seconds} so far, rounded to milliseconds."""
    return {name: round(s, 3) for name, s in _seconds.items()}


def describe(stages: dict, wall: float) -> str:
    """One line: each stage's seconds in the order they ran, the folds' training gathered under `train`, and
    whatever of `wall` no stage counted, so that the parts add up to it."""
    parts, trained = [], {}
    for name, s in stages.items():
        if name.startswith(FOLD):
            if not trained:
                parts.append(None)  # `train` goes where its first fold ran
            trained[name[len("train "):]] = s
        else:
            parts.append(f"{name} {s:.1f}s")
    if trained:
        each_fold = ", ".join(f"{fold} {s:.1f}s" for fold, s in trained.items())
        parts[parts.index(None)] = f"train {sum(trained.values()):.1f}s ({each_fold})"
    rest = wall - sum(stages.values())
    return " · ".join(parts + ([f"other {rest:.1f}s"] if rest >= 0.05 else []))
