"""Decode every image exactly once, in parallel, into a memory-mappable uint8 cache keyed by size.

Cache folder (data/<comp>/cache/<size>px/): train.npy, test.npy (N, size, size, 3) uint8,
train.csv / test.csv (id, row, label, sha, path), report.csv (path, reason) and manifest.json,
written last: a cache without a matching manifest is rebuilt.
"""
import contextlib
import csv
import functools
import hashlib
import io
import json
import os
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path

import numpy as np

from harness import atomic, images, paths, progress
from harness.errors import HarnessError

MANIFEST = "manifest.json"
INLINE_BELOW = 64  # smaller sets decode in-process: starting workers would cost more than it saves
METADATA_SUFFIXES = {".csv", ".zip", ".xml", ".txt", ".json", ".tar", ".gz"}


@dataclass
class Cache:
    """The decoded images of one competition at one size, and what became of every file."""
    folder: Path
    size: int
    train_x: np.ndarray  # memory-mapped (rows, size, size, 3) uint8; undecodable rows stay zero
    train_rows: np.ndarray  # row in train_x of each kept training image
    train_ids: list
    train_labels: list  # class index, or tuple of class indices (multilabel)
    train_sha: list
    test_x: np.ndarray
    test_ids: list
    test_ok: np.ndarray  # False where a test image could not be decoded (gets a fallback prediction)
    test_sha: list
    decoded: int  # images decoded by this call: 0 when the cache was reused
    skipped: list  # [(path, reason)]


def prepare(comp, size: int, workers=None, max_pixels=images.DEFAULT_MAX_PIXELS) -> Cache:
    """Return the cache for `comp` at `size`, decoding only when it is missing or incomplete."""
    folder = paths.cache_dir(comp.name, size)
    if not _valid(folder):
        _build(comp, folder, size, workers, max_pixels)
        return load(folder, decoded=True)
    return load(folder, decoded=False)


def load(folder: Path, decoded=False) -> Cache:
    manifest = atomic.read_json(folder / MANIFEST)
    train = _read_index(folder / "train.csv")
    test = _read_index(folder / "test.csv")
    return Cache(
        folder=folder, size=manifest["size"],
        train_x=np.load(folder / "train.npy", mmap_mode="r"),
        train_rows=np.array([int(r["row"]) for r in train], dtype=np.int64),
        train_ids=[r["id"] for r in train], train_labels=[json.loads(r["label"]) for r in train],
        train_sha=[r["sha"] for r in train],
        test_x=np.load(folder / "test.npy", mmap_mode="r"),
        test_ids=[r["id"] for r in test], test_ok=np.array([r["ok"] == "1" for r in test], dtype=bool),
        test_sha=[r["sha"] for r in test],
        decoded=manifest["decoded"] if decoded else 0,
        skipped=[(r["path"], r["reason"]) for r in _read_index(folder / "report.csv")],
    )


def _valid(folder: Path) -> bool:
    """A manifest whose recorded sizes match every file and whose hashes match the small index files.

    A truncated or replaced array is caught by its size (hashing gigabytes on every run would cost seconds);
    an edited or torn index CSV by its blake2b hash. Anything else is rebuilt."""
    try:
        manifest = atomic.read_json(folder / MANIFEST)
        return all((folder / name).stat().st_size == n for name, n in manifest["files"].items()) and \
            all(_digest(folder / name) == h for name, h in manifest["blake2b"].items())
    except (OSError, ValueError, KeyError):
        return False


def _digest(path: Path) -> str:
    return hashlib.blake2b(path.read_bytes(), digest_size=16).hexdigest()


def _renamed_ids(train_items, test_items) -> list:
    """Report rows for ids that are not valid UTF-8 (from file names): they are written with escapes."""
    return [{"path": _show(item.path), "reason": f"kept with warning: its id is not valid UTF-8 and is written "
                                                 f"as {_show(str(item.id))!r}"}
            for item in (*train_items, *test_items) if _show(str(item.id)) != str(item.id)]


