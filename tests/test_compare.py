"""`harness compare`: models trained on the same folds and seed, finished runs reused, a blend, the leaderboard,
and the HTML report. One compared pair of tiny runs is shared by the module (training it is the slow part)."""
import base64
import contextlib
import dataclasses
import io
import json
import re
import shutil
import subprocess
from html.parser import HTMLParser

import numpy as np
import pytest
from keras import layers
from PIL import Image

from conftest import folder_competition, registered
from harness import cli, compare, competition, leaderboard, models, paths, pipeline, report, runs
from harness.config import RunConfig
from harness.errors import HarnessError

COMP = "cmp-tiny"
FAST = ["--folds", "2", "--epochs", "1", "--batch-size", "8", "--workers", "1", "--seed", "3", "--no-tta"]


@pytest.fixture(scope="module")
def module_home(tmp_path_factory):
    return tmp_path_factory.mktemp("compare") / "home"


@pytest.fixture(autouse=True)
def home(module_home, monkeypatch):
    """One HARNESS_HOME for the module, so every test sees the compared runs (overrides conftest's)."""
    monkeypatch.setenv("HARNESS_HOME", str(module_home))
    return module_home


@pytest.fixture(scope="module", autouse=True)
def tiny_models():
    """Two models that trace fast and differ, so the blend has something to weigh."""
    @models.register_model("tiny-a", image_size=16)
    def tiny_a(x):
        return layers.GlobalAveragePooling2D()(layers.Rescaling(1 / 255)(x))

    @models.register_model("tiny-b", image_size=16)
    def tiny_b(x):
        return layers.Flatten()(layers.MaxPooling2D(4)(layers.Rescaling(1 / 255)(x)))
    yield
    for name in ("tiny-a", "tiny-b"):
        models.MODELS.remove(name)


@pytest.fixture(scope="module", autouse=True)
def comp():
    """A tiny competition whose download also holds one training 'image' that does not decode."""
    base = folder_competition(COMP, per_class=6, test=4)

    def build(raw, private):
        base.build(raw, private)
        (raw / "train" / "a" / "broken.png").write_bytes(b"not a picture")
    with registered(dataclasses.replace(base, build=build)) as c:
        yield c


@pytest.fixture(scope="module")
def compared(module_home, tiny_models, comp):
    """`harness compare cmp-tiny --models tiny-a,tiny-b` run once: (exit code, stdout)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HARNESS_HOME", str(module_home))
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            code = cli.main(["compare", COMP, "--models", "tiny-a,tiny-b", *FAST])
    return code, out.getvalue()


def config(model) -> RunConfig:
    return pipeline.resolve(RunConfig(COMP, model=model, folds=2, epochs=1, batch_size=8, workers=1, seed=3,
                                      tta=False))


def test_compare_trains_each_model_blends_and_ranks(comp, compared):
    code, out = compared
    assert code == 0, out
    a, b = runs.finished(config("tiny-a")), runs.finished(config("tiny-b"))
    assert a and b and a.config.seed == b.config.seed == 3
    assert {a.config.replace(model="x"), b.config.replace(model="x")} == {a.config.replace(model="x")}
    np.testing.assert_array_equal(*(np.isnan(np.load(r.folder / "oof.npy")).any(axis=1) for r in (a, b)))
    rows = leaderboard.rows(COMP)
    assert len(rows) == 3
    blend_row, = [r for r in rows if r["model"] == "blend:tiny-a+tiny-b"]
    assert leaderboard.blend_members(blend_row) == [a.run_id, b.run_id]
    assert len(json.loads(blend_row["fold_scores"])) == 2  # the blend's own fold spread
    assert re.search(rf"tiny-a +trained +run {a.run_id} in \d+s", out) and "blend" in out
    assert " ± " in out and "gain" in out
    assert f"report: {paths.runs_dir(COMP) / 'report.html'}" in out


def test_a_second_compare_trains_nothing(comp, compared, monkeypatch, capsys):
    def no_training(*args, **kwargs):
        raise AssertionError("compare trained a model whose finished run exists")
    monkeypatch.setattr(pipeline, "submit", no_training)
    before = sorted(p.name for p in paths.runs_dir(COMP).iterdir())
    assert cli.main(["compare", COMP, "--models", "tiny-a,tiny-b", *FAST]) == 0
    out = capsys.readouterr().out
    assert out.count("reused") == 3  # both runs and the blend
    assert sorted(p.name for p in paths.runs_dir(COMP).iterdir()) == before
    assert len(leaderboard.rows(COMP)) == 3


def test_an_unfinished_run_resumes_and_the_budget_skips_new_models(comp, compared, monkeypatch):
    a = runs.finished(config("tiny-a"))
    (a.folder / runs.SUMMARY).unlink()  # its folds are trained but it was never predicted
    monkeypatch.setattr(models, "build", lambda *a, **k: pytest.fail("a trained fold was trained again"))
    done = compare.compare(config("tiny-a"), ("tiny-a", "tiny-b"))
    assert [(e.model, e.status) for e in done.entries] == [("tiny-a", "resumed"), ("tiny-b", "reused")]
    assert done.entries[0].run.run_id == a.run_id and done.blend_reused
    models.register_model("tiny-c", image_size=16)(lambda x: layers.GlobalMaxPooling2D()(x))
    try:
        skipped = compare.compare(config("tiny-a"), ("tiny-a", "tiny-b", "tiny-c"), budget_s=0)
    finally:
        models.MODELS.remove("tiny-c")
    assert [e.status for e in skipped.entries] == ["reused", "reused", "skipped"]
    assert "skipped, the time budget of 0s being spent: tiny-c" in compare.format_summary(skipped)


class _Page(HTMLParser):
    """The images and the ids of the report's sections."""

    def __init__(self):
        super().__init__()
        self.images, self.ids, self.text = [], set(), []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "img":
            self.images.append(attrs["src"])
        if "id" in attrs:
            self.ids.add(attrs["id"])

    def handle_data(self, data):
        self.text.append(data)


