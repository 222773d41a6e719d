"""What every benchmark writes beside its figures: the machine, the commit, a scratch home, and plain JSON."""
import datetime
import math
import os
import platform
import shutil
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from harness import atomic, paths


def row(name, goal, ratio, met, figure, **details) -> dict:
    """One line of a table: a comparison, its goal, the measured ratio and whether it meets the goal."""
    return {"name": name, "goal": goal, "ratio": ratio, "met": met, "figure": figure, "details": details}


def table(rows) -> str:
    lines = ["| # | comparison | measured | ratio | goal | met |", "| --- | --- | --- | --- | --- | --- |"]
    for i, r in enumerate(rows, 1):
        ratio = "-" if r.get("ratio") is None else f"{r['ratio']:.2f}"
        met = {True: "yes", False: "NO", None: "-"}[r.get("met")]
        lines.append(f"| {i} | {r['name']} | {r.get('figure', '')} | {ratio} | {r['goal']} | {met} |")
    return "\n".join(lines)


def machine() -> dict:
    import cv2
    import keras

    cpu = platform.processor()
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "platform": platform.platform(), "python": sys.version.split()[0],
            "keras": keras.__version__, "backend": keras.backend.backend(), "opencv": cv2.__version__,
            "numpy": np.__version__, "loadavg_1min": os.getloadavg()[0]}


def git_commit() -> str:
    root = Path(__file__).resolve().parents[1]
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True).stdout.strip()
        return head.stdout.strip() + ("-dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


@contextmanager
def scratch_home(folder: Path):
    """Point HARNESS_HOME at an emptied folder for the block, so a benchmark never touches real data."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    with paths.home_at(folder):
        yield folder


def write(path: Path, result: dict) -> dict:
    """Stamp `result` with the date, commit and machine and write it atomically as JSON."""
    result = {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
              "commit": git_commit(), "machine": machine(), **result}
    atomic.write_json(path, plain(result))
    return result


def plain(obj):
    """JSON-ready: numpy scalars to floats, tuples to lists, dict keys to strings, NaN and inf to null."""
    if isinstance(obj, dict):
        return {str(k): plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [plain(v) for v in obj]
    if isinstance(obj, (np.floating, np.integer, np.bool_)):
        return plain(obj.item())
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj
