"""Contract tests driven by the registry: every competition with a Kaggle source, served by the fake Kaggle
from its writer in tests/layouts.py, goes download -> prepare -> 2 folds x 1 epoch -> submit -> validate ->
score, and its CSV obeys Kaggle's rules for its format. Then the quirks of each competition, one test each."""
import csv
import json
import math

import numpy as np
import pytest

import layouts
from conftest import FAST
from harness import competition, download, holdout, leaderboard, paths, prepare, submission
from harness.cli import main
from harness.competition import Item
from harness.errors import HarnessError

KAGGLE = [n for n in competition.names() if competition.get(n).source.kind in ("competition", "dataset")]

# Kaggle's rules for each submission format's value fields, written here apart from harness.formats, the way
# MLE-bench's graders check a file: True when the fields after the id are valid.
RULES = {
    "class": lambda comp, f: f[0] in comp.classes,
    "code": lambda comp, f: f[0].isdigit() and int(f[0]) < len(comp.classes),
    "grade": lambda comp, f: f[0].isdigit() and int(f[0]) < len(comp.classes),
    "probability": lambda comp, f: comp.clip[0] <= float(f[0]) <= comp.clip[1],
    "probabilities": lambda comp, f: all(0 <= float(v) <= 1 for v in f) and abs(math.fsum(map(float, f)) - 1) <= 1e-6,
    "classes": lambda comp, f: set(f[0].split()) <= set(comp.classes),
}


@pytest.fixture(autouse=True)
def forget_local_competitions():
    """Local folder competitions register while a command runs; drop them after each test."""
    before = set(competition.names())
    yield
    for name in set(competition.names()) - before:
        competition.COMPETITIONS.remove(name)


def read_csv(path):
    with open(path, newline="") as f:
        table = list(csv.reader(f))
    return table[0], table[1:]


@pytest.mark.parametrize("name", KAGGLE)
def test_every_kaggle_competition_submits_in_its_own_format(name, fake, tiny_model, capsys):
    assert name in layouts.WRITERS, f"{name} has no fake-data writer: add one to tests/layouts.py"
    layouts.serve(fake, name)
    assert main(["submit", name, *FAST]) == 0, capsys.readouterr().err
    comp, raw = competition.get(name), paths.raw_dir(name)
    (row,) = leaderboard.rows(name)
    header, rows = read_csv(row["submission"])
    test_ids = [i.id for i in comp.list_test(raw)]
    assert header == comp.format.columns(comp) and len(header) >= 2
    assert [r[0] for r in rows] == test_ids and len(set(test_ids)) == len(test_ids) > 0  # each test id once
    if comp.sample_submission:  # Kaggle's own columns, in its order, and its ids
        sample_header, sample_rows = read_csv(raw / comp.sample_submission)
        assert header == sample_header and sorted(test_ids) == sorted(r[0] for r in sample_rows)
    bad = [r for r in rows if len(r) != len(header) or not RULES[comp.label_format](comp, r[1:])]
    assert not bad, (comp.label_format, bad[:3])
    submission.validate_file(comp, row["submission"], test_ids)
    assert row["metric"] == comp.metric and row["oof_score"] is not None and math.isfinite(row["oof_score"])
    assert (row["test_score"] is not None) == (comp.solution is not None)  # hidden answers: only where known
    if comp.solution and comp.metric == "accuracy" and comp.label_format == "class":  # graded from the file alone
        answers = comp.solution(raw)
        assert row["test_score"] == pytest.approx(np.mean([comp.classes[answers[i]] == v for i, v in rows]))
    assert set(json.loads(row["extra_scores"])) == (set(comp.extra_metrics) if comp.solution else set())
    cuts = json.loads((paths.runs_dir(name) / row["run_id"] / "cuts.json").read_text())["cuts"]
    assert (cuts is not None) == (comp.task in ("multilabel", "ordinal"))
    if comp.task == "ordinal":
        assert len(cuts) == len(comp.classes) - 1 and cuts == sorted(cuts)


