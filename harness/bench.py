"""`harness bench`: the engine's speed as ratios of two things measured side by side in one process tree.

It generates photo-like JPEGs (500x375, 20-40 KB, dogs-vs-cats layout; kept under bench/images/ for the next
run), then measures five pairs, prints a table and writes bench/results.json. Work files go to bench/home/,
which is emptied first, so every run decodes from scratch.
"""
import datetime
import math
import os
import platform
import resource
import shutil
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path

import cv2
import numpy as np

from harness import atomic, images, paths

WIDTH, HEIGHT, QUALITY = 500, 375, 88
CLASSES = ("cat", "dog")


@dataclass(frozen=True)
class Plan:
    """How much work each row does; `quick` shrinks everything so the test suite can run it."""
    images: int = 8000  # training images generated (test images: one eighth more)
    size: int = 64  # small-cnn's input size
    feed_images: int = 768  # row 2: images per timed epoch
    feed_rounds: int = 4  # row 2: timed epochs per side, alternated
    kfold_images: int = 1000  # row 3 (and the 4x point of row 5)
    folds: int = 5
    epochs: int = 2
    augment: tuple = ("flip",)
    batch_size: int = 64
    quick: bool = False

    @classmethod
    def make(cls, quick=False, images=None):
        plan = cls(images=96, feed_images=64, feed_rounds=1, kfold_images=48, folds=2, epochs=1,
                   quick=True) if quick else cls()
        if images:
            plan = cls(**{**plan.__dict__, "images": images, "kfold_images": min(plan.kfold_images, images),
                          "feed_images": min(plan.feed_images, images)})
        return plan


# ---------------------------------------------------------------- data

