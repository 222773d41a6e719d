"""Tiny archives in each competition's real Kaggle layout, for tests and the benchmark.

Each writer returns the bytes of the archive Kaggle serves (nested zips, CSVs, XML as the real ones);
`serve_all(fake)` puts every one of them on a tests/fake_kaggle.FakeKaggle. Images are 32x24 JPEGs
whose colour depends on the class, so a model can learn a little even from a handful.
"""
import io

import numpy as np
from PIL import Image

from fake_kaggle import make_zip

VOC_CLASSES = ("aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow",
               "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa", "train",
               "tvmonitor")
ITALIAN = ("cane", "cavallo", "elefante", "farfalla", "gallina", "gatto", "mucca", "pecora", "ragno", "scoiattolo")
MARVEL = ("black widow", "captain america", "doctor strange", "hulk", "ironman", "loki", "spider-man", "thanos")


def jpeg(label: int, seed: int, size=(32, 24)) -> bytes:
    """A small JPEG: noise plus a block whose place and colour encode `label`."""
    rng = np.random.default_rng(seed)
    w, h = size
    img = rng.integers(0, 60, (h, w, 3), dtype=np.uint8)
    r, c = divmod(label % 4, 2)
    img[r * h // 2:(r + 1) * h // 2, c * w // 2:(c + 1) * w // 2, label % 3] = 230
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, "JPEG", quality=90)
    return buf.getvalue()


def dogs_vs_cats(per_class=6, n_test=6, test_dir="test1", sample="sampleSubmission.csv", probability=False) -> bytes:
    """<slug>.zip: train.zip (train/cat.N.jpg, train/dog.N.jpg), <test_dir>.zip (<test_dir>/N.jpg), sample CSV."""
    train = make_zip({f"train/{cls}.{n}.jpg": jpeg(k, 100 * k + n)
                      for k, cls in enumerate(("cat", "dog")) for n in range(per_class)})
    test = make_zip({f"{test_dir}/{n}.jpg": jpeg(n % 2, 5000 + n) for n in range(1, n_test + 1)})
    default = "0.5" if probability else "0"
    csv = "id,label\n" + "".join(f"{n},{default}\n" for n in range(1, n_test + 1))
    return make_zip({"train.zip": train, f"{test_dir}.zip": test, sample: csv.encode()})


def dogs_vs_cats_redux(**kwargs) -> bytes:
    """dogs-vs-cats-redux-kernels-edition.zip: train.zip, test.zip (test/N.jpg), sample_submission.csv."""
    return dogs_vs_cats(test_dir="test", sample="sample_submission.csv", probability=True, **kwargs)


def animals10(per_class=5) -> bytes:
    """animals10.zip: raw-img/<Italian folder>/<web file name> plus the dataset's translate.py."""
    files = {"translate.py": b'translate = {"cane": "dog", "cavallo": "horse", "elefante": "elephant"}\n'}
    for k, folder in enumerate(ITALIAN):
        for n in range(per_class):
            name = f"OIP-{k}x{n}AbC.jpeg" if n % 2 else f"e83{k}b{n}0f2dd.jpg"
            files[f"raw-img/{folder}/{name}"] = jpeg(k, 200 * k + n)
    return make_zip(files)


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


def voc2007(n_trainval=40, n_test=10, lower=False) -> bytes:
    """pascal-voc-2007.zip: VOCtrainval_06-Nov-2007/VOCdevkit/VOC2007/... and VOCtest_06-Nov-2007/..."""
    stem = "{:06d}".format
    files = _voc_tree("VOCtrainval_06-Nov-2007/VOCdevkit/VOC2007", range(1, n_trainval + 1), stem, lower)
    files.update(_voc_tree("VOCtest_06-Nov-2007/VOCdevkit/VOC2007", range(n_trainval + 1, n_trainval + n_test + 1),
                           stem, lower))
    return make_zip(files)


def voc2012(n=50, nested=False) -> bytes:
    """pascal-voc-2012.zip: VOC2012/{Annotations,JPEGImages,ImageSets/Main} (older mounts: VOC2012/VOC2012)."""
    root = "VOC2012/VOC2012" if nested else "VOC2012"
    return make_zip(_voc_tree(root, range(1, n + 1), lambda k: f"2008_{k:06d}"))


# competition name -> (source kind, Kaggle slug, archive writer)
SOURCES = {
    "dogs-vs-cats": ("competition", "dogs-vs-cats", dogs_vs_cats),
    "dogs-vs-cats-redux": ("competition", "dogs-vs-cats-redux-kernels-edition", dogs_vs_cats_redux),
    "animals-10": ("dataset", "alessiocorrado99/animals10", animals10),
    "marvel": ("dataset", "hchen13/marvel-heroes", marvel),
    "pascal-voc": ("dataset", "zaraks/pascal-voc-2007", voc2007),
    "pascal-voc-2012": ("dataset", "huanghanchina/pascal-voc-2012", voc2012),
}


def serve(fake, name: str, **kwargs) -> None:
    """Put competition `name`'s tiny archive (writer kwargs passed on) on the fake Kaggle."""
    kind, slug, writer = SOURCES[name]
    (fake.add_competition if kind == "competition" else fake.add_dataset)(slug, writer(**kwargs))


def serve_all(fake) -> None:
    for name in SOURCES:
        serve(fake, name)


def class_folders(root, classes=("black widow", "iron man", "hulk"), per_class=6) -> None:
    """A local folder as the seed tutorial collects it: <root>/<class>/image_N.jpg."""
    for k, cls in enumerate(classes):
        (root / cls).mkdir(parents=True, exist_ok=True)
        for n in range(per_class):
            (root / cls / f"image_{n}.jpg").write_bytes(jpeg(k, 900 * k + n))
