"""The benchmarks (benchmarks/, beside the product): the quick modes run end to end and write valid JSON.

No timing is asserted: only that every figure is there and sane.
"""
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest

from benchmarks import clock, gpu, photos, ratios, seed_pipeline
from harness import cli, models

ROOT = Path(__file__).resolve().parents[1]


def test_photo_is_a_realistic_jpeg(tmp_path):
    train, test = photos.ensure_images(tmp_path, 4, 1, workers=1)
    assert [p.name for p in train] == ["cat.0.jpg", "dog.1.jpg", "cat.2.jpg", "dog.3.jpg"]
    assert test[0].relative_to(tmp_path).as_posix() == "test1/1.jpg"
    sizes = [p.stat().st_size for p in train + test]
    assert all(15_000 < s < 50_000 for s in sizes), sizes
    first = train[0].read_bytes()
    photos.ensure_images(tmp_path, 4, 1, workers=1)  # a second call reuses the files
    assert train[0].read_bytes() == first


def test_seed_generator_yields_resized_batches(tmp_path):
    train, _ = photos.ensure_images(tmp_path, 3, 0, workers=1)
    batches = seed_pipeline.generator(train, np.arange(3.0), 16, batch_size=2, shuffle=True, seed=0)
    xb, yb = next(batches)
    assert xb.shape == (2, 16, 16, 3) and xb.dtype == np.uint8 and yb.shape == (2,)
    assert next(batches)[0].shape == (1, 16, 16, 3)


def test_exponent_of_linear_work_is_one():
    assert abs(ratios.exponent([100, 200, 400], [1.0, 2.0, 4.0]) - 1.0) < 1e-9


def test_quick_bench_writes_results(home, capsys):
    assert cli.main(["bench", "--quick"]) == 0
    result = json.loads((home / "bench" / "results.json").read_text())
    assert result["quick"] is True and result["commit"] and result["machine"]["cores"] >= 1
    names = [r["name"] for r in result["rows"]]
    assert len(names) == 6 and names[3].startswith("cached features") and "(JAX)" in names[5]
    for r in result["rows"]:
        assert {"name", "goal", "ratio", "met", "details"} <= set(r)
    step = result["rows"][5]["details"]
    assert step["backend"] == "jax" and step["batch_size"] == 4 and step["size"] == 32
    for side in ("harness", "bare"):
        assert step[side]["epoch_s"] > 0 and step[side]["steps"] == 4 and step[side]["steady"] is True
    assert step["bare"]["jit"] is True and result["rows"][5]["ratio"] > 0
    assert "| 1 | prepare vs decode limit |" in capsys.readouterr().out


def test_features_row_formats_what_its_module_measured(monkeypatch, tmp_path):
    from benchmarks import cached_features

    monkeypatch.setattr(cached_features, "measure", lambda workdir, quick: {
        "name": "cached features", "goal": ">= 20x", "ratio": 25.0, "met": True, "details": {"quick": quick}})
    result = ratios.row_features(tmp_path, ratios.Plan.make(quick=True))
    assert result["ratio"] == 25.0 and result["figure"] == "25.0x" and result["details"]["quick"] is True


def test_clock_times_fits_and_predicts_from_outside():
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    x, y = np.zeros((8, 3), "float32"), np.zeros((8, 1), "float32")
    fit = keras.Model.fit
    with clock.watch() as seen:
        model.fit(x, y, batch_size=4, epochs=3, validation_data=(x, y), verbose=0)
        model.predict(x[:5], verbose=0)
    assert keras.Model.fit is fit  # put back
    (record,), (call,) = seen.fits, seen.predicts
    assert record.model is model and record.steps == 2 and len(record.epochs) == 3 and call.rows == 5
    for e in record.epochs:
        assert e.begin < e.validation_begin < e.callbacks_begin <= e.end
    figures = clock.fit_figures(record, images=8)
    assert figures["steady"] and figures["epochs"] == 3 and figures["train_img_s"] > 0
    first, *steady = figures["epoch_seconds"]
    assert figures["epoch_s"] == statistics.median(steady)  # the first epoch (tracing) is left out
    assert figures["compile_s"] == max(0.0, first - figures["epoch_s"])


def test_gpu_plan_covers_every_registry_model_and_refuses_unknown_ones():
    from harness.errors import HarnessError

    assert gpu.Plan.make().models == tuple(models.MODELS.names())
    assert gpu.Plan.make(models="small-cnn, resnet50").models == ("small-cnn", "resnet50")
    assert gpu.Plan.make(images=0).e2e_images == 0
    with pytest.raises(HarnessError, match="model='nope'"):
        gpu.Plan.make(models="small-cnn,nope")


