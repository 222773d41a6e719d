"""animals-10: about 26,000 web images of ten animals in Italian-named folders (raw-img/cane/...).

No test set is published, so 10% of each class is held out (harness.holdout) with a private solution.
The dataset's translate.py misses some folders, hence the module's own table.
"""
from harness import holdout
from harness.competition import PHOTO_MODEL, Competition, Source, register
from harness.errors import HarnessError
from harness.layout import class_folder_items, find

ITALIAN = {"cane": "dog", "cavallo": "horse", "elefante": "elephant", "farfalla": "butterfly",
           "gallina": "chicken", "gatto": "cat", "mucca": "cow", "pecora": "sheep", "ragno": "spider",
           "scoiattolo": "squirrel"}
CLASSES = tuple(sorted(ITALIAN.values()))


def list_all(raw):
    return class_folder_items(raw, find(raw, "raw-img"), _label)


def _label(folder):
    english = ITALIAN.get(folder.name.lower())
    if english is None:
        raise HarnessError(f"{folder}: unknown class folder {folder.name!r}; animals-10 has the Italian folders "
                           f"{', '.join(ITALIAN)}. Check the download or add the folder to the module's table.")
    return CLASSES.index(english)


split = holdout.HeldOut(list_all)
register(Competition(
    model=PHOTO_MODEL,
    name="animals-10",
    source=Source("dataset", "alessiocorrado99/animals10"),
    task="multiclass",
    classes=CLASSES,
    metric="accuracy",
    extra_metrics=("macro_f1",),
    label_format="class",
    list_train=split.list_train,
    list_test=split.list_test,
    solution=split.solution,
    description="Animals-10: ten animals from Google Images, Italian folders mapped to English.",
    extra={"test set": f"held out: {holdout.FRACTION:.0%} of each class, by a hash of each image's path"},
))
