"""What a competition declares, and the registry every competition module adds itself to."""
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

from harness import formats
from harness.errors import HarnessError
from harness.registry import Registry

TASKS = ("binary", "multiclass", "multilabel", "ordinal")  # ordinal: integer grades 0..K-1, regressed
AUGMENTATIONS = ("flip", "rotate", "zoom", "shift", "contrast")
PHOTO_MODEL = "efficientnet-b0"  # the default model for real photographs (ImageNet transfer)
# How a test image's file name gives its submission id, where it does (`harness predict --images`).
FILE_IDS = {"stem": lambda path: Path(path).stem, "name": lambda path: Path(path).name}


@dataclass(frozen=True)
class Source:
    """Where the raw files come from: a Kaggle competition or dataset, or a builder function (offline)."""
    kind: str  # "competition" | "dataset" | "builtin" | "local"
    slug: str = ""

    @property
    def url(self) -> str:
        if self.kind == "competition":
            return f"https://www.kaggle.com/c/{self.slug}"
        if self.kind == "dataset":
            return f"https://www.kaggle.com/datasets/{self.slug}"
        return ""


@dataclass(frozen=True)
class Item:
    """One image: its id in the submission, its file, and its label (class index, tuple of them, or None)."""
    id: str
    path: Path
    label: object = None


@dataclass(frozen=True)
class Competition:
    name: str
    source: Source
    task: str
    classes: tuple
    metric: str
    list_train: Callable[[Path], list]  # raw dir -> [Item] with labels
    list_test: Callable[[Path], list]  # raw dir -> [Item] with label None
    label_format: str = "class"  # a submission format's name (harness.formats): class, code, probability, ...
    id_column: str = "id"  # the submission's column names, as Kaggle's sample submission has them
    label_column: str = "label"
    solution: Optional[Callable[[Path], dict]] = None  # raw dir -> {id: label}: hidden test answers
    build: Optional[Callable[[Path, Path], None]] = None  # (raw, private) -> writes the files of a builtin source
    augment: tuple = ("flip", "rotate", "zoom", "shift")
    image_size: Optional[int] = None  # preferred size; a model's own size applies when None
    model: str = "small-cnn"  # what --model defaults to
    extra_metrics: tuple = ()
    sample_submission: Optional[str] = None  # path inside the raw dir, checked against when present
    clip: tuple = (0.0, 1.0)  # probabilities written are clipped to this range (log loss: never be that sure)
    description: str = ""
    extra: dict = field(default_factory=dict)  # free-form module facts shown by `harness info`
    file_id: Optional[str] = None  # a key of FILE_IDS; None: ids are not file names (no `predict --images`)
    code_competition: bool = False  # Kaggle grades a notebook's output on hidden test images (`harness package`)
    test_folder: str = ""  # code competitions: the test images' folder in the data a notebook sees

    def __post_init__(self):
        if self.task not in TASKS:
            raise ValueError(f"{self.name}: task must be one of {TASKS}. Received: task={self.task!r}")
        if self.task not in self.format.tasks:
            fits = [f.name for f in formats.FORMATS if self.task in f.tasks]
            raise ValueError(f"{self.name}: label_format must be one of {fits} for a {self.task} task. "
                             f"Received: label_format={self.label_format!r}")
        if self.task == "binary" and len(self.classes) != 2:
            raise ValueError(f"{self.name}: a binary task has exactly 2 classes. Received: {self.classes}")
        if self.file_id is not None and self.file_id not in FILE_IDS:
            raise ValueError(f"{self.name}: file_id must be one of {sorted(FILE_IDS)} or None. "
                             f"Received: file_id={self.file_id!r}")
        if self.code_competition and not (self.test_folder and self.file_id):
            raise ValueError(f"{self.name}: a code competition declares its test_folder and file_id, which a "
                             f"Kaggle notebook needs to find and name the hidden test images. Received: "
                             f"test_folder={self.test_folder!r}, file_id={self.file_id!r}")
        bad = set(self.augment) - set(AUGMENTATIONS)
        if bad:
            raise ValueError(f"{self.name}: unknown augmentation {sorted(bad)}; known: {AUGMENTATIONS}")

    @property
    def format(self) -> formats.Format:
        """The submission format object that writes, checks and reads this competition's CSV."""
        return formats.get(self.label_format)

    def test_id(self, path) -> str:
        """The submission id of the test image at `path`, from its file name (see `file_id`)."""
        if self.file_id is None:
            raise HarnessError(f"{self.name} does not name its test images by file (its ids come from its "
                               f"listing), so a folder of images cannot be predicted on its own; use `harness "
                               f"predict {self.name}` on the downloaded test set.")
        return FILE_IDS[self.file_id](path)

    @property
    def num_outputs(self) -> int:
        """Width of the model's head: one sigmoid (binary), one regressed grade (ordinal), else one per class."""
        return 1 if self.task in ("binary", "ordinal") else len(self.classes)


COMPETITIONS = Registry("competition")


def register(comp: Competition) -> Competition:
    return COMPETITIONS.add(comp.name, comp)


def get(name: str) -> Competition:
    import competitions  # noqa: F401  (imports every module, which registers itself)
    return COMPETITIONS.get(name)


def names() -> list:
    import competitions  # noqa: F401
    return COMPETITIONS.names()


def class_index(comp: Competition, name: str, where: str) -> int:
    """Map a class name to its index, or say which file held an unknown class."""
    try:
        return comp.classes.index(name)
    except ValueError:
        raise HarnessError(f"{where}: unknown class {name!r} for {comp.name}; known: {', '.join(comp.classes)}.")


def class_code(comp: Competition, code: str, where: str) -> int:
    """An integer class code (a grade) as written in a labels file, or say which file held a bad one."""
    if not (code.strip().isdigit() and int(code) < len(comp.classes)):
        raise HarnessError(f"{where}: label {code!r} is not a class code 0..{len(comp.classes) - 1} of {comp.name}.")
    return int(code)
