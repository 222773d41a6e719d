"""The registry drives these tests: every model builds, runs forward, trains and predicts through submit."""
import keras
import numpy as np
import pytest

from conftest import csv_accuracy, tiny_backbone
from harness import models, paths, pipeline
from harness.competition import PHOTO_MODEL
from harness.config import RunConfig
from harness.errors import HarnessError

SCRATCH = [s.name for s in models.MODELS if s.backbone is None]
TRANSFER = [s.name for s in models.MODELS if s.backbone is not None]


@pytest.mark.parametrize("name", models.MODELS.names())
def test_every_model_runs_forward(name):
    spec = models.get(name)
    model = models.build(spec, 32, 3, "multiclass", augment=("flip",), seed=1, weights="none")
    out = model(np.random.default_rng(0).integers(0, 255, (2, 32, 32, 3), dtype=np.uint8), training=False)
    assert tuple(out.shape) == (2, 3)
    np.testing.assert_allclose(np.asarray(out).sum(axis=1), 1.0, rtol=1e-5)
    assert spec.image_size >= 32 and spec.description
    if spec.backbone is not None:
        base = next(l for l in model.layers if isinstance(l, keras.Model))
        assert not base.trainable and spec.weights == "imagenet" and spec.weights_file.endswith(".h5")


def test_registry_has_the_tutorial_models_and_a_modern_default():
    assert {"small-cnn", "vgg-small", "vgg16", "resnet50", "vgg16-bottleneck"} <= set(models.MODELS.names())
    assert PHOTO_MODEL in TRANSFER


def test_caffe_preprocessing_matches_keras():
    x = np.random.default_rng(1).uniform(0, 255, (2, 8, 8, 3)).astype("float32")
    ours = np.asarray(models._caffe(keras.ops.convert_to_tensor(x)))
    np.testing.assert_allclose(ours, keras.applications.vgg16.preprocess_input(x.copy()), rtol=1e-5)


HEAVY = {"vgg16", *TRANSFER}  # tens of millions of weights: marked slow (still run by default)


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow) if n in HEAVY else n
                                  for n in SCRATCH + TRANSFER])
def test_every_model_trains_and_predicts_through_submit(name, tiny):
    # Frozen backbones run once, via cached features; the full frozen path is tests/test_features.py's.
    config = RunConfig(tiny.name, model=name, folds=2, epochs=1, batch_size=8, image_size=32, weights="none",
                       cached_features=name in TRANSFER)
    outcome = pipeline.submit(config)
    assert [r.status for r in outcome.fold_results] == ["done", "done"]
    solution = tiny.solution(paths.raw_dir(tiny.name))
    assert outcome.test_scores["accuracy"] == pytest.approx(csv_accuracy(outcome.submission, solution, tiny.classes))


def test_fine_tune_unfreezes_the_top_of_the_backbone(tiny_transfer, tiny):
    model = models.build(tiny_transfer, 24, 3, "multiclass", weights="none")
    assert models.unfreeze_top(model, fraction=0.5) == 1  # the top conv; BatchNorm stays frozen
    outcome = pipeline.submit(RunConfig(tiny.name, model="tiny-transfer", folds=2, epochs=1, fine_tune=1,
                                        batch_size=8, image_size=24))
    assert all(r.epochs == 2 for r in outcome.fold_results)  # one head epoch, one fine-tune epoch


def test_imagenet_weights_are_read_from_the_keras_cache(tiny_transfer, tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    source = tiny_backbone(input_shape=(24, 24, 3), pooling="avg")
    source.set_weights([np.full(w.shape, 0.01 * i, "float32") for i, w in enumerate(source.get_weights())])
    (tmp_path / "keras" / "models").mkdir(parents=True)
    source.save_weights(tmp_path / "keras" / "models" / tiny_transfer.weights_file)
    model = models.build(tiny_transfer, 24, 2, "binary", weights="imagenet")
    base = next(l for l in model.layers if isinstance(l, keras.Model))
    for got, want in zip(base.get_weights(), source.get_weights()):
        np.testing.assert_array_equal(got, want)


def test_real_application_loads_cached_imagenet_file(tmp_path, monkeypatch):
    """The real EfficientNet-B0 path: Keras' own file name in KERAS_HOME/models, in Keras' legacy h5 format."""
    from keras.src.legacy.saving import legacy_h5_format
    import h5py

    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    spec = models.get("efficientnet-b0")
    source = keras.applications.EfficientNetB0(include_top=False, weights=None, input_shape=(32, 32, 3),
                                               pooling="avg")
    marker = source.get_weights()[0] + 0.5
    source.layers[2].set_weights([marker] + source.layers[2].get_weights()[1:]) if source.layers[2].weights else None
    (tmp_path / "models").mkdir()
    with h5py.File(tmp_path / "models" / spec.weights_file, "w") as f:
        legacy_h5_format.save_weights_to_hdf5_group(f, source)
    model = models.build_extractor(spec, 32, weights="imagenet")
    base = next(l for l in model.layers if isinstance(l, keras.Model))
    for got, want in zip(base.get_weights(), source.get_weights()):
        np.testing.assert_array_equal(got, want)


def test_offline_without_weights_names_the_file(tiny_transfer, tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    def offline(**kwargs):
        raise Exception("URL fetch failure: no network")
    monkeypatch.setattr(models, "get", lambda name: models.MODELS.get(name))
    spec = models.ModelSpec("x", lambda f: f, 24, backbone=offline, preprocess=lambda x: x,
                            weights_file="efficientnetb0_notop.h5")
    with pytest.raises(HarnessError) as e:
        models.build(spec, 32, 2, "binary", weights="imagenet")
    assert f"put efficientnetb0_notop.h5 in {tmp_path / 'models'}/" in str(e.value)


def test_weights_errors_say_what_was_received(tmp_path):
    with pytest.raises(HarnessError, match="Received: weights='nope.h5'"):
        models.resolve_weights(models.get("resnet50"), "nope.h5")
    with pytest.raises(HarnessError, match="has no ImageNet weights"):
        models.build(models.get("small-cnn"), 32, 2, "binary", weights="imagenet")
