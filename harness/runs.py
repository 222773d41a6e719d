"""Run folders (runs/<comp>/<run-id>/): a new run per submit, but an unfinished one with the same
configuration is resumed instead of started over (and `compare` reuses a finished one)."""
import time
from dataclasses import dataclass
from pathlib import Path

from harness import atomic, paths
from harness.config import RunConfig
from harness.errors import HarnessError

CONFIG, SUMMARY = "config.json", "summary.json"


@dataclass(frozen=True)
class Run:
    run_id: str
    folder: Path
    config: RunConfig
    resumed: bool

    @property
    def complete(self) -> bool:
        return (self.folder / SUMMARY).exists()


def open_run(config: RunConfig, run_id=None) -> Run:
    """The named run, else the latest unfinished run with this exact config, else a new one."""
    root = paths.runs_dir(config.competition)
    if run_id:
        folder = root / run_id
        if (folder / CONFIG).exists():
            stored = _stored_config(folder)
            if stored != config:
                raise HarnessError(f"Run {run_id} was started with a different configuration ({folder / CONFIG}); "
                                   f"pass the same options or a new --run-id.")
            return Run(run_id, folder, config, resumed=True)
        return _create(folder, run_id, config)
    unfinished = next((run for run in _same_config(config) if not run.complete), None)
    if unfinished:
        return unfinished
    stamp = time.strftime("%Y%m%d-%H%M%S")
    run_id, n = f"{stamp}-{config.model}", 2
    while (root / run_id).exists():
        run_id, n = f"{stamp}-{config.model}-{n}", n + 1
    return _create(root / run_id, run_id, config)


def finished(config: RunConfig):
    """The latest finished run with exactly this (resolved) configuration, or None."""
    return next((run for run in _same_config(config) if run.complete), None)


def _same_config(config: RunConfig):
    """Runs of the competition started with exactly `config`, newest first (unreadable configs are passed by)."""
    for folder in sorted(paths.runs_dir(config.competition).glob("*/"), reverse=True):
        if (folder / CONFIG).exists():
            try:
                stored = _stored_config(folder)
            except HarnessError:
                continue
            if stored == config:
                yield Run(folder.name, folder, config, resumed=True)


def find(comp: str, run_id=None) -> Run:
    """The named run of `comp`, or its most recent one (for `harness predict`)."""
    root = paths.runs_dir(comp)
    folders = [root / run_id] if run_id else sorted(root.glob("*/"), reverse=True)
    for folder in folders:
        if (folder / CONFIG).exists():
            return Run(folder.name, folder, _stored_config(folder), resumed=True)
    what = f"run {run_id!r}" if run_id else "runs"
    raise HarnessError(f"No {what} of {comp} in {root}; run `harness train {comp}` first.")


def _stored_config(folder: Path) -> RunConfig:
    """The configuration a run was started with, or one sentence saying its config.json is unusable."""
    try:
        return RunConfig.from_dict(atomic.read_json(folder / CONFIG))
    except (ValueError, TypeError) as e:
        raise HarnessError(f"{folder / CONFIG} is not a valid run configuration ({e}); delete that run "
                           f"folder or pass another --run-id.") from None


def _create(folder: Path, run_id: str, config: RunConfig) -> Run:
    folder.mkdir(parents=True, exist_ok=True)
    atomic.write_json(folder / CONFIG, config.to_dict())
    return Run(run_id, folder, config, resumed=False)
