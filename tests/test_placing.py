"""Placing runs on Kaggle's public leaderboard: medal bands, both metric directions, and the download through
the real client against the fake Kaggle."""
from pathlib import Path

import pytest

from fake_kaggle import FakeKaggle, kaggle_env
from harness import competition, kaggle_io, leaderboard, placing, report
from harness.cli import main

SLUG = "dogs-vs-cats"


@pytest.mark.parametrize("teams, gold, silver, bronze", [
    (5, 1, 1, 2), (50, 5, 10, 20), (99, 9, 19, 39),  # < 100: 10%, 20%, 40%
    (100, 10, 20, 40), (249, 10, 49, 99),  # 100-249: top 10, 20%, 40%
    (250, 10, 50, 100), (999, 11, 50, 100),  # 250-999: top 10 + 0.2%, 50, 100
    (1000, 12, 50, 100), (5000, 20, 250, 500),  # 1000+: top 10 + 0.2%, 5%, 10%
])
def test_medal_positions_follow_kaggle_progression(teams, gold, silver, bronze):
    assert placing.medal_positions(teams) == {"gold": gold, "silver": silver, "bronze": bronze}


def board(teams: int, greater: bool) -> placing.Board:
    """`teams` distinct scores, best first: 1.0, 0.999, ... (higher is better) or 0.0, 0.001, ... (lower)."""
    scores = [1 - i / 1000 for i in range(teams)] if greater else [i / 1000 for i in range(teams)]
    return placing.Board("x", Path("x.csv"), tuple(scores), greater)


@pytest.mark.parametrize("greater", [True, False], ids=["higher-is-better", "lower-is-better"])
@pytest.mark.parametrize("teams", [50, 150, 500, 2000])
def test_every_band_places_at_each_medal_edge(teams, greater):
    b = board(teams, greater)
    positions = placing.medal_positions(teams)
    following = {"gold": "silver", "silver": "bronze", "bronze": ""}
    for medal, position in positions.items():
        at_edge = b.place(b.scores[position - 1])
        assert (at_edge.rank, at_edge.medal) == (position, medal)
        assert at_edge.percentile == pytest.approx(100 * (teams - position) / teams)
        just_after = b.place(b.scores[position])
        assert (just_after.rank, just_after.medal) == (position + 1, following[medal])
    better_than_all = b.scores[0] + (0.5 if greater else -0.5)
    assert b.place(better_than_all) == placing.Placement(1, teams, 100.0, "gold")
    worst = b.place(b.scores[-1] - (0.5 if greater else -0.5))
    assert (worst.rank, worst.percentile, worst.medal) == (teams + 1, 0.0, "")


