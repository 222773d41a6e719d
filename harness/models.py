"""Model registry: a model is a function from an image tensor (0-255 floats) to a feature tensor.

The engine adds augmentation in front and the task's head behind, so a new model is a few lines.
"""
from dataclasses import dataclass
from typing import Callable

import keras
from keras import layers

from harness.registry import Registry

AUGMENTATION_LAYERS = {
    "flip": lambda seed: layers.RandomFlip("horizontal", seed=seed),
    "rotate": lambda seed: layers.RandomRotation(15 / 360, fill_mode="nearest", seed=seed),
    "zoom": lambda seed: layers.RandomZoom(0.1, fill_mode="nearest", seed=seed),
    "shift": lambda seed: layers.RandomTranslation(0.1, 0.1, fill_mode="nearest", seed=seed),
    "contrast": lambda seed: layers.RandomContrast(0.1, seed=seed),
}


@dataclass(frozen=True)
class ModelSpec:
    name: str
    body: Callable  # (x: float tensor in 0..255) -> features tensor
    image_size: int
    description: str = ""


MODELS = Registry("model")


def register_model(name: str, image_size: int):
    """Register the decorated body under `name` with its default input size."""
    def wrap(fn):
        MODELS.add(name, ModelSpec(name, fn, image_size, (fn.__doc__ or "").strip()))
        return fn
    return wrap


def get(name: str) -> ModelSpec:
    return MODELS.get(name)


def _conv_block(x, filters):
    x = layers.Conv2D(filters, 3, padding="same", use_bias=False)(x)
    x = layers.BatchNormalization()(x)
    x = layers.Activation("relu")(x)
    return layers.MaxPooling2D()(x)


@register_model("small-cnn", image_size=64)
def small_cnn(x):
    """Conv blocks 32-64-128 with max pooling, dropout and a dense head, as in the seed tutorials."""
    x = layers.Rescaling(1 / 255)(x)
    for filters in (32, 64, 128):
        x = _conv_block(x, filters)
    x = layers.Flatten()(x)
    x = layers.Dropout(0.5)(x)
    x = layers.Dense(128, activation="relu")(x)
    return layers.Dropout(0.3)(x)


def build(spec: ModelSpec, size: int, outputs: int, task: str, augment=(), seed: int = 0) -> keras.Model:
    """uint8 images -> augmentation (training only) -> model body -> the task's head."""
    inputs = keras.Input((size, size, 3), dtype="uint8", name="image")
    x = layers.Identity(dtype="float32")(keras.ops.cast(inputs, "float32"))
    for i, name in enumerate(augment):
        x = AUGMENTATION_LAYERS[name](seed + i)(x)
    features = spec.body(x)
    activation = "softmax" if task == "multiclass" else "sigmoid"
    head = layers.Dense(outputs, activation=activation, dtype="float32", name="head")(features)
    return keras.Model(inputs, head, name=spec.name)


def loss_for(task: str) -> str:
    return "sparse_categorical_crossentropy" if task == "multiclass" else "binary_crossentropy"
