"""Safe zip extraction: test first, refuse members that escape the target or bombs, unpack nested zips."""
import shutil
import stat
import zipfile
import zlib
from pathlib import Path, PurePosixPath

from harness import progress
from harness.errors import HarnessError

DEFAULT_MAX_BYTES = 64 * 1024 ** 3  # declared uncompressed total; Kaggle's image sets stay far below this
MAX_DEPTH = 4  # zips inside zips inside zips ... deeper than this is refused (a quine zip never ends)
_CORRUPT = (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError)


class CorruptArchive(HarnessError):
    """The file is not a complete, readable zip: truncated, an HTML page saved as .zip, or a bad CRC."""


def extract_all(archive: Path, dest: Path, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
    """Extract `archive` into `dest`, then every zip it held into the folder where that zip landed."""
    _extract(Path(archive), Path(dest), [max_bytes], depth=0)


def _extract(archive: Path, dest: Path, budget: list, depth: int) -> None:
    """Test, check and unpack one archive, then recurse into the zips it contained; `budget` is shared."""
    if depth > MAX_DEPTH:
        raise HarnessError(f"{archive} is nested {depth} zips deep (limit {MAX_DEPTH}); refusing to unpack it "
                           f"further, inspect the download by hand.")
    dest.mkdir(parents=True, exist_ok=True)
    with _open_tested(archive) as zf:
        infos = zf.infolist()
        _check_size(archive, infos, budget[0])
        budget[0] -= sum(i.file_size for i in infos)
        root = dest.resolve()
        with progress.bar(total=len(infos), desc=f"unpack {archive.name}", unit="file") as bar:
            for info in infos:
                _extract_member(zf, info, archive, root)
                bar.update()
    for inner in _inner_zips(infos, root):
        _extract(inner, inner.parent, budget, depth + 1)
        inner.unlink()


def _open_tested(archive: Path) -> zipfile.ZipFile:
    """Open `archive` and check every member's CRC, or raise CorruptArchive saying what the file looks like."""
    try:
        zf = zipfile.ZipFile(archive)
    except (*_CORRUPT, OSError) as e:
        raise CorruptArchive(_corrupt_text(archive, e)) from None
    try:
        bad = _first_bad_member(zf, archive)
    except _CORRUPT as e:
        zf.close()
        raise CorruptArchive(_corrupt_text(archive, e)) from None
    if bad is not None:
        zf.close()
        raise CorruptArchive(f"{archive} is corrupt: member {bad!r} fails its CRC check; delete the file and "
                             f"download it again.")
    return zf


def _first_bad_member(zf: zipfile.ZipFile, archive: Path):
    """zf.testzip() with a progress bar: read every member through its CRC check; the first that fails, or None."""
    infos = zf.infolist()
    with progress.bar(total=len(infos), desc=f"check {archive.name}", unit="file") as bar:
        for info in infos:
            try:
                with zf.open(info) as member:
                    while member.read(1 << 20):
                        pass
            except zipfile.BadZipFile:
                return info.filename
            bar.update()
    return None


def _corrupt_text(archive: Path, error: Exception) -> str:
    """One sentence on why `archive` cannot be read, naming an HTML page when that is what arrived."""
    try:
        head = archive.read_bytes()[:256].lstrip().lower()
    except OSError:
        head = b""
    if head.startswith((b"<!doctype html", b"<html", b"<?xml", b"{")):
        what = "a web page or error message saved under a .zip name"
    else:
        what = "not a complete zip archive (probably truncated)"
    return f"{archive} is {what} ({error}); delete it and download it again."


def _check_size(archive: Path, infos: list, budget: int) -> None:
    """Refuse a zip bomb: the declared uncompressed total must fit in what is left of the byte budget."""
    total = sum(i.file_size for i in infos)
    if total > budget:
        biggest = max(infos, key=lambda i: i.file_size)
        raise HarnessError(f"{archive} declares {total:,} uncompressed bytes (largest member {biggest.filename!r}: "
                           f"{biggest.file_size:,}), over the limit of {budget:,}; refusing a possible zip bomb, "
                           f"raise max_bytes if the archive is genuine.")


def _extract_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, archive: Path, root: Path) -> None:
    """Write one member under `root`, refusing absolute paths, `..` and symlinks that point outside."""
    target = _safe_target(info.filename, archive, root)
    try:
        if info.is_dir():
            target.mkdir(parents=True, exist_ok=True)
        elif _is_symlink(info):
            _make_symlink(zf, info, archive, root, target)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(info) as src, open(target, "wb") as out:
                shutil.copyfileobj(src, out, 1 << 20)
    except _CORRUPT as e:
        raise CorruptArchive(f"{archive} is corrupt at member {info.filename!r} ({e}); delete it and download "
                             f"it again.") from None
    except (OSError, UnicodeError) as e:
        raise HarnessError(f"Cannot write member {info.filename!r} of {archive} as {target} ({e.strerror or e}); "
                           f"rename it in the archive or extract it by hand.") from None


def _safe_target(name: str, archive: Path, root: Path) -> Path:
    """Map a member name to a path under `root`, or refuse it (zip slip)."""
    parts = PurePosixPath(name.replace("\\", "/")).parts
    if name.startswith(("/", "\\")) or (parts and parts[0].endswith(":")) or ".." in parts:
        raise HarnessError(f"{archive} holds member {name!r}, whose path leaves the target folder; refusing to "
                           f"extract it (zip slip), check where the archive came from.")
    target = root.joinpath(*[p for p in parts if p not in ("", ".")])
    if not _inside(target, root):
        raise HarnessError(f"{archive} holds member {name!r}, which would be written outside {root} through a "
                           f"link; refusing to extract it (zip slip).")
    return target


def _is_symlink(info: zipfile.ZipInfo) -> bool:
    """True when the member was stored as a Unix symlink (its data is the link's target)."""
    return stat.S_ISLNK(info.external_attr >> 16)


def _make_symlink(zf, info, archive: Path, root: Path, target: Path) -> None:
    """Create a symlink member only when what it points to stays inside `root`."""
    link = zf.read(info).decode("utf-8", "surrogateescape")
    if link.startswith("/") or not _inside(target.parent / link, root):
        raise HarnessError(f"{archive} holds symlink {info.filename!r} -> {link!r}, which points outside the "
                           f"target folder; refusing to extract it (zip slip).")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.symlink_to(link)


def _inside(path: Path, root: Path) -> bool:
    """True when `path`, with links and `..` resolved, lies within `root`."""
    return path.resolve().is_relative_to(root)


def _inner_zips(infos: list, root: Path) -> list:
    """The nested archives just extracted (members named *.zip), to unpack in place."""
    names = [i.filename for i in infos if not i.is_dir() and i.filename.lower().endswith(".zip")]
    return [root.joinpath(*PurePosixPath(n.replace("\\", "/")).parts) for n in names]
