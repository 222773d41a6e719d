"""marvel: eight Marvel characters in marvel/{train,valid}/<class>/pic_NNN.jpg; valid/ is the held-out test."""
from harness.competition import PHOTO_MODEL, Competition, Item, Source, class_index, register
from harness.layout import class_folder_items, find

CLASSES = ("black widow", "captain america", "doctor strange", "hulk", "ironman", "loki", "spider-man", "thanos")


def _split(raw, name):
    root = find(raw, "marvel", contains="train")
    return class_folder_items(raw, find(root, name), lambda f: class_index(COMP, f.name.lower(), str(f)))


def list_train(raw):
    return _split(raw, "train")


def list_test(raw):
    return [Item(i.id, i.path) for i in _split(raw, "valid")]


def solution(raw):
    return {i.id: i.label for i in _split(raw, "valid")}


COMP = register(Competition(
    model=PHOTO_MODEL,
    name="marvel",
    source=Source("dataset", "hchen13/marvel-heroes"),
    task="multiclass",
    classes=CLASSES,
    metric="accuracy",
    extra_metrics=("macro_f1",),
    label_format="class",
    list_train=list_train,
    list_test=list_test,
    solution=solution,
    description="Marvel heroes: eight characters; the dataset's valid/ split is the hidden test.",
    extra={"test set": "held out: the dataset's marvel/valid/ split"},
))
