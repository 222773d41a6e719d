"""Folds as Ray tasks: every unfinished fold trains at once on a GPU (or a CPU) of this machine or of a Ray
cluster, and the driver writes what each task sends back into the run folder, as a fold trained here would be.

A task trains its fold with executors.in_process in a scratch run folder on its node and ships that fold's
folder back: its resume state whenever a checkpoint commits, then its final files (weights, predictions,
result.json). The driver mirrors both into runs/<comp>/<run-id>/fold<i>/, each file atomically and the commit
points last. So a fold whose worker is lost is retried from the last state that reached the driver, a killed
driver's re-run trains only the unfinished folds, and a run may move between this executor and in-process.
The image cache reaches a task through HARNESS_HOME where the task's node sees the driver's files (one machine,
a shared file system), else through Ray's object store, where the driver puts it when the cluster has more
than one node.
"""
import concurrent.futures
import dataclasses
import hashlib
import importlib.util
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from harness import atomic, paths, prepare, progress, timing
from harness.errors import HarnessError

RETRIES = 2  # a fold whose worker or node is lost starts again at most this often, then it is marked failed
POLL_S = 0.5  # how often a task looks for a newly committed resume state to ship
COMMIT_POINTS = ("result.json", "state.json")  # train.py's and checkpoint.py's: each names files written before it
# What a worker must share with the driver to train as it would: the Keras backend and the settings that make
# its kernels deterministic or quiet. Named one by one: credentials never travel to a cluster.
WORKER_ENV = ("KERAS_BACKEND", "PYTHONHASHSEED", "TF_DETERMINISTIC_OPS", "TF_CUDNN_DETERMINISTIC",
              "TF_ENABLE_ONEDNN_OPTS", "TF_CPP_MIN_LOG_LEVEL", "TF_FORCE_GPU_ALLOW_GROWTH", "XLA_FLAGS",
              "JAX_ENABLE_X64", "JAX_DEFAULT_MATMUL_PRECISION")


class RayExecutor:
    """Train folds as Ray tasks, each asking for `gpus_per_fold` GPUs (one CPU on a cluster without GPUs)."""

    def __init__(self, address=None, gpus_per_fold: int = 1):
        if gpus_per_fold < 1:
            raise HarnessError(f"--gpus-per-fold must be at least 1. Received: --gpus-per-fold {gpus_per_fold}")
        if importlib.util.find_spec("ray") is None:
            raise HarnessError("--executor ray needs Ray here and on every node: pip install -e '.[ray]'. "
                               "Received: --executor ray, but Ray is not installed")
        self.address, self.gpus_per_fold = address, gpus_per_fold

    def __call__(self, run_folder, comp, cache, assignment, wanted, config) -> list:
        import ray
        from harness.train import load_result

        results = {f: load_result(run_folder, f) for f in wanted}
        todo = [f for f, r in results.items() if r is None]
        if todo:
            connected_here = self._connect(ray)
            try:
                # the folds run at once: one stage for all of them, counted as training ("train fold 1,2 (ray)")
                with timing.stage(f"{timing.FOLD}{','.join(str(f + 1) for f in todo)} (ray)"):
                    results.update(self._train(ray, Path(run_folder), comp, cache, assignment, todo, config))
            finally:
                if connected_here:
                    ray.shutdown()
        return [results[f] for f in wanted]

    def _connect(self, ray) -> bool:
        """Join the cluster (or start one on this machine); False when this process is connected already."""
        if ray.is_initialized():
            return False
        try:
            ray.init(address=self.address)
        except (ConnectionError, RuntimeError, ValueError) as e:
            raise HarnessError(f"Cannot join a Ray cluster at {self.address or 'the default address'} ({e}); "
                               f"start one with `ray start --head`, or drop --ray-address to start one here. "
                               f"Received: --ray-address {self.address}") from None
        return True

    def _resources(self, ray) -> dict:
        most = max((n["Resources"].get("GPU", 0) for n in ray.nodes() if n["Alive"]), default=0)
        if not most:
            return {"num_cpus": 1}
        if self.gpus_per_fold > most:
            raise HarnessError(f"--gpus-per-fold {self.gpus_per_fold} is more than any node of the Ray cluster "
                               f"has (at most {most:g}), and a fold runs on one node. "
                               f"Received: --gpus-per-fold {self.gpus_per_fold}")
        return {"num_cpus": 1, "num_gpus": self.gpus_per_fold}

    def _train(self, ray, run_folder: Path, comp, cache, assignment, todo, config) -> dict:
        """Run a task per fold in `todo`, mirror what they send, retry the lost ones: {fold: FoldResult}."""
        # max_calls=1: a fresh process per fold sees only its own GPUs and frees their memory when it ends.
        task = ray.remote(num_returns="streaming", max_retries=0, max_calls=1,
                          runtime_env={"env_vars": worker_env()}, **self._resources(ray))(_fold_task)
        job = Job(_declarations(comp), assignment, config, cache.folder,
                  (cache.folder / prepare.MANIFEST).read_bytes())
        shipped = [ray.put(_in_memory(cache))] if sum(n["Alive"] for n in ray.nodes()) > 1 else []
        tracker = _Progress(run_folder, comp, config)

        def start(fold):
            name = f"{comp.name} fold {fold + 1}/{config.folds}"  # also the worker's process title: ray::<name>
            return task.options(name=name).remote(job, fold, pack(tracker.folder(fold)), shipped)

        running = {start(f): f for f in todo}
        try:
            while running:
                [gen], _ = ray.wait(list(running), num_returns=1)
                fold = running.pop(gen)
                try:
                    update = ray.get(next(gen))
                except ray.exceptions.RayTaskError as e:  # the fold's own error, raised as in-process training would
                    if isinstance(e.cause, HarnessError):
                        raise e.cause from None
                    raise
                except ray.exceptions.RayError as e:  # its worker or node was lost
                    if tracker.lost(fold, e):
                        running[start(fold)] = fold
                    continue
                if not tracker.report(fold, update):
                    running[gen] = fold
        finally:
            for gen in running:  # Ctrl-C, or another fold's error: stop the tasks still training
                ray.cancel(gen, force=True)
        return tracker.results


