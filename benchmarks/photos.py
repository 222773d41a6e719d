"""Photo-like JPEGs in the dogs-vs-cats layout, generated once and kept, and a throw-away competition over them.

500x375 images of 20-40 KB (the real photos average ~21 KB): smooth colour fields, texture, soft shapes and
sensor noise, so decoding costs what a real photo costs. The same seed always gives the same file.
"""
import shutil
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from multiprocessing import get_context
from pathlib import Path

import cv2
import numpy as np

from harness import atomic, paths

WIDTH, HEIGHT, QUALITY = 500, 375, 88
CLASSES = ("cat", "dog")


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


def read_all(files):
    """Read every file once so both sides of a comparison start from a warm page cache."""
    return sum(len(Path(f).read_bytes()) for f in files)


@contextmanager
def competition(name: str, train, test, augment=None):
    """A throw-away local competition whose raw folder links to the given generated files; `augment`
    defaults to what dogs-vs-cats trains with (the photo default)."""
    from harness.competition import COMPETITIONS, Competition, Item, Source
    import competitions  # noqa: F401  (fill the registry first)

    if augment is None:
        augment = COMPETITIONS.get("dogs-vs-cats").augment

    raw = paths.raw_dir(name)
    shutil.rmtree(raw, ignore_errors=True)  # links only, remade: links left by a larger run would add images
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
