"""Run the real `harness` CLI in a child process with the test fixtures' competitions registered.

`python tests/clirun.py submit fx-binary ...` is `python -m harness submit fx-binary ...` plus the fixture
competitions below, which a plain child process could not see. cli() starts one such child.
"""
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FAST = ("--folds", "2", "--image-size", "16", "--batch-size", "8", "--workers", "1", "--seed", "7")


def fixtures():
    """The fixture competitions child processes know (built small: a few seconds a run)."""
    from conftest import folder_competition

    return [folder_competition("fx-binary", classes=("a", "b"), per_class=10, test=6, task="binary",
                               label_format="probability", metric="log_loss"),
            folder_competition("fx-multi", per_class=6, test=5)]


def env(home) -> dict:
    return {**os.environ, "HARNESS_HOME": str(home), "PYTHONPATH": str(ROOT), "KERAS_BACKEND": "tensorflow",
            "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": "", "PYTHONHASHSEED": "0"}


def command(*args) -> list:
    return [sys.executable, str(Path(__file__)), *map(str, args)]


def cli(home, *args, timeout=120, **popen) -> subprocess.CompletedProcess:
    """Run one CLI command to the end; returns the finished process (stdout, stderr as text)."""
    return subprocess.run(command(*args), cwd=ROOT, env=env(home), capture_output=True, text=True,
                          timeout=timeout, **popen)


def start(home, *args) -> subprocess.Popen:
    """Start one CLI command and return at once (output goes to a file beside HARNESS_HOME)."""
    log = open(Path(home).parent / f"cli-{os.getpid()}-{len(list(Path(home).parent.glob('cli-*')))}.log", "w")
    return subprocess.Popen(command(*args), cwd=ROOT, env=env(home), stdout=log, stderr=subprocess.STDOUT,
                            text=True)


if __name__ == "__main__":
    from harness.competition import COMPETITIONS
    import competitions  # noqa: F401

    for comp in fixtures():
        COMPETITIONS.add(comp.name, comp)
    from harness.cli import main

    sys.exit(main(sys.argv[1:]))
