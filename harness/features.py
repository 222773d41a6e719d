"""Cached-feature k-fold: run a frozen backbone once over train, test and flipped test, then train only
the head on the cached features for every fold (train.train_fold does the fold work on both paths). The full
frozen-backbone path reads the same features for every image no augmentation touches.

Features live beside the image cache: data/<comp>/cache/<size>px/features/<model>-<weights>/{train,test,
test_flip}.npy (float32, rows aligned with the image cache) and manifest.json, written last.
There is no augmentation in front of the backbone here, so the result equals a full frozen-backbone run
only when that run has no augmentation either (the same seed gives the same head, shuffles and dropout).
"""
import hashlib
import time
from pathlib import Path

import numpy as np

from harness import atomic, backend, models, progress, timing
from harness.errors import HarnessError

MANIFEST = "manifest.json"
HEAD_CHECKPOINT_S = 30.0  # a head's epochs take milliseconds: redoing 30 s after a kill beats saving each one
HEAD_STEPS_PER_CALL = 64  # a head's step is tiny next to a call into the backend: run up to 64 steps per call


def train_folds(run_folder: Path, comp, cache, assignment, wanted, config, metric) -> list:
    """Fold results for the folds in `wanted`, training the head of `config.model` on cached features."""
    from harness import train as train_stage

    spec = models.get(config.model)
    if spec.backbone is None:
        with_backbone = [s.name for s in models.MODELS if s.backbone is not None]
        raise HarnessError(f"--cached-features needs a model with a frozen backbone ({', '.join(with_backbone)}). "
                           f"Received: model={config.model!r}")
    feats = inputs(spec, cache, config, train_stage.uses_tta(comp, config))
    head = Head(lambda seed: models.build_head(spec, feats.train_x.shape[1:], comp.num_outputs, comp.task, seed),
                lambda model: train_stage.compile_model(model, comp, config.learning_rate, HEAD_STEPS_PER_CALL))
    return [train_stage.train_fold(run_folder, comp, cache, assignment, f, config, metric, head.fresh, feats,
                                   checkpoint_every_s=HEAD_CHECKPOINT_S) for f in timing.folds(wanted)]


def inputs(spec, cache, config, tta: bool):
    """The backbone's features of every train and test image (and flipped test image, with `tta`), as the
    train_x and test views a head reads: extracted on the first call for this model, weights and size."""
    from harness.train import Inputs

    with timing.stage("features"):
        feats = extract(spec, cache, config, tta)
    return Inputs(feats["train"], cache.train_rows,
                  [(feats["test"], False)] + ([(feats["test_flip"], False)] if tta else []))


class Head:
    """One compiled head for every fold, reset to exactly what a newly built one would be for each fold's seed,
    so Keras traces its train, test and predict functions once per run instead of once per fold."""

    def __init__(self, build, compile_model):
        self.build, self.compile_model, self.model = build, compile_model, None

    def fresh(self, seed: int):
        """The head as `build(seed)` makes it, compiled, with a newly initialised optimizer."""
        new = self.build(seed)
        if self.model is None:
            self.model = new
            self.compile_model(new)
            new.optimizer.build(new.trainable_variables)
            self.optimizer_start = [np.array(v) for v in new.optimizer.variables]
            return new
        for target, value in zip(self.model.variables, new.variables):
            target.assign(value)
        for target, value in zip(self.model.optimizer.variables, self.optimizer_start):
            target.assign(value)
        return self.model


def extract(spec, cache, config, tta: bool) -> dict:
    """{"train", "test"[, "test_flip"]: memory-mapped float32 features}, computed only when missing."""
    folder = feature_dir(spec, cache, config)
    names = ["train", "test"] + (["test_flip"] if tta else [])
    manifest = atomic.read_json(folder / MANIFEST) if (folder / MANIFEST).exists() else {}
    missing = [n for n in names if n not in manifest.get("files", {}) or not (folder / f"{n}.npy").exists()]
    if missing:
        from harness.train import Batches, step_batch

        folder.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        backend.seed_everything(config.seed)
        backend.configure_precision()
        extractor = models.build_extractor(spec, cache.size, config.weights, backbone_seed=config.seed)
        batch = step_batch(spec, config) * 4  # inference keeps no activations for gradients
        sources = {"train": (cache.train_x, False), "test": (cache.test_x, False), "test_flip": (cache.test_x, True)}
        for name in missing:
            x, flip = sources[name]
            _write(folder / f"{name}.npy", extractor, Batches(x, np.arange(len(x)), batch_size=batch, flip=flip),
                   f"features {name}")
        seconds = time.perf_counter() - started
        files = {**manifest.get("files", {}), **{n: (folder / f"{n}.npy").stat().st_size for n in missing}}
        manifest = {"model": spec.name, "weights": _weights_tag(spec, config), "size": cache.size,
                    "files": files, "seconds": round(manifest.get("seconds", 0) + seconds, 3)}
        atomic.write_json(folder / MANIFEST, manifest)
        progress.say(f"features: {', '.join(missing)} through {spec.name} in {seconds:.1f}s, cached in {folder}")
    return {n: np.load(folder / f"{n}.npy", mmap_mode="r") for n in names}


def feature_dir(spec, cache, config) -> Path:
    return cache.folder / "features" / f"{spec.name}-{_weights_tag(spec, config)}"


def _weights_tag(spec, config) -> str:
    """Names what the backbone's weights were: imagenet, none-seed<seed> (random init) or a file's hash."""
    weights = spec.weights if config.weights in (None, "default") else config.weights
    if weights == "imagenet":
        return "imagenet"
    if weights == "none":
        return f"none-seed{config.seed}"
    stat = Path(weights).stat()
    return "file-" + hashlib.sha1(f"{Path(weights).resolve()}|{stat.st_size}|{stat.st_mtime_ns}".encode()).hexdigest()[:10]


def _write(path: Path, extractor, batches, desc: str) -> None:
    """Features of every batch, written into a .npy beside `path` and renamed over it when complete."""
    n = len(batches.rows)
    shape = tuple(extractor.output_shape[1:])
    with atomic.atomic_path(path, suffix=".npy") as tmp, progress.bar(total=n, desc=desc, unit="img") as bar:
        out = np.lib.format.open_memmap(tmp, mode="w+", dtype="float32", shape=(n, *shape))
        start = 0
        for i in range(len(batches)):
            f = np.asarray(extractor.predict_on_batch(batches[i]), dtype="float32")
            out[start:start + len(f)] = f
            start += len(f)
            bar.update(len(f))
        out.flush()
        del out