@pytest.mark.parametrize("argv, said", [(["bench", "--models", "small-cnn"], "add --gpu"),
                                         (["bench", "--gpu", "--models", "nope"], "model='nope'")])
def test_bench_mistakes_are_one_sentence(argv, said, capsys):
    assert cli.main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert said in err and len(err.splitlines()) == 1


def test_bench_outside_a_checkout_says_where_it_lives(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(cli, "__file__", str(tmp_path / "site-packages" / "harness" / "cli.py"))
    assert cli.main(["bench", "--quick"]) == 2
    assert "need the source checkout" in capsys.readouterr().err


GPU_QUICK = """
import json, sys

class NoTensorFlow:
    '''A machine without TensorFlow, as the lent GPU machines are: importing it fails.'''
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "tensorflow":
            raise ModuleNotFoundError(f"No module named {name!r}")

sys.meta_path.insert(0, NoTensorFlow())
from keras import layers
from harness import cli, models
from tests.conftest import tiny_transfer_spec

models.register_model("tiny-scratch", image_size=16)(lambda x: layers.GlobalAveragePooling2D()(x))
models.MODELS.add("tiny-transfer", tiny_transfer_spec())
code = cli.main(["bench", "--gpu", "--quick", "--models", "tiny-scratch,tiny-transfer"])
print("RESULT", json.dumps({"code": code, "tensorflow": "tensorflow" in sys.modules}))
"""


def test_gpu_bench_quick_runs_under_jax_without_tensorflow(tmp_path):
    """`harness bench --gpu --quick` on CPU under JAX, with TensorFlow made unimportable, for two stand-in
    models (one from scratch, one frozen backbone; every real model at once would take minutes here)."""
    env = {**os.environ, "KERAS_BACKEND": "jax", "HARNESS_HOME": str(tmp_path),
           "PYTHONPATH": os.pathsep.join([str(ROOT), *sys.path])}
    done = subprocess.run([sys.executable, "-c", GPU_QUICK], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads(done.stdout.split("RESULT ")[1]) == {"code": 0, "tensorflow": False}
    result = json.loads((tmp_path / "bench" / "gpu.json").read_text())
    assert result["quick"] is True and result["settings"]["backend"] == "jax"
    assert result["settings"]["nvidia_smi"] is False or result["settings"]["device"]
    assert list(result["models"]) == ["tiny-scratch", "tiny-transfer"]
    for name, m in result["models"].items():
        assert "error" not in m, m
        harness, bare = m["harness"], m["bare"]
        for side in (harness, bare):
            for key in ("train_img_s", "epoch_s", "step_ms"):
                assert side[key] > 0, (name, key, side[key])
            assert side["compile_s"] >= 0 and side["batch_size"] == 8 and side["policy"] == "float32"
        assert harness["status"] == "done" and harness["checkpoint_s"] >= 0 and harness["test_views"] == 2
        assert harness["predict_img_s"] > 0 and harness["predict_tta_img_s"] > 0 and m["harness_vs_bare"] > 0
        assert bare["jit"] is True and isinstance(harness["jit"], bool) and harness["steps_per_execution"] >= 1
    e2e = result["end_to_end"]
    assert e2e["model"] == "tiny-scratch" and e2e["folds"] == 2 and e2e["seconds"] > 0 and e2e["met"] is None
    assert len(e2e["fold_seconds"]) == 2 and e2e["decoded"] == e2e["train_images"] + e2e["test_images"]


def test_gpu_table_shows_a_failed_model_beside_the_measured_ones():
    side = {"train_img_s": 900.0, "predict_img_s": 2000.0, "predict_tta_img_s": None, "compile_s": 12.0,
            "checkpoint_s": 0.4, "batch_size": 64, "jit": True, "steps_per_execution": 8, "policy": "mixed_float16",
            "gpu": {"util_mean": 87.0}}
    result = {"settings": {"device": "NVIDIA H100", "backend": "jax", "accelerator": "gpu"}, "end_to_end": None,
              "models": {"resnet50": {"harness": side, "bare": {"train_img_s": 1000.0}, "harness_vs_bare": 0.9},
                         "vgg16": {"error": "XlaRuntimeError: RESOURCE_EXHAUSTED: out of memory"}}}
    lines = gpu.table(result).splitlines()
    assert lines[0] == "NVIDIA H100 (jax, gpu)"
    resnet, vgg = lines[-2:]
    assert resnet.startswith("| resnet50 | 900 | 1,000 | 0.90 | 2,000 | - |") and resnet.endswith("| 87 |")
    assert vgg.startswith("| vgg16 | failed: XlaRuntimeError") and vgg.count("|") == resnet.count("|")
