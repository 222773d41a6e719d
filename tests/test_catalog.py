"""`harness models`: every registered model listed with its size, parameter count, weights and offline status."""
import keras

from harness import catalog, models
from harness.cli import main
from conftest import tiny_transfer_spec


def test_parameters_are_counted_without_initialising_and_match_a_built_model():
    small = models.get("small-cnn")
    counted = catalog.count_params(small)
    built = models.build(small, small.image_size, outputs=1, task="binary", weights="none")
    assert counted == (built.count_params(), sum(int(keras.ops.size(w)) for w in built.trainable_weights))
    spec = tiny_transfer_spec()
    params, trainable = catalog.count_params(spec)
    built = models.build(spec, spec.image_size, outputs=1, task="binary", weights="none")
    assert params == built.count_params() and trainable < params  # the backbone is frozen


def test_offline_status_follows_the_keras_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    spec = models.get("efficientnet-b0")
    assert catalog.offline_status(spec) == f"needs network, or {spec.weights_file}"
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / spec.weights_file).write_bytes(b"h5")
    assert catalog.offline_status(spec) == "cached"
    assert catalog.offline_status(models.get("small-cnn")) == "-"  # random init: nothing to fetch


def test_harness_models_lists_the_registry(capsys):
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    lines = {line.split()[0]: line for line in out.splitlines()[1:] if line.split()}
    for name in models.MODELS.names():
        assert name in lines
    assert "134M" in lines["vgg16"] and "imagenet" in lines["resnet50"] and " 64 " in lines["small-cnn"]