class _Progress:
    """The driver's side of the fold tasks: mirrors what they send, prints where each runs, counts losses."""

    def __init__(self, run_folder: Path, comp, config):
        self.run_folder, self.comp, self.config = run_folder, comp, config
        self.where, self.losses, self.results = {}, {}, {}

    def folder(self, fold: int) -> Path:
        from harness.train import fold_dir

        return fold_dir(self.run_folder, fold)

    def label(self, fold: int) -> str:
        return f"fold {fold + 1}/{self.config.folds}"

    def report(self, fold: int, update) -> bool:
        """Handle one update of a task; True when it was the fold's last."""
        from harness.train import load_result

        if update.kind == "started":
            self.where[fold] = update.where
            progress.say(f"{self.label(fold)} started on {update.where}")
            return False
        unpack(update.files, self.folder(fold))
        if update.kind != "done":
            return False
        r = self.results[fold] = load_result(self.run_folder, fold)
        state = f"{self.comp.metric} {r.score:.4f}" if r.status == "done" else f"FAILED: {r.message}"
        progress.say(f"{self.label(fold)} finished on {self.where[fold]} in {r.seconds:.0f}s: {state}")
        return True

    def lost(self, fold: int, error) -> bool:
        """A task's worker or node died: True to retry it (from the state that reached us), else mark it failed."""
        from harness.train import FoldResult

        n = self.losses[fold] = self.losses.get(fold, 0) + 1
        why = f"its worker on {self.where.get(fold, 'a node')} was lost ({type(error).__name__})"
        if n <= RETRIES:
            resume = "from its last saved state" if _commits(self.folder(fold)) else "from the start"
            progress.say(f"{self.label(fold)}: {why}; retry {n}/{RETRIES} {resume}")
            return True
        result = self.results[fold] = FoldResult(fold, "failed", float("nan"), 0, -1, 0.0, {},
                                                 f"{why} {n} times; this fold is left out of the ensemble")
        atomic.write_json(self.folder(fold) / "result.json", result.__dict__)  # failed for good, as a NaN fold is
        _prune(self.folder(fold), keep={"result.json"})
        progress.say(f"{self.label(fold)}: FAILED: {result.message}")  # the run summary says it again
        return False


@dataclass(frozen=True)
class Job:
    """What every fold task of a run is given: the competition, folds and config, and where the cache is."""
    comp: object
    assignment: np.ndarray
    config: object
    cache_folder: Path
    cache_manifest: bytes  # the cache's manifest.json: a node whose file is identical sees the same cache


@dataclass(frozen=True)
class Update:
    """What a fold task reports: "started" (where), "state" (its resume state) or "done" (its fold's files)."""
    kind: str
    where: str = ""
    files: dict = None