def _duplicates(train_rows, test_rows) -> list:
    """Report rows for byte-identical images: within train (kept in one fold) and between train and test."""
    first, out = {}, []
    for r in train_rows:
        if r["sha"] in first:
            out.append({"path": r["path"], "reason": f"kept with warning: identical to train image "
                                                     f"{first[r['sha']]}; both stay in the same fold"})
        else:
            first[r["sha"]] = r["path"]
    for r in test_rows:
        if r["sha"] and r["sha"] in first:
            out.append({"path": r["path"], "reason": f"kept with warning: test image identical to train image "
                                                     f"{first[r['sha']]} (its label is known)"})
    return out


def _build(comp, folder: Path, size: int, workers, max_pixels) -> None:
    raw = paths.raw_dir(comp.name)
    if not raw.exists():
        raise HarnessError(f"No data for {comp.name} in {raw}; run `harness download {comp.name}` first.")
    started = time.perf_counter()
    train_items, test_items = comp.list_train(raw), comp.list_test(raw)
    if not train_items:
        raise HarnessError(f"{comp.name}: no training images were found under {raw}; check the download "
                           f"(or delete {raw} and run `harness download {comp.name}` again).")
    _check_unique(comp, train_items, "train")
    _check_unique(comp, test_items, "test")
    folder.mkdir(parents=True, exist_ok=True)
    report, files, hashes = [], {}, {}
    results = {}
    workers = workers or os.cpu_count() or 1
    with decode_pool(workers, len(train_items) + len(test_items)) as pool:  # one pool for both splits
        for split, items in (("train", train_items), ("test", test_items)):
            results[split] = _decode_split(items, folder / f"{split}.npy", size, workers, max_pixels, split, pool)
            files[f"{split}.npy"] = (folder / f"{split}.npy").stat().st_size
    report += _renamed_ids(train_items, test_items)
    train_rows = []
    for row, (item, (ok, reason, sha)) in enumerate(zip(train_items, results["train"])):
        if ok:
            train_rows.append({"id": _show(str(item.id)), "row": row, "label": json.dumps(_label(item.label)),
                               "sha": sha, "path": _show(item.path), "ok": "1"})
        else:
            report.append({"path": _show(item.path), "reason": f"train image skipped: {reason}"})
    test_rows = []
    for row, (item, (ok, reason, sha)) in enumerate(zip(test_items, results["test"])):
        test_rows.append({"id": _show(str(item.id)), "row": row, "label": "null", "sha": sha,
                          "path": _show(item.path), "ok": "1" if ok else "0"})
        if not ok:
            report.append({"path": _show(item.path), "reason": f"test image undecodable, fallback prediction: "
                                                               f"{reason}"})
    for split, items, res in (("train", train_items, results["train"]), ("test", test_items, results["test"])):
        for item, (ok, reason, _) in zip(items, res):
            if ok and reason:
                report.append({"path": _show(item.path), "reason": f"kept with warning: {reason}"})
    report += _duplicates(train_rows, test_rows)
    used = {_real(i.path) for i in (*train_items, *test_items)}
    report += [{"path": _show(p), "reason": "not used: not a train or test image of this competition"}
               for p in _unused_files(raw, used)]
    for name, rows, fields in (("train.csv", train_rows, ("id", "row", "label", "sha", "path", "ok")),
                               ("test.csv", test_rows, ("id", "row", "label", "sha", "path", "ok")),
                               ("report.csv", report, ("path", "reason"))):
        _write_csv(folder / name, rows, fields)
        files[name] = (folder / name).stat().st_size
        hashes[name] = _digest(folder / name)
    decoded = len(train_items) + len(test_items)
    atomic.write_json(folder / MANIFEST, {
        "size": size, "files": files, "blake2b": hashes, "decoded": decoded, "train": len(train_rows),
        "test": len(test_rows), "skipped": len(report), "seconds": round(time.perf_counter() - started, 3)})
    skipped = sum(1 for r in report if not r["reason"].startswith("kept"))
    if report:
        print(f"prepare: {skipped} file(s) skipped or unused, {len(report) - skipped} kept with a warning; "
              f"see {folder / 'report.csv'}")


