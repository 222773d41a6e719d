"""Any local folder with one sub-folder of images per class becomes a competition: `--data-dir PATH`.

data/<name>/raw is made a link to the folder, so later commands find it without --data-dir; 10% of each
class is held out (harness.holdout) as the hidden test. Not registered at import: the CLI calls use(), which
registers it once through the registry like any module (a second use() in one process returns that one).
"""
import re
import shutil
from pathlib import Path

from harness import competition, holdout, paths
from harness.competition import PHOTO_MODEL, Competition, Source, class_index
from harness.errors import HarnessError
from harness.layout import class_folder_items, images, subfolders


def use(name: str, data_dir=None) -> Competition:
    """Register the local folder competition `name` (linking `data_dir` first when given) and return it."""
    raw = paths.raw_dir(name)
    if data_dir is not None:
        _link(name, Path(data_dir).expanduser().resolve(), raw)
    elif not raw.is_symlink():
        if name not in competition.names():
            raise HarnessError(f"Unknown competition {name!r}. Known: {', '.join(competition.names())}; or make "
                               f"one from a folder of class sub-folders with --data-dir PATH. "
                               f"Received: competition={name!r}")
        return competition.get(name)
    folder = raw.resolve()
    if name in competition.names() and competition.get(name).source == Source("local", str(folder)):
        return competition.get(name)
    classes = tuple(d.name for d in subfolders(folder) if images(d))
    if len(classes) < 2:
        raise HarnessError(f"{folder} needs at least 2 sub-folders of images, one per class (e.g. "
                           f"{folder}/cat/1.jpg). Received: {len(classes)} ({', '.join(classes) or 'none'}).")
    comp = Competition(
        model=PHOTO_MODEL,
        name=name, source=Source("local", str(folder)), task="multiclass", classes=classes, metric="accuracy",
        extra_metrics=("macro_f1",), label_format="class", description=f"local folder {folder}",
        extra={"test set": f"held out: {holdout.FRACTION:.0%} of each class, by a hash of each image's path"},
        **_lists(name))
    return competition.register(comp)


def _lists(name):
    def list_all(raw):
        comp = competition.get(name)
        return class_folder_items(raw, raw, lambda d: class_index(comp, d.name, str(d)))
    split = holdout.HeldOut(list_all)
    return dict(list_train=split.list_train, list_test=split.list_test, solution=split.solution)


def _link(name, folder: Path, raw: Path) -> None:
    """Point data/<name>/raw at `folder`; a link to another folder is replaced and its cache dropped."""
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", name):
        raise HarnessError(f"A competition name is letters, digits, '.', '_' and '-' (it names folders). "
                           f"Received: {name!r}")
    if name in competition.names() and competition.get(name).source.kind != "local":
        raise HarnessError(f"{name} is a registered competition; --data-dir makes a new one from a folder, so "
                           f"give it another name. Received: {name} --data-dir {folder}")
    if not folder.is_dir():
        raise HarnessError(f"--data-dir must be a folder with one sub-folder of images per class. "
                           f"Received: {folder} (not a folder).")
    if raw.is_symlink() and raw.resolve() == folder:
        return
    if raw.exists() and not raw.is_symlink():
        raise HarnessError(f"{raw} holds downloaded files, not a link to a local folder; choose another name "
                           f"than {name!r} for {folder}.")
    data = paths.data_dir(name)
    for stale in ("cache", "folds"):
        shutil.rmtree(data / stale, ignore_errors=True)
    data.mkdir(parents=True, exist_ok=True)
    if raw.is_symlink():
        raw.unlink()
    raw.symlink_to(folder, target_is_directory=True)
