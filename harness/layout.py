"""Finding the folders a competition module expects in a raw download, whatever their case or nesting.

Kaggle mounts differ from the archives (lower-case names, `VOC2012/VOC2012`, `train/train`); a module asks
for the path it documents and gets the real one, or one sentence naming the folder and what was found.
"""
import csv
import hashlib
from pathlib import Path

from harness.competition import Item
from harness.errors import HarnessError

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff"}


def find(raw: Path, relative: str, contains: str = "") -> Path:
    """`raw/relative` matched case-insensitively, descending into a same-named nested copy (VOC2012/VOC2012,
    train/train) while the folder lacks `contains` (or, without `contains`, holds no images)."""
    here = Path(raw)
    for part in Path(relative).parts:
        here = _child(here, part, raw, relative)
    while not _has(here, contains) and _match(here, here.name) is not None:
        here = _match(here, here.name)
    if contains and _match(here, contains) is None:
        raise HarnessError(f"Expected a {contains}/ folder in {here}, but found: {_listing(here)}; the download "
                           f"does not have the layout this competition expects.")
    return here


def child(folder: Path, name: str) -> Path:
    """The entry `name` of `folder`, matched case-insensitively, or a clear error."""
    return _child(Path(folder), name, Path(folder), name)


def images(folder: Path) -> list:
    """Image files directly in `folder`, sorted by name."""
    return sorted(p for p in Path(folder).iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def subfolders(folder: Path) -> list:
    """Sub-folders of `folder` (hidden ones left out), sorted by name."""
    return sorted(p for p in Path(folder).iterdir() if p.is_dir() and not p.name.startswith("."))


def image_id(raw: Path, path: Path) -> str:
    """An opaque, stable id for an image: a hash of its path relative to the raw folder (never its class)."""
    text = Path(path).relative_to(raw).as_posix()
    return hashlib.blake2b(text.encode("utf-8", "surrogateescape"), digest_size=8).hexdigest()


def class_folder_items(raw: Path, root: Path, label_of) -> list:
    """Items for `root/<class folder>/<image>`: label_of(folder) gives the label, ids come from image_id()."""
    return [Item(image_id(raw, path), path, label_of(folder)) for folder in subfolders(root)
            for path in images(folder)]


def csv_columns(path: Path, *columns: str) -> list:
    """Rows of a CSV file (found case-insensitively) as tuples of the named columns, or one sentence naming
    the file and the columns it has."""
    path = child(Path(path).parent, Path(path).name)
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        header = [h.strip() for h in reader.fieldnames or []]
        missing = [c for c in columns if c not in header]
        if missing:
            raise HarnessError(f"{path} has no column {missing[0]!r}; its header is {','.join(header) or 'empty'}. "
                               f"The download does not have the layout this competition expects.")
        reader.fieldnames = header
        return [tuple(row[c] for c in columns) for row in reader]


def listed(raw: Path, table: str, folder: str, id_column: str, file: str = "{}", label_column: str = "",
           label_of=None) -> list:
    """Items for the rows of the CSV `table`: the id from `id_column`, the image at folder/file.format(id), and
    with `label_column` the label label_of(value, where) (where names the file for errors)."""
    columns = (id_column, label_column) if label_column else (id_column,)
    root = find(raw, folder)
    return [Item(row[0], root / file.format(row[0]), label_of(row[1], f"{raw / table}") if label_column else None)
            for row in csv_columns(Path(raw) / table, *columns)]


def _has(folder: Path, contains: str) -> bool:
    return _match(folder, contains) is not None if contains else bool(images(folder))


def _child(here: Path, part: str, raw: Path, relative: str) -> Path:
    found = _match(here, part)
    if found is None:
        raise HarnessError(f"No {part}/ folder found in {here} (looking for {relative} under {raw}); found: "
                           f"{_listing(here)}. Check the download, or delete {raw} and download again.")
    return found


def _match(folder: Path, name: str):
    """folder/name if it exists, else the one entry whose name matches ignoring case, else None."""
    exact = folder / name
    if exact.exists():
        return exact
    if not folder.is_dir():
        return None
    same = [p for p in folder.iterdir() if p.name.lower() == name.lower()]
    return same[0] if len(same) == 1 else None


def _listing(folder: Path, limit: int = 8) -> str:
    if not folder.is_dir():
        return "nothing (it is not a folder)"
    names = sorted(p.name + ("/" if p.is_dir() else "") for p in folder.iterdir() if p.name != ".complete")
    if not names:
        return "nothing (it is empty)"
    return ", ".join(names[:limit]) + (f" and {len(names) - limit} more" if len(names) > limit else "")
