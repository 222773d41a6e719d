"""Row 6 of `make bench`: one harness fold's steady-state epoch against a bare jitted `model.fit` of the same work.

Both sides train efficientnet-b0 (random weights, the photo default augmentation) on fold 0 of the generated
photos at 32 px and batch 4, training and validation, under JAX: small steps, where per-op overhead dominates
as it does on a GPU (at 64 px and batch 32 this CPU's convolutions hide it). The ratio is the bare side's
steady-state milliseconds per training step over the harness's, compile and start-up left out; the whole
epochs' ratio is kept beside it (there the harness validates with its head on features computed once, while
the bare fit runs the backbone over the validation images every epoch). Keras picks its backend once per
process and the bench runs under TensorFlow by default, so the row runs in a subprocess with KERAS_BACKEND=jax:
`python -m benchmarks.step_efficiency IMAGES_DIR TRAIN OUT_JSON [--quick]`.
"""
import argparse
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

NAME = "harness fold vs bare jitted fit (JAX)"
GOAL = 0.8
ROOT = Path(__file__).resolve().parents[1]
STAND_IN = "bench-pooling"  # quick: global average pooling under the head, registered for the run only


@dataclass(frozen=True)
class Plan:
    model: str = "efficientnet-b0"
    augment: Optional[tuple] = None  # None: the photo default (dogs-vs-cats')
    images: int = 200  # fold 0 of 5: 160 training and 40 validation images
    size: int = 32
    batch_size: int = 4
    epochs: int = 4  # the first compiles; three steady ones are compared

    @classmethod
    def make(cls, quick=False):
        # quick: only that the row runs; a stand-in model with flips alone compiles in seconds, where
        # efficientnet-b0 with the photo augmentation takes minutes on a CPU
        return cls(model=STAND_IN, augment=("flip",), images=20, epochs=2) if quick else cls()


def row(images_dir: Path, generated: int, workdir: Path, quick: bool) -> dict:
    """The table row: the measurement, under JAX in a subprocess, on the first of the `generated` training photos
    in `images_dir`."""
    from benchmarks.report import row as table_row

    plan = Plan.make(quick)
    out = workdir / "step_efficiency.json"
    workdir.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "KERAS_BACKEND": "jax", "HARNESS_HOME": str(workdir / "home")}
    done = subprocess.run([sys.executable, "-m", "benchmarks.step_efficiency", str(images_dir),
                           str(min(plan.images, generated)), str(out)] + (["--quick"] if quick else []),
                          cwd=ROOT, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"the step-efficiency subprocess failed:\n{done.stderr[-3000:]}")
    found = json.loads(out.read_text())
    harness, bare = found["harness"], found["bare"]
    ratio = bare["step_ms"] / harness["step_ms"]
    return table_row(NAME, f">= {GOAL}", ratio, ratio >= GOAL,
                     f"{harness['step_ms']:,.0f} vs {bare['step_ms']:,.0f} ms per step",
                     **found["plan"], epoch_ratio=bare["epoch_s"] / harness["epoch_s"], harness=harness, bare=bare)


def measure(images_dir: Path, n_train: int, quick: bool) -> dict:
    """Both sides in this process (which must run JAX): {"plan", "harness", "bare"}."""
    from keras import layers

    from benchmarks import fold as fold_bench, photos
    from harness import backend, models
    from harness.config import RunConfig

    if backend.name() != "jax":
        raise RuntimeError(f"the step-efficiency row runs under JAX; this process runs {backend.name()}")
    plan = Plan.make(quick)
    if plan.model == STAND_IN:
        models.register_model(STAND_IN, image_size=plan.size)(
            lambda x: layers.GlobalAveragePooling2D()(layers.Rescaling(1 / 255)(x)))
    train, _ = photos.image_paths(images_dir, n_train, 0)
    with photos.competition("bench-step", train, [], plan.augment) as comp:
        config = RunConfig(comp.name, model=plan.model, folds=5, epochs=plan.epochs, patience=plan.epochs,
                           batch_size=plan.batch_size, image_size=plan.size, weights="none", tta=False, seed=0)
        harness, fold = fold_bench.harness_fold(config)
    bare = fold_bench.bare_fit(fold, plan.batch_size, plan.epochs, harness["policy"])
    for side in (harness, bare):
        del side["window"]  # perf_counter times, which mean nothing outside this process
    return {"plan": {**plan.__dict__, "images": n_train, "augment": list(fold.augment), "backend": "jax"},
            "harness": harness, "bare": bare}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.step_efficiency", description=__doc__.split("\n")[0])
    p.add_argument("images_dir", type=Path)
    p.add_argument("train", type=int, help="how many of the generated training images to use")
    p.add_argument("out", type=Path, help="where to write the JSON")
    p.add_argument("--quick", action="store_true")
    args = p.parse_args(argv)
    from benchmarks import report
    from harness import atomic, backend

    backend.quiet_start()
    atomic.write_json(args.out, report.plain(measure(args.images_dir, args.train, args.quick)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
