"""Training-time augmentation as one layer that compiles: XLA on TensorFlow, jax.jit on JAX.

Keras' RandomRotation, RandomZoom and RandomTranslation say `supports_jit = False`, which turns compilation
off for the whole model, and TensorFlow's XLA has no kernel for the projective transform behind them. Here
rotation, zoom and shift are one random affine per image, resampled by gather. The semantics are those
layers': flip left-right with p=0.5, rotation up to 15/360 of a turn, zoom and shift up to 10% of the side
(zoom keeps the aspect ratio), bilinear sampling, "nearest" fill (the edge pixels extend), contrast 1 +- 0.1
around each image's channel means, clipped to 0..255. Its random numbers come from one SeedGenerator, which
checkpoint.py reseeds at every epoch, so a resumed run draws what an uninterrupted one would.
"""
import math

import keras
from keras import ops

ROTATE = 15 / 360 * 2 * math.pi  # the largest rotation, in radians
ZOOM = SHIFT = 0.1  # the largest zoom and shift, as fractions of the image's side
CONTRAST = 0.1  # the largest change of contrast factor


class Augment(keras.layers.Layer):
    """0..255 float images -> flipped, rotated, zoomed, shifted and contrast-changed at random (training only)."""

    def __init__(self, augment, seed: int, **kwargs):
        super().__init__(dtype="float32", **kwargs)  # sampling coordinates need float32 under mixed precision too
        self.augment = tuple(augment)
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, x, training=None):
        if not training:
            return x
        u = keras.random.uniform((ops.shape(x)[0], 6), seed=self.seed_generator)  # each image's parameters
        sign = 2 * u - 1  # uniform in [-1, 1)
        if "flip" in self.augment:
            x = ops.where((u[:, 0] < 0.5)[:, None, None, None], ops.flip(x, axis=2), x)
        if {"rotate", "zoom", "shift"} & set(self.augment):
            on = {name: float(name in self.augment) for name in ("rotate", "zoom", "shift")}
            x = resample(x, angle=on["rotate"] * ROTATE * sign[:, 1], zoom=1 + on["zoom"] * ZOOM * sign[:, 2],
                         shift=on["shift"] * SHIFT * sign[:, 3:5])
        if "contrast" in self.augment:
            mean = ops.mean(x, axis=(1, 2), keepdims=True)
            x = ops.clip((x - mean) * (1 + CONTRAST * sign[:, 5])[:, None, None, None] + mean, 0, 255)
        return x


def resample(images, angle, zoom, shift):
    """Each image sampled bilinearly at its output grid rotated by `angle`, scaled by `zoom` about the centre and
    moved by `shift` (x, y fractions of the side); points outside take the nearest edge pixel."""
    _, h, w, c = images.shape
    ys, xs = ops.meshgrid(ops.arange(h, dtype="float32"), ops.arange(w, dtype="float32"), indexing="ij")
    cx, cy = (w - 1) / 2, (h - 1) / 2
    dx = ops.reshape(xs, (1, -1)) - cx - w * shift[:, :1]  # (batch, pixels): output offsets from the centre
    dy = ops.reshape(ys, (1, -1)) - cy - h * shift[:, 1:]
    cos, sin = (zoom * ops.cos(angle))[:, None], (zoom * ops.sin(angle))[:, None]
    sx = ops.clip(cx + cos * dx - sin * dy, 0, w - 1)  # clipping the source point is the "nearest" fill
    sy = ops.clip(cy + sin * dx + cos * dy, 0, h - 1)
    x0, y0 = ops.floor(sx), ops.floor(sy)
    wx, wy = (sx - x0)[..., None], (sy - y0)[..., None]
    x0, y0 = ops.cast(x0, "int32"), ops.cast(y0, "int32")
    x1, y1 = ops.minimum(x0 + 1, w - 1), ops.minimum(y0 + 1, h - 1)
    pixels = ops.reshape(images, (-1, c))
    first = ops.arange(ops.shape(images)[0], dtype="int32")[:, None] * (h * w)  # each image's first pixel

    def at(y, x):
        return ops.take(pixels, first + y * w + x, axis=0)

    top = at(y0, x0) * (1 - wx) + at(y0, x1) * wx
    bottom = at(y1, x0) * (1 - wx) + at(y1, x1) * wx
    return ops.reshape(top * (1 - wy) + bottom * wy, (-1, h, w, c))
