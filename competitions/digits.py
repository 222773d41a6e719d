"""digits: scikit-learn's bundled 8x8 digits as a Kaggle-style image competition that needs no network.

build() writes train/<id>.png and test/<id>.png (RGB, 32x32), train.csv, sample_submission.csv from a
seeded stratified 80/20 split; the test answers go to private/solution.csv, which only the scorer reads.
"""
import csv

import numpy as np
from PIL import Image

from harness.competition import Competition, Item, Source, register

CLASSES = tuple(str(d) for d in range(10))


def build(raw, private):
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    pixels = np.round(digits.images * (255 / 16)).astype(np.uint8)  # 0..16 -> 0..255
    ids = np.arange(1, len(pixels) + 1)
    train, test = train_test_split(ids - 1, test_size=0.2, stratify=digits.target, random_state=0)
    for split, rows in (("train", train), ("test", test)):
        (raw / split).mkdir()
        for r in rows:
            image = Image.fromarray(pixels[r]).resize((32, 32), Image.BICUBIC).convert("RGB")
            image.save(raw / split / f"{ids[r]}.png")
    _write(raw / "train.csv", [(ids[r], digits.target[r]) for r in sorted(train)])
    _write(raw / "sample_submission.csv", [(ids[r], 0) for r in sorted(test)])
    _write(private / "solution.csv", [(ids[r], digits.target[r]) for r in sorted(test)])


def list_train(raw):
    return [Item(i, raw / "train" / f"{i}.png", int(label)) for i, label in _read(raw / "train.csv")]


def list_test(raw):
    return [Item(i, raw / "test" / f"{i}.png") for i, _ in _read(raw / "sample_submission.csv")]


def solution(raw):
    return {i: int(label) for i, label in _read(raw.parent / "private" / "solution.csv")}


def _write(path, rows):
    with open(path, "w", newline="") as f:
        csv.writer(f).writerows([("id", "label"), *rows])


def _read(path):
    with open(path, newline="") as f:
        return [(r["id"], r["label"]) for r in csv.DictReader(f)]


register(Competition(
    name="digits",
    source=Source("builtin"),
    task="multiclass",
    classes=CLASSES,
    metric="accuracy",
    extra_metrics=("macro_f1", "log_loss"),
    label_format="class",
    list_train=list_train,
    list_test=list_test,
    solution=solution,
    build=build,
    augment=("rotate", "zoom", "shift"),  # a flipped digit is another glyph
    image_size=32,
    sample_submission="sample_submission.csv",
    file_id="stem",
    description="scikit-learn's 1,797 handwritten digits (8x8, upscaled to 32x32); offline default.",
))