def test_report_is_self_contained_with_a_section_per_run(comp, compared):
    path = report.write(COMP)
    assert path == paths.runs_dir(COMP) / "report.html"
    page = _Page()
    page.feed(path.read_text(encoding="utf-8"))
    text = " ".join(page.text)
    assert page.images and all(src.startswith("data:image/png;base64,") for src in page.images)
    for src in page.images:
        Image.open(io.BytesIO(base64.b64decode(src.split(",", 1)[1]))).verify()
    rows = leaderboard.rows(COMP)
    assert {report._anchor(r["run_id"]) for r in rows} <= page.ids
    assert f"prepare-{config('tiny-a').image_size}" in page.ids
    for heading in ("Leaderboard", "Scores and their fold spread", "Per class (out-of-fold)", "Top losses",
                    "Configuration", "Prepare report"):
        assert heading in text
    assert "train/a/broken.png" in text and "train image skipped" in text  # the prepare report says why
    assert "http://" not in path.read_text() and "https://" not in path.read_text()  # opens with no network
    for r in rows:  # every run's pictures were drawn: curves for trained runs, the out-of-fold ones for all
        folder = paths.runs_dir(COMP) / r["run_id"]
        assert (folder / "top_losses.png").exists() and (folder / "confusion.png").exists()


def test_per_class_tables_losses_and_calibration_by_hand():
    y = np.array([0, 0, 1, 2, 2, 2])
    pred = np.array([0, 1, 1, 2, 2, 0])
    assert report.per_class(y, pred, ("a", "b", "c")) == [
        ("a", 0.5, 0.5, 0.5, 2), ("b", 0.5, 1.0, pytest.approx(2 / 3), 1), ("c", 1.0, pytest.approx(2 / 3),
                                                                           pytest.approx(0.8), 3)]
    probs = np.array([[0.8, 0.1, 0.1], [0.25, 0.5, 0.25]])
    np.testing.assert_allclose(report.sample_losses("multiclass", np.array([0, 0]), probs), -np.log([0.8, 0.25]))
    binary = np.array([[0.9], [0.9]])
    np.testing.assert_allclose(report.sample_losses("binary", np.array([1, 0]), binary), -np.log([0.9, 0.1]))
    conf, right, _ = report.calibration_data(folder_competition(), np.array([0, 2]), probs)
    np.testing.assert_allclose(conf, [0.8, 0.5])
    np.testing.assert_array_equal(right, [True, False])
    multi = np.array([[1, 0], [0, 1], [1, 1]])
    aps = report.per_class_ap(multi, np.array([[0.9, 0.2], [0.1, 0.7], [0.6, 0.1]]), ("x", "y"))
    assert aps == [("x", 1.0, 2), ("y", pytest.approx(0.8333333), 2)]


def test_ordinal_runs_are_reported_by_their_fitted_cuts():
    """A regressed grade is no probability: its loss is the squared error and the cuts decide its grade."""
    from harness import competition

    aptos = competition.get("aptos2019-blindness-detection")
    np.testing.assert_allclose(report.sample_losses("ordinal", np.array([3, 0]), np.array([[2.6], [0.2]])),
                               [0.16, 0.04])
    title = report._loss_title(aptos, 3, np.array([2.6]), 0.16, np.array([0.5, 1.5, 2.7, 3.5]))
    assert title.splitlines()[:2] == ["true: severe", "pred: moderate (grade 2.60)"]
    assert "pred: severe" in report._loss_title(aptos, 3, np.array([2.6]), 0.16, None)  # rounding without cuts


def test_choosing_models_and_budgets():
    assert compare.default_models(competition.get("digits")) == ("small-cnn", "vgg-small")
    assert compare.default_models(competition.get("dogs-vs-cats"))[0] == "efficientnet-b0"
    with pytest.raises(HarnessError, match="no default comparison set"):
        compare.default_models(folder_competition("odd", model="vgg16"))
    assert compare.parse_models(" small-cnn, vgg-small ") == ("small-cnn", "vgg-small")
    for bad, says in (("small-cnn,nope", "model='nope'"), ("small-cnn,small-cnn", "more than once"), (",", "at least")):
        with pytest.raises(HarnessError, match=says):
            compare.parse_models(bad)
    assert [compare.parse_duration(t) for t in ("45s", "90m", "2h", "1h30m", "1.5h")] == [45, 5400, 7200, 5400, 5400]
    for bad in ("2", "two hours", "", "5d"):
        with pytest.raises(HarnessError, match="Received: --time-budget"):
            compare.parse_duration(bad)


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_compare_passes_the_models_as_one_list():
    out = subprocess.run(["make", "-n", "-W", "pyproject.toml", "compare", "COMP=digits", "MODELS=small-cnn vgg-small",
                          "FOLDS=3", "EPOCHS=3", "BUDGET=2h"], capture_output=True, text=True,
                         cwd=paths._PROJECT).stdout
    assert "compare digits --models small-cnn,vgg-small --folds 3 --epochs 3 --time-budget 2h" in out
