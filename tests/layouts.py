"""Tiny raw downloads in each competition's real Kaggle layout: one fake-data writer per registered competition.

Each writer returns the bytes of the archive Kaggle serves (nested zips, CSVs, XML, JSON as the real ones)
and is registered under its competition's name with @writer; `serve(fake, name)` puts it on a
tests/fake_kaggle.FakeKaggle at the competition's own source. test_competitions runs every registered
Kaggle competition through its writer, so a new competition needs its module and a writer here, nothing
else. Images are small and their colour depends on the class, so a model can learn a little from a handful.
"""
import hashlib
import io
import json

import numpy as np
from PIL import Image

from fake_kaggle import make_zip
from harness import competition

WRITERS = {}  # competition name -> writer(**kwargs) -> archive bytes


def writer(name: str):
    """Register the decorated function as competition `name`'s fake-data writer."""
    def wrap(fn):
        WRITERS[name] = fn
        return fn
    return wrap

VOC_CLASSES = ("aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow",
               "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa", "train",
               "tvmonitor")
ITALIAN = ("cane", "cavallo", "elefante", "farfalla", "gallina", "gatto", "mucca", "pecora", "ragno", "scoiattolo")
MARVEL = ("black widow", "captain america", "doctor strange", "hulk", "ironman", "loki", "spider-man", "thanos")