def _fold_task(job: Job, fold: int, files: dict, shipped: list):
    """Ray task: train `fold` in a scratch run folder seeded with `files` (its resume state, if any); yield where
    it runs, every newly committed resume state, and at last the fold's files."""
    import ray
    from harness import backend, executors

    gpus = ray.get_gpu_ids()
    yield Update("started", f"{ray.util.get_node_ip_address()} " + (f"GPU {','.join(map(str, gpus))}"
                                                                    if gpus else "CPU"))
    backend.quiet_start()  # as the driver does: the backend's C++ start-up log says nothing a user can act on
    from harness import train

    cache = _worker_cache(job, shipped)
    with tempfile.TemporaryDirectory(prefix="harness-fold-") as scratch:
        folder = train.fold_dir(Path(scratch), fold)
        unpack(files, folder)
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            training = pool.submit(executors.in_process, Path(scratch), job.comp, cache, job.assignment, [fold],
                                   job.config)
            seen = _commits(folder)
            while not concurrent.futures.wait([training], timeout=POLL_S).done:
                if _commits(folder) != seen:
                    seen = _commits(folder)
                    yield Update("state", files=pack(folder))
            training.result()  # raises the fold's own error, if it had one
        yield Update("done", files=pack(folder))


def worker_env() -> dict:
    """The WORKER_ENV variables this process has, with the Keras backend it actually runs."""
    from harness import backend

    return {**{k: os.environ[k] for k in WORKER_ENV if k in os.environ}, "KERAS_BACKEND": backend.name()}


def pack(folder: Path) -> dict:
    """Every file under `folder` as {relative path: bytes}, read again if a commit point changed meanwhile, so
    that every file a packed commit point names is in the pack (temporary dot-files are left out)."""
    while True:
        before, files = _commits(folder), {}
        for path in sorted(folder.rglob("*")):
            if path.is_file() and not path.name.startswith("."):
                try:
                    files[path.relative_to(folder).as_posix()] = path.read_bytes()
                except FileNotFoundError:
                    pass  # superseded by a newer commit: the check below reads everything again
        if _commits(folder) == before:
            return files


def unpack(files: dict, folder: Path) -> None:
    """Make `folder` hold exactly `files`: each written atomically, commit points last, then the rest removed."""
    for name in sorted(files, key=lambda n: Path(n).name in COMMIT_POINTS):
        atomic.write_bytes(folder / name, files[name])
    _prune(folder, keep=set(files))


def _prune(folder: Path, keep: set) -> None:
    for path in sorted(folder.rglob("*"), reverse=True):  # a folder's files before the folder
        if path.is_dir():
            if not any(path.iterdir()):
                path.rmdir()
        elif path.relative_to(folder).as_posix() not in keep and not path.name.startswith("."):
            path.unlink()


def _commits(folder: Path) -> dict:
    """Identity of every commit point under `folder`: an atomic rename gives a new inode."""
    out = {}
    for name in COMMIT_POINTS:
        for path in folder.rglob(name):
            try:
                stat = path.stat()
                out[path] = (stat.st_ino, stat.st_mtime_ns)
            except FileNotFoundError:
                pass
    return out


def _declarations(comp):
    """The competition without its functions (listing, building, grading): a task needs only its declarations,
    and a worker may not be able to import those functions (a local folder, a test's fixture)."""
    return dataclasses.replace(comp, list_train=None, list_test=None, solution=None, build=None)


def _in_memory(cache):
    """The cache with plain arrays in place of its memory maps of driver files, to travel through the object store."""
    return dataclasses.replace(cache, train_x=np.asarray(cache.train_x), test_x=np.asarray(cache.test_x))


def _worker_cache(job: Job, shipped: list):
    """The driver's image cache on this node: its files where this node sees them unchanged, else the copy the
    driver put in Ray's object store (with features extracted here kept in this node's HARNESS_HOME)."""
    manifest = job.cache_folder / prepare.MANIFEST
    if manifest.is_file() and manifest.read_bytes() == job.cache_manifest:
        return prepare.load(job.cache_folder)
    if not shipped:
        raise HarnessError(f"This node cannot read the image cache {job.cache_folder}, and the driver shipped no "
                           f"copy because its Ray cluster had one node when the run started; run the command "
                           f"again, or share HARNESS_HOME between the nodes.")
    import ray

    cache = ray.get(shipped[0])
    digest = hashlib.blake2b(job.cache_manifest, digest_size=8).hexdigest()
    return dataclasses.replace(cache, folder=paths.cache_dir(job.comp.name, cache.size) / f"from-{digest}")
