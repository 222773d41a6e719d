"""aptos2019-blindness-detection: the diabetic-retinopathy grade 0-4 of a fundus photo. Graded by quadratic
weighted kappa.

The download holds train_images/ and test_images/ (<id_code>.png, large fundus photos of many sizes, the id a
12-hex file stem), train.csv (id_code,diagnosis), test.csv (id_code) and sample_submission.csv
(id_code,diagnosis). The grade is written as an integer: to kappa 1.6 is no grade at all. The model regresses
the grade and thresholds fitted on the out-of-fold grades cut it (harness.models, harness.cuts). A code
competition: Kaggle grades a notebook on hidden images, so the test here is the public test.csv.
"""
from harness.competition import PHOTO_MODEL, Competition, Source, class_code, register
from harness.layout import listed

GRADES = ("no DR", "mild", "moderate", "severe", "proliferative DR")


def list_train(raw):
    return listed(raw, "train.csv", "train_images", "id_code", file="{}.png", label_column="diagnosis",
                  label_of=lambda grade, where: class_code(COMP, grade, where))


def list_test(raw):
    return listed(raw, "test.csv", "test_images", "id_code", file="{}.png")


COMP = register(Competition(
    model=PHOTO_MODEL,
    name="aptos2019-blindness-detection",
    source=Source("competition", "aptos2019-blindness-detection"),
    task="ordinal",
    classes=GRADES,
    metric="quadratic_kappa",
    label_format="grade",
    id_column="id_code",
    label_column="diagnosis",
    list_train=list_train,
    list_test=list_test,
    sample_submission="sample_submission.csv",
    augment=("flip", "rotate", "zoom", "contrast"),
    file_id="stem",
    code_competition=True,
    test_folder="test_images",
    description="APTOS 2019 blindness detection: retinopathy grade 0-4, regressed then cut; quadratic kappa.",
))
