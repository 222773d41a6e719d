"""A run packaged for a Kaggle code competition, and pushed there.

`harness package COMP --run-id R` writes runs/COMP/R/kaggle/:
- dataset/: a Kaggle dataset (dataset-metadata.json) holding what `harness predict --images` reads from the run
  (inference.run_files: the resolved config, decision cuts, fallback prediction, the finished folds' weights and,
  for a cached-features run, the frozen backbone's), flattened into one folder because Kaggle's API uploads files,
  not folders; the harness as a wheel; and harness-run.json, which maps each file back to its place in the run;
- kernel/: kernel-metadata.json (the competition and the dataset as sources, internet off, GPU on) and
  inference.py (harness/kaggle_kernel.py), which installs the wheel offline and runs `harness predict` on the
  competition's test folder into /kaggle/working/submission.csv.
`--push` uploads the dataset (a new version when it exists), pushes the kernel, waits for its run, checks its
submission.csv, submits it to the competition and records the public score on the run's leaderboard row.
"""
import json
import re
import shutil
import tempfile
import time
from dataclasses import dataclass
from hashlib import sha1
from pathlib import Path

from harness import atomic, inference, progress, runs, submission, wheel
from harness.errors import HarnessError

MANIFEST = "harness-run.json"
SUBMISSION = "submission.csv"  # what a code competition grades, in the kernel's /kaggle/working
LICENSE = "CC0-1.0"
NAME_LIMIT = 50  # Kaggle's longest dataset slug and title
IMPORT_NAMES = {"opencv-python-headless": "cv2", "pillow": "PIL", "scikit-learn": "sklearn"}  # distribution -> module
NOT_NEEDED = {"kaggle"}  # `harness predict` talks to no one
LOG_TAIL_LINES = 6


@dataclass(frozen=True)
class Package:
    """The folders `build` wrote for a run and the Kaggle refs they will have."""
    run: object  # harness.runs.Run
    folder: Path
    dataset: Path
    kernel: Path
    dataset_ref: str  # owner/slug
    kernel_ref: str


def build(comp, run_id=None, owner: str = None, name: str = None) -> Package:
    """Write the dataset and kernel folders for run `run_id` (default: the latest; earlier folders are replaced),
    owned by `owner` (default: the logged-in Kaggle user), named `name` (default: COMP-RUN)."""
    if not comp.code_competition:
        raise HarnessError(f"{comp.name} is not a code competition: Kaggle grades an uploaded CSV, so there is no "
                           f"notebook to package. Submit with `harness submit {comp.name} --upload`.")
    run = runs.find(comp.name, run_id)
    name = name or default_name(comp.name, run.run_id)
    _check_name(name)
    files = inference.run_files(comp, run)
    owner = owner or _kaggle_user()
    folder = run.folder / "kaggle"
    work = Path(tempfile.mkdtemp(prefix=".kaggle-", dir=run.folder))  # swapped in whole, like every output
    work.chmod(0o777 & ~atomic.umask())  # mkdtemp's 0700 would become the folder's
    try:
        dataset, kernel = work / "dataset", work / "kernel"
        dataset.mkdir()
        kernel.mkdir()
        flat = {relative: relative.replace("/", ".") for relative in files}
        for relative, flat_name in flat.items():
            shutil.copyfile(run.folder / relative, dataset / flat_name)
        built = wheel.build(dataset)
        dataset_ref, kernel_ref = f"{owner}/{name}", f"{owner}/{name}"
        atomic.write_json(dataset / MANIFEST, {
            "competition": comp.name, "run_id": run.run_id, "files": flat, "wheel": built.name,
            "requires": requirements(), "test_images": f"{comp.source.slug}/{comp.test_folder}",
            "submission": SUBMISSION})
        atomic.write_json(dataset / "dataset-metadata.json", {
            "id": dataset_ref, "title": name, "licenses": [{"name": LICENSE}],
            "description": f"Fold weights of kaggle-harness run {run.run_id} ({run.config.model}) for {comp.name}, "
                           f"with the harness wheel that predicts from them."})
        atomic.write_json(kernel / "kernel-metadata.json", {
            "id": kernel_ref, "title": name, "code_file": "inference.py", "language": "python",
            "kernel_type": "script", "is_private": True, "enable_gpu": True, "enable_tpu": False,
            "enable_internet": False, "dataset_sources": [dataset_ref], "competition_sources": [comp.source.slug],
            "kernel_sources": [], "model_sources": []})
        shutil.copyfile(Path(__file__).with_name("kaggle_kernel.py"), kernel / "inference.py")
        if folder.exists():
            shutil.rmtree(folder)
        work.rename(folder)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return Package(run, folder, folder / "dataset", folder / "kernel", dataset_ref, kernel_ref)