@pytest.mark.parametrize("name", [n for n in KAGGLE if competition.get(n).file_id])
def test_test_ids_are_the_file_names_where_declared(name, fake):
    """`harness predict --images` names hidden test images by file_id: it must give the ids the listing gives."""
    layouts.serve(fake, name)
    comp = competition.get(name)
    items = comp.list_test(download.fetch(comp))
    assert items and [comp.test_id(i.path) for i in items] == [i.id for i in items]


def test_every_registered_competition_has_a_writer_or_a_local_source():
    for name in competition.names():
        assert name in layouts.WRITERS or competition.get(name).source.kind in ("builtin", "local"), name


def test_local_folder_competition(tmp_path, tiny_model, capsys):
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
    assert listed == competition.names() and set(KAGGLE) <= set(listed)
    for name in listed:
        comp = competition.get(name)
        assert main(["info", name]) == 0
        out = capsys.readouterr().out
        header = next(line.split()[1] for line in out.splitlines() if line.strip().startswith("header:"))
        assert header.split(",")[:2] == comp.format.columns(comp)[:2], (name, header)
        assert f"metric:     {comp.metric} " in out
        for field in ("source:", "task:", "classes:", "submission:", "data:", "not downloaded"):
            assert field in out, (name, field)


# --- quirks --------------------------------------------------------------------------------------

def test_cactus_nested_zips_unpack_with_their_folder_and_ids_keep_jpg(fake):
    layouts.serve(fake, "aerial-cactus-identification")
    comp = competition.get("aerial-cactus-identification")
    raw = download.fetch(comp)
    assert not list(raw.glob("*.zip")) and len(list((raw / "train").glob("*.jpg"))) == 12
    train, test = comp.list_train(raw), comp.list_test(raw)
    assert all(i.id.endswith(".jpg") and i.path.name == i.id and i.path.exists() for i in train + test)
    assert sorted({i.label for i in train}) == [0, 1]


def test_dog_breed_columns_come_from_the_module_and_are_checked_before_training(fake, tiny_model, capsys):
    from competitions.dog_breeds import BREEDS

    layouts.serve(fake, "dog-breed-identification", columns=BREEDS[::-1])
    assert main(["submit", "dog-breed-identification", *FAST]) == 2
    err = capsys.readouterr().err
    assert "differ from those of" in err and "sample_submission.csv" in err and "id,yorkshire_terrier," in err
    assert not paths.runs_dir("dog-breed-identification").exists()


def test_dog_breeds_absent_from_training_still_get_a_column(tmp_path):
    comp = competition.get("dog-breed-identification")
    preds = np.full((2, 120), 1 / 120, dtype="float32")
    preds[0, 3] += 0.5  # rows of float32 softmax do not sum to 1 exactly; the file's rows must
    path = submission.write(comp, ["a", "b"], preds, tmp_path / "s.csv")
    header, rows = read_csv(path)
    assert header == ["id", *comp.classes] and all(abs(math.fsum(map(float, r[1:])) - 1) <= 1e-6 for r in rows)


def test_plant_species_folders_are_matched_exactly(fake):
    layouts.serve(fake, "plant-seedlings-classification",
                  species=tuple(s.lower() if s == "Common Chickweed" else s for s in layouts.PLANTS))
    comp = competition.get("plant-seedlings-classification")
    with pytest.raises(HarnessError, match=r"unknown class 'common chickweed' for plant-seedlings.*Common Chickweed"):
        comp.list_train(download.fetch(comp))


def test_plant_test_ids_keep_png_and_names_keep_their_spaces(fake):
    layouts.serve(fake, "plant-seedlings-classification")
    comp = competition.get("plant-seedlings-classification")
    raw = download.fetch(comp)
    assert all(i.id.endswith(".png") for i in comp.list_test(raw))
    assert {comp.classes[i.label] for i in comp.list_train(raw)} == set(layouts.PLANTS)


def test_histopathology_tiffs_decode_in_prepare(fake):
    layouts.serve(fake, "histopathologic-cancer-detection")
    comp = competition.get("histopathologic-cancer-detection")
    download.fetch(comp)
    cache = prepare.prepare(comp, 16, workers=1)
    assert len(cache.train_ids) == 12 and cache.test_ok.all() and not cache.skipped
    assert cache.train_x[cache.train_rows].max() > 200  # the class block, not a blank array
    assert all(not i.id.endswith(".tif") for i in comp.list_test(paths.raw_dir(comp.name)))


