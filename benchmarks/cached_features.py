"""Row 4 of `make bench`: 5-fold frozen-backbone transfer with cached features vs running the backbone every epoch.

Both paths train the same head on the same generated images, folds, seed and epochs (no augmentation, so
their out-of-fold predictions must agree). The full path runs the backbone on every training batch of every
epoch (its validation and test images go through it once, as the engine does for any frozen backbone); the
cached path extracts every feature once, which its time includes. The model is the registry's
`vgg16-bottleneck` (the animals tutorial: frozen VGG16 + its MLP head) with random weights, at 32 px so a CPU
can run the end-to-end path.
The ratio is end-to-end wall time over cached-feature wall time, feature extraction included.
"""
import contextlib
import shutil
import time
from pathlib import Path

import numpy as np

NAME = "cached features vs backbone every epoch"
MODEL = "vgg16-bottleneck"
GOAL = 20.0


def measure(workdir: Path, quick: bool = False, images: int = None) -> dict:
    """Time both paths on generated images in `workdir`; {"name", "goal", "ratio", "met", "details"}."""
    from harness import atomic, competition, paths, pipeline
    from harness.config import RunConfig

    n = images or (64 if quick else 800)
    size, folds, epochs = (32, 2, 1) if quick else (32, 5, 10)  # quick: only that both paths run
    workdir = Path(workdir)
    with paths.home_at(workdir / "home"), _registered(competition, n) as comp:
        config = RunConfig(comp.name, model=MODEL, folds=folds, epochs=epochs, patience=epochs, batch_size=50,
                           image_size=size, seed=0, weights="none", tta=False)
        pipeline.load_data(config)  # decode once, outside both timings
        started = time.perf_counter()
        full = pipeline.train(config)
        full_s = time.perf_counter() - started
        for features in (workdir / "home").glob("data/*/cache/*/features"):
            shutil.rmtree(features)  # the full path cached its validation/test features: extract them again
        started = time.perf_counter()
        cached = pipeline.train(config.replace(cached_features=True))
        cached_s = time.perf_counter() - started
        oof_full = np.concatenate([np.load(r.folder / f"fold{f}" / "oof.npy") for r, f in _folds(full)])
        oof_cached = np.concatenate([np.load(r.folder / f"fold{f}" / "oof.npy") for r, f in _folds(cached)])
        manifest, = (workdir / "home").glob("data/*/cache/*/features/*/manifest.json")
        extraction_s = atomic.read_json(manifest)["seconds"]
    ratio = full_s / cached_s
    return {"name": NAME, "goal": f">= {GOAL:.0f}x", "ratio": round(ratio, 2), "met": ratio >= GOAL, "details": {
        "model": f"{MODEL} (random init, frozen backbone)",
        "images": n, "test_images": n // 4, "image_size": size, "folds": folds, "epochs": epochs,
        "backbone_every_epoch_s": round(full_s, 2), "cached_features_s": round(cached_s, 2),
        "of_which_extraction_s": extraction_s,
        "oof_max_abs_diff": float(np.max(np.abs(oof_full - oof_cached))), "quick": quick}}


def _folds(trained):
    run, *_, results = trained
    return [(run, r.fold) for r in results]


@contextlib.contextmanager
def _registered(competition, n: int):
    """A generated 4-class competition, registered for the measurement only."""
    from harness.competition import COMPETITIONS, Competition, Item, Source

    def build(raw, private):
        from PIL import Image

        rng = np.random.default_rng(0)
        for split, count in (("train", n), ("test", n // 4)):
            (raw / split).mkdir()
            for i in range(count):
                img = rng.integers(0, 60, (64, 64, 3), dtype=np.uint8)
                r, c = divmod(i % 4, 2)
                img[r * 32:(r + 1) * 32, c * 32:(c + 1) * 32, i % 3] = 230
                Image.fromarray(img).save(raw / split / f"{i % 4}_{i}.png")

    def listing(split):
        return lambda raw: [Item(p.stem, p, int(p.stem[0]) if split == "train" else None)
                            for p in sorted((raw / split).iterdir())]

    competition.names()  # fill the registry first so the names cannot collide later
    comp = Competition(name="bench-features", source=Source("builtin"), task="multiclass",
                       classes=("0", "1", "2", "3"), metric="accuracy", list_train=listing("train"),
                       list_test=listing("test"), build=build, augment=(), description="generated bench images")
    COMPETITIONS.add(comp.name, comp)
    try:
        yield comp
    finally:
        COMPETITIONS.remove(comp.name)

