"""The engine on another Keras backend under JAX: small-cnn through submit, and cached-feature k-fold (one head
reused across folds) giving the same out-of-fold predictions as the full frozen model.

JAX (CPU) is a dev dependency in pyproject.toml, so `make test` installs it; torch is not installed and
not tested here. Each run is a subprocess because Keras picks its backend once, at import.
"""
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = """
import numpy as np
from harness import backend, models, pipeline
from harness.config import RunConfig
from tests.conftest import folder_competition, registered, tiny_transfer_spec

assert backend.name() == "{backend}", backend.name()
with registered(folder_competition(augment=("flip",))) as comp:
    small = pipeline.submit(RunConfig(comp.name, folds=2, epochs=1, batch_size=8, image_size=24))
    print("OK", backend.name(), small.test_scores["accuracy"])
models.MODELS.add("tiny-transfer", tiny_transfer_spec())
with registered(folder_competition(name="plain", augment=())) as comp:
    config = RunConfig(comp.name, model="tiny-transfer", folds=2, epochs=2, batch_size=8, image_size=24,
                       weights="none")
    full, cached = pipeline.submit(config), pipeline.submit(config.replace(cached_features=True))
    diff = np.abs(np.load(full.run.folder / "oof.npy") - np.load(cached.run.folder / "oof.npy")).max()
    print("CACHED", diff)
"""


@pytest.mark.parametrize("name", ["jax"])
def test_small_cnn_submits_on_another_backend(name, tmp_path):
    if importlib.util.find_spec(name) is None:
        pytest.skip(f"{name} is not installed (make test installs jax with the dev extras)")
    env = {**os.environ, "KERAS_BACKEND": name, "HARNESS_HOME": str(tmp_path), "PYTHONPATH": os.pathsep.join(
        [str(ROOT), *sys.path])}
    done = subprocess.run([sys.executable, "-c", SCRIPT.format(backend=name)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert f"OK {name}" in done.stdout
    assert float(done.stdout.split("CACHED ")[1].split()[0]) < 1e-5, done.stdout[-2000:]
