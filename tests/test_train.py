"""How a fold trains: images held on the device give the host path's predictions, a frozen backbone sees the
images no augmentation touches once per run, and resume state is saved less often when saving is slow."""
import h5py
import numpy as np

from harness import checkpoint, models, ondevice, pipeline, train
from harness.config import RunConfig


def test_images_on_the_device_give_the_host_paths_predictions(tiny, capsys):
    """Same batches, same augmentation draws; the gather and the test-time flip happen in the graph instead."""
    config = RunConfig(tiny.name, folds=2, epochs=1, batch_size=8, image_size=16, workers=1, device_data="off")
    host = pipeline.train(config, only_fold=0)[0].folder / "fold0"
    assert "images on the device" not in capsys.readouterr().out
    device = pipeline.train(config.replace(device_data="on"), only_fold=0)[0].folder / "fold0"
    assert "images on the device" in capsys.readouterr().out
    for name in ("oof.npy", "test.npy"):  # the test predictions average the flipped test images too
        np.testing.assert_allclose(np.load(device / name), np.load(host / name), atol=1e-6)
    with h5py.File(host / "model.weights.h5") as a, h5py.File(device / "model.weights.h5") as b:
        assert _datasets(a["layers"]) == _datasets(b["layers"])  # the same weights, and no image array beside them


def test_the_device_array_is_never_a_weight(tmp_path):
    """Left out of get_weights() and saved weights, so checkpoints load both ways between device and host."""
    images = np.random.default_rng(0).integers(0, 255, (50, 16, 16, 3), dtype=np.uint8)
    spec = models.get("small-cnn")
    on_device = models.build(spec, 16, 2, "binary", seed=1, weights="none", images=ondevice.DeviceImages(images))
    assert all(w.dtype != np.uint8 for w in on_device.get_weights())
    assert any(v.dtype == "uint8" for v in on_device.non_trainable_variables)  # state the compiled step reads
    on_device.save_weights(tmp_path / "device.weights.h5")
    with h5py.File(tmp_path / "device.weights.h5") as f:
        assert all(dtype != np.uint8 for _, dtype in _datasets(f))
    host = models.build(spec, 16, 2, "binary", seed=2, weights="none")
    host.load_weights(tmp_path / "device.weights.h5")
    host.save_weights(tmp_path / "host.weights.h5")
    on_device.load_weights(tmp_path / "host.weights.h5")
    rows = np.array([3, 50 + 3], dtype="int32")  # image 3, and image 3 flipped
    np.testing.assert_allclose(on_device.predict(rows, verbose=0),
                               host.predict(np.stack([images[3], images[3, :, ::-1]]), verbose=0), atol=1e-6)


def test_frozen_backbone_sees_validation_and_test_images_once_per_run(tiny_transfer, tiny, monkeypatch):
    """Per epoch the backbone runs on augmented training batches only; the head alone scores the rest, and
    its out-of-fold and test predictions are the full model's on the images."""
    drawn = {False: 0, True: 0}  # uint8 images gathered for any model: in order, and shuffled for training
    real = train.Batches.__getitem__

    def counting(self, i):
        batch = real(self, i)
        if self.x.dtype == np.uint8:
            drawn[self.shuffle] += len(batch[0] if isinstance(batch, tuple) else batch)
        return batch

    monkeypatch.setattr(train.Batches, "__getitem__", counting)
    config = RunConfig(tiny.name, model="tiny-transfer", folds=2, epochs=2, patience=5, batch_size=8,
                       image_size=24, weights="none", workers=1)
    outcome = pipeline.submit(config)
    cache = pipeline.load_data(pipeline.resolve(config))[1]
    assert all(r.epochs == 2 for r in outcome.fold_results)
    assert drawn[False] == len(cache.train_x) + 2 * len(cache.test_x)  # once per run: train, test, flipped test
    assert drawn[True] >= 2 * len(cache.train_x)  # each epoch, each fold's training half (augmented)

    folds = pipeline.folds.load_or_make(tiny, cache, 2, config.seed)
    full = models.build(tiny_transfer, 24, 3, "multiclass", tiny.augment, config.seed, "none", config.seed)
    full.load_weights(outcome.run.folder / "fold0" / "model.weights.h5")
    val = np.asarray(cache.train_x)[cache.train_rows[folds == 0]]
    np.testing.assert_allclose(np.load(outcome.run.folder / "fold0" / "oof.npy"), full.predict(val, verbose=0),
                               atol=1e-5)
    test = np.asarray(cache.test_x)
    views = [full.predict(test, verbose=0), full.predict(test[:, :, ::-1], verbose=0)]
    np.testing.assert_allclose(np.load(outcome.run.folder / "fold0" / "test.npy"), np.mean(views, axis=0),
                               atol=1e-5)


def test_slow_saves_are_spaced_out(tmp_path, monkeypatch):
    """A save that takes 5 s waits 50 s for the next (SAVE_SHARE 0.1): vgg16's weights take seconds to write."""
    import keras

    clock = [0.0]
    monkeypatch.setattr(checkpoint.time, "monotonic", lambda: clock[0])
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    real_save = model.save_weights

    def slow_save(path):
        real_save(path)
        clock[0] += 5

    model.save_weights = slow_save
    early = keras.callbacks.EarlyStopping()
    early.set_model(model)
    early.on_train_begin()
    saver = checkpoint.EpochCheckpoint(tmp_path / "backup", early)
    saver.set_model(model)
    saver.on_train_begin()
    saved = []
    for epoch in range(8):  # 10 s an epoch
        clock[0] += 10
        saver.on_epoch_end(epoch, {"loss": 1.0})
        saved.append(saver._load()["epoch"])
    assert saved == [1, 1, 1, 1, 1, 6, 6, 6]


def _datasets(f) -> list:
    """(shape, dtype) of every array in a weights file (Keras numbers layer names per process)."""
    found = []
    f.visititems(lambda name, obj: found.append((obj.shape, str(obj.dtype))) if isinstance(obj, h5py.Dataset) else None)
    return sorted(found)