def push(comp, package: Package, message: str) -> dict:
    """Dataset, kernel, its run, its submission.csv submitted: returns the submission's state (and records it)."""
    from harness import kaggle_io, pipeline

    started = time.perf_counter()
    progress.say(f"kaggle: dataset {package.dataset_ref} {kaggle_io.push_dataset(package.dataset, message)}")
    version = kaggle_io.push_kernel(package.kernel)
    progress.say(f"kaggle: kernel {package.kernel_ref} version {version} pushed; Kaggle runs it now "
                 f"(https://www.kaggle.com/code/{package.kernel_ref})")
    state = kaggle_io.wait_for_kernel(package.kernel_ref)
    if state["status"] not in kaggle_io.KERNEL_DONE:
        raise HarnessError(f"Kernel {package.kernel_ref} is still {state['status']} after "
                           f"{time.perf_counter() - started:.0f}s; follow it at https://www.kaggle.com/code/"
                           f"{package.kernel_ref} and submit its output from there.")
    output = kaggle_io.kernel_output(package.kernel_ref, package.folder / "output")
    log = output / f"{package.kernel_ref.split('/')[1]}.log"
    if state["status"] != "complete":
        failure = f" ({state['failure']})" if state["failure"] else ""
        raise HarnessError(f"Kernel {package.kernel_ref} ended with status {state['status']}{failure}; its log "
                           f"ends: {log_tail(log)} (whole log: {log}).")
    csv = output / SUBMISSION
    if not csv.is_file():
        raise HarnessError(f"Kernel {package.kernel_ref} finished without writing {SUBMISSION}; its log ends: "
                           f"{log_tail(log)} (whole log: {log}).")
    submission.validate_file(comp, csv, [row[0] for row in submission.read(csv)[1] if row])
    ref = kaggle_io.submit_code(comp.source.slug, package.kernel_ref, version, SUBMISSION, message)
    state = kaggle_io.wait_for_score(comp.source.slug, ref, timeout_s=kaggle_io.KERNEL_TIMEOUT_S,
                                     poll_s=kaggle_io.KERNEL_POLL_S)  # Kaggle reruns the kernel on the hidden set
    pipeline.record_public(comp, package.run, state, started)
    return state


def default_name(comp_name: str, run_id: str) -> str:
    """<competition>-<run id> as a Kaggle slug, shortened with a hash when over Kaggle's 50 characters."""
    slug = re.sub(r"-+", "-", re.sub(r"[^a-z0-9-]", "-", f"{comp_name}-{run_id}".lower())).strip("-")
    if len(slug) <= NAME_LIMIT:
        return slug
    return f"{slug[:NAME_LIMIT - 9].rstrip('-')}-{sha1(slug.encode()).hexdigest()[:8]}"


def _kaggle_user() -> str:
    from harness import kaggle_io

    try:
        return kaggle_io.username()
    except HarnessError as e:
        raise HarnessError(f"{str(e).rstrip('.')}; or name the owner with --owner USER.") from None


def _check_name(name: str) -> None:
    if not (6 <= len(name) <= NAME_LIMIT and re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", name)):
        raise HarnessError(f"--dataset must be a Kaggle slug: 6 to {NAME_LIMIT} lower-case letters, digits and "
                           f"single hyphens. Received: {name!r}")


def requirements() -> dict:
    """{module: minimum version or ""} of the harness's dependencies, which the kernel checks before installing."""
    out = {}
    for spec in wheel.project()["dependencies"]:
        match = re.match(r"\s*([A-Za-z0-9_.-]+)\s*(?:>=\s*([\w.]+))?", spec)
        dist = match.group(1).lower()
        if dist not in NOT_NEEDED:
            out[IMPORT_NAMES.get(dist, dist)] = match.group(2) or ""
    return out


def log_tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    """The last lines a kernel printed, on one line. Kaggle's log is a JSON list of {stream_name, time, data}."""
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "(no log)"
    try:
        text = "".join(str(entry.get("data", "")) for entry in json.loads(text))
    except (ValueError, AttributeError, TypeError):
        pass  # a plain-text log
    kept = [line.strip() for line in text.splitlines() if line.strip()][-lines:]
    return " | ".join(kept) or "(empty)"
