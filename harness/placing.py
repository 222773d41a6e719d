"""Where each run would place on its Kaggle competition's public leaderboard, by Kaggle's medal rules.

`harness leaderboard COMP --kaggle` downloads the leaderboard once into data/<comp>/kaggle/. Each team counts
once, with its best score. A run is placed by its Kaggle public score when it was uploaded, else by its
hidden-test score, else by its out-of-fold score: an estimate, since Kaggle grades other images.
"""
import csv
import math
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

from harness import leaderboard, metrics, paths
from harness.errors import HarnessError

PLACED_ON = {"public": "Kaggle public score", "test": "hidden-test score", "oof": "out-of-fold score (estimate)"}


def medal_positions(teams: int) -> dict:
    """{medal: last position that earns it} among `teams` teams, as kaggle.com/progression sets them.

    Shares of the field are rounded down (never below position 1), as MLE-bench grades."""
    if teams < 1:
        raise ValueError(f"`teams` must be at least 1. Received: teams={teams}")

    def share(fraction):
        return max(1, int(teams * fraction))
    if teams < 100:
        return {"gold": share(0.1), "silver": share(0.2), "bronze": share(0.4)}
    if teams < 250:
        return {"gold": 10, "silver": share(0.2), "bronze": share(0.4)}
    gold = 10 + int(teams * 0.002)
    if teams < 1000:
        return {"gold": gold, "silver": 50, "bronze": 100}
    return {"gold": gold, "silver": share(0.05), "bronze": share(0.1)}


@dataclass(frozen=True)
class Placement:
    rank: int  # 1 + the teams with a strictly better score
    teams: int
    percentile: float  # share of the teams with a strictly worse score, in percent
    medal: str  # "gold" | "silver" | "bronze" | ""


@dataclass(frozen=True)
class Board:
    """A public leaderboard: each team's best score, best first."""
    slug: str
    path: Path
    scores: tuple
    greater_is_better: bool

    @property
    def teams(self) -> int:
        return len(self.scores)

    @property
    def median(self) -> float:
        return statistics.median(self.scores)

    def thresholds(self) -> dict:
        """{medal: the score a run needs to earn it} (the score of the team at the medal's last position)."""
        return {medal: self.scores[pos - 1] for medal, pos in medal_positions(self.teams).items()}

    def place(self, score: float) -> Placement:
        better = sum(1 for s in self.scores if self._better(s, score))
        worse = sum(1 for s in self.scores if self._better(score, s))
        rank = better + 1
        medal = next((m for m, pos in medal_positions(self.teams).items() if rank <= pos), "")
        return Placement(rank, self.teams, 100.0 * worse / self.teams, medal)

    def _better(self, a: float, b: float) -> bool:
        return a > b if self.greater_is_better else a < b


def board_path(comp) -> Path:
    return paths.data_dir(comp.name) / "kaggle" / f"{comp.source.slug}-publicleaderboard.csv"


def fetch(comp, refresh: bool = False) -> Board:
    """The competition's public leaderboard, downloaded through the official client unless kept already."""
    if comp.source.kind != "competition":
        where = {"dataset": f"the Kaggle dataset {comp.source.slug}", "builtin": "files built locally",
                 "local": f"the local folder {comp.source.slug}"}.get(comp.source.kind, comp.source.kind)
        raise HarnessError(f"{comp.name} comes from {where}, not a Kaggle competition, so there is no public "
                           f"leaderboard to place its runs on; drop --kaggle.")
    path = board_path(comp)
    if refresh or not path.exists():
        from harness import kaggle_io  # the kaggle client is imported only when it is needed
        kaggle_io.download_leaderboard(comp.source.slug, path.parent)
    return read(path, comp.source.slug, metrics.get(comp.metric).greater_is_better)


def load(comp):
    """The kept public leaderboard of `comp`, or None when it was never downloaded (nothing is fetched)."""
    if comp.source.kind != "competition" or not board_path(comp).exists():
        return None
    return read(board_path(comp), comp.source.slug, metrics.get(comp.metric).greater_is_better)


def read(path: Path, slug: str, greater_is_better: bool) -> Board:
    """Each team's best score from a leaderboard CSV (TeamId, ..., Score; one row per submission in older files)."""
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        missing = {"TeamId", "Score"} - set(reader.fieldnames or ())
        if missing:
            raise HarnessError(f"{path} lacks the column(s) {sorted(missing)} of Kaggle's leaderboard download. "
                               f"Received: {reader.fieldnames}; delete it and run with --kaggle --refresh.")
        best = {}
        for row in reader:
            score = _number(row["Score"])
            if score is None:
                continue  # a team whose submissions all failed has no score
            team = row["TeamId"]
            if team not in best or (score > best[team] if greater_is_better else score < best[team]):
                best[team] = score
    if not best:
        raise HarnessError(f"{path} lists no team with a score; delete it and run with --kaggle --refresh.")
    return Board(slug, path, tuple(sorted(best.values(), reverse=greater_is_better)), greater_is_better)


def placed_score(row: dict):
    """(score, basis) a leaderboard row is placed by: "public", "test" or "oof"; (None, None) without any."""
    if row["public_score"] is not None:
        return row["public_score"], "public"
    return leaderboard.ranking_score(row)


def placements(found: list, board: Board) -> list:
    """[(row, basis, score, Placement or None)] for the leaderboard's rows, in its order."""
    out = []
    for row in found:
        score, basis = placed_score(row)
        out.append((row, basis, score, board.place(score) if basis else None))
    return out


def describe(board: Board) -> str:
    """One line: the field, the medal thresholds, the median, and when it was downloaded."""
    at_least = "≥" if board.greater_is_better else "≤"
    cuts = ", ".join(f"{m} {at_least} {_fmt(s)}" for m, s in board.thresholds().items())
    when = time.strftime("%Y-%m-%d", time.localtime(board.path.stat().st_mtime))
    return (f"Kaggle public leaderboard of {board.slug}: {board.teams} teams, downloaded {when}; to earn a medal: "
            f"{cuts}; median {_fmt(board.median)}")


def format_table(comp, found: list, board: Board) -> str:
    lines = [describe(board),
             f"{'#':>3}  {'run':<34} {'placed on':<30} {'score':>8} {'rank':>11} {'percentile':>10}  medal"]
    placed = placements(found, board)
    for n, (row, basis, score, place) in enumerate(placed, start=1):
        if place is None:
            lines.append(f"{n:>3}  {row['run_id']:<34} {'no score':<30}")
            continue
        rank = f"{place.rank}/{place.teams}"
        lines.append(f"{n:>3}  {row['run_id']:<34} {PLACED_ON[basis]:<30} {_fmt(score):>8} {rank:>11} "
                     f"{place.percentile:>9.1f}%  {place.medal or '-'}")
    if any(basis == "oof" for _, basis, _, _ in placed):
        lines.append("out-of-fold scores are estimates: Kaggle grades its own test images; upload with "
                     f"`harness submit {comp.name} --upload` for a public score.")
    return "\n".join(lines)


def _number(text):
    try:
        value = float(text)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def _fmt(x: float) -> str:
    return f"{x:.5f}".rstrip("0").rstrip(".") if abs(x) < 1e4 else f"{x:.4g}"
