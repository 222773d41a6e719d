"""Get a competition's raw files into data/<comp>/raw/: from Kaggle, or built locally for builtin sources."""
import shutil

from harness import atomic, paths
from harness.errors import HarnessError

MARKER = ".complete"


def fetch(comp, force: bool = False):
    """Return the raw folder, downloading or building it first unless it is already complete."""
    raw = paths.raw_dir(comp.name)
    kind = comp.source.kind
    if kind == "builtin":
        return _build(comp, raw, force)
    if kind in ("competition", "dataset"):
        from harness import kaggle_io  # the kaggle client is imported only when it is needed
        return kaggle_io.download(comp.source, raw, force=force)
    if kind == "local":
        if not raw.exists():
            raise HarnessError(f"{comp.name} reads local files from {raw}, which does not exist; create it or "
                               f"pass --data-dir.")
        return raw
    raise HarnessError(f"{comp.name}: unknown source kind {kind!r}; use competition, dataset, builtin or local.")


def is_complete(comp) -> bool:
    raw = paths.raw_dir(comp.name)
    return (raw / MARKER).exists() or (comp.source.kind == "local" and raw.exists())


def _build(comp, raw, force):
    """Run the module's builder into a scratch folder, then move raw/ and private/ into place at once."""
    if (raw / MARKER).exists() and not force:
        return raw
    data = paths.data_dir(comp.name)
    with atomic.file_lock(data / ".download.lock"):
        if (raw / MARKER).exists() and not force:
            return raw
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
        atomic.write_text(raw / MARKER, "")
        shutil.rmtree(scratch, ignore_errors=True)
    return raw