def test_cassava_tfrecords_are_reported_unused_not_decoded(fake):
    layouts.serve(fake, "cassava-leaf-disease-classification")
    comp = competition.get("cassava-leaf-disease-classification")
    download.fetch(comp)
    cache = prepare.prepare(comp, 16, workers=1)
    unused = {p.split("/raw/")[1]: reason for p, reason in cache.skipped}
    assert set(unused) == {"train_tfrecords/ld_train00-10.tfrec", "test_tfrecords/ld_test00-2.tfrec"}
    assert all(r.startswith("not used") for r in unused.values()) and len(cache.train_ids) == 10


def test_cassava_name_map_must_match_the_module(fake):
    layouts.serve(fake, "cassava-leaf-disease-classification",
                  name_map={**layouts.CASSAVA_MAP, "3": "Healthy", "4": "Cassava Mosaic Disease (CMD)"})
    comp = competition.get("cassava-leaf-disease-classification")
    with pytest.raises(HarnessError, match="label_num_to_disease_map.json maps the label codes"):
        comp.list_train(download.fetch(comp))


def test_bad_label_codes_name_the_file(fake):
    fake.add_competition("aptos2019-blindness-detection", layouts.make_zip({
        "train.csv": b"id_code,diagnosis\nabc,7\n", "train_images/abc.png": layouts.encoded(0, 0, fmt="PNG")}))
    comp = competition.get("aptos2019-blindness-detection")
    with pytest.raises(HarnessError, match=r"train.csv: label '7' is not a class code 0..4"):
        comp.list_train(download.fetch(comp))


def test_a_missing_csv_column_names_the_file_and_its_header(fake):
    fake.add_competition("histopathologic-cancer-detection", layouts.make_zip({
        "train_labels.csv": b"image,label\nabc,1\n", "train/abc.tif": b""}))
    comp = competition.get("histopathologic-cancer-detection")
    with pytest.raises(HarnessError, match=r"train_labels.csv has no column 'id'; its header is image,label"):
        comp.list_train(download.fetch(comp))


def test_voc_lower_case_and_nested_mounts(fake):
    layouts.serve(fake, "pascal-voc", lower=True)
    layouts.serve(fake, "pascal-voc-2012", nested=True)
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
    comp = competition.get("dogs-vs-cats")
    with pytest.raises(HarnessError, match=r"No train/ folder found in .*found: sampleSubmission.csv"):
        comp.list_train(download.fetch(comp))


def test_unknown_class_folders_fail_with_the_file(fake):
    fake.add_dataset("hchen13/marvel-heroes", layouts.make_zip({
        "marvel/train/thor/pic_001.jpg": layouts.jpeg(0, 0), "marvel/valid/hulk/pic_001.jpg": layouts.jpeg(0, 1)}))
    fake.add_dataset("alessiocorrado99/animals10", layouts.make_zip({"raw-img/lupo/1.jpg": layouts.jpeg(0, 0)}))
    with pytest.raises(HarnessError, match=r"unknown class 'thor' for marvel"):
        competition.get("marvel").list_train(download.fetch(competition.get("marvel")))
    with pytest.raises(HarnessError, match=r"unknown class folder 'lupo'"):
        competition.get("animals-10").list_train(download.fetch(competition.get("animals-10")))


def test_submission_must_match_the_sample_submission(tmp_path):
    comp = competition.get("dogs-vs-cats")
    (tmp_path / "sampleSubmission.csv").write_text("id,label\n1,0\n2,0\n")
    submission.check_sample(comp, ["2", "1"], tmp_path, "ok.csv")
    with pytest.raises(HarnessError, match=r"bad.csv: its ids differ from those of .*sampleSubmission.csv \(e.g. '2' is in one only\)"):
        submission.check_sample(comp, ["1", "3"], tmp_path, "bad.csv")
    (tmp_path / "sampleSubmission.csv").write_text("id,Label\n1,0\n2,0\n")
    with pytest.raises(HarnessError, match=r"columns id,label differ from those of .*\(id,Label\)"):
        submission.check_columns(comp, tmp_path)


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