@contextlib.contextmanager
def decode_pool(workers: int, n: int):
    """Decode processes, or None when the set is small enough that starting them would cost more."""
    if n < INLINE_BELOW or workers == 1:
        yield None
        return
    with ProcessPoolExecutor(workers, mp_context=get_context("spawn")) as pool:
        yield pool


def _decode_split(items, out: Path, size, workers, max_pixels, split, pool=None):
    """Decode items into out (.npy, atomically); returns [(ok, reason_or_warning, sha)] in item order."""
    paths_ = [str(i.path) for i in items]
    with atomic.atomic_path(out) as tmp:
        array = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.uint8, shape=(len(items), size, size, 3))
        del array  # workers open the file themselves; each writes its own rows
        chunks = row_chunks(len(items), workers)
        bar = progress.bar(total=len(items), desc=f"decode {split}", unit="img")
        results = [None] * len(items)
        if pool is None:
            for start, stop in chunks:
                results[start:stop] = decode_rows(str(tmp), paths_, start, stop, size, max_pixels)
                bar.update(stop - start)
        else:
            futures = {pool.submit(decode_rows, str(tmp), paths_, a, b, size, max_pixels): (a, b)
                       for a, b in chunks}
            for future in as_completed(futures):
                a, b = futures[future]
                results[a:b] = future.result()
                bar.update(b - a)
        bar.close()
    return results


def decode_rows(npy: str, paths_, start: int, stop: int, size: int, max_pixels):
    """Worker: decode paths_[start:stop] into rows start..stop of the shared array file."""
    array = np.load(npy, mmap_mode="r+")
    out = []
    for row in range(start, stop):
        try:
            with open(paths_[row], "rb") as f:
                data = f.read()
            image, warning = images.decode_bytes(data, size, max_pixels)
            array[row] = image
            out.append((True, warning, hashlib.sha1(data).hexdigest()[:20]))  # duplicate key; 2x blake2b
        except images.ImageError as e:
            out.append((False, str(e), ""))
        except OSError as e:
            out.append((False, f"unreadable file ({e.strerror})", ""))
    return out  # no flush (msync) per chunk: the page cache is shared, and the final rename fsyncs the file


def row_chunks(n: int, workers: int):
    """Contiguous row ranges, a few per worker so the slowest chunk does not hold up the rest."""
    step = max(1, min(256, -(-n // (workers * 4))))
    return [(a, min(a + step, n)) for a in range(0, n, step)]


def _check_unique(comp, items, split):
    seen = set()
    for item in items:
        if item.id in seen:
            raise HarnessError(f"{comp.name}: {split} id {item.id!r} appears twice (again at {item.path}); "
                               f"ids must be unique.")
        seen.add(item.id)


def _label(label):
    return list(label) if isinstance(label, (tuple, list)) else label


def _show(path) -> str:
    """A path as printable text, whatever bytes its name holds."""
    return os.fsdecode(path).encode("utf-8", "backslashreplace").decode("utf-8")


def _unused_files(raw: Path, used: set) -> list:
    """Files under raw/ that no train or test item uses, other than the metadata a module reads."""
    unused = []
    for folder, _, names in os.walk(raw, followlinks=True):  # scandir: no stat per file
        real = _real_dir(folder)
        unused += [Path(folder, n) for n in names if n != ".complete" and os.path.join(real, n) not in used
                   and os.path.splitext(n)[1].lower() not in METADATA_SUFFIXES]
    return sorted(unused)


def _real(path) -> str:
    """The path with its folder resolved once per folder (Path.resolve per file cost 0.4 ms an image)."""
    folder, name = os.path.split(os.fspath(path))
    return os.path.join(_real_dir(folder), name)


@functools.lru_cache(maxsize=4096)
def _real_dir(folder: str) -> str:
    return os.path.realpath(folder)


def _write_csv(path, rows, fields):
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=fields, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    atomic.write_text(path, buf.getvalue())


def _read_index(path):
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))
