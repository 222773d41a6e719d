"""`harness submit COMP --upload`: the validated CSV goes to the fake Kaggle through the real client, and the
public score (or Kaggle's error) lands on the run's leaderboard row."""
import shutil
import subprocess

import pytest

import layouts
from conftest import FAST
from harness import kaggle_io, leaderboard, paths
from harness.cli import main


@pytest.fixture
def fake(fake, tiny_model, monkeypatch):
    """conftest's fake Kaggle serving dogs-vs-cats-redux; polling for the score does not sleep."""
    monkeypatch.setattr(kaggle_io, "_sleep", lambda s: None)
    layouts.serve(fake, "dogs-vs-cats-redux")
    return fake


SLUG = "dogs-vs-cats-redux-kernels-edition"


def test_upload_records_the_public_score(fake, capsys):
    fake.set_result(SLUG, public_score=0.0612, pending_polls=2)
    assert main(["submit", "dogs-vs-cats-redux", *FAST, "--upload", "--message", "two folds"]) == 0
    (row,) = leaderboard.rows("dogs-vs-cats-redux")
    assert row["public_score"] == pytest.approx(0.0612) and row["public_error"] is None
    with open(row["submission"], "rb") as f:
        assert list(fake.uploads.values()) == [f.read()]
    assert fake.submissions[SLUG][0]["description"] == "two folds"
    assert "public score 0.0612" in capsys.readouterr().out


def test_upload_error_is_recorded(fake, capsys):
    fake.set_result(SLUG, error="Submission must have 12500 rows")
    assert main(["submit", "dogs-vs-cats-redux", *FAST, "--upload"]) == 0
    (row,) = leaderboard.rows("dogs-vs-cats-redux")
    assert row["public_score"] is None and row["public_error"] == "Submission must have 12500 rows"
    assert "Submission must have 12500 rows" in capsys.readouterr().out


def test_upload_of_a_dataset_competition_is_refused_before_training(fake, capsys):
    assert main(["submit", "marvel", *FAST, "--upload"]) == 2
    assert "not a Kaggle competition" in capsys.readouterr().err
    assert not paths.runs_dir("marvel").exists() and fake.calls("DownloadDataset") == []


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_submit_passes_upload_and_message():
    out = subprocess.run(["make", "-n", "-W", "pyproject.toml", "submit", "COMP=dogs-vs-cats", "UPLOAD=1",
                          "MESSAGE=first try"], capture_output=True, text=True, cwd=paths._PROJECT).stdout
    assert 'submit dogs-vs-cats' in out and '--upload --message "first try"' in out
