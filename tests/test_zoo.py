"""The zoo competition: every bad-image kind, junk files and duplicates in train and test folders.
It prepares, trains and submits; the report names every skipped file with its reason; every test id
gets a row."""
import csv
import shutil

from PIL import Image

from conftest import blob_image, csv_accuracy, registered
from harness import pipeline, submission
from harness.competition import Competition, Item, Source
from harness.config import RunConfig
from zoo import write_junk, write_zoo

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png"}
EXPECTED = {}  # split -> {file name: Expected}, filled by build


def _build(raw, private):
    for k, cls in enumerate("ab"):
        (raw / "train" / cls).mkdir(parents=True)
        for i in range(6):
            Image.fromarray(blob_image(k, 500 * k + i, size=16)).save(raw / "train" / cls / f"blob{i}.png")
    EXPECTED["train"] = write_zoo(raw / "train" / "a")
    write_junk(raw / "train" / "b")
    shutil.copy(raw / "train" / "b" / "blob0.png", raw / "train" / "b" / "copy_of_blob0.png")  # within train
    EXPECTED["test"] = write_zoo(raw / "test")
    answers = {}
    for i in range(4):
        Image.fromarray(blob_image(i % 2, 7000 + i, size=16)).save(raw / "test" / f"new{i}.png")
        answers[f"new{i}"] = i % 2
    shutil.copy(raw / "train" / "a" / "blob1.png", raw / "test" / "seen.png")  # train/test duplicate
    with open(private / "solution.csv", "w", newline="") as f:
        csv.writer(f).writerows([("id", "label"), *answers.items()])


def _images(folder):
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)


def _solution(raw):
    with open(raw.parent / "private" / "solution.csv", newline="") as f:
        return {r["id"]: int(r["label"]) for r in csv.DictReader(f)}


ZOO = Competition(
    name="zoo", source=Source("builtin"), task="multiclass", classes=("a", "b"), metric="accuracy",
    list_train=lambda raw: [Item(f"{c}_{p.stem}", p, k) for k, c in enumerate("ab")
                            for p in _images(raw / "train" / c)],
    list_test=lambda raw: [Item(p.stem, p) for p in _images(raw / "test")],
    solution=_solution, build=_build, image_size=16, description="every bad-image kind")


def _printable(name: str) -> str:
    return name.encode("utf-8", "backslashreplace").decode("utf-8")


def test_zoo_prepares_trains_and_submits(home, capsys):
    with registered(ZOO):
        outcome = pipeline.submit(RunConfig("zoo", folds=2, epochs=1, image_size=16, batch_size=8, workers=1))
    printed = capsys.readouterr().out
    report = {}
    with open(home / "data" / "zoo" / "cache" / "16px" / "report.csv",
              newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            where = row["path"].split("/raw/", 1)[1]
            report[where] = report.get(where, "") + " | " * (where in report) + row["reason"]

    for split, prefix, skipped in (("train", "train/a/", "train image skipped"),
                                   ("test", "test/", "test image undecodable, fallback prediction")):
        for name, expected in EXPECTED[split].items():
            reason = report.get(prefix + _printable(name), "")
            if not expected.decodes:
                assert reason.startswith(skipped) and "|" not in reason and expected.keyword in reason, (name, reason)
            elif expected.keyword:
                assert reason.startswith("kept with warning") and expected.keyword in reason, (name, reason)
    for junk in ("translate.py", ".DS_Store", "Thumbs.db"):
        assert report[f"train/b/{junk}"].startswith("not used"), junk
    assert "identical to train image" in report["train/b/copy_of_blob0.png"]
    assert "test image identical to train image" in report["test/seen.png"]
    for name in EXPECTED["test"]:
        if _printable(name) != name:  # the non-UTF-8 name, where the file system accepts it
            assert "valid UTF-8" in report[f"test/{_printable(name)}"]
    assert "file(s) skipped or unused" in printed and "report.csv" in printed

    rows = submission.read(outcome.submission)[1]
    test_ids = [_printable(p.stem) for p in _images(home / "data" / "zoo" / "raw" / "test")]
    assert sorted(r[0] for r in rows) == sorted(test_ids)
    solution = _solution(home / "data" / "zoo" / "raw")  # the decodable new images; bad ones have no answer
    assert outcome.test_scores["accuracy"] == csv_accuracy(outcome.submission, solution, ZOO.classes)
    assert not outcome.failed_folds
