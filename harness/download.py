"""Get a competition's raw files into data/<comp>/raw/: from Kaggle, or built locally for builtin sources.

One completion marker for every source: raw/.complete names the source it holds, is written last, and is
the only check of whether a download (or build) finished, so a re-run is a no-op and a torn one starts over.
"""
import shutil
import time

from harness import atomic, paths
from harness.errors import HarnessError

MARKER = ".complete"


def fetch(comp, force: bool = False):
    """Return the raw folder, downloading or building it first unless it is already complete."""
    raw = paths.raw_dir(comp.name)
    kind = comp.source.kind
    if kind == "local":
        if not raw.exists():
            raise HarnessError(f"{comp.name} reads local files from {raw}, which does not exist; create it or "
                               f"pass --data-dir.")
        return raw
    if kind not in ("builtin", "competition", "dataset"):
        raise HarnessError(f"{comp.name}: unknown source kind {kind!r}; use competition, dataset, builtin or local.")
    if not force and is_complete(comp):
        return raw
    data = paths.data_dir(comp.name)
    data.mkdir(parents=True, exist_ok=True)
    with atomic.file_lock(data / ".download.lock"):  # one download per competition at a time
        if force or not is_complete(comp):
            if kind == "builtin":
                _build(comp, raw)
            else:
                from harness import kaggle_io  # the kaggle client is imported only when it is needed
                kaggle_io.download(comp.source, raw)
            atomic.write_json(raw / MARKER, {"kind": kind, "slug": comp.source.slug, "time": time.time()})
    return raw


def is_complete(comp) -> bool:
    """True when raw/ holds a finished download (or build) of this competition's source, or is a local folder."""
    raw = paths.raw_dir(comp.name)
    if comp.source.kind == "local":
        return raw.exists()
    try:
        marker = atomic.read_json(raw / MARKER)
    except (OSError, ValueError):
        return False
    return marker.get("kind") == comp.source.kind and marker.get("slug") == comp.source.slug


def _build(comp, raw):
    """Run the module's builder into a scratch folder, then move raw/ and private/ into place at once."""
    data = paths.data_dir(comp.name)
    scratch = data / ".building"
    shutil.rmtree(scratch, ignore_errors=True)
    (scratch / "raw").mkdir(parents=True)
    (scratch / "private").mkdir()
    comp.build(scratch / "raw", scratch / "private")
    private = paths.private_dir(comp.name)
    for old in (raw, private):
        shutil.rmtree(old, ignore_errors=True)
    (scratch / "private").rename(private)
    (scratch / "raw").rename(raw)
    shutil.rmtree(scratch, ignore_errors=True)
