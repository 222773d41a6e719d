"""Cached-feature k-fold: same out-of-fold predictions as the full frozen model, features computed once."""
import types

import numpy as np
import pytest

from harness import features, models, pipeline, train
from harness.config import RunConfig
from harness.errors import HarnessError
from conftest import folder_competition, registered


def _config(comp, **kw):
    base = dict(model="tiny-transfer", folds=2, epochs=2, batch_size=8, image_size=24, seed=3, weights="none")
    return RunConfig(comp.name, **{**base, **kw})


def test_cached_features_match_the_full_frozen_model(tiny_transfer):
    with registered(folder_competition(name="plain", augment=())) as comp:
        full = pipeline.submit(_config(comp))
        cached = pipeline.submit(_config(comp, cached_features=True))
    oof_full = np.load(full.run.folder / "oof.npy")
    oof_cached = np.load(cached.run.folder / "oof.npy")
    np.testing.assert_allclose(oof_cached, oof_full, atol=1e-5)
    np.testing.assert_allclose(np.load(cached.run.folder / "test.npy"), np.load(full.run.folder / "test.npy"),
                               atol=1e-5)
    assert [r.epochs for r in cached.fold_results] == [r.epochs for r in full.fold_results]


def test_features_are_cached_beside_the_images_with_flipped_test(tiny_transfer, capsys):
    with registered(folder_competition(name="flips", augment=("flip",))) as comp:
        pipeline.submit(_config(comp, cached_features=True, epochs=1))
        folder = next((pipeline.paths.cache_dir(comp.name, 24) / "features").iterdir())
        assert folder.name == "tiny-transfer-none-seed3"
        assert sorted(p.name for p in folder.glob("*.npy")) == ["test.npy", "test_flip.npy", "train.npy"]
        assert "features: train, test, test_flip" in capsys.readouterr().out
        pipeline.submit(_config(comp, cached_features=True, epochs=1, seed=3, patience=2))  # another run
        assert "features:" not in capsys.readouterr().out  # reused, not recomputed


def test_cached_features_refuse_models_without_backbone(tiny):
    with pytest.raises(HarnessError, match="needs a model with a frozen backbone"):
        pipeline.train(RunConfig(tiny.name, model="small-cnn", folds=2, epochs=1, cached_features=True))
    with pytest.raises(HarnessError, match="cannot be cached"):
        RunConfig(tiny.name, fine_tune=1, cached_features=True)



def test_one_head_serves_every_fold_reset_as_if_built_anew(tiny_transfer):
    """Folds share one compiled head (traced once); each fold starts from exactly a fresh build for its seed."""
    def build(seed):
        return models.build_head(tiny_transfer, (16,), 3, "multiclass", seed)

    head = features.Head(build, lambda m: train.compile_model(m, types.SimpleNamespace(task="multiclass"), 1e-2))
    rng = np.random.default_rng(0)
    first = head.fresh(1)
    first.fit(rng.normal(size=(32, 16)), rng.integers(0, 3, 32), epochs=1, verbose=0)
    traced = first.train_function
    second = head.fresh(2)
    assert second is first and second.train_function is traced
    for got, want in zip(second.variables, build(2).variables):  # weights and dropout seed states
        np.testing.assert_array_equal(np.asarray(got), np.asarray(want))
    state = {v.name: np.asarray(v) for v in second.optimizer.variables}
    assert state.pop("learning_rate") == np.float32(1e-2)
    assert all(not v.any() for v in state.values()), "the optimizer starts afresh: step 0, no moments"
