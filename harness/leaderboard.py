"""The local leaderboard: one SQLite row per run, ranked in the metric's direction as Kaggle ranks.

WAL journal and a busy timeout let several processes record runs at once without losing a row. Columns are
declared once below; a database made by an older version gets the missing ones added (ALTER TABLE) when opened,
so adding a column is one line here.
"""
import json
import math
import sqlite3
import time
from contextlib import closing

from harness import paths, timing
from harness.errors import HarnessError

# (name, SQL declaration). A column added later must be NULL-able or carry a DEFAULT, so old rows stay valid.
COLUMN_DECLS = (
    ("id", "INTEGER PRIMARY KEY AUTOINCREMENT"),
    ("competition", "TEXT NOT NULL"),
    ("run_id", "TEXT NOT NULL"),
    ("model", "TEXT NOT NULL"),
    ("metric", "TEXT NOT NULL"),
    ("greater_is_better", "INTEGER NOT NULL"),
    ("folds", "INTEGER NOT NULL"),
    ("fold_scores", "TEXT NOT NULL"),
    ("oof_score", "REAL"),
    ("test_score", "REAL"),
    ("public_score", "REAL"),
    ("public_error", "TEXT"),
    ("extra_scores", "TEXT NOT NULL DEFAULT '{}'"),
    ("config", "TEXT NOT NULL"),
    ("wall_time", "REAL"),
    ("stage_seconds", "TEXT NOT NULL DEFAULT '{}'"),  # where the time went: {stage: seconds}
    ("submission", "TEXT"),
    ("created", "TEXT NOT NULL"),
)
SCHEMA = ("CREATE TABLE IF NOT EXISTS runs (\n    " + ",\n    ".join(f"{n} {d}" for n, d in COLUMN_DECLS)
          + ",\n    UNIQUE (competition, run_id)\n)")
COLUMNS = ("competition", "run_id", "model", "metric", "greater_is_better", "folds", "fold_scores", "oof_score",
           "test_score", "extra_scores", "config", "wall_time", "stage_seconds", "submission")  # what record() takes
TIMEOUT_S = 30.0


def connect(path=None) -> sqlite3.Connection:
    path = path or paths.leaderboard_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, timeout=TIMEOUT_S)
    conn.execute(f"PRAGMA busy_timeout = {int(TIMEOUT_S * 1000)}")
    if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
        conn.execute("PRAGMA journal_mode = WAL")
    conn.execute(SCHEMA)
    _add_missing_columns(conn)
    conn.row_factory = sqlite3.Row
    return conn


def _add_missing_columns(conn: sqlite3.Connection) -> None:
    """Bring a table made by an older version up to COLUMN_DECLS; another process may be doing the same."""
    have = {row[1] for row in conn.execute("PRAGMA table_info(runs)")}
    for name, decl in COLUMN_DECLS:
        if name in have:
            continue
        try:
            with conn:
                conn.execute(f"ALTER TABLE runs ADD COLUMN {name} {decl}")
        except sqlite3.OperationalError as e:
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
    """Runs of a competition, best first: by hidden-test score where known, then by out-of-fold score, then the
    runs with no score at all, whichever way the metric points."""
    with closing(connect()) as conn:
        found = [dict(r) for r in conn.execute("SELECT * FROM runs WHERE competition = ?", (competition,))]

    def key(r):
        score, basis = ranking_score(r)
        if basis is None:
            return (2, 0.0, r["id"])
        return (0 if basis == "test" else 1, -score if r["greater_is_better"] else score, r["id"])
    return sorted(found, key=key)


def ranking_score(row: dict):
    """(score, "test" | "oof") a run is ranked by, or (None, None) when it has neither."""
    for basis in ("test", "oof"):
        score = row[f"{basis}_score"]
        if score is not None and not math.isnan(score):
            return score, basis
    return None, None


def fold_stats(row: dict):
    """(mean, standard deviation, count) of a run's finished folds' scores; (None, None, 0) when it has none."""
    scores = [s for s in json.loads(row["fold_scores"]) if s is not None and not math.isnan(s)]
    if not scores:
        return None, None, 0
    mean = sum(scores) / len(scores)
    return mean, math.sqrt(sum((s - mean) ** 2 for s in scores) / len(scores)), len(scores)


def spread(row: dict) -> str:
    """'mean ± std' of the fold scores, as the tables show it; '-' without any."""
    mean, std, n = fold_stats(row)
    return "-" if not n else f"{mean:.4f} ± {std:.4f}"


def blend_gains(found: list) -> dict:
    """{blend run id: its score minus its best member's, positive when better}, on the score both are ranked by."""
    by_id = {r["run_id"]: r for r in found}
    gains = {}
    for r in found:
        members = [by_id.get(m) for m in blend_members(r)]
        if not members or None in members:
            continue
        score, basis = ranking_score(r)
        theirs = [m[f"{basis}_score"] for m in members] if basis else [None]
        if None in theirs:
            continue
        best = max(theirs) if r["greater_is_better"] else min(theirs)
        gains[r["run_id"]] = (score - best) if r["greater_is_better"] else (best - score)
    return gains


def blend_members(row: dict) -> list:
    """The run ids a blend row was made from; [] for a trained run."""
    config = json.loads(row["config"])
    return list(config.get("blend", [])) if isinstance(config, dict) else []


def format_table(competition: str, limit: int = 20) -> str:
    found = rows(competition)
    if not found:
        return f"leaderboard {competition}: no runs yet"
    metric = found[0]["metric"]
    direction = "higher" if found[0]["greater_is_better"] else "lower"
    gains = blend_gains(found)
    shown = found[:limit]
    run_w, model_w = (max(len(h), *(len(r[k]) for r in shown)) for h, k in (("run", "run_id"), ("model", "model")))
    lines = [f"leaderboard {competition} ({metric}, {direction} is better; gain: a blend against its best member)",
             f"{'#':>3}  {'run':<{run_w}} {'model':<{model_w}} {'folds mean ± std':>18} {'oof':>8} {'test':>8} "
             f"{'public':>8} {'gain':>8} {'time':>21}  date"]
    for rank, r in enumerate(shown, start=1):
        gain = f"{gains[r['run_id']]:+.4f}" if r["run_id"] in gains else "-"
        scores = " ".join(f"{number(r[k]):>8}" for k in ("oof_score", "test_score", "public_score"))
        lines.append(f"{rank:>3}  {r['run_id']:<{run_w}} {r['model']:<{model_w}} {spread(r):>18} {scores} "
                     f"{gain:>8} {time_spent(r):>21}  {r['created']}")
    if len(found) > limit:
        lines.append(f"... and {len(found) - limit} more")
    return "\n".join(lines)


def number(x) -> str:
    """A score as the tables show it; '-' when there is none."""
    return "-" if x is None else f"{x:.4f}"


def time_spent(row) -> str:
    """The run's wall time, and how much of it went into training its folds where that was recorded."""
    if row["wall_time"] is None:
        return "-"
    trained = sum(s for name, s in json.loads(row["stage_seconds"]).items() if name.startswith(timing.FOLD))
    return duration(row["wall_time"]) + (f" (train {duration(trained)})" if trained else "")


def duration(seconds: float) -> str:
    """34s, 5m12s, 2h05m: as short as a table column needs."""
    s = round(seconds)
    if s < 60:
        return f"{s}s"
    return f"{s // 60}m{s % 60:02d}s" if s < 3600 else f"{s // 3600}h{s % 3600 // 60:02d}m"