def picture(label: int, seed: int, size=(32, 24)) -> np.ndarray:
    """Noise plus a block whose place and colour encode `label`."""
    rng = np.random.default_rng(seed)
    w, h = size
    img = rng.integers(0, 60, (h, w, 3), dtype=np.uint8)
    r, c = divmod(label % 4, 2)
    img[r * h // 2:(r + 1) * h // 2, c * w // 2:(c + 1) * w // 2, label % 3] = 230
    return img


def encoded(label: int, seed: int, size=(32, 24), fmt="JPEG", mode="RGB", **params) -> bytes:
    """picture() as the bytes of an image file in `fmt` (JPEG, PNG, TIFF) and colour `mode`."""
    buf = io.BytesIO()
    Image.fromarray(picture(label, seed, size)).convert(mode).save(buf, fmt, **params)
    return buf.getvalue()


def jpeg(label: int, seed: int, size=(32, 24)) -> bytes:
    return encoded(label, seed, size, "JPEG", quality=90)


def hex_id(n: int, digits: int) -> str:
    """A file stem like Kaggle's: `digits` hex characters."""
    return hashlib.sha1(str(n).encode()).hexdigest()[:digits]


def csv_bytes(header, rows) -> bytes:
    return ("\n".join(",".join(map(str, r)) for r in [header, *rows]) + "\n").encode()


@writer("dogs-vs-cats")
def dogs_vs_cats(per_class=6, n_test=6, test_dir="test1", sample="sampleSubmission.csv", probability=False) -> bytes:
    """<slug>.zip: train.zip (train/cat.N.jpg, train/dog.N.jpg), <test_dir>.zip (<test_dir>/N.jpg), sample CSV."""
    train = make_zip({f"train/{cls}.{n}.jpg": jpeg(k, 100 * k + n)
                      for k, cls in enumerate(("cat", "dog")) for n in range(per_class)})
    test = make_zip({f"{test_dir}/{n}.jpg": jpeg(n % 2, 5000 + n) for n in range(1, n_test + 1)})
    default = "0.5" if probability else "0"
    csv = "id,label\n" + "".join(f"{n},{default}\n" for n in range(1, n_test + 1))
    return make_zip({"train.zip": train, f"{test_dir}.zip": test, sample: csv.encode()})


@writer("dogs-vs-cats-redux")
def dogs_vs_cats_redux(**kwargs) -> bytes:
    """dogs-vs-cats-redux-kernels-edition.zip: train.zip, test.zip (test/N.jpg), sample_submission.csv."""
    return dogs_vs_cats(test_dir="test", sample="sample_submission.csv", probability=True, **kwargs)


@writer("animals-10")
def animals10(per_class=5) -> bytes:
    """animals10.zip: raw-img/<Italian folder>/<web file name> plus the dataset's translate.py."""
    files = {"translate.py": b'translate = {"cane": "dog", "cavallo": "horse", "elefante": "elephant"}\n'}
    for k, folder in enumerate(ITALIAN):
        for n in range(per_class):
            name = f"OIP-{k}x{n}AbC.jpeg" if n % 2 else f"e83{k}b{n}0f2dd.jpg"
            files[f"raw-img/{folder}/{name}"] = jpeg(k, 200 * k + n)
    return make_zip(files)


@writer("marvel")
def marvel(train_per_class=3, valid_per_class=2) -> bytes:
    """marvel-heroes.zip: marvel/train/<class>/pic_NNN.jpg and marvel/valid/<class>/pic_NNN.jpg."""
    files = {}
    for k, cls in enumerate(MARVEL):
        for split, count in (("train", train_per_class), ("valid", valid_per_class)):
            for n in range(count):
                files[f"marvel/{split}/{cls}/pic_{n:03d}.jpg"] = jpeg(k, 300 * k + n + (50 if split == "valid" else 0))
    return make_zip(files)


def voc_labels(n: int) -> tuple:
    """The classes in image number n: one, two or three of the 20, every class often enough for 2 folds."""
    first = VOC_CLASSES[n % 20]
    extra = {VOC_CLASSES[(n * 7 + 3) % 20]} if n % 3 == 0 else set()
    return tuple(sorted({first, *extra, *({"person"} if n % 5 == 0 else set())}))


def voc_xml(stem: str, labels, difficult_last=False) -> bytes:
    """An Annotations/<stem>.xml as VOC writes it (float box coordinates, as some files have)."""
    objects = "".join(
        f"<object><name>{name}</name><pose>Unspecified</pose><truncated>0</truncated>"
        f"<difficult>{int(difficult_last and i == len(labels) - 1)}</difficult>"
        f"<bndbox><xmin>1.5</xmin><ymin>2.0</ymin><xmax>30.25</xmax><ymax>22</ymax></bndbox></object>"
        for i, name in enumerate(labels))
    return (f"<annotation><folder>VOC</folder><filename>{stem}.jpg</filename>"
            f"<size><width>32</width><height>24</height><depth>3</depth></size>"
            f"<segmented>0</segmented>{objects}</annotation>").encode()


def _voc_tree(root: str, numbers, stem, lower=False) -> dict:
    names = {"Annotations": "Annotations", "JPEGImages": "JPEGImages", "ImageSets/Main": "ImageSets/Main"}
    if lower:
        root, names = root.lower(), {k: v.lower() for k, v in names.items()}
    files = {}
    for n in numbers:
        labels = voc_labels(n)
        files[f"{root}/{names['Annotations']}/{stem(n)}.xml"] = voc_xml(stem(n), labels, difficult_last=n % 4 == 0)
        files[f"{root}/{names['JPEGImages']}/{stem(n)}.jpg"] = jpeg(VOC_CLASSES.index(labels[0]), 7000 + n)
    split = "trainval" if "trainval" in root.lower() or "2012" in root else "test"
    files[f"{root}/{names['ImageSets/Main']}/{split}.txt"] = "".join(f"{stem(n)}\n" for n in numbers).encode()
    return files


@writer("pascal-voc")
def voc2007(n_trainval=40, n_test=10, lower=False) -> bytes:
    """pascal-voc-2007.zip: VOCtrainval_06-Nov-2007/VOCdevkit/VOC2007/... and VOCtest_06-Nov-2007/..."""
    stem = "{:06d}".format
    files = _voc_tree("VOCtrainval_06-Nov-2007/VOCdevkit/VOC2007", range(1, n_trainval + 1), stem, lower)
    files.update(_voc_tree("VOCtest_06-Nov-2007/VOCdevkit/VOC2007", range(n_trainval + 1, n_trainval + n_test + 1),
                           stem, lower))
    return make_zip(files)


@writer("pascal-voc-2012")
def voc2012(n=50, nested=False) -> bytes:
    """pascal-voc-2012.zip: VOC2012/{Annotations,JPEGImages,ImageSets/Main} (older mounts: VOC2012/VOC2012)."""
    root = "VOC2012/VOC2012" if nested else "VOC2012"
    return make_zip(_voc_tree(root, range(1, n + 1), lambda k: f"2008_{k:06d}"))


@writer("aerial-cactus-identification")
def aerial_cactus(n_train=12, n_test=6) -> bytes:
    """aerial-cactus-identification.zip: train.zip (train/<id>.jpg), test.zip (test/<id>.jpg), train.csv
    (id,has_cactus; ids WITH .jpg) and sample_submission.csv; the photos are 32x32."""
    train = {f"{hex_id(n, 32)}.jpg": n % 2 for n in range(n_train)}
    test = [f"{hex_id(1000 + n, 32)}.jpg" for n in range(n_test)]
    return make_zip({
        "train.zip": make_zip({f"train/{i}": jpeg(label, n, (32, 32)) for n, (i, label) in enumerate(train.items())}),
        "test.zip": make_zip({f"test/{i}": jpeg(n % 2, 500 + n, (32, 32)) for n, i in enumerate(test)}),
        "train.csv": csv_bytes(("id", "has_cactus"), train.items()),
        "sample_submission.csv": csv_bytes(("id", "has_cactus"), [(i, 0.5) for i in test])})


@writer("dog-breed-identification")
def dog_breeds(breeds=("affenpinscher", "black-and-tan_coonhound", "shih-tzu", "yorkshire_terrier"), per_breed=3,
               n_test=5, columns=None) -> bytes:
    """dog-breed-identification.zip: train/<id>.jpg, test/<id>.jpg (32-hex stems), labels.csv (id,breed) and
    sample_submission.csv with a column for each of the 120 breeds, though training holds only `breeds`."""
    from competitions.dog_breeds import BREEDS

    labels = [(hex_id(k * 100 + n, 32), breed) for k, breed in enumerate(breeds) for n in range(per_breed)]
    test = [hex_id(9000 + n, 32) for n in range(n_test)]
    files = {f"train/{i}.jpg": jpeg(BREEDS.index(b), n) for n, (i, b) in enumerate(labels)}
    files.update({f"test/{i}.jpg": jpeg(n, 700 + n) for n, i in enumerate(test)})
    header = ("id", *(columns or BREEDS))
    files["labels.csv"] = csv_bytes(("id", "breed"), labels)
    files["sample_submission.csv"] = csv_bytes(header, [(i, *[1 / 120] * 120) for i in test])
    return make_zip(files)


PLANTS = ("Black-grass", "Charlock", "Cleavers", "Common Chickweed", "Common wheat", "Fat Hen", "Loose Silky-bent",
          "Maize", "Scentless Mayweed", "Shepherds Purse", "Small-flowered Cranesbill", "Sugar beet")


@writer("plant-seedlings-classification")
def plant_seedlings(per_species=2, n_test=6, species=PLANTS) -> bytes:
    """plant-seedlings-classification.zip: train/<Species>/<file>.png (names with spaces), test/<file>.png and
    sample_submission.csv (file,species; file WITH .png). Some PNGs carry alpha, as the real ones do."""
    files = {f"train/{name}/{hex_id(40 * k + n, 9)}.png": encoded(k, 40 * k + n, fmt="PNG", mode="RGBA" if n % 2 else "RGB")
             for k, name in enumerate(species) for n in range(per_species)}
    test = [f"{hex_id(5000 + n, 9)}.png" for n in range(n_test)]
    files.update({f"test/{f}": encoded(n, 800 + n, fmt="PNG") for n, f in enumerate(test)})
    files["sample_submission.csv"] = csv_bytes(("file", "species"), [(f, "Sugar beet") for f in test])
    return make_zip(files)


@writer("histopathologic-cancer-detection")
def histopathology(n_train=12, n_test=6) -> bytes:
    """histopathologic-cancer-detection.zip: train/<id>.tif, test/<id>.tif (RGB TIFF; 40-hex ids written without
    the extension), train_labels.csv (id,label) and sample_submission.csv (id,label). The real patches are
    96x96; 32x32 keeps the archive small."""
    train = [(hex_id(n, 40), n % 2) for n in range(n_train)]
    test = [hex_id(3000 + n, 40) for n in range(n_test)]
    tiff = dict(size=(32, 32), fmt="TIFF", compression="tiff_lzw")
    files = {f"train/{i}.tif": encoded(label, n, **tiff) for n, (i, label) in enumerate(train)}
    files.update({f"test/{i}.tif": encoded(n % 2, 600 + n, **tiff) for n, i in enumerate(test)})
    files["train_labels.csv"] = csv_bytes(("id", "label"), train)
    files["sample_submission.csv"] = csv_bytes(("id", "label"), [(i, 0) for i in test])
    return make_zip(files)


@writer("aptos2019-blindness-detection")
def aptos(per_grade=3, n_test=5) -> bytes:
    """aptos2019-blindness-detection.zip: train_images/<id_code>.png and test_images/ (PNGs of varied sizes,
    12-hex ids), train.csv (id_code,diagnosis 0-4), test.csv (id_code), sample_submission.csv."""
    train = [(hex_id(10 * g + n, 12), g) for g in range(5) for n in range(per_grade)]
    test = [hex_id(4000 + n, 12) for n in range(n_test)]
    files = {f"train_images/{i}.png": encoded(g, n, (40 + 4 * n, 30 + 2 * g), "PNG") for n, (i, g) in enumerate(train)}
    files.update({f"test_images/{i}.png": encoded(n, 900 + n, (36, 28), "PNG") for n, i in enumerate(test)})
    files["train.csv"] = csv_bytes(("id_code", "diagnosis"), train)
    files["test.csv"] = csv_bytes(("id_code",), [(i,) for i in test])
    files["sample_submission.csv"] = csv_bytes(("id_code", "diagnosis"), [(i, 0) for i in test])
    return make_zip(files)


CASSAVA_MAP = {"0": "Cassava Bacterial Blight (CBB)", "1": "Cassava Brown Streak Disease (CBSD)",
               "2": "Cassava Green Mottle (CGM)", "3": "Cassava Mosaic Disease (CMD)", "4": "Healthy"}


@writer("cassava-leaf-disease-classification")
def cassava(per_code=2, n_test=2, name_map=CASSAVA_MAP) -> bytes:
    """cassava-leaf-disease-classification.zip: train_images/<image_id> and test_images/ (ids WITH .jpg),
    train.csv (image_id,label code), sample_submission.csv, label_num_to_disease_map.json, and the same
    images again in train_tfrecords/ and test_tfrecords/ (here stand-in bytes: they must not be read)."""
    train = [(f"{1000015157 + 7 * (10 * c + n)}.jpg", c) for c in range(5) for n in range(per_code)]
    test = [f"{2216849948 + n}.jpg" for n in range(n_test)]
    files = {f"train_images/{i}": jpeg(c, n, (40, 30)) for n, (i, c) in enumerate(train)}
    files.update({f"test_images/{i}": jpeg(n, 300 + n, (40, 30)) for n, i in enumerate(test)})
    files["train.csv"] = csv_bytes(("image_id", "label"), train)
    files["sample_submission.csv"] = csv_bytes(("image_id", "label"), [(i, 4) for i in test])
    files["label_num_to_disease_map.json"] = json.dumps(name_map).encode()
    files["train_tfrecords/ld_train00-10.tfrec"] = b"\x00" * 64
    files["test_tfrecords/ld_test00-2.tfrec"] = b"\x00" * 64
    return make_zip(files)


def serve(fake, name: str, **kwargs) -> None:
    """Put competition `name`'s tiny download (writer kwargs passed on) on the fake Kaggle, at its own source."""
    source = competition.get(name).source
    archive = WRITERS[name](**kwargs)
    (fake.add_competition if source.kind == "competition" else fake.add_dataset)(source.slug, archive)


def class_folders(root, classes=("black widow", "iron man", "hulk"), per_class=6) -> None:
    """A local folder as the seed tutorial collects it: <root>/<class>/image_N.jpg."""
    for k, cls in enumerate(classes):
        (root / cls).mkdir(parents=True, exist_ok=True)
        for n in range(per_class):
            (root / cls / f"image_{n}.jpg").write_bytes(jpeg(k, 900 * k + n))
