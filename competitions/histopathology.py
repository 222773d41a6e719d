"""histopathologic-cancer-detection: does the centre 32x32 of a 96x96 lymph-node patch hold tumour tissue?
Graded by ROC AUC.

The download holds the folders train/ and test/ of 96x96 RGB TIFFs (<id>.tif, the id a 40-hex file stem,
written WITHOUT the extension), train_labels.csv (id,label) and sample_submission.csv (id,label). TIFF is
decoded through Pillow (TensorFlow's decode_image cannot read it; the harness decodes by content).
"""
from harness.competition import PHOTO_MODEL, Competition, Source, class_code, register
from harness.layout import listed

CLASSES = ("no tumour", "tumour")


def list_train(raw):
    return listed(raw, "train_labels.csv", "train", "id", file="{}.tif", label_column="label",
                  label_of=lambda code, where: class_code(COMP, code, where))


def list_test(raw):
    return listed(raw, "sample_submission.csv", "test", "id", file="{}.tif")


COMP = register(Competition(
    model=PHOTO_MODEL,
    name="histopathologic-cancer-detection",
    source=Source("competition", "histopathologic-cancer-detection"),
    task="binary",
    classes=CLASSES,
    metric="roc_auc",
    extra_metrics=("accuracy",),
    label_format="probability",
    list_train=list_train,
    list_test=list_test,
    sample_submission="sample_submission.csv",
    file_id="stem",
    augment=("flip", "rotate", "zoom", "contrast"),  # no shift: the label is about the patch's centre
    image_size=96,  # the patches' own size
    description="Histopathologic cancer detection (2019): P(tumour) of 96x96 TIFF patches; ROC AUC.",
))
