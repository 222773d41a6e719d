"""Where the harness keeps data, runs, submissions and the leaderboard (HARNESS_HOME moves them all)."""
import contextlib
import os
from pathlib import Path

_PROJECT = Path(__file__).resolve().parents[1]


def home() -> Path:
    """The root holding data/, runs/, submissions/: $HARNESS_HOME, else the project checkout."""
    env = os.environ.get("HARNESS_HOME")
    if env:
        return Path(env).expanduser().resolve()
    return _PROJECT if (_PROJECT / "pyproject.toml").exists() else Path.cwd()


@contextlib.contextmanager
def home_at(folder):
    """Use `folder` as HARNESS_HOME for the block (benchmarks keep their files apart from real data)."""
    before = os.environ.get("HARNESS_HOME")
    os.environ["HARNESS_HOME"] = str(folder)
    try:
        yield Path(folder)
    finally:
        if before is None:
            os.environ.pop("HARNESS_HOME", None)
        else:
            os.environ["HARNESS_HOME"] = before


def data_dir(comp: str) -> Path:
    return home() / "data" / comp


def raw_dir(comp: str) -> Path:
    """Downloaded (or built) files exactly as the source ships them."""
    return data_dir(comp) / "raw"


def private_dir(comp: str) -> Path:
    """Hidden answers only the scorer reads, like Kaggle's private leaderboard."""
    return data_dir(comp) / "private"


def cache_dir(comp: str, size: int) -> Path:
    return data_dir(comp) / "cache" / f"{size}px"


def runs_dir(comp: str) -> Path:
    return home() / "runs" / comp


def submissions_dir(comp: str) -> Path:
    return home() / "submissions" / comp


def leaderboard_path() -> Path:
    return home() / "leaderboard.sqlite"
