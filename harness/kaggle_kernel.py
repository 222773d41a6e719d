"""The inference script `harness package` puts in a Kaggle kernel (as inference.py); the harness never imports it.

Kaggle runs it with no internet, on the competition's hidden test images. It finds the packaged run among the
notebook's inputs (the dataset holding harness-run.json), checks that the notebook image has the packages the
harness needs, in the versions it needs, installs the harness wheel from the dataset without its dependencies,
rebuilds the run folder from the dataset's flat files (symbolic links, nothing copied) and runs
`harness predict COMP --run-id RUN --images <the competition's test folder> --out /kaggle/working/submission.csv`.
Every failure is one line starting "harness kernel:" and a non-zero exit.
"""
import importlib
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

# Where Kaggle mounts a notebook's inputs and collects its output; moved only by tests that lay out a copy.
INPUT = Path(os.environ.get("HARNESS_KAGGLE_INPUT", "/kaggle/input"))
WORKING = Path(os.environ.get("HARNESS_KAGGLE_WORKING", "/kaggle/working"))
MANIFEST = "harness-run.json"


def main() -> int:
    dataset = find_dataset()
    run = json.loads((dataset / MANIFEST).read_text(encoding="utf-8"))
    check_packages(run["requires"])
    install(dataset / run["wheel"])
    home = link_run(dataset, run)
    command = [sys.executable, "-m", "harness", "predict", run["competition"], "--run-id", run["run_id"],
               "--images", str(find_test_images(run["test_images"])), "--out", str(WORKING / run["submission"])]
    say("running " + " ".join(["harness", *command[3:]]))
    return subprocess.run(command, env={**os.environ, "HARNESS_HOME": str(home)}).returncode


def find_dataset() -> Path:
    """The one input folder holding a packaged run (a dataset may be mounted one level deeper)."""
    found = sorted({p.parent for p in (*INPUT.glob(f"*/{MANIFEST}"), *INPUT.glob(f"*/*/{MANIFEST}"))})
    if len(found) != 1:
        what = "no packaged run" if not found else f"{len(found)} packaged runs ({', '.join(map(str, found))})"
        fail(f"found {what} ({MANIFEST}) among the notebook's inputs in {INPUT}; attach exactly one dataset "
             f"written by `harness package`.")
    return found[0]


def check_packages(requires: dict) -> None:
    """Every package the harness imports, at its minimum version: the wheel is installed without dependencies."""
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    problems, found = [], []
    for module, minimum in requires.items():
        try:
            version = str(getattr(importlib.import_module(module), "__version__", "0"))
        except ImportError as e:
            problems.append(f"{module} is missing ({e})")
            continue
        found.append(f"{module} {version}")
        if minimum and _numbers(version) < _numbers(minimum):
            problems.append(f"{module} {version} is older than {minimum}")
    if problems:
        fail(f"this notebook's environment cannot run the harness: {'; '.join(problems)}. Choose the latest "
             f"environment in the notebook's settings.")
    say("packages: " + ", ".join(found))


def install(wheel: Path) -> None:
    """pip, offline, this wheel only: everything it needs is already in the image."""
    done = subprocess.run([sys.executable, "-m", "pip", "install", "--no-index", "--no-deps", "--quiet",
                           "--disable-pip-version-check", str(wheel)])
    if done.returncode:
        fail(f"pip could not install {wheel} (exit {done.returncode}; its message is above).")


def link_run(dataset: Path, run: dict) -> Path:
    """A HARNESS_HOME outside /kaggle/working (which becomes the notebook's output) holding the run folder."""
    home = Path(tempfile.mkdtemp(prefix="harness-home-"))
    folder = home / "runs" / run["competition"] / run["run_id"]
    for relative, name in run["files"].items():
        (folder / relative).parent.mkdir(parents=True, exist_ok=True)
        (folder / relative).symlink_to(dataset / name)
    return home


def find_test_images(relative: str) -> Path:
    """<competition>/<test folder> as mounted: directly under the inputs, or one level deeper."""
    for folder in (INPUT / relative, *sorted(INPUT.glob(f"*/{relative}"))):
        if folder.is_dir():
            return folder
    listing = ", ".join(sorted(p.name for p in INPUT.iterdir())) if INPUT.is_dir() else "nothing"
    fail(f"no {relative} folder among the notebook's inputs in {INPUT} (found: {listing}); add the competition's "
         f"data to the notebook.")


def _numbers(version: str) -> tuple:
    """(2, 16, 1) from "2.16.1" or "2.16.1rc0": enough to compare release numbers."""
    return tuple(int(n) for n in re.findall(r"\d+", version.split("+")[0])[:3])


def say(message: str) -> None:
    print(f"harness kernel: {message}", flush=True)


def fail(message: str):
    print(f"harness kernel: {message}", file=sys.stderr, flush=True)
    sys.exit(1)


if __name__ == "__main__":
    sys.exit(main())
