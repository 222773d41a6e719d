"""Shared fixtures: every test gets its own HARNESS_HOME; tiny competitions, tiny models and the fake Kaggle
are one fixture away."""
import contextlib
import csv
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from harness.competition import COMPETITIONS, Competition, Item, Source  # noqa: E402

# CLI flags for a fast run: 2 folds x 1 epoch of the `tiny-test` model (the `tiny_model` fixture) at 16 px
FAST = ["--folds", "2", "--epochs", "1", "--image-size", "16", "--workers", "1", "--batch-size", "16",
        "--model", "tiny-test", "--no-tta"]


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch) -> Path:
    """An empty HARNESS_HOME per test, so no test writes into the checkout or sees another's files."""
    root = tmp_path / "home"
    monkeypatch.setenv("HARNESS_HOME", str(root))
    return root


def blob_image(label: int, seed: int, size: int = 24) -> np.ndarray:
    """A learnable picture: the class decides where a bright square sits."""
    rng = np.random.default_rng(seed)
    img = rng.integers(0, 60, (size, size, 3), dtype=np.uint8)
    q = size // 2
    r, c = divmod(label % 4, 2)
    img[r * q:(r + 1) * q, c * q:(c + 1) * q, label % 3] = 230
    return img


@contextlib.contextmanager
def registered(comp: Competition):
    """Register a throw-away competition for the block."""
    import competitions  # noqa: F401  (fill the registry first so names cannot collide later)

    COMPETITIONS.add(comp.name, comp)
    try:
        yield comp
    finally:
        COMPETITIONS.remove(comp.name)


def folder_competition(name="tiny", classes=("a", "b", "c"), per_class=8, test=6, task="multiclass",
                       label_format="class", metric="accuracy", **kwargs) -> Competition:
    """A builtin competition writing `per_class` PNGs per class plus `test` hidden-answer test images."""
    def build(raw, private):
        rows = []
        for k, cls in enumerate(classes):
            (raw / "train" / cls).mkdir(parents=True)
            for i in range(per_class):
                Image.fromarray(blob_image(k, 1000 * k + i)).save(raw / "train" / cls / f"{cls}_{i}.png")
        (raw / "test").mkdir()
        for i in range(test):
            k = i % len(classes)
            Image.fromarray(blob_image(k, 99_000 + i)).save(raw / "test" / f"t{i}.png")
            rows.append((f"t{i}", k))
        with open(private / "solution.csv", "w", newline="") as f:
            csv.writer(f).writerows([("id", "label"), *rows])

    def list_train(raw):
        return [Item(f"{cls}_{p.stem}", p, k) for k, cls in enumerate(classes)
                for p in sorted((raw / "train" / cls).iterdir())]

    def list_test(raw):
        return [Item(p.stem, p) for p in sorted((raw / "test").iterdir())]

    def solution(raw):
        with open(raw.parent / "private" / "solution.csv", newline="") as f:
            return {r["id"]: int(r["label"]) for r in csv.DictReader(f)}

    defaults = dict(name=name, source=Source("builtin"), task=task, classes=tuple(classes), metric=metric,
                    list_train=list_train, list_test=list_test, solution=solution, build=build,
                    label_format=label_format, image_size=24, description="test fixture")
    defaults.update(kwargs)
    return Competition(**defaults)


@pytest.fixture
def tiny():
    """A registered 3-class competition with 24 training and 6 test images."""
    with registered(folder_competition()) as comp:
        yield comp


@pytest.fixture
def fake(monkeypatch, tmp_path):
    """A fake Kaggle on 127.0.0.1 that the real `kaggle` client is pointed at (tests/fake_kaggle.py)."""
    from fake_kaggle import FakeKaggle, kaggle_env

    with FakeKaggle().serve() as server:
        kaggle_env(monkeypatch, tmp_path, server)
        yield server


@pytest.fixture(scope="session")
def tiny_model():
    """`tiny-test`: a model that traces fast, for tests about formats and flow rather than learning."""
    from keras import layers

    from harness import models

    @models.register_model("tiny-test", image_size=16)
    def tiny(x):
        return layers.GlobalAveragePooling2D()(layers.Rescaling(1 / 255)(x))
    yield models.get("tiny-test")
    models.MODELS.remove("tiny-test")


def tiny_backbone(include_top=False, weights=None, input_shape=None, pooling=None):
    """A two-conv stand-in with a Keras application's signature, so tests of frozen backbones stay fast."""
    import keras
    from keras import layers

    inputs = keras.Input(input_shape)
    x = layers.Conv2D(8, 3, strides=2, activation="relu")(inputs)
    x = layers.BatchNormalization()(x)
    x = layers.Conv2D(16, 3, strides=2, activation="relu")(x)
    x = layers.GlobalAveragePooling2D()(x) if pooling == "avg" else x
    model = keras.Model(inputs, x, name="tiny_backbone")
    if weights is not None:
        model.load_weights(weights)
    return model


def tiny_transfer_spec():
    """`tiny-transfer`: the tiny backbone, frozen, with a dropout + dense head."""
    from keras import layers

    from harness import models

    def head(f):
        return layers.Dropout(0.3)(layers.Dense(8, activation="relu")(f))
    return models.ModelSpec("tiny-transfer", head, 24, "test stand-in", backbone=tiny_backbone,
                            preprocess=lambda x: x / 255.0, pooling="avg", weights="none",
                            weights_file="tiny_backbone_notop.weights.h5")


@pytest.fixture
def tiny_transfer():
    """`tiny-transfer`, registered for the test."""
    from harness import models

    models.MODELS.add("tiny-transfer", tiny_transfer_spec())
    yield models.get("tiny-transfer")
    models.MODELS.remove("tiny-transfer")


def csv_accuracy(path, solution: dict, classes) -> float:
    """Accuracy of an `id,label` file of class names against {id: class index}, computed from the file alone."""
    with open(path, newline="") as f:
        rows = list(csv.reader(f))[1:]
    return float(np.mean([label == classes[solution[i]] for i, label in rows if i in solution]))
