"""dogs-vs-cats and its redux edition: the same 25,000 labelled photos, two ways of being graded.

The download holds train.zip (train/cat.N.jpg, train/dog.N.jpg: the label is in the name, 1 = dog),
a test archive (test1/N.jpg or test/N.jpg: the id is N) and a sample submission. Kaggle keeps the test
answers, so these competitions are scored locally out-of-fold only, and on Kaggle with --upload.
"""
import re

from harness.competition import PHOTO_MODEL, Competition, Item, Source, register
from harness.errors import HarnessError
from harness.layout import find, images

CLASSES = ("cat", "dog")
NAME = re.compile(r"^(?P<cls>cat|dog)\.(?P<n>\d+)$", re.IGNORECASE)

# One row per competition; the rest of the module is shared.
VARIANTS = {
    "dogs-vs-cats": dict(
        slug="dogs-vs-cats", test="test1", sample="sampleSubmission.csv", metric="accuracy",
        label_format="code",
        description="Asirra dogs vs cats (2013): label 1 = dog, 0 = cat; graded by accuracy."),
    "dogs-vs-cats-redux": dict(
        slug="dogs-vs-cats-redux-kernels-edition", test="test", sample="sample_submission.csv",
        metric="log_loss", label_format="probability",
        clip=(0.005, 0.995),  # log loss punishes a confident mistake without bound; never be that sure
        description="Dogs vs cats redux (2016): label = P(dog), clipped; graded by log loss."),
}


def list_train(raw):
    items = []
    for path in images(find(raw, "train")):
        match = NAME.match(path.stem)
        if not match:
            raise HarnessError(f"{path}: a training image must be named <cat|dog>.<number>.jpg, as Kaggle ships "
                               f"them. Received: {path.name!r}")
        cls = match["cls"].lower()
        items.append(Item(f"{cls}.{match['n']}", path, CLASSES.index(cls)))
    return items


def test_lister(folder):
    def list_test(raw):
        found = images(find(raw, folder))
        bad = [p.name for p in found if not p.stem.isdigit()]
        if bad:
            raise HarnessError(f"{raw / folder}: test images must be named <id>.jpg with a numeric id. "
                               f"Received: {bad[0]!r}")
        return sorted((Item(p.stem, p) for p in found), key=lambda i: int(i.id))
    return list_test


for _name, _row in VARIANTS.items():
    register(Competition(
        model=PHOTO_MODEL,
        name=_name, source=Source("competition", _row["slug"]), task="binary", classes=CLASSES,
        metric=_row["metric"], label_format=_row["label_format"],
        list_train=list_train, list_test=test_lister(_row["test"]), sample_submission=_row["sample"], file_id="stem",
        clip=_row.get("clip", (0.0, 1.0)), description=_row["description"]))
