"""The local leaderboard: ranking in the metric's direction, fold spread, blend gains, and schema upgrades."""
import sqlite3
from contextlib import closing

import pytest

from harness import leaderboard, paths


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


def test_runs_without_a_score_rank_last_in_both_directions():
    for greater, comp in ((True, "up"), (False, "down")):
        leaderboard.record(**_row("none", None, oof=None, greater=greater, comp=comp))
        leaderboard.record(**_row("oof-only", None, oof=0.3, greater=greater, comp=comp))
        leaderboard.record(**_row("tested", 0.5, greater=greater, comp=comp))
        assert [r["run_id"] for r in leaderboard.rows(comp)] == ["tested", "oof-only", "none"]


def test_fold_spread_and_blend_gain_in_the_table():
    leaderboard.record(**{**_row("a", 0.70), "fold_scores": [0.6, 0.8]})
    leaderboard.record(**_row("b", 0.80))
    leaderboard.record(**{**_row("blend", 0.83), "config": {"blend": ["a", "b"], "method": "fit"}})
    leaderboard.record(**{**_row("la", 0.30, greater=False, comp="loss"), "fold_scores": [0.2, None, 0.4]})
    leaderboard.record(**{**_row("lb", 0.25, greater=False, comp="loss"), "config": {"blend": ["la"]}})
    (a,) = [r for r in leaderboard.rows("c") if r["run_id"] == "a"]
    assert leaderboard.fold_stats(a) == pytest.approx((0.7, 0.1, 2))
    assert leaderboard.blend_gains(leaderboard.rows("c")) == {"blend": pytest.approx(0.03)}
    assert leaderboard.blend_gains(leaderboard.rows("loss")) == {"lb": pytest.approx(0.05)}  # lower is better
    table = leaderboard.format_table("c")
    assert "0.7000 ± 0.1000" in table and "+0.0300" in table
    assert "0.3000 ± 0.1000" in leaderboard.format_table("loss")  # the failed fold (None) is left out


def test_an_older_database_gets_the_missing_columns():
    """A column added to COLUMN_DECLS reaches databases made before it, and old rows keep their values."""
    path = paths.leaderboard_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    with closing(sqlite3.connect(path)) as conn, conn:
        conn.execute("CREATE TABLE runs (id INTEGER PRIMARY KEY AUTOINCREMENT, competition TEXT NOT NULL, "
                     "run_id TEXT NOT NULL, model TEXT NOT NULL, metric TEXT NOT NULL, greater_is_better INTEGER "
                     "NOT NULL, folds INTEGER NOT NULL, fold_scores TEXT NOT NULL, oof_score REAL, test_score REAL, "
                     "config TEXT NOT NULL, created TEXT NOT NULL, UNIQUE (competition, run_id))")
        conn.execute("INSERT INTO runs (competition, run_id, model, metric, greater_is_better, folds, fold_scores, "
                     "oof_score, test_score, config, created) VALUES ('c', 'old', 'm', 'accuracy', 1, 2, '[0.5]', "
                     "0.5, 0.6, '{}', '2020-01-01')")
    leaderboard.record(**_row("new", 0.7))
    leaderboard.set_public("c", "old", 0.61)
    with closing(leaderboard.connect()) as conn:
        columns = [row[1] for row in conn.execute("PRAGMA table_info(runs)")]
    assert columns[:12] == ["id", "competition", "run_id", "model", "metric", "greater_is_better", "folds",
                            "fold_scores", "oof_score", "test_score", "config", "created"]
    assert set(columns) == {name for name, _ in leaderboard.COLUMN_DECLS}
    old, = [r for r in leaderboard.rows("c") if r["run_id"] == "old"]
    assert old["extra_scores"] == "{}" and old["public_score"] == 0.61 and old["wall_time"] is None
    assert [r["run_id"] for r in leaderboard.rows("c")] == ["new", "old"]
    leaderboard.connect().close()  # opening again adds nothing and fails on nothing
