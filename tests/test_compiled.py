"""The train step compiles for every registry model with every augmentation, and Keras chooses it by itself.

Under JAX (one subprocess: Keras picks its backend at import), `jit_compile="auto"` must come out True and the
step must trace under jax.jit, also when the images live on the device; one real fold step is compiled and runs
with Keras' asynchronous callbacks on. Under TensorFlow the whole step must compile with XLA.
"""
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest


ROOT = Path(__file__).resolve().parents[1]
SCRIPT = """
import logging, sys, tempfile, types
from pathlib import Path
import jax, keras, numpy as np
from keras.src.backend.jax.core import JaxVariable
from harness import models, ondevice, train
from harness.competition import AUGMENTATIONS

# Initial values are not under test, and JAX compiles an eager random op for every weight shape (~30 CPU-seconds
# for EfficientNet-B0 alone): every weight starts at zero here, from NumPy.
JaxVariable._initialize_with_initializer = lambda self, init: self._initialize(np.zeros(self._shape, self._dtype))
comp = types.SimpleNamespace(task="multiclass")
x, y = np.zeros((2, 32, 32, 3), "uint8"), np.zeros(2, "int32")


def traced(model, data):
    '''Keras' JAX train step traced as jax.jit traces it (an XLA compile would take seconds per model).'''
    train.compile_model(model, comp, 1e-3)
    assert model.jit_compile, f"Keras chose an eager step for {model.name}"
    model._symbolic_build(data_batch=data)
    model.optimizer.build(model.trainable_variables)
    state = [[v.value for v in group] for group in (model.trainable_variables, model.non_trainable_variables,
                                                    model.optimizer.variables, model.metrics_variables)]
    jax.jit(model.train_step).trace(state, data)
    print("TRACED", model.name)


print("MODELS", " ".join(models.MODELS.names()))
for name in models.MODELS.names():
    traced(models.build(models.get(name), 32, 3, "multiclass", AUGMENTATIONS, weights="none"), (x, y))
traced(models.build(models.get("small-cnn"), 32, 3, "multiclass", AUGMENTATIONS, weights="none",
                    images=ondevice.DeviceImages(x)), (np.arange(2, dtype="int32"), y))

compiled, lists = [], []
handler = logging.Handler()
handler.emit = lambda record: compiled.append(record.getMessage())
logging.getLogger("jax").addHandler(handler)
real_init = keras.callbacks.CallbackList.__init__
def spy(self, *args, **kwargs):
    real_init(self, *args, **kwargs)
    lists.append(self)
keras.callbacks.CallbackList.__init__ = spy
model = models.build(models.get("small-cnn"), 32, 3, "multiclass", AUGMENTATIONS, weights="none")
train.compile_model(model, comp, 1e-3)
data = train.Batches(x, np.arange(2), y, batch_size=2, shuffle=True)
with jax.log_compiles():
    train._fit(model, data, data, 1, 1, Path(tempfile.mkdtemp()))
assert any("train_step" in m for m in compiled), compiled
assert lists[0]._async_train, "a callback of the fold's fit() works per batch: Keras' async steps are off"
print("FIT COMPILED")
"""


def test_every_model_compiles_under_jax():
    if importlib.util.find_spec("jax") is None:
        pytest.skip("jax is not installed (make test installs it with the dev extras)")
    env = {**os.environ, "KERAS_BACKEND": "jax", "PYTHONPATH": os.pathsep.join([str(ROOT), *sys.path])}
    done = subprocess.run([sys.executable, "-c", SCRIPT], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.splitlines()
    names = next(line.split()[1:] for line in lines if line.startswith("MODELS "))
    # The subprocess's own registry: this session's may also hold models that tests registered.
    assert len(names) >= 7 and [line.split()[1] for line in lines if line.startswith("TRACED")] == names + ["small-cnn"]
    assert "FIT COMPILED" in done.stdout


def test_whole_train_step_compiles_with_xla_on_tensorflow(tiny_transfer):
    """Backbone, head, every augmentation and the on-device gather in one XLA computation (TensorFlow); Keras'
    RandomRotation, in the same place, cannot compile (so XLA really was asked to)."""
    import keras

    if keras.backend.backend() != "tensorflow":
        pytest.skip("TensorFlow's XLA only")
    from harness import models, ondevice
    from harness.competition import AUGMENTATIONS

    x = np.random.default_rng(0).integers(0, 255, (4, 24, 24, 3), dtype=np.uint8)
    model = models.build(tiny_transfer, 24, 2, "multiclass", AUGMENTATIONS, weights="none",
                         images=ondevice.DeviceImages(x))
    assert np.isfinite(_fit_with_xla(model, np.arange(8, dtype="int32") % 4))
    images = keras.Input((24, 24, 3))
    rotating = keras.Model(images, keras.layers.Dense(2)(keras.layers.Flatten()(keras.layers.RandomRotation(0.1)(
        images))))
    with pytest.raises(Exception, match="ImageProjectiveTransform"):
        _fit_with_xla(rotating, x.astype("float32"))


def _fit_with_xla(model, x) -> float:
    """One epoch of `model.fit` with its step compiled by XLA; the loss."""
    import types

    from harness import train

    train.compile_model(model, types.SimpleNamespace(task="multiclass"), 1e-3)
    # Keras' own guard refuses XLA while op determinism is on (the CPU test suite turns it on); XLA itself does not.
    model._jit_compile = True
    return model.fit(x, np.arange(len(x)) % 2, batch_size=4, epochs=1, verbose=0).history["loss"][0]
