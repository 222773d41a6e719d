"""plant-seedlings-classification: which of 12 species is the seedling? Graded by micro-F1 (= accuracy).

The download holds train/<Species>/<file>.png (one folder per species, named exactly as the classes, spaces
and mixed case included: "Common Chickweed", "Loose Silky-bent"), test/<file>.png and sample_submission.csv.
The submission is `file,species`: the file name WITH .png, and the species name as the folder spells it.
"""
from harness.competition import PHOTO_MODEL, Competition, Source, class_index, register
from harness.layout import class_folder_items, find, listed

SPECIES = ("Black-grass", "Charlock", "Cleavers", "Common Chickweed", "Common wheat", "Fat Hen", "Loose Silky-bent",
           "Maize", "Scentless Mayweed", "Shepherds Purse", "Small-flowered Cranesbill", "Sugar beet")


def list_train(raw):
    # exact names: a folder spelt otherwise is not guessed at but named in the error, with the known species
    return class_folder_items(raw, find(raw, "train"), lambda folder: class_index(COMP, folder.name, str(folder)))


def list_test(raw):
    return listed(raw, "sample_submission.csv", "test", "file")


COMP = register(Competition(
    model=PHOTO_MODEL,
    name="plant-seedlings-classification",
    source=Source("competition", "plant-seedlings-classification"),
    task="multiclass",
    classes=SPECIES,
    metric="micro_f1",
    extra_metrics=("macro_f1",),
    label_format="class",
    id_column="file",
    label_column="species",
    list_train=list_train,
    list_test=list_test,
    sample_submission="sample_submission.csv",
    file_id="name",
    description="Plant seedlings classification (2018): 12 species, named with spaces; micro-F1.",
))
