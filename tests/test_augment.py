"""The compiled augmentation keeps Keras' semantics: its affine resampling is Keras' bilinear, nearest-fill
transform, flips are exact, inference leaves images alone, and reseeding replays the same draws (resume)."""
import math

import keras
import numpy as np

from harness.augment import Augment, resample
from harness.competition import AUGMENTATIONS

RNG = np.random.default_rng(0)
IMAGES = RNG.uniform(0, 255, (3, 20, 24, 3)).astype("float32")


def test_resampling_is_keras_affine_transform():
    angle, zoom = np.array([0.2, -0.1, 0.0], "float32"), np.array([1.1, 0.9, 1.0], "float32")
    shift = np.array([[0.05, -0.08], [0.0, 0.1], [0.0, 0.0]], "float32")
    ours = np.asarray(resample(*map(keras.ops.convert_to_tensor, (IMAGES, angle, zoom, shift))))
    h, w = IMAGES.shape[1:3]
    cx, cy, cos, sin = (w - 1) / 2, (h - 1) / 2, zoom * np.cos(angle), zoom * np.sin(angle)
    tx, ty = w * shift[:, 0], h * shift[:, 1]  # output (x, y) -> input (a0 x + a1 y + a2, b0 x + b1 y + b2)
    transform = np.stack([cos, -sin, cx - cos * (cx + tx) + sin * (cy + ty),
                          sin, cos, cy - sin * (cx + tx) - cos * (cy + ty), 0 * cos, 0 * cos], axis=1)
    keras_ = keras.ops.image.affine_transform(IMAGES, transform.astype("float32"), interpolation="bilinear",
                                              fill_mode="nearest")
    np.testing.assert_allclose(ours, np.asarray(keras_), atol=1e-2)
    np.testing.assert_array_equal(ours[2], IMAGES[2])  # no rotation, zoom or shift: the image itself


def test_flips_are_exact_and_inference_is_untouched():
    layer = Augment(("flip",), seed=1)
    out = np.asarray(layer(IMAGES, training=True))
    for got, image in zip(out, IMAGES):
        assert np.array_equal(got, image) or np.array_equal(got, image[:, ::-1])
    np.testing.assert_array_equal(np.asarray(Augment(AUGMENTATIONS, seed=1)(IMAGES, training=False)), IMAGES)


def test_reseeding_replays_the_same_draws():
    layer = Augment(AUGMENTATIONS, seed=3)
    start = np.asarray(layer.seed_generator.state.value)
    first = np.asarray(layer(IMAGES, training=True))
    assert not np.allclose(first, IMAGES) and 0 <= first.min() and first.max() <= 255
    assert not np.allclose(np.asarray(layer(IMAGES, training=True)), first)  # the stream moves on
    layer.seed_generator.state.assign(start)  # what checkpoint.py does at each epoch's start
    np.testing.assert_array_equal(np.asarray(layer(IMAGES, training=True)), first)


def test_rotation_stays_within_its_range():
    """A bright pixel right of the centre ends up within 15/360 of a turn (plus zoom and shift off)."""
    image = np.zeros((1, 41, 41, 3), "float32")
    image[0, 20, 35] = 255
    layer = Augment(("rotate",), seed=0)
    angles = []
    for _ in range(20):
        y, x = np.unravel_index(np.asarray(layer(image, training=True))[0, ..., 0].argmax(), (41, 41))
        angles.append(abs(math.atan2(y - 20, x - 20)))
    assert 0.1 < max(angles) <= 15 / 360 * 2 * math.pi + 0.07  # rotated, never further than 15 degrees (+ a pixel)
