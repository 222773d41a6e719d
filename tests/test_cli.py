"""The command line: listings, help, and one-sentence errors with exit code 2."""
import argparse
import subprocess
import sys
from pathlib import Path

import pytest

from harness.cli import main, parser

ROOT = Path(__file__).resolve().parents[1]


def test_list_shows_digits(capsys):
    assert main(["list"]) == 0
    assert "digits" in capsys.readouterr().out


def test_info_describes_the_competition(capsys):
    assert main(["info", "digits"]) == 0
    out = capsys.readouterr().out
    for word in ("builtin", "multiclass", "accuracy", "header:     id,label", "not downloaded"):
        assert word in out


@pytest.mark.parametrize("argv, received", [
    (["info", "nope"], "competition='nope'"),
    (["submit", "digits", "--model", "nope"], "model='nope'"),
    (["submit", "digits", "--folds", "1"], "folds=1"),
    (["submit", "digits", "--epochs", "0"], "epochs=0"),
    (["predict", "digits"], "harness train digits"),
])
def test_wrong_input_is_one_sentence_and_exit_2(argv, received, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("harness: error:") and received in err
    assert len(err.splitlines()) == 1


def _subcommands():
    """{name: subparser} of every command the parser defines (blend and bench included)."""
    action = next(a for a in parser()._actions if isinstance(a, argparse._SubParsersAction))
    return action.choices


def test_every_command_and_option_is_documented(capsys):
    commands = _subcommands()
    assert {"list", "info", "download", "prepare", "train", "predict", "submit", "blend", "leaderboard",
            "bench"} <= set(commands)
    top = parser().format_help()
    for name, sub in commands.items():
        assert name in top
        text = sub.format_help()
        assert text.startswith(f"usage: harness {name}")
        for action in sub._actions:
            if action.option_strings and action.dest != "help":
                assert action.help, f"harness {name} {action.option_strings[0]} has no help text"
                assert action.option_strings[0] in text, (name, action.option_strings)
    with pytest.raises(SystemExit) as exit_:
        parser().parse_args(["submit", "--help"])
    assert exit_.value.code == 0 and "--folds" in capsys.readouterr().out


def test_module_entry_point_has_no_traceback(home):
    result = subprocess.run([sys.executable, "-m", "harness", "submit", "no-such-comp"], cwd=ROOT,
                            capture_output=True, text=True, env={"HARNESS_HOME": str(home), "PATH": "/usr/bin"})
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and "Unknown competition 'no-such-comp'" in result.stderr
