"""cassava-leaf-disease-classification: which of four diseases (or none) does a cassava leaf show? Graded by
accuracy.

The download holds train_images/ and test_images/ (<image_id>, the id WITH its .jpg), train.csv
(image_id,label), sample_submission.csv (image_id,label) and label_num_to_disease_map.json, which names
the codes 0-4. The submission wants the integer code, not the name. train_tfrecords/ and test_tfrecords/
hold the same images again as TFRecords: they are not decoded, and prepare reports them as unused.
A code competition: Kaggle grades a notebook on ~15,000 hidden images; the public test has one.
"""
import json

from harness.competition import PHOTO_MODEL, Competition, Source, class_code, register
from harness.errors import HarnessError
from harness.layout import child, listed

DISEASES = ("Cassava Bacterial Blight (CBB)", "Cassava Brown Streak Disease (CBSD)", "Cassava Green Mottle (CGM)",
            "Cassava Mosaic Disease (CMD)", "Healthy")


def list_train(raw):
    _check_name_map(raw)
    return listed(raw, "train.csv", "train_images", "image_id", label_column="label",
                  label_of=lambda code, where: class_code(COMP, code, where))


def list_test(raw):
    return listed(raw, "sample_submission.csv", "test_images", "image_id")


def _check_name_map(raw):
    """The download's code -> name map must agree with DISEASES, or the codes would be misread silently."""
    path = child(raw, "label_num_to_disease_map.json")
    names = json.loads(path.read_text(encoding="utf-8"))
    if {int(k): v for k, v in names.items()} != dict(enumerate(DISEASES)):
        raise HarnessError(f"{path} maps the label codes to {names}, but the cassava module expects "
                           f"{dict(enumerate(DISEASES))}; update the module's DISEASES to the download's map.")


COMP = register(Competition(
    model=PHOTO_MODEL,
    name="cassava-leaf-disease-classification",
    source=Source("competition", "cassava-leaf-disease-classification"),
    task="multiclass",
    classes=DISEASES,
    metric="accuracy",
    label_format="code",
    id_column="image_id",
    list_train=list_train,
    list_test=list_test,
    sample_submission="sample_submission.csv",
    file_id="name",
    code_competition=True,
    test_folder="test_images",
    description="Cassava leaf disease classification (2020-21): integer codes 0-4, names in a JSON map; accuracy.",
    extra={"unused": "train_tfrecords/, test_tfrecords/ (the same images as TFRecords; the JPEGs are read)"},
))
