"""`harness blend`: mean and OOF-fitted weights over finished runs, scored and ranked like a run."""
import numpy as np
import pytest

from harness import blend, cli, leaderboard, pipeline
from harness.config import RunConfig
from harness.errors import HarnessError


def test_fit_weights_prefer_the_better_run():
    y = np.array([0, 1, 2, 1, 0, 2] * 5)
    good = np.eye(3)[y] * 0.8 + 0.2 / 3
    noise = np.full_like(good, 1 / 3)
    w = blend.fit_weights(np.stack([noise, good]), y, "multiclass")
    assert w[1] > 0.9 and abs(w.sum() - 1) < 1e-6
    wb = blend.fit_weights(np.stack([good[:, 1:2], noise[:, :1]]), (y == 1).astype(int), "binary")
    assert wb[0] > wb[1]
    grades = y[:, None] + np.random.default_rng(0).normal(0, 0.2, (len(y), 1))  # a regressed grade, not a probability
    wo = blend.fit_weights(np.stack([np.full_like(grades, 1.0), grades]), y, "ordinal")
    assert wo[1] > 0.9


def test_blend_two_runs_through_the_cli(tiny, capsys):
    ids = []
    for seed in (1, 2):
        outcome = pipeline.submit(RunConfig(tiny.name, folds=2, epochs=1, batch_size=8, seed=seed, image_size=24))
        ids.append(outcome.run.run_id)
    assert cli.main(["blend", tiny.name, *ids, "--method", "fit"]) == 0
    out = capsys.readouterr().out
    assert "blend" in out and "hidden-test accuracy" in out
    rows = leaderboard.rows(tiny.name)
    assert len(rows) == 3 and any(r["model"] == "blend:small-cnn+small-cnn" for r in rows)
    mean = blend.blend(tiny.name, ids)
    assert mean["weights"] == [0.5, 0.5]
    a, b = (np.load(pipeline.paths.runs_dir(tiny.name) / i / "test.npy") for i in ids)
    np.testing.assert_allclose(np.load(pipeline.paths.runs_dir(tiny.name) / mean["run_id"] / "test.npy"),
                               (a + b) / 2, rtol=1e-6)
    with pytest.raises(HarnessError, match="at least two runs"):
        blend.blend(tiny.name, ids[:1])
