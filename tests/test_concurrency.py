"""Several processes at once: `train --fold i` jobs sharing one run, two submits, many leaderboard writers.
The leaderboard ends consistent, no row is lost, and nobody sees "database is locked"."""
import json
import multiprocessing
import sqlite3

from clirun import FAST, cli, start
from harness import leaderboard

WRITERS, ROWS_EACH = 8, 25


def test_fold_jobs_and_two_submits_at_once(tmp_path):
    home = tmp_path / "home"
    folds = ("--folds", "3", *FAST[2:])  # FAST with 3 folds instead of 2
    jobs = [start(home, "train", "fx-multi", *folds, "--epochs", "1", "--fold", f, "--run-id", "shared")
            for f in range(3)]
    jobs += [start(home, "submit", "fx-binary", *FAST, "--epochs", "1", "--run-id", f"seed{s}", "--seed", s)
             for s in (1, 2)]
    codes = [job.wait(timeout=400) for job in jobs]
    logs = "".join(p.read_text() for p in tmp_path.glob("cli-*.log"))
    assert codes == [0] * 5, logs[-3000:]
    assert "database is locked" not in logs and "Traceback" not in logs

    predicted = cli(home, "predict", "fx-multi", "--run-id", "shared")
    assert predicted.returncode == 0, predicted.stderr[-2000:]
    run = home / "runs" / "fx-multi" / "shared"
    assert sorted(json.loads((run / f"fold{f}" / "result.json").read_text())["status"] for f in range(3)) \
        == ["done"] * 3
    rows = _rows(home)
    assert sorted((r["competition"], r["run_id"]) for r in rows) == [
        ("fx-binary", "seed1"), ("fx-binary", "seed2"), ("fx-multi", "shared")]
    multi = next(r for r in rows if r["competition"] == "fx-multi")
    assert len(json.loads(multi["fold_scores"])) == 3 and None not in json.loads(multi["fold_scores"])
    lines = (home / "submissions" / "fx-multi" / "shared.csv").read_text().splitlines()
    assert lines[0] == "id,label" and len(lines) == 1 + 5


def _write_rows(worker: int) -> None:
    for n in range(ROWS_EACH):
        leaderboard.record(competition="stress", run_id=f"w{worker}-{n}", model="m", metric="accuracy",
                           greater_is_better=True, folds=2, fold_scores=[0.5, 0.5], oof_score=n / 100,
                           test_score=None, config={"seed": worker}, extra_scores={}, wall_time=1.0,
                           submission="x.csv")
        if n % 5 == 0:
            leaderboard.set_public("stress", f"w{worker}-{n}", score=0.1)


def test_many_leaderboard_writers_lose_no_row(home):
    leaderboard.connect().close()  # created once, WAL set, before the writers start
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_write_rows, args=(w,)) for w in range(WRITERS)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs] == [0] * WRITERS
    rows = leaderboard.rows("stress")
    assert len(rows) == WRITERS * ROWS_EACH
    assert len({r["run_id"] for r in rows}) == WRITERS * ROWS_EACH
    assert sum(r["public_score"] is not None for r in rows) == WRITERS * ROWS_EACH // 5
    with sqlite3.connect(home / "leaderboard.sqlite") as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def _rows(home):
    with sqlite3.connect(home / "leaderboard.sqlite") as conn:
        conn.row_factory = sqlite3.Row
        return [dict(r) for r in conn.execute("SELECT * FROM runs")]
