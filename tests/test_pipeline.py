"""End to end on the embedded `digits` competition, the way `make submit` runs it."""
import csv
import json

from harness import leaderboard, paths, pipeline
from harness.cli import main
from harness.config import RunConfig


def _csv_rows(path):
    with open(path, newline="") as f:
        return list(csv.reader(f))


def test_submit_digits_twice(capsys):
    argv = ["submit", "digits", "--folds", "2", "--epochs", "2", "--seed", "7"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "hidden-test accuracy" in out and "out-of-fold accuracy" in out and "leaderboard digits" in out
    assert "fold 2/2: " in out and "time spent: download " in out
    (first_row,) = leaderboard.rows("digits")
    rows = _csv_rows(first_row["submission"])
    solution = (paths.private_dir("digits") / "solution.csv").read_text().splitlines()
    assert rows[0] == ["id", "label"] and len(rows) == len(solution)
    assert {r[0] for r in rows[1:]} == {line.split(",")[0] for line in solution[1:]}
    assert all(r[1] in "0123456789" and len(r[1]) == 1 for r in rows[1:])
    run_folder = paths.runs_dir("digits") / first_row["run_id"]
    for name in ("config.json", "curves.png", "confusion.png", "oof.npy", "test.npy", "summary.json",
                 "fold0/model.weights.h5", "fold1/result.json"):
        assert (run_folder / name).exists(), name
    stages = json.loads((run_folder / "summary.json").read_text())["stage_seconds"]
    assert set(stages) == {"download", "prepare", "train fold 1", "predict", "train fold 2", "write/score"}
    assert json.loads(first_row["stage_seconds"]) == stages
    assert first_row["test_score"] is not None and len(eval(first_row["fold_scores"])) == 2

    assert main([*argv, "--quiet"]) == 0  # same seed: cache reused, a second row, the same bytes
    out, err = capsys.readouterr()
    assert "image cache reused" in out and "fold 2/2: " not in out and "epoch 1/2" not in out and err == ""
    second, = [r for r in leaderboard.rows("digits") if r["run_id"] != first_row["run_id"]]
    with open(first_row["submission"], "rb") as a, open(second["submission"], "rb") as b:
        assert a.read() == b.read()
    assert second["oof_score"] == first_row["oof_score"]


def test_an_unfinished_run_is_resumed_not_restarted(tiny):
    config = RunConfig(tiny.name, folds=2, epochs=1, image_size=24)
    run, *_ = pipeline.train(config, only_fold=0)
    outcome = pipeline.submit(config)
    assert outcome.run.run_id == run.run_id and outcome.run.resumed
    assert len(outcome.fold_results) == 2
