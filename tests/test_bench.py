"""`harness bench --quick`: it runs end to end and writes valid JSON. No timing is asserted."""
import json

import numpy as np

from harness import bench, bench_seed, cli


def test_photo_is_a_realistic_jpeg(tmp_path):
    train, test = bench.ensure_images(tmp_path, 4, 1, workers=1)
    assert [p.name for p in train] == ["cat.0.jpg", "dog.1.jpg", "cat.2.jpg", "dog.3.jpg"]
    assert test[0].relative_to(tmp_path).as_posix() == "test1/1.jpg"
    sizes = [p.stat().st_size for p in train + test]
    assert all(15_000 < s < 50_000 for s in sizes), sizes
    first = train[0].read_bytes()
    bench.ensure_images(tmp_path, 4, 1, workers=1)  # a second call reuses the files
    assert train[0].read_bytes() == first


def test_seed_generator_yields_resized_batches(tmp_path):
    train, _ = bench.ensure_images(tmp_path, 3, 0, workers=1)
    batches = bench_seed.generator(train, np.arange(3.0), 16, batch_size=2, shuffle=True, seed=0)
    xb, yb = next(batches)
    assert xb.shape == (2, 16, 16, 3) and xb.dtype == np.uint8 and yb.shape == (2,)
    assert next(batches)[0].shape == (1, 16, 16, 3)


def test_exponent_of_linear_work_is_one():
    assert abs(bench.exponent([100, 200, 400], [1.0, 2.0, 4.0]) - 1.0) < 1e-9


def test_quick_bench_writes_results(home, capsys):
    assert cli.main(["bench", "--quick"]) == 0
    result = json.loads((home / "bench" / "results.json").read_text())
    assert result["quick"] is True and result["commit"] and result["machine"]["cores"] >= 1
    names = [r["name"] for r in result["rows"]]
    assert len(names) == 5 and names[3].startswith("cached features")
    for r in result["rows"]:
        assert {"name", "goal", "ratio", "met", "details"} <= set(r)
    assert "| 1 | prepare vs decode limit |" in capsys.readouterr().out


def test_features_row_comes_from_its_module_when_present(monkeypatch, tmp_path):
    import sys
    import types

    import harness

    fake = types.ModuleType("harness.bench_features")
    fake.measure = lambda workdir, quick: {"name": "cached features", "goal": ">= 20x", "ratio": 25.0, "met": True,
                                           "details": {"quick": quick, "workdir": str(workdir)}}
    monkeypatch.setitem(sys.modules, "harness.bench_features", fake)
    monkeypatch.setattr(harness, "bench_features", fake, raising=False)  # the real module may be loaded already
    result = bench.row_features(tmp_path, bench.Plan.make(quick=True))
    assert result["ratio"] == 25.0 and result["figure"] == "25.0x" and result["details"]["quick"] is True
