"""`make bench GPU=1` (`harness bench --gpu`): every registry model at 224 px on the accelerator, then end to end.

For each model, fold 0 of 5 on the generated photos: training images/s through the harness against the same
model trained by a bare compiled loop on device-resident arrays (`jax.jit` under JAX; elsewhere a plain
`model.fit`), predict images/s without and with TTA, compile seconds, checkpoint seconds per epoch, the
settings the harness chose (backend, precision policy, jit, batch, steps per execution) and GPU utilisation
sampled from nvidia-smi where there is one. Then the issue's end-to-end goal: 5-fold efficientnet-b0 on
25,000 generated photos (+12,500 test, as dogs-vs-cats) at 224 px, from decode to scored submission, in
under 15 minutes. Random weights throughout (a GPU box may be offline; the work is the same). It writes
bench/gpu.json after every model, so a run cut short keeps what it measured. `--quick` runs it all on a CPU
at 32 px: it checks that the path works, not how fast.
"""
import os
import shutil
import statistics
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from benchmarks import fold as fold_bench, photos, report
from harness import paths

E2E_GOAL_S = 15 * 60


@dataclass(frozen=True)
class Plan:
    """What is measured; `quick` shrinks everything so that a CPU runs it in the test suite."""
    models: tuple  # registry names, measured one after the other
    size: int = 224
    images: int = 5000  # per model: fold 0 trains on 4/5 of these; test images are a quarter more
    epochs: int = 4  # the first traces and compiles; the others are the steady state
    batch_size: Optional[int] = None  # None: the harness's own choice
    augment: Optional[tuple] = None  # None: the photo default (dogs-vs-cats'); quick: flip only, which compiles fast
    e2e_images: int = 25_000  # the end-to-end run's training images (test: half as many); 0 skips it
    e2e_model: str = "efficientnet-b0"
    e2e_folds: int = 5
    e2e_epochs: int = 10
    quick: bool = False

    @classmethod
    def make(cls, quick=False, images=None, models=None):
        from harness import models as registry

        # None: every registry model; "": none (e.g. to run the end-to-end part alone)
        names = tuple(registry.MODELS.names()) if models is None else tuple(
            n.strip() for n in models.split(",") if n.strip())
        for name in names:
            registry.get(name)  # an unknown name fails here, with the known ones, before any work
        plan = cls(names, size=32, images=40, epochs=2, batch_size=8, augment=("flip",), e2e_images=24,
                   e2e_model=names[0] if names else cls.e2e_model, e2e_folds=2, e2e_epochs=1,
                   quick=True) if quick else cls(names)
        return plan if images is None else cls(**{**plan.__dict__, "e2e_images": images})

    def config(self, competition: str, model: str, folds: int, epochs: int):
        from harness.config import RunConfig

        batch = {} if self.batch_size is None else {"batch_size": self.batch_size}
        return RunConfig(competition, model=model, folds=folds, epochs=epochs, patience=epochs, image_size=self.size,
                         weights="none", seed=0, **batch)


