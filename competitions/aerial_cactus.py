"""aerial-cactus-identification: does a 32x32 aerial photo show a columnar cactus? Graded by ROC AUC.

The download holds train.zip and test.zip, zips with a folder inside (train/<id>.jpg, test/<id>.jpg), which
the download stage unpacks in place, plus train.csv (id,has_cactus) and sample_submission.csv. The id is
the file name WITH its .jpg, in train.csv and in the submission alike. Kaggle keeps the test answers: runs
are scored out-of-fold here and on Kaggle with --upload.
"""
from harness.competition import Competition, Source, class_code, register
from harness.layout import listed

CLASSES = ("no cactus", "cactus")


def list_train(raw):
    return listed(raw, "train.csv", "train", "id", label_column="has_cactus",
                  label_of=lambda code, where: class_code(COMP, code, where))


def list_test(raw):
    return listed(raw, "sample_submission.csv", "test", "id")  # the ids Kaggle grades, in its order


COMP = register(Competition(
    name="aerial-cactus-identification",
    source=Source("competition", "aerial-cactus-identification"),
    task="binary",
    classes=CLASSES,
    metric="roc_auc",
    extra_metrics=("accuracy",),
    label_format="probability",
    id_column="id",
    label_column="has_cactus",
    list_train=list_train,
    list_test=list_test,
    sample_submission="sample_submission.csv",
    file_id="name",
    image_size=32,  # the photos' own size: a small CNN at 32 px, not an ImageNet backbone at 224
    model="small-cnn",
    description="Aerial cactus identification (2019): P(has_cactus) of 32x32 aerial photos; ROC AUC.",
))
