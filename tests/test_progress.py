"""What a person sees while a command runs: bars on stderr (plain lines in a log), notes, --quiet, and where
the time went."""
import io
import json
import re
import sqlite3
import sys
import time

import numpy as np
import pytest

from fake_kaggle import FakeKaggle, kaggle_env, make_zip
from harness import leaderboard, paths, progress, timing
from harness.cli import main

SLOW_S = 2.0  # how long the fake takes to send the archive


@pytest.fixture
def often(monkeypatch):
    """Bars that show and write lines within a test's seconds rather than a real step's."""
    monkeypatch.setattr(progress, "DELAY_S", 0.2)
    monkeypatch.setattr(progress, "LOG_INTERVAL_S", 0.2)


@pytest.fixture
def slow_kaggle(monkeypatch, tmp_path):
    """The fake Kaggle sending a 4 MiB dogs-vs-cats archive over SLOW_S seconds."""
    with FakeKaggle().serve() as server:
        kaggle_env(monkeypatch, tmp_path, server)
        big = np.random.default_rng(0).bytes(4 << 20)  # incompressible, so the archive stays 4 MiB
        server.add_competition("dogs-vs-cats", make_zip({"train/blob.bin": big, "sampleSubmission.csv": b"id\n"}),
                               seconds=SLOW_S)
        yield server


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_download_shows_bytes_rate_and_eta_as_plain_lines(slow_kaggle, often, capsys):
    assert main(["download", "dogs-vs-cats"]) == 0
    out, err = capsys.readouterr()
    assert out.strip() == str(paths.raw_dir("dogs-vs-cats"))
    lines = [line for line in err.splitlines() if line.startswith("download dogs-vs-cats:")]
    percents = [int(re.search(r": +(\d+)% ", line).group(1)) for line in lines]
    assert len(lines) >= 2 and percents == sorted(percents) and percents[-1] == 100, err
    assert re.search(r"4\.00M/4\.00M \[\d\d:\d\d<\d\d:\d\d, +[\d.]+[kM]?B/s\]$", lines[-1]), lines[-1]
    assert "\r" not in err and len(err.splitlines()) <= 3 * (progress.LOG_STEPS + 1)  # download, check, unpack


def test_quiet_download_prints_only_the_result(slow_kaggle, often, capsys):
    assert main(["download", "dogs-vs-cats", "--quiet"]) == 0
    out, err = capsys.readouterr()
    assert out.strip() == str(paths.raw_dir("dogs-vs-cats")) and err == ""


def test_a_log_gets_a_line_per_tenth_at_most(monkeypatch, capsys):
    monkeypatch.setattr(progress, "DELAY_S", 0.0)
    monkeypatch.setattr(progress, "LOG_INTERVAL_S", 0.0)
    with progress.bar(total=50_000, desc="decode train", unit="img") as bar:
        for _ in range(50_000):
            bar.update()
    err = capsys.readouterr().err
    assert "\r" not in err and 2 <= len(err.splitlines()) <= progress.LOG_STEPS + 1, err
    assert err.splitlines()[-1].startswith("decode train: 100% 50000/50000 [")


def test_a_short_step_shows_nothing_and_a_longer_one_its_end_once(monkeypatch, capsys):
    monkeypatch.setattr(progress, "DELAY_S", 0.2)
    with progress.bar(total=3, desc="quick") as bar:
        bar.update(3)
    assert capsys.readouterr().err == ""
    with progress.bar(total=3, desc="slower") as bar:
        time.sleep(0.3)
        bar.update(3)  # too soon after the start for a line of its own (LOG_INTERVAL_S)
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("slower: 100% 3/3 [00:00<00:00, ")


def test_a_terminal_bar_redraws_in_place(monkeypatch):
    monkeypatch.setattr(progress, "DELAY_S", 0.0)
    monkeypatch.setattr(sys, "stderr", Terminal())
    with progress.bar(total=5, desc="unpack train.zip", unit="file", mininterval=0) as bar:
        for _ in range(5):
            bar.update()
    drawn = sys.stderr.getvalue()
    assert drawn.count("\r") >= 5 and drawn.count("\n") == 1 and "5/5" in drawn.rsplit("\r", 1)[-1]


def test_quiet_silences_bars_and_notes(monkeypatch, capsys):
    monkeypatch.setattr(progress, "DELAY_S", 0.0)
    with progress.quiet():
        with progress.bar(total=2, desc="x") as bar:
            bar.update(2)
        progress.say("a note")
    progress.say("heard")
    assert capsys.readouterr() == ("heard\n", "")


def test_stages_count_every_second_once():
    timing.reset()
    with timing.stage("download"):
        pass
    for _ in timing.folds(range(2)):
        with timing.stage("predict"):
            pass
    seconds = timing.seconds()
    assert list(seconds) == ["download", "train fold 1", "predict", "train fold 2"]
    line = timing.describe({"download": 1.0, "train fold 1": 5.0, "predict": 0.5, "train fold 2": 4.0}, 11.0)
    assert line == "download 1.0s · train 9.0s (fold 1 5.0s, fold 2 4.0s) · predict 0.5s · other 0.5s"


def test_keras_writes_an_epoch_a_line_in_a_log_and_counts_predicted_images(monkeypatch, capsys):
    import keras
    from harness import keras_progress

    monkeypatch.setattr(progress, "DELAY_S", 0.0)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, activation="softmax")])
    model.compile("sgd", "sparse_categorical_crossentropy")
    x, y = np.zeros((20, 3), "float32"), np.zeros(20, "int64")
    verbose, lines = keras_progress.fit_logging()
    model.fit(x, y, batch_size=8, epochs=2, verbose=verbose, callbacks=lines)
    with keras_progress.predicting(40, "fold 1/2 predict") as bar:
        model.predict(x, batch_size=8, verbose=0, callbacks=[bar])
        model.predict(x, batch_size=8, verbose=0, callbacks=[bar])
    out, err = capsys.readouterr()
    assert [line.split(" - ")[0] for line in out.splitlines()] == ["epoch 1/2", "epoch 2/2"] and "loss: " in out
    assert err.splitlines()[-1].startswith("fold 1/2 predict: 100% 40/40 ")


def test_leaderboard_of_an_older_harness_gains_the_stage_column(home):
    path = paths.leaderboard_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    old = leaderboard.SCHEMA.replace("    stage_seconds TEXT NOT NULL DEFAULT '{}',\n", "")
    with sqlite3.connect(path) as conn:
        conn.execute(old)
        conn.execute("INSERT INTO runs (competition, run_id, model, metric, greater_is_better, folds, fold_scores, "
                     "config, wall_time, created) VALUES ('c', 'old', 'm', 'accuracy', 1, 2, '[]', '{}', 75, 'then')")
    row = dict(competition="c", run_id="new", model="m", metric="accuracy", greater_is_better=True, folds=2,
               fold_scores=[0.9, 0.8], oof_score=0.85, test_score=0.86, extra_scores={}, config={},
               wall_time=3725.0, stage_seconds={"prepare": 5.0, "train fold 1": 1800.0, "train fold 2": 1700.0},
               submission="s.csv")
    leaderboard.record(**row)
    table = leaderboard.format_table("c")
    assert "1h02m (train 58m20s)" in table and " 1m15s " in table
    (new,) = [r for r in leaderboard.rows("c") if r["run_id"] == "new"]
    assert json.loads(new["stage_seconds"])["train fold 2"] == 1700.0
