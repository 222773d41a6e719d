"""The engine on another Keras backend: small-cnn through submit under JAX.

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
from harness import backend, pipeline
from harness.config import RunConfig
from tests.conftest import folder_competition, registered

assert backend.name() == "{backend}", backend.name()
with registered(folder_competition(augment=("flip",))) as comp:
    small = pipeline.submit(RunConfig(comp.name, folds=2, epochs=1, batch_size=8, image_size=24))
    print("OK", backend.name(), small.test_scores["accuracy"])
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
