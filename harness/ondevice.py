"""The run's image cache held on the accelerator: loaded once per run, batches gathered there, so only row
indices cross from the host at each step, and test-time flips happen on the device too.

A model built with them (models.build(images=...)) reads int32 rows of the train + test images: row r < n is
image r, row n + r is image r flipped. The array is model state but never a weight: get_weights(), saved
weights and checkpoints leave it out, so a fold's checkpoint also resumes on the host, and the other way round.
"""
import keras
import numpy as np

from harness import backend


def wanted(cache, config) -> bool:
    """`device_data` "on" (on CPU too, where the device is host memory) or "off"; "auto": on an accelerator when
    the train and test images fit `device_share` of its memory."""
    if config.device_data != "auto":
        return config.device_data == "on"
    memory = backend.device_memory()
    return memory is not None and cache.train_x.nbytes + cache.test_x.nbytes <= config.device_share * memory


class DeviceImages(keras.layers.Layer):
    """Rows (int32) -> those uint8 images of `images`, gathered where the array lives; rows from n on are flipped."""

    def __init__(self, images: np.ndarray, **kwargs):
        super().__init__(**kwargs)
        self.images = keras.Variable(images, trainable=False, dtype="uint8", name="images")
        self.built = True

    @property
    def weights(self):
        return []  # else EarlyStopping's get_weights() would copy every image to the host at each best epoch

    def save_own_variables(self, store):
        pass  # the cache is on disk already

    def load_own_variables(self, store):
        pass

    def call(self, rows):
        n = self.images.shape[0]
        x = keras.ops.take(self.images, rows % n, axis=0)
        return keras.ops.where((rows >= n)[:, None, None, None], keras.ops.flip(x, axis=2), x)


def load(cache) -> DeviceImages:
    """The cache's train and test images on the device, in one array: train rows first."""
    return DeviceImages(np.concatenate([cache.train_x, cache.test_x]))
