"""Contract tests: every Kaggle-sourced competition, served by the fake Kaggle in its real layout, goes
download -> prepare -> 2 folds x 1 epoch -> submit and yields a CSV in the real format plus a leaderboard row."""
import csv

import pytest

import layouts
from fake_kaggle import FakeKaggle, kaggle_env
from harness import competition, holdout, leaderboard, paths
from harness.cli import main
from harness.competition import Item
from harness.errors import HarnessError

FAST = ["--folds", "2", "--epochs", "1", "--image-size", "16", "--workers", "1", "--batch-size", "16",
        "--model", "tiny-test", "--no-tta"]


@pytest.fixture(scope="module", autouse=True)
def tiny_model():
    """A model that traces fast: the contract is about formats, not about learning."""
    from keras import layers

    from harness import models

    @models.register_model("tiny-test", image_size=16)
    def tiny(x):
        return layers.GlobalAveragePooling2D()(layers.Rescaling(1 / 255)(x))
    yield
    models.MODELS.remove("tiny-test")


@pytest.fixture(autouse=True)
def forget_local_competitions():
    """Local folder competitions register while a command runs; drop them after each test."""
    before = set(competition.names())
    yield
    for name in set(competition.names()) - before:
        competition.COMPETITIONS.remove(name)


@pytest.fixture
def fake(monkeypatch, tmp_path):
    with FakeKaggle().serve() as server:
        kaggle_env(monkeypatch, tmp_path, server)
        yield server


def read_csv(path):
    with open(path, newline="") as f:
        table = list(csv.reader(f))
    return table[0], table[1:]


def submitted(name, capsys, *extra):
    assert main(["submit", name, *FAST, *extra]) == 0, capsys.readouterr().err
    (row,) = leaderboard.rows(name)
    return row, *read_csv(row["submission"])


def expected_test_ids(name):
    comp = competition.get(name)
    return [i.id for i in comp.list_test(paths.raw_dir(name))]


@pytest.mark.parametrize("name", ["dogs-vs-cats", "dogs-vs-cats-redux"])
def test_dogs_vs_cats_contract(fake, capsys, name):
    layouts.serve(fake, name)
    row, header, rows = submitted(name, capsys)
    assert header == ["id", "label"]
    assert [r[0] for r in rows] == [str(n) for n in range(1, 7)]  # the sample submission's ids, in order
    if name == "dogs-vs-cats":
        assert {r[1] for r in rows} <= {"0", "1"}
    else:
        assert all(0.005 <= float(r[1]) <= 0.995 for r in rows)
    assert row["oof_score"] is not None and row["test_score"] is None  # Kaggle keeps these answers


def test_animals10_contract(fake, capsys):
    layouts.serve(fake, "animals-10")
    row, header, rows = submitted("animals-10", capsys)
    comp = competition.get("animals-10")
    solution = comp.solution(paths.raw_dir("animals-10"))
    assert header == ["id", "label"] and len(rows) == 10  # one of each class's 5 images is held out
    assert {r[0] for r in rows} == set(solution) and {r[1] for r in rows} <= set(comp.classes)
    assert sorted(solution.values()) == list(range(10))  # stratified
    assert {"accuracy", "macro_f1"} <= {"accuracy", *__import__("json").loads(row["extra_scores"])}


def test_marvel_contract(fake, capsys):
    layouts.serve(fake, "marvel")
    row, header, rows = submitted("marvel", capsys)
    assert header == ["id", "label"] and len(rows) == 16  # the valid/ split: 8 classes x 2
    assert [r[0] for r in rows] == expected_test_ids("marvel")
    assert {r[1] for r in rows} <= set(layouts.MARVEL)
    assert row["test_score"] is not None


@pytest.mark.parametrize("name", ["pascal-voc", "pascal-voc-2012"])
def test_pascal_voc_contract(fake, capsys, name):
    layouts.serve(fake, name)
    row, header, rows = submitted(name, capsys)
    assert header == ["id", "label"]
    assert [r[0] for r in rows] == expected_test_ids(name)
    assert len(rows) == (10 if name == "pascal-voc" else len(competition.get(name).solution(paths.raw_dir(name))))
    assert all(set(r[1].split()) <= set(layouts.VOC_CLASSES) for r in rows)
    assert row["metric"] == "map" and row["test_score"] is not None
    assert "samples_f1" in row["extra_scores"]


def test_local_folder_competition(tmp_path, capsys):
    layouts.class_folders(tmp_path / "heroes")
    assert main(["submit", "heroes", "--data-dir", str(tmp_path / "heroes"), *FAST]) == 0
    (row,) = leaderboard.rows("heroes")
    header, rows = read_csv(row["submission"])
    assert header == ["id", "label"] and len(rows) == 3  # one of each class's 6 images held out
    assert {r[1] for r in rows} <= {"black widow", "iron man", "hulk"} and row["test_score"] is not None
    capsys.readouterr()
    assert main(["info", "heroes"]) == 0  # remembered without --data-dir
    out = capsys.readouterr().out
    assert "local" in out and str(tmp_path / "heroes") in out and "downloaded" in out


