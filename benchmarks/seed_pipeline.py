"""The seed tutorials' input pipeline, kept as the k-fold baseline of `make bench` (row 3).

Every epoch, every image is opened with PIL, converted to RGB and resized again, one at a time, by a Python
generator feeding `model.fit`: the same small-cnn, head, optimizer, folds and epochs as the harness.
"""
import math

import keras
import numpy as np
from PIL import Image

from harness import backend, models


def load_image(path, size: int) -> np.ndarray:
    """What the tutorials do per image and per step: open, RGB, resize (PIL's default filter)."""
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB").resize((size, size)))


def generator(paths, y, size: int, batch_size: int, shuffle: bool, seed: int):
    """Endless batches decoded from the files, reshuffled each pass; `steps_per_epoch` ends an epoch."""
    rng = np.random.default_rng(seed)
    while True:
        order = rng.permutation(len(paths)) if shuffle else np.arange(len(paths))
        for start in range(0, len(order), batch_size):
            sel = order[start:start + batch_size]
            xb = np.stack([load_image(paths[i], size) for i in sel])
            yield (xb,) if y is None else (xb, y[sel])


def kfold(paths, labels, folds, size: int, epochs: int, augment=(), batch_size: int = 64, seed: int = 42,
          learning_rate: float = 1e-3, model: str = "small-cnn") -> np.ndarray:
    """Binary k-fold training the tutorial way; returns the out-of-fold probabilities."""
    paths, folds = list(paths), np.asarray(folds)
    y = np.asarray(labels, dtype="float32")[:, None]
    oof = np.zeros((len(paths), 1), dtype="float32")
    for fold in range(int(folds.max()) + 1):
        backend.seed_everything(seed + fold)
        net = models.build(models.get(model), size, 1, "binary", augment, seed + fold)
        net.compile(optimizer=keras.optimizers.Adam(learning_rate), loss="binary_crossentropy",
                    metrics=["accuracy"])
        train, val = np.flatnonzero(folds != fold), np.flatnonzero(folds == fold)
        train_paths, val_paths = [paths[i] for i in train], [paths[i] for i in val]
        val_steps = math.ceil(len(val) / batch_size)
        net.fit(generator(train_paths, y[train], size, batch_size, True, seed + fold),
                steps_per_epoch=math.ceil(len(train) / batch_size), epochs=epochs,
                validation_data=generator(val_paths, y[val], size, batch_size, False, 0),
                validation_steps=val_steps, shuffle=False, verbose=0)  # the generator shuffles
        oof[val] = net.predict(generator(val_paths, None, size, batch_size, False, 0), steps=val_steps, verbose=0)
    return oof
