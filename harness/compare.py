"""`harness compare COMP`: train several models on the same folds with the same seed, blend them, rank the lot.

A finished run with the same configuration is reused and an unfinished one resumed, so a second call trains
nothing. With a time budget, no model is started once the budget is spent; the summary names those skipped.
"""
import re
import time
from dataclasses import dataclass
from typing import Optional

from harness import blend, competition, models, pipeline, progress, runs
from harness.competition import PHOTO_MODEL
from harness.config import RunConfig
from harness.errors import HarnessError

# The models compared when --models is not given, by the competition's default model: the candidates a
# competitor tries first on that kind of image. Declared here as data, never by competition name.
DEFAULT_SETS = {
    "small-cnn": ("small-cnn", "vgg-small"),
    PHOTO_MODEL: ("efficientnet-b0", "efficientnetv2-b0", "resnet50"),
}
BLEND_METHOD = "fit"  # weights fitted on the out-of-fold predictions, so the blend is judged on held-out rows
_DURATION = re.compile(r"(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m)?(?:(\d+(?:\.\d+)?)s)?")


@dataclass
class Entry:
    """What became of one model: trained, resumed, reused (finished before) or skipped (budget spent)."""
    model: str
    status: str
    run: Optional[runs.Run] = None
    seconds: float = 0.0


@dataclass
class Comparison:
    comp: object
    entries: list
    blend: Optional[dict]  # blend.blend's summary; None with fewer than two finished runs
    blend_reused: bool
    budget_s: Optional[float]
    wall_time: float


def default_models(comp) -> tuple:
    """The comparison set for the competition's kind of images (keyed by its default model)."""
    if comp.model not in DEFAULT_SETS:
        raise HarnessError(f"{comp.name} has no default comparison set (its default model is {comp.model}); "
                           f"name the models with --models a,b. Received: no --models")
    return DEFAULT_SETS[comp.model]


def parse_models(text: str) -> tuple:
    """'a,b,c' -> ('a', 'b', 'c'), each a registered model, none twice."""
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    if not names:
        raise HarnessError(f"--models must name at least one model, comma-separated. Received: --models {text!r}")
    for name in names:
        models.get(name)  # an unknown name is answered with the known ones
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise HarnessError(f"--models names {', '.join(twice)} more than once. Received: --models {text!r}")
    return names


def parse_duration(text: str) -> float:
    """'2h', '90m', '45s', '1h30m' -> seconds."""
    match = _DURATION.fullmatch(text.strip())
    if not text.strip() or not match or not any(match.groups()):
        raise HarnessError(f"--time-budget must be a duration such as 45s, 90m, 2h or 1h30m. "
                           f"Received: --time-budget {text!r}")
    hours, minutes, secs = (float(g or 0) for g in match.groups())
    return hours * 3600 + minutes * 60 + secs


def compare(config: RunConfig, names=None, budget_s: Optional[float] = None, executor=None) -> Comparison:
    """Train (or reuse) one run per model with `config`'s folds, seed and options (folds trained by `executor`,
    as in pipeline.train), then blend the finished ones."""
    started = time.perf_counter()
    comp = competition.get(config.competition)
    names = names or default_models(comp)
    entries = []
    for n, name in enumerate(names, start=1):
        resolved = pipeline.resolve(config.replace(model=name))
        done = runs.finished(resolved)
        if done:
            entries.append(Entry(name, "reused", done))
            continue
        if budget_s is not None and time.perf_counter() - started >= budget_s:
            entries.append(Entry(name, "skipped"))
            continue
        progress.say(f"compare {n}/{len(names)}: {name}")
        began = time.perf_counter()
        outcome = pipeline.submit(resolved, executor=executor)
        entries.append(Entry(name, "resumed" if outcome.run.resumed else "trained", outcome.run,
                             time.perf_counter() - began))
    finished = [e.run.run_id for e in entries if e.run]
    made, reused = None, False
    if len(finished) >= 2:
        made = blend.existing(comp.name, finished, BLEND_METHOD)
        reused = made is not None
        made = made or blend.blend(comp.name, finished, BLEND_METHOD)
    return Comparison(comp, entries, made, reused, budget_s, time.perf_counter() - started)


def format_summary(c: Comparison) -> str:
    first = next((e.run.config for e in c.entries if e.run), None)
    setup = f" on {first.folds} folds, seed {first.seed}" if first else ""
    lines = [f"compare {c.comp.name}: {len(c.entries)} model(s){setup}, {c.wall_time:.0f}s"]
    for e in c.entries:
        if e.run is None:
            continue
        took = f" in {e.seconds:.0f}s" if e.status != "reused" else " (finished before: nothing trained)"
        lines.append(f"  {e.model:<20} {e.status:<8} run {e.run.run_id}{took}")
    skipped = [e.model for e in c.entries if e.status == "skipped"]
    if skipped:
        lines.append(f"  skipped, the time budget of {c.budget_s:.0f}s being spent: {', '.join(skipped)}")
    if c.blend is None:
        lines.append("  no blend: it needs at least two finished runs")
    else:
        lines.append(("  reused " if c.blend_reused else "  ") + blend.format_summary(c.blend).replace("\n", "\n  "))
    return "\n".join(lines)