def test_local_folder_errors(tmp_path, capsys):
    (tmp_path / "one" / "only").mkdir(parents=True)
    (tmp_path / "one" / "only" / "a.jpg").write_bytes(layouts.jpeg(0, 0))
    assert main(["info", "x", "--data-dir", str(tmp_path / "one")]) == 2
    assert "at least 2 sub-folders" in capsys.readouterr().err
    assert main(["info", "digits", "--data-dir", str(tmp_path / "one")]) == 2
    assert "registered competition" in capsys.readouterr().err
    assert main(["info", "../up", "--data-dir", str(tmp_path / "one")]) == 2
    assert "Received: '../up'" in capsys.readouterr().err
    assert main(["info", "nowhere"]) == 2
    assert "Unknown competition" in capsys.readouterr().err


def test_list_and_info_show_every_competition(capsys):
    assert main(["list"]) == 0
    listed = [line.split()[0] for line in capsys.readouterr().out.splitlines()]
    assert listed == sorted(["digits", *layouts.SOURCES])
    for name in layouts.SOURCES:
        assert main(["info", name]) == 0
        out = capsys.readouterr().out
        for field in ("source:", "task:", "classes:", "metric:", "submission:", "data:", "not downloaded"):
            assert field in out, (name, field)


# --- quirks ----------------------------------------------------------------------------------------

def test_voc_lower_case_and_nested_mounts(fake):
    layouts.serve(fake, "pascal-voc", lower=True)
    layouts.serve(fake, "pascal-voc-2012", nested=True)
    from harness import download
    for name in ("pascal-voc", "pascal-voc-2012"):
        comp = competition.get(name)
        raw = download.fetch(comp)
        items = comp.list_train(raw)
        assert items and all(i.path.exists() for i in items)
    first = competition.get("pascal-voc").list_train(paths.raw_dir("pascal-voc"))[0]
    assert (first.id, first.label) == ("000001", (1,))  # bicycle
    labels = {i.id: i.label for i in competition.get("pascal-voc").list_train(paths.raw_dir("pascal-voc"))}
    assert labels["000004"] == tuple(sorted(layouts.VOC_CLASSES.index(c) for c in layouts.voc_labels(4)))  # difficult kept


def test_missing_train_folder_is_named(fake):
    fake.add_competition("dogs-vs-cats", layouts.make_zip({"sampleSubmission.csv": b"id,label\n"}))
    from harness import download
    comp = competition.get("dogs-vs-cats")
    with pytest.raises(HarnessError, match=r"No train/ folder found in .*found: sampleSubmission.csv"):
        comp.list_train(download.fetch(comp))


def test_unknown_class_folders_fail_with_the_file(fake):
    fake.add_dataset("hchen13/marvel-heroes", layouts.make_zip({
        "marvel/train/thor/pic_001.jpg": layouts.jpeg(0, 0), "marvel/valid/hulk/pic_001.jpg": layouts.jpeg(0, 1)}))
    fake.add_dataset("alessiocorrado99/animals10", layouts.make_zip({"raw-img/lupo/1.jpg": layouts.jpeg(0, 0)}))
    from harness import download
    with pytest.raises(HarnessError, match=r"unknown class 'thor' for marvel"):
        competition.get("marvel").list_train(download.fetch(competition.get("marvel")))
    with pytest.raises(HarnessError, match=r"unknown class folder 'lupo'"):
        competition.get("animals-10").list_train(download.fetch(competition.get("animals-10")))


def test_submission_must_match_the_sample_submission(tmp_path):
    from harness import submission
    comp = competition.get("dogs-vs-cats")
    (tmp_path / "sampleSubmission.csv").write_text("id,label\n1,0\n2,0\n")
    (tmp_path / "ok.csv").write_text("id,label\n2,1\n1,0\n")
    (tmp_path / "bad.csv").write_text("id,label\n1,1\n3,0\n")
    submission.check_sample(comp, tmp_path / "ok.csv", tmp_path)
    with pytest.raises(HarnessError, match="ids differ from those of .*sampleSubmission.csv"):
        submission.check_sample(comp, tmp_path / "bad.csv", tmp_path)


def test_bad_dogs_file_name_is_refused(tmp_path):
    (tmp_path / "train").mkdir()
    (tmp_path / "train" / "fox.1.jpg").write_bytes(b"")
    with pytest.raises(HarnessError, match="fox.1.jpg"):
        competition.get("dogs-vs-cats").list_train(tmp_path)


# --- held-out splits ---------------------------------------------------------------------------------

def items(n_classes=4, per_class=20):
    return [Item(f"c{k}-{n}", None, k) for k in range(n_classes) for n in range(per_class)]


def test_holdout_is_deterministic_stratified_and_order_free():
    train, test = holdout.split(items())
    assert sorted(i.label for i in test) == [0, 0, 1, 1, 2, 2, 3, 3]
    assert {i.id for i in train} | {i.id for i in test} == {i.id for i in items()}
    shuffled = list(reversed(items()))
    assert {i.id for i in holdout.split(shuffled)[1]} == {i.id for i in test}
    fewer = {i.id for i in holdout.split(items()[:-1])[1] if i.label != 3}  # drop one image of class 3
    assert fewer == {i.id for i in test if i.label != 3}  # the other classes keep their test images


def test_holdout_multilabel_uses_the_rarest_class():
    labelled = [Item(f"i{n}", None, (0, 1) if n < 4 else (0,)) for n in range(40)]
    test = holdout.split(labelled)[1]
    assert sum(1 in i.label for i in test) == 1 and len(test) == 5  # round(0.1*4) -> at least 1; 0.1*36 -> 4
