from harness import leaderboard


def _row(run_id, test, oof=0.5, greater=True, comp="c"):
    return dict(competition=comp, run_id=run_id, model="m", metric="accuracy" if greater else "log_loss",
                greater_is_better=greater, folds=2, fold_scores=[oof, oof], oof_score=oof, test_score=test,
                extra_scores={}, config={"seed": 1}, wall_time=1.0, submission="x.csv")


def test_ranked_in_the_metric_direction():
    for run_id, score in (("a", 0.7), ("b", 0.9), ("c", 0.8)):
        leaderboard.record(**_row(run_id, score))
        leaderboard.record(**_row(run_id, score, greater=False, comp="loss"))
    assert [r["run_id"] for r in leaderboard.rows("c")] == ["b", "c", "a"]
    assert [r["run_id"] for r in leaderboard.rows("loss")] == ["a", "c", "b"]


def test_a_run_recorded_twice_is_one_row_and_public_score_is_kept():
    leaderboard.record(**_row("a", 0.7))
    leaderboard.record(**_row("a", 0.75))
    leaderboard.set_public("c", "a", 0.74)
    (row,) = leaderboard.rows("c")
    assert row["test_score"] == 0.75 and row["public_score"] == 0.74
    assert "0.7400" in leaderboard.format_table("c")


def test_wal_mode():
    with leaderboard.connect() as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
