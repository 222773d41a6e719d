"""`make bench`: the engine's speed as ratios of two things measured side by side in one process tree.

It generates photo-like JPEGs (benchmarks/photos.py; kept under bench/images/ for the next run), then
measures six pairs, prints a table and writes bench/results.json. Work files go to bench/home/, which is
emptied first, so every run decodes from scratch.
"""
import os
import resource
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path

import numpy as np

from benchmarks import cached_features, photos, report, seed_pipeline, step_efficiency
from benchmarks.photos import read_all
from benchmarks.report import row
from harness import images, paths


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


def cpu_seconds() -> float:
    """CPU time of this process and its finished children (the decode workers)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def prepare_rate(name, train, test, plan) -> tuple:
    """(images/s, seconds, CPU ms per image, cache) of `harness prepare` from scratch on these files."""
    from harness import prepare

    with photos.competition(name, train, test, plan.augment) as comp:
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
    read_all(files)
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

    with photos.competition(name, train, [], plan.augment):
        config = RunConfig(competition=name, folds=plan.folds, epochs=plan.epochs, patience=plan.epochs,
                           tta=False, image_size=plan.size, batch_size=plan.batch_size)
        started = time.perf_counter()
        _, _, cache, assignment, results = pipeline.train(config)
        seconds = time.perf_counter() - started
    return seconds, cache, assignment, results


def row_kfold(train, plan) -> tuple:
    train = train[:plan.kfold_images]
    read_all(train)
    harness_s, cache, assignment, results = harness_kfold("bench-kfold", train, plan)
    by_id = {p.stem: p for p in train}
    seed_paths = [by_id[i] for i in cache.train_ids]
    started = time.perf_counter()
    oof = seed_pipeline.kfold(seed_paths, cache.train_labels, assignment, plan.size, plan.epochs, plan.augment,
                              plan.batch_size)
    seed_s = time.perf_counter() - started
    seed_acc = float(np.mean((oof[:, 0] > 0.5) == np.asarray(cache.train_labels)))
    sample = seed_paths[:200]
    started = time.perf_counter()
    for p in sample:
        seed_pipeline.load_image(p, plan.size)
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
    result = dict(cached_features.measure(workdir, plan.quick))
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


def run(quick=False, images=None, out=None) -> dict:
    """Run every row and write out/results.json (out: bench/ under the harness home)."""
    plan = Plan.make(quick, images)
    out = Path(out or paths.home() / "bench")
    started = time.perf_counter()
    train, test = photos.ensure_images(out / "images", plan.images, max(1, plan.images // 8), os.cpu_count() or 1)
    sizes = [p.stat().st_size for p in train + test]
    rows = []
    with report.scratch_home(out / "home") as home:
        prepare_row, cache = row_prepare(train, test, plan)
        rows.append(prepare_row)
        rows.append(row_feeder(cache, plan))
        kfold_row, kfold_s = row_kfold(train, plan)
        rows.append(kfold_row)
        rows.append(row_features(home / "features", plan))
        rows.append(row_scaling(train, plan, kfold_s))
        rows.append(step_efficiency.row(out / "images", len(train), home / "step", plan.quick))
    result = report.write(out / "results.json", {
        "quick": plan.quick, "plan": plan.__dict__,
        "images": {"train": len(train), "test": len(test), "width": photos.WIDTH, "height": photos.HEIGHT,
                   "mean_kb": float(np.mean(sizes) / 1024), "min_kb": min(sizes) / 1024, "max_kb": max(sizes) / 1024},
        "rows": rows, "seconds": time.perf_counter() - started})
    print()
    print(report.table(rows))
    print(f"\n{len(train) + len(test)} images of {np.mean(sizes) / 1024:.0f} KB on average; "
          f"{result['seconds']:.0f} s in all; written to {out / 'results.json'}")
    return result