class GpuSampler:
    """GPU utilisation and memory sampled by `nvidia-smi` in the background while the block runs; with no
    nvidia-smi on the PATH it samples nothing and every window reads None."""

    def __init__(self, every_ms: int = 200):
        self.command, self.every_ms, self.samples, self.process = shutil.which("nvidia-smi"), every_ms, [], None

    def __enter__(self):
        if self.command:
            self.process = subprocess.Popen(
                [self.command, "--query-gpu=utilization.gpu,memory.used", "--format=csv,noheader,nounits",
                 f"--loop-ms={self.every_ms}"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
            threading.Thread(target=self._read, daemon=True).start()
        return self

    def _read(self):
        for line in self.process.stdout:
            try:
                utilisation, memory = (float(v) for v in line.split(",")[:2])
            except ValueError:
                continue  # "[N/A]" on some devices
            self.samples.append((time.perf_counter(), utilisation, memory))

    def __exit__(self, *exc):
        if self.process is not None:
            self.process.terminate()
            self.process.wait()

    def during(self, window) -> Optional[dict]:
        """Mean and peak utilisation (%) and peak memory (MiB) between the window's two perf_counter times."""
        inside = [s for s in self.samples if window[0] <= s[0] <= window[1]]
        if not inside:
            return None
        return {"util_mean": statistics.mean(s[1] for s in inside), "util_max": max(s[1] for s in inside),
                "memory_max_mib": max(s[2] for s in inside), "samples": len(inside)}


def device() -> str:
    """The accelerator's name from nvidia-smi, else what the Keras backend trains on ('cpu', 'gpu', 'tpu')."""
    from harness import backend

    smi = shutil.which("nvidia-smi")
    if smi:
        named = subprocess.run([smi, "--query-gpu=name", "--format=csv,noheader"], capture_output=True, text=True)
        if named.returncode == 0 and named.stdout.strip():
            return ", ".join(named.stdout.strip().splitlines())
    return backend.accelerator()


def measure_model(name: str, comp, plan: Plan, gpu: GpuSampler) -> dict:
    """Fold 0 of `name` through the harness, then the bare loop with the batch and precision the harness used."""
    import keras

    harness, fold = fold_bench.harness_fold(plan.config(comp.name, name, folds=5, epochs=plan.epochs))
    batch, policy = harness["batch_size"], harness["policy"]
    if keras.backend.backend() == "jax":
        bare = fold_bench.bare_loop(fold, batch, plan.epochs, policy)
    else:  # elsewhere the bare side is a plain fit on arrays in memory, jitted where Keras allows it
        bare = fold_bench.bare_fit(fold, batch, plan.epochs, policy, force_jit=False)
    for side in (harness, bare):
        side["gpu"] = gpu.during(side.pop("window"))
    return {"harness": harness, "bare": bare, "harness_vs_bare": harness["train_img_s"] / bare["train_img_s"]}


def end_to_end(train, test, plan: Plan, gpu: GpuSampler) -> dict:
    """`pipeline.submit` from the raw JPEGs (decode included) to a scored submission, timed as a user sees it."""
    from harness import pipeline

    with photos.competition("bench-gpu-e2e", train, test, plan.augment) as comp:
        config = plan.config(comp.name, plan.e2e_model, plan.e2e_folds, plan.e2e_epochs)
        started = time.perf_counter()
        outcome = pipeline.submit(config)
        seconds = time.perf_counter() - started
    return {"model": plan.e2e_model, "train_images": len(train), "test_images": len(test), "size": plan.size,
            "folds": plan.e2e_folds, "epochs": plan.e2e_epochs, "seconds": seconds, "goal_s": E2E_GOAL_S,
            "met": None if plan.quick else seconds <= E2E_GOAL_S, "decoded": outcome.decoded,
            "fold_seconds": [r.seconds for r in outcome.fold_results], "oof_score": outcome.oof_score,
            "gpu": gpu.during((started, started + seconds))}


def settings() -> dict:
    import keras

    from harness import backend

    return {"backend": keras.backend.backend(), "device": device(), "accelerator": backend.accelerator(),
            "device_count": backend.device_count(), "nvidia_smi": shutil.which("nvidia-smi") is not None}


def run(quick=False, images=None, models=None, out=None) -> dict:
    """Measure every model of the plan, then the end-to-end run; write out/gpu.json (out: bench/ under home)."""
    plan = Plan.make(quick, images, models)
    out = Path(out or paths.home() / "bench")
    started = time.perf_counter()
    n_test = max(plan.images // 4, plan.e2e_images // 2)
    train, test = photos.ensure_images(out / "images", max(plan.images, plan.e2e_images), n_test,
                                       os.cpu_count() or 1)
    result = {"quick": plan.quick, "plan": plan.__dict__, "settings": settings(), "models": {}, "end_to_end": None}
    with GpuSampler() as gpu, report.scratch_home(out / "home-gpu"):
        with photos.competition("bench-gpu", train[:plan.images], test[:plan.images // 4], plan.augment) as comp:
            for name in plan.models:
                try:
                    result["models"][name] = measure_model(name, comp, plan, gpu)
                except Exception as e:  # one model out of memory must not cost the others' device time
                    result["models"][name] = {"error": f"{type(e).__name__}: {e}"}
                report.write(out / "gpu.json", result)  # after every model: a run cut short keeps what it measured
        if plan.e2e_images:
            result["end_to_end"] = end_to_end(train[:plan.e2e_images], test[:plan.e2e_images // 2], plan, gpu)
    result["seconds"] = time.perf_counter() - started
    result = report.write(out / "gpu.json", result)
    print()
    print(table(result))
    print(f"\n{result['seconds']:.0f} s in all; written to {out / 'gpu.json'}")
    return result


def table(result: dict) -> str:
    """The per-model figures, and the end-to-end run, as a markdown table."""
    s = result["settings"]
    lines = [f"{s['device']} ({s['backend']}, {s['accelerator']})", "",
             "| model | harness img/s | bare img/s | ratio | predict img/s | with TTA | compile s | checkpoint s/epoch "
             "| batch | jit | steps/exec | policy | GPU util % |", "| " + " | ".join(["---"] * 13) + " |"]
    for name, m in result["models"].items():
        if "error" in m:
            lines.append(f"| {name} | failed: {m['error'][:200]} |" + " |" * 11)
            continue
        h, b = m["harness"], m["bare"]
        util = "-" if h["gpu"] is None else f"{h['gpu']['util_mean']:.0f}"
        lines.append(f"| {name} | {h['train_img_s']:,.0f} | {b['train_img_s']:,.0f} | {m['harness_vs_bare']:.2f} "
                     f"| {_number(h['predict_img_s'])} | {_number(h['predict_tta_img_s'])} | {h['compile_s']:.1f} "
                     f"| {h['checkpoint_s']:.2f} | {h['batch_size']} | {h['jit']} | {h['steps_per_execution']} "
                     f"| {h['policy']} | {util} |")
    e2e = result["end_to_end"]
    if e2e:
        met = {True: "met", False: "NOT met", None: "quick run, no goal"}[e2e["met"]]
        lines += ["", f"end to end: {e2e['folds']}-fold {e2e['model']} on {e2e['train_images']:,} + "
                  f"{e2e['test_images']:,} images at {e2e['size']} px, {e2e['epochs']} epochs: {e2e['seconds']:,.0f} s "
                  f"(goal {e2e['goal_s']} s: {met})"]
    return "\n".join(lines)


def _number(value) -> str:
    return "-" if value is None else f"{value:,.0f}"
