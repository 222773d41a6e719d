"""The local leaderboard: one SQLite row per run, ranked in the metric's direction as Kaggle ranks.

WAL journal and a busy timeout let several processes record runs at once without losing a row.
"""
import json
import sqlite3
import time
from contextlib import closing

from harness import paths, timing
from harness.errors import HarnessError

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    competition TEXT NOT NULL,
    run_id TEXT NOT NULL,
    model TEXT NOT NULL,
    metric TEXT NOT NULL,
    greater_is_better INTEGER NOT NULL,
    folds INTEGER NOT NULL,
    fold_scores TEXT NOT NULL,
    oof_score REAL,
    test_score REAL,
    public_score REAL,
    public_error TEXT,
    extra_scores TEXT NOT NULL DEFAULT '{}',
    config TEXT NOT NULL,
    wall_time REAL,
    stage_seconds TEXT NOT NULL DEFAULT '{}',
    submission TEXT,
    created TEXT NOT NULL,
    UNIQUE (competition, run_id)
)"""
COLUMNS = ("competition", "run_id", "model", "metric", "greater_is_better", "folds", "fold_scores", "oof_score",
           "test_score", "extra_scores", "config", "wall_time", "stage_seconds", "submission")
ADDED = {"stage_seconds": "TEXT NOT NULL DEFAULT '{}'"}  # columns newer than some databases: added on connect
TIMEOUT_S = 30.0


def connect(path=None) -> sqlite3.Connection:
    path = path or paths.leaderboard_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, timeout=TIMEOUT_S)
    conn.execute(f"PRAGMA busy_timeout = {int(TIMEOUT_S * 1000)}")
    if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
        conn.execute("PRAGMA journal_mode = WAL")
    conn.execute(SCHEMA)
    _add_columns(conn)
    conn.row_factory = sqlite3.Row
    return conn


def _add_columns(conn: sqlite3.Connection) -> None:
    """Bring a database written by an older harness up to SCHEMA, keeping its rows."""
    have = {row[1] for row in conn.execute("PRAGMA table_info(runs)")}
    for name, kind in ADDED.items():
        if name not in have:
            try:
                conn.execute(f"ALTER TABLE runs ADD COLUMN {name} {kind}")
            except sqlite3.OperationalError as e:  # another process added it a moment ago
                if "duplicate column" not in str(e):
                    raise


def record(**row) -> int:
    """Insert (or, for a run recorded before, replace) a run's row; returns its id."""
    row = {"stage_seconds": {}, **row}  # a blend has no stages of its own
    values = {k: row[k] for k in COLUMNS}
    for key in ("fold_scores", "extra_scores", "config", "stage_seconds"):
        values[key] = json.dumps(values[key], sort_keys=True)
    values["created"] = time.strftime("%Y-%m-%d %H:%M:%S")
    names = ", ".join(values)
    marks = ", ".join("?" * len(values))
    updates = ", ".join(f"{k} = excluded.{k}" for k in values if k not in ("competition", "run_id"))
    try:
        with closing(connect()) as conn, conn:
            conn.execute(f"INSERT INTO runs ({names}) VALUES ({marks}) "
                         f"ON CONFLICT (competition, run_id) DO UPDATE SET {updates}", tuple(values.values()))
            return conn.execute("SELECT id FROM runs WHERE competition = ? AND run_id = ?",
                                (row["competition"], row["run_id"])).fetchone()[0]
    except sqlite3.OperationalError as e:  # disk full, or locked past the busy timeout
        raise HarnessError(f"Cannot record run {row['run_id']} on the leaderboard {paths.leaderboard_path()}: "
                           f"{e}. Its submission and run folder are written; free disk space (or wait for the "
                           f"other process) and run the same command again.") from None


def set_public(competition: str, run_id: str, score=None, error=None) -> None:
    """Record what Kaggle's public leaderboard said of an uploaded run."""
    with closing(connect()) as conn, conn:
        conn.execute("UPDATE runs SET public_score = ?, public_error = ? WHERE competition = ? AND run_id = ?",
                     (score, error, competition, run_id))


def rows(competition: str) -> list:
    """Runs of a competition, best first: by hidden-test score where known, else by out-of-fold score."""
    with closing(connect()) as conn:
        found = [dict(r) for r in conn.execute("SELECT * FROM runs WHERE competition = ?", (competition,))]
    def key(r):
        score = r["test_score"] if r["test_score"] is not None else r["oof_score"]
        score = float("-inf") if score is None else score
        return (r["test_score"] is None, -score if r["greater_is_better"] else score, r["id"])
    return sorted(found, key=key)


def format_table(competition: str, limit: int = 20) -> str:
    found = rows(competition)
    if not found:
        return f"leaderboard {competition}: no runs yet"
    metric = found[0]["metric"]
    direction = "higher" if found[0]["greater_is_better"] else "lower"
    lines = [f"leaderboard {competition} ({metric}, {direction} is better)",
             f"{'#':>3}  {'run':<34} {'model':<18} {'folds':>5} {'oof':>8} {'test':>8} {'public':>8} "
             f"{'time':>21}  date"]
    for rank, r in enumerate(found[:limit], start=1):
        lines.append(f"{rank:>3}  {r['run_id']:<34} {r['model']:<18} {r['folds']:>5} {_num(r['oof_score']):>8} "
                     f"{_num(r['test_score']):>8} {_num(r['public_score']):>8} {_time(r):>21}  "
                     f"{r['created']}")
    if len(found) > limit:
        lines.append(f"... and {len(found) - limit} more")
    return "\n".join(lines)


def _num(x) -> str:
    return "-" if x is None else f"{x:.4f}"


def _time(row) -> str:
    """The run's wall time, and how much of it went into training its folds where that was recorded."""
    if row["wall_time"] is None:
        return "-"
    trained = sum(s for name, s in json.loads(row["stage_seconds"]).items() if name.startswith(timing.FOLD))
    return _duration(row["wall_time"]) + (f" (train {_duration(trained)})" if trained else "")


def _duration(seconds: float) -> str:
    """34s, 5m12s, 2h05m: as short as a table column needs."""
    s = round(seconds)
    if s < 60:
        return f"{s}s"
    return f"{s // 60}m{s % 60:02d}s" if s < 3600 else f"{s // 3600}h{s % 3600 // 60:02d}m"