def write_csv(path, rows):
    lines = ["\ufeffTeamId,TeamName,SubmissionDate,Score", *(",".join(map(str, r)) for r in rows)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("greater, best", [(True, (0.9, 0.8)), (False, (0.5, 0.7))])
def test_each_team_counts_once_with_its_best_score(tmp_path, greater, best):
    path = write_csv(tmp_path / "lb.csv", [(1, "a", "2020-01-01", 0.5), (1, "a", "2020-01-02", 0.9),
                                           (2, "b", "2020-01-01", 0.8), (2, "b", "2020-01-03", 0.7),
                                           (3, "c", "2020-01-01", "")])
    b = placing.read(path, "x", greater)
    assert b.scores == best and b.teams == 2
    assert b.median == pytest.approx(sum(best) / 2)


def test_a_leaderboard_without_its_columns_is_one_sentence(tmp_path):
    path = tmp_path / "lb.csv"
    path.write_text("Team,Points\na,1\n")
    with pytest.raises(placing.HarnessError, match=r"lacks the column\(s\) \['Score', 'TeamId'\]"):
        placing.read(path, "x", True)


@pytest.fixture
def fake(monkeypatch, tmp_path):
    monkeypatch.setattr(kaggle_io, "_sleep", lambda s: None)
    with FakeKaggle().serve() as server:
        kaggle_env(monkeypatch, tmp_path, server)
        yield server


def record(run_id, oof, public=None):
    leaderboard.record(competition=SLUG, run_id=run_id, model="m", metric="accuracy", greater_is_better=True,
                       folds=2, fold_scores=[oof, oof], oof_score=oof, test_score=None, extra_scores={},
                       config={}, wall_time=1.0, submission="x.csv")
    if public is not None:
        leaderboard.set_public(SLUG, run_id, public)


def test_leaderboard_kaggle_places_runs_through_the_client(fake, capsys):
    # 150 teams (the 100-249 band), scores 0.990 down to 0.841, plus older duplicate rows of worse scores
    rows = [(t, f"team {t}", "2013-02-01 00:00:00", round(0.99 - t / 1000, 3)) for t in range(150)]
    fake.add_leaderboard(SLUG, rows + [(t, f"team {t}", "2013-01-01 00:00:00", 0.5) for t in range(20)])
    record("uploaded", oof=0.90, public=0.975)  # placed by its public score: rank 16 -> silver (top 30)
    record("estimated", oof=0.93)  # by its out-of-fold score: rank 61 -> no medal (bronze: top 60)
    assert main(["leaderboard", SLUG, "--kaggle"]) == 0
    out = capsys.readouterr().out
    assert "150 teams" in out and "median 0.9155" in out and "gold ≥ 0.981, silver ≥ 0.961, bronze ≥ 0.931" in out
    uploaded, = [line for line in out.splitlines() if " uploaded " in line and "Kaggle public" in line]
    assert "16/150" in uploaded and "89.3%" in uploaded and uploaded.endswith("silver")
    estimated, = [line for line in out.splitlines() if " estimated " in line and "(estimate)" in line]
    assert "61/150" in estimated and "59.3%" in estimated and estimated.endswith("-")
    assert (placing.board_path(competition.get(SLUG))).exists()
    assert [c["body"] for c in fake.calls("DownloadLeaderboard")] == [{"competitionName": SLUG}]
    assert main(["leaderboard", SLUG, "--kaggle"]) == 0  # kept: not downloaded again
    assert len(fake.calls("DownloadLeaderboard")) == 1
    assert main(["leaderboard", SLUG, "--kaggle", "--refresh"]) == 0
    assert len(fake.calls("DownloadLeaderboard")) == 2
    page = report.write(SLUG).read_text(encoding="utf-8")  # the report places them too, with the medal lines
    assert "Kaggle public leaderboard of dogs-vs-cats: 150 teams" in page
    assert "<span class='medal silver'>silver</span>" in page and "16 / 150" in page


@pytest.mark.parametrize("served, damage, expected", [
    (True, lambda fake: fake.truncate(SLUG, times=None), "arrived damaged"),
    (True, lambda fake: fake.fail_next(403, method="DownloadLeaderboard"), "accept its rules"),
    (False, lambda fake: None, "no competition named"),  # nothing served: 404
], ids=["damaged", "rules-not-accepted", "unknown"])
def test_leaderboard_download_failures_are_one_sentence(fake, capsys, served, damage, expected):
    if served:
        fake.add_leaderboard(SLUG, [(1, "a", "2013-01-01", 0.9)])
    damage(fake)
    assert main(["leaderboard", SLUG, "--kaggle"]) == 2
    err = capsys.readouterr().err.strip()
    assert expected in err and len(err.splitlines()) == 1 and "Traceback" not in err


def test_offline_or_not_a_competition_is_one_sentence(monkeypatch, tmp_path, capsys):
    with FakeKaggle().serve() as server:
        kaggle_env(monkeypatch, tmp_path, server)
    # the server is gone now: the client meets a closed port, as offline
    assert main(["leaderboard", SLUG, "--kaggle"]) == 2
    err = capsys.readouterr().err.strip()
    assert "Cannot reach Kaggle" in err and len(err.splitlines()) == 1
    assert main(["leaderboard", "digits", "--kaggle"]) == 2
    err = capsys.readouterr().err.strip()
    assert "not a Kaggle competition" in err and len(err.splitlines()) == 1
    assert main(["leaderboard", SLUG, "--refresh"]) == 2
    assert "Received: --refresh without --kaggle" in capsys.readouterr().err
