"""pascal-voc (2007) and pascal-voc-2012: which of the 20 VOC classes appear in each photo (multi-label).

Labels are the <object><name> entries of Annotations/<id>.xml; boxes are not used, so float coordinates
do no harm. Policy for `difficult` objects: they count as present. The image does show the class, and
the harness has no "ignore" label, so leaving them out would mark a correct prediction wrong.
VOC 2007's test annotations are the private solution; VOC 2012 publishes none, so 10% is held out.
"""
import xml.etree.ElementTree as ET

from harness import holdout
from harness.competition import PHOTO_MODEL, Competition, Item, Source, class_index, get, register
from harness.errors import HarnessError
from harness.layout import child, find

CLASSES = ("aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow", "diningtable",
           "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa", "train", "tvmonitor")

# One row per edition: where its trainval and test folders sit (test None: hold out part of trainval).
VARIANTS = {
    "pascal-voc": dict(
        slug="zaraks/pascal-voc-2007", train="VOCtrainval_06-Nov-2007/VOCdevkit/VOC2007",
        test="VOCtest_06-Nov-2007/VOCdevkit/VOC2007",
        description="PASCAL VOC 2007 as multi-label classification; its test annotations are the hidden test."),
    "pascal-voc-2012": dict(
        slug="huanghanchina/pascal-voc-2012", train="VOC2012", test=None,
        description="PASCAL VOC 2012 trainval as multi-label classification; 10% held out as the test."),
}


def annotated(name, relative):
    """A lister of the images under `relative` with their labels from Annotations/*.xml."""
    def list_all(raw):
        root = find(raw, relative, contains="Annotations")
        photos = child(root, "JPEGImages")
        xmls = sorted(p for p in child(root, "Annotations").iterdir() if p.suffix.lower() == ".xml")
        return [Item(x.stem, photos / f"{x.stem}.jpg", _labels(name, x)) for x in xmls]
    return list_all


def _labels(name, xml):
    try:
        objects = ET.parse(xml).getroot().iter("object")
        names = {(o.findtext("name") or "").strip().lower() for o in objects}
    except ET.ParseError as e:
        raise HarnessError(f"{xml}: not a readable VOC annotation ({e}); delete the download and fetch it again.")
    return tuple(sorted(class_index(get(name), n, str(xml)) for n in names))


def _unlabelled(list_all):
    return lambda raw: [Item(i.id, i.path) for i in list_all(raw)]


def _answers(list_all):
    return lambda raw: {i.id: i.label for i in list_all(raw)}


for _name, _row in VARIANTS.items():
    if _row["test"]:
        _lists = dict(list_train=annotated(_name, _row["train"]), list_test=_unlabelled(annotated(_name, _row["test"])),
                      solution=_answers(annotated(_name, _row["test"])))
        _test = f"held out: the VOC test annotations ({_row['test'].split('/')[0]})"
    else:
        _split = holdout.HeldOut(annotated(_name, _row["train"]))
        _lists = dict(list_train=_split.list_train, list_test=_split.list_test, solution=_split.solution)
        _test = f"held out: {holdout.FRACTION:.0%} of trainval, stratified by each image's rarest class"
    register(Competition(
        model=PHOTO_MODEL,
        name=_name, source=Source("dataset", _row["slug"]), task="multilabel", classes=CLASSES, metric="map",
        extra_metrics=("samples_f1",), label_format="classes", description=_row["description"],
        extra={"test set": _test, "difficult": "objects marked difficult count as present"}, **_lists))