def photo(seed: int, width=WIDTH, height=HEIGHT) -> np.ndarray:
    """A photo-like RGB image: smooth colour field, mid-frequency texture, a few soft shapes, sensor noise."""
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 256, (rng.integers(3, 8), rng.integers(3, 8), 3)).astype(np.float32)
    img = cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC)
    texture = rng.standard_normal((height // 8, width // 8, 3), dtype=np.float32) * rng.uniform(15, 35)
    img += cv2.resize(texture, (width, height), interpolation=cv2.INTER_LINEAR)
    for _ in range(rng.integers(2, 6)):
        centre = (int(rng.integers(0, width)), int(rng.integers(0, height)))
        axes = (int(rng.integers(10, 120)), int(rng.integers(10, 90)))
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        cv2.ellipse(img, centre, axes, float(rng.uniform(0, 180)), 0, 360, colour, -1, cv2.LINE_AA)
    y, x = rng.integers(0, height), rng.integers(0, width)
    img += _noise(width, height)[y:y + height, x:x + width] * rng.uniform(0.5, 2.8)
    return np.clip(img, 0, 255).astype(np.uint8)


_NOISE = {}


def _noise(width, height):
    """One shared noise tile per process (drawing fresh noise per image would cost more than the encode)."""
    if (width, height) not in _NOISE:
        _NOISE[(width, height)] = np.random.default_rng(0).standard_normal((2 * height, 2 * width, 3),
                                                                            dtype=np.float32)
    return _NOISE[(width, height)]


def image_paths(root: Path, n_train: int, n_test: int):
    """dogs-vs-cats names: train/cat.0.jpg, train/dog.1.jpg, ..., test1/1.jpg, ..."""
    train = [root / "train" / f"{CLASSES[i % 2]}.{i}.jpg" for i in range(n_train)]
    test = [root / "test1" / f"{i + 1}.jpg" for i in range(n_test)]
    return train, test


def _write_photos(jobs):
    for seed, path in jobs:
        ok, buf = cv2.imencode(".jpg", cv2.cvtColor(photo(seed), cv2.COLOR_RGB2BGR),
                               [cv2.IMWRITE_JPEG_QUALITY, QUALITY])
        atomic.write_bytes(path, buf.tobytes())


def ensure_images(root: Path, n_train: int, n_test: int, workers: int) -> tuple:
    """Write whichever of the images are missing (in parallel); the same seed always gives the same file."""
    train, test = image_paths(root, n_train, n_test)
    (root / "train").mkdir(parents=True, exist_ok=True)
    (root / "test1").mkdir(parents=True, exist_ok=True)
    seeds = list(range(n_train)) + [10_000_000 + i for i in range(n_test)]
    jobs = [(seed, p) for seed, p in zip(seeds, train + test) if not p.exists()]
    if jobs:
        print(f"bench: generating {len(jobs)} photo-like JPEGs in {root} (kept for the next run)")
        if workers == 1 or len(jobs) < 64:
            _write_photos(jobs)
        else:
            with ProcessPoolExecutor(workers, mp_context=get_context("spawn")) as pool:
                list(pool.map(_write_photos, [jobs[i::workers * 4] for i in range(workers * 4)]))
    return train, test


def _read_all(files):
    """Read every file once so both sides of a comparison start from a warm page cache."""
    return sum(len(Path(f).read_bytes()) for f in files)


@contextmanager
def competition(name: str, train, test, augment):
    """A throw-away local competition whose raw folder links to the given generated files."""
    from harness.competition import COMPETITIONS, Competition, Item, Source
    import competitions  # noqa: F401  (fill the registry first)

    raw = paths.raw_dir(name)
    for split, files in (("train", train), ("test1", test)):
        (raw / split).mkdir(parents=True, exist_ok=True)
        for f in files:
            (raw / split / f.name).symlink_to(f.resolve())

    def list_train(root):
        return [Item(p.stem, p, CLASSES.index(p.name.split(".")[0])) for p in _sorted(root / "train")]

    def list_test(root):
        return [Item(p.stem, p) for p in _sorted(root / "test1")]

    comp = Competition(name=name, source=Source("local"), task="binary", classes=CLASSES, metric="accuracy",
                       list_train=list_train, list_test=list_test, label_format="probability", augment=augment,
                       description="benchmark data")
    COMPETITIONS.add(name, comp)
    try:
        yield comp
    finally:
        COMPETITIONS.remove(name)


def _sorted(folder: Path):
    return sorted(folder.iterdir(), key=lambda p: (len(p.name), p.name))


# ---------------------------------------------------------------- rows

def row(name, goal, ratio, met, figure, **details) -> dict:
    return {"name": name, "goal": goal, "ratio": ratio, "met": met, "figure": figure, "details": details}


def cpu_seconds() -> float:
    """CPU time of this process and its finished children (the decode workers)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def prepare_rate(name, train, test, plan) -> tuple:
    """(images/s, seconds, CPU ms per image, cache) of `harness prepare` from scratch on these files."""
    from harness import prepare

    with competition(name, train, test, plan.augment) as comp:
        cpu, started = cpu_seconds(), time.perf_counter()
        cache = prepare.prepare(comp, plan.size)
        seconds, cpu = time.perf_counter() - started, cpu_seconds() - cpu
    n = len(train) + len(test)
    return n / seconds, seconds, 1000 * cpu / n, cache


def decode_limit(files, size, budget_s=6.0) -> dict:
    """Single-thread rate of the harness decoder (read + decode + resize) in a tight loop, times the cores."""
    cpu, started, done = cpu_seconds(), time.perf_counter(), 0
    for f in files:
        images.decode_file(f, size)
        done += 1
        if time.perf_counter() - started > budget_s:
            break
    single = done / (time.perf_counter() - started)
    cores = os.cpu_count() or 1
    return {"single_thread_img_s": single, "cores": cores, "limit_img_s": single * cores, "sampled": done,
            "loop_cpu_ms_per_image": 1000 * (cpu_seconds() - cpu) / done}


def _decode_for(args):
    """Worker of `parallel_loop`: the tight loop over a slice, timed from its first image."""
    files, size, budget_s = args
    started, done = time.perf_counter(), 0
    for f in files:
        images.decode_file(f, size)
        done += 1
        if time.perf_counter() - started > budget_s:
            break
    return done / (time.perf_counter() - started)


def parallel_loop(files, size, budget_s=3.0) -> float:
    """The same tight loop in one process per core at once: what the shared machine gives right now."""
    cores = os.cpu_count() or 1
    with ProcessPoolExecutor(cores, mp_context=get_context("spawn")) as pool:
        return sum(pool.map(_decode_for, [(files[i::cores], size, budget_s) for i in range(cores)]))


def row_prepare(train, test, plan) -> dict:
    """Wall-clock ratio as the goal defines it; CPU ms per image on both sides show the overhead apart from
    the load other users put on a shared machine (loadavg)."""
    files = train + test
    _read_all(files)
    before = decode_limit(files, plan.size, budget_s=3.0)
    rate, seconds, cpu_ms, cache = prepare_rate("bench-prepare", train, test, plan)
    after = decode_limit(files[::-1], plan.size, budget_s=3.0)  # the limit brackets prepare in time
    limit = {k: (before[k] + after[k]) / 2 for k in before}
    parallel = parallel_loop(files, plan.size)
    ratio = rate / limit["limit_img_s"]
    return row("prepare vs decode limit", ">= 0.8", ratio, ratio >= 0.8,
               f"{rate:,.0f} vs {limit['limit_img_s']:,.0f} img/s",
               images=len(files), seconds=seconds, prepare_img_s=rate, prepare_cpu_ms_per_image=cpu_ms,
               cpu_ratio=limit["loop_cpu_ms_per_image"] / cpu_ms, loadavg=os.getloadavg()[0],
               parallel_loop_img_s=parallel, ratio_to_parallel_loop=rate / parallel,
               limit_before_img_s=before["limit_img_s"], limit_after_img_s=after["limit_img_s"], **limit), cache


def row_feeder(cache, plan) -> dict:
    """Training images/s from the memory-mapped cache through `Batches` vs the same arrays in memory."""
    import keras

    from harness import backend, models, train as train_stage

    n = min(plan.feed_images, len(cache.train_rows))
    rows = cache.train_rows[:n]
    y = np.asarray(cache.train_labels[:n], dtype="float32")[:, None]
    in_memory = np.array(cache.train_x[rows])
    nets = {}
    for side in ("harness", "in-memory"):
        backend.seed_everything(0)
        net = models.build(models.get("small-cnn"), plan.size, 1, "binary", plan.augment, 0)
        net.compile(optimizer=keras.optimizers.Adam(1e-3), loss="binary_crossentropy", metrics=["accuracy"])
        nets[side] = net
    feed = train_stage.Batches(cache.train_x, rows, y, plan.batch_size, shuffle=True, seed=0)
    fits = {"harness": lambda epochs: nets["harness"].fit(feed, epochs=epochs, verbose=0, shuffle=False,
                                                          callbacks=[train_stage._EpochOrder(feed)]),
            "in-memory": lambda epochs: nets["in-memory"].fit(in_memory, y, batch_size=plan.batch_size,
                                                              epochs=epochs, shuffle=True, verbose=0)}
    for fit in fits.values() if not plan.quick else ():
        fit(1)  # warm-up: tracing and the first allocations are not what is compared
    seconds = {side: 0.0 for side in fits}
    for r in range(plan.feed_rounds):  # A B B A ...: load from other users and drift hit both sides alike
        for side, fit in (list(fits.items()) if r % 2 == 0 else list(fits.items())[::-1]):
            started = time.perf_counter()
            fit(1)
            seconds[side] += time.perf_counter() - started
    rate = {side: n * plan.feed_rounds / s for side, s in seconds.items()}
    ratio = rate["harness"] / rate["in-memory"]
    started = time.perf_counter()
    for i in range(len(feed)):
        feed[i]  # the feeder's own work per batch: gather rows from the memory map (and flip)
    feeder_ms = 1000 * (time.perf_counter() - started) / len(feed)
    return row("input pipeline vs in-memory", ">= 0.9", ratio, ratio >= 0.9,
               f"{rate['harness']:,.0f} vs {rate['in-memory']:,.0f} img/s",
               images=n, epochs_per_side=plan.feed_rounds, harness_img_s=rate["harness"],
               in_memory_img_s=rate["in-memory"], batch_size=plan.batch_size, feeder_ms_per_batch=feeder_ms,
               step_ms_in_memory=1000 * plan.batch_size / rate["in-memory"])


def harness_kfold(name, train, plan) -> tuple:
    """Seconds for download-check + prepare + folds + training every fold through the engine."""
    from harness import pipeline
    from harness.config import RunConfig

    with competition(name, train, [], plan.augment):
        config = RunConfig(competition=name, folds=plan.folds, epochs=plan.epochs, patience=plan.epochs,
                           tta=False, image_size=plan.size, batch_size=plan.batch_size)
        started = time.perf_counter()
        _, _, cache, assignment, results = pipeline.train(config)
        seconds = time.perf_counter() - started
    return seconds, cache, assignment, results


def row_kfold(train, plan) -> tuple:
    from harness import bench_seed

    train = train[:plan.kfold_images]
    _read_all(train)
    harness_s, cache, assignment, results = harness_kfold("bench-kfold", train, plan)
    by_id = {p.stem: p for p in train}
    seed_paths = [by_id[i] for i in cache.train_ids]
    started = time.perf_counter()
    oof = bench_seed.kfold(seed_paths, cache.train_labels, assignment, plan.size, plan.epochs, plan.augment,
                           plan.batch_size)
    seed_s = time.perf_counter() - started
    seed_acc = float(np.mean((oof[:, 0] > 0.5) == np.asarray(cache.train_labels)))
    sample = seed_paths[:200]
    started = time.perf_counter()
    for p in sample:
        bench_seed.load_image(p, plan.size)
    seed_decode_img_s = len(sample) / (time.perf_counter() - started)
    # each fold's every epoch decodes all images (train + validation) again, plus the out-of-fold prediction
    seed_decode_s = (plan.folds * plan.epochs + 1) * len(train) / seed_decode_img_s
    ratio = seed_s / harness_s
    return row("k-fold vs seed-style pipeline", ">= 5x", ratio, ratio >= 5,
               f"{harness_s:,.1f} s vs {seed_s:,.1f} s",
               images=len(train), folds=plan.folds, epochs=plan.epochs, harness_s=harness_s, seed_s=seed_s,
               harness_fold_scores=[r.score for r in results], seed_oof_accuracy=seed_acc,
               seed_decode_img_s=seed_decode_img_s, seed_decode_share=seed_decode_s / seed_s), harness_s


def row_features(workdir: Path, plan) -> dict:
    from harness import bench_features

    result = dict(bench_features.measure(workdir, plan.quick))
    result.setdefault("figure", f"{result['ratio']:.1f}x")
    return result


def exponent(counts, seconds) -> float:
    """Least-squares slope of log(time) on log(count): 1.0 is linear."""
    return float(np.polyfit(np.log(counts), np.log(seconds), 1)[0])


def row_scaling(train, plan, kfold_4x_s) -> dict:
    prep = {}
    for k in (1, 2, 4):
        n = plan.images * k // 4
        prep[n] = prepare_rate(f"bench-scale-prepare-{k}x", train[:n], [], plan)[1]
    kfold = {plan.kfold_images: kfold_4x_s}
    for k in ((1,) if plan.quick else (1, 2)):  # quick: two points are enough to show it works
        n = plan.kfold_images * k // 4
        kfold[n] = harness_kfold(f"bench-scale-kfold-{k}x", train[:n], plan)[0]
    kfold = dict(sorted(kfold.items()))
    e_prep, e_kfold = exponent(list(prep), list(prep.values())), exponent(list(kfold), list(kfold.values()))
    worst = max(e_prep, e_kfold)
    return row("scaling with image count (1x, 2x, 4x)", "exponent <= 1.1", worst, worst <= 1.1,
               f"prepare n^{e_prep:.2f}, k-fold n^{e_kfold:.2f}",
               prepare_seconds=prep, kfold_seconds=kfold, prepare_exponent=e_prep, kfold_exponent=e_kfold)


# ---------------------------------------------------------------- report

def machine() -> dict:
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


def table(rows) -> str:
    lines = ["| # | comparison | measured | ratio | goal | met |", "| --- | --- | --- | --- | --- | --- |"]
    for i, r in enumerate(rows, 1):
        ratio = "-" if r.get("ratio") is None else f"{r['ratio']:.2f}"
        met = {True: "yes", False: "NO", None: "-"}[r.get("met")]
        lines.append(f"| {i} | {r['name']} | {r.get('figure', '')} | {ratio} | {r['goal']} | {met} |")
    return "\n".join(lines)


@contextmanager
def _home(folder: Path):
    """Point HARNESS_HOME at an emptied folder for the block, so the bench never touches real data."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    with paths.home_at(folder):
        yield folder


def run(quick=False, images=None, out=None) -> dict:
    """Run every row and write out/results.json (out: bench/ under the harness home)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    plan = Plan.make(quick, images)
    out = Path(out or paths.home() / "bench")
    started = time.perf_counter()
    train, test = ensure_images(out / "images", plan.images, max(1, plan.images // 8), os.cpu_count() or 1)
    sizes = [p.stat().st_size for p in train + test]
    rows = []
    with _home(out / "home") as home:
        prepare_row, cache = row_prepare(train, test, plan)
        rows.append(prepare_row)
        rows.append(row_feeder(cache, plan))
        kfold_row, kfold_s = row_kfold(train, plan)
        rows.append(kfold_row)
        rows.append(row_features(home / "features", plan))
        rows.append(row_scaling(train, plan, kfold_s))
    result = {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
              "commit": git_commit(), "machine": machine(), "quick": plan.quick, "plan": plan.__dict__,
              "images": {"train": len(train), "test": len(test), "width": WIDTH, "height": HEIGHT,
                         "mean_kb": float(np.mean(sizes) / 1024), "min_kb": min(sizes) / 1024,
                         "max_kb": max(sizes) / 1024},
              "rows": rows, "seconds": time.perf_counter() - started}
    atomic.write_json(out / "results.json", _plain(result))
    print()
    print(table(rows))
    print(f"\n{len(train) + len(test)} images of {np.mean(sizes) / 1024:.0f} KB on average; "
          f"{result['seconds']:.0f} s in all; written to {out / 'results.json'}")
    return result


def _plain(obj):
    """JSON-ready: numpy scalars to floats, tuples to lists, dict keys to strings."""
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, (np.floating, np.integer)):
        return obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj
