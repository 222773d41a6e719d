"""Decode once: the cache is built in parallel, reused, and rebuilt only when damaged."""
import numpy as np
from PIL import Image

from conftest import folder_competition, registered
from harness import download, prepare


def _prepared(comp, size=24, workers=1):
    download.fetch(comp)
    return prepare.prepare(comp, size, workers=workers)


def test_cache_holds_every_image_once(tiny):
    cache = _prepared(tiny)
    assert cache.train_x.shape == (24, 24, 24, 3) and cache.train_x.dtype == np.uint8
    assert cache.test_x.shape == (6, 24, 24, 3) and cache.test_ok.all()
    assert cache.decoded == 30
    first = Image.open(sorted((prepare.paths.raw_dir(tiny.name) / "train" / "a").iterdir())[0])
    assert np.array_equal(cache.train_x[cache.train_rows[0]], np.asarray(first.convert("RGB")))
    again = prepare.prepare(tiny, 24)
    assert again.decoded == 0 and again.train_ids == cache.train_ids


def test_sizes_are_separate_caches(tiny):
    assert _prepared(tiny, 24).folder != _prepared(tiny, 16).folder


def test_parallel_decode_equals_inline_decode():
    with registered(folder_competition(name="many", per_class=30)) as comp:
        parallel = _prepared(comp, workers=2)
        parallel_x = np.array(parallel.train_x)
        (parallel.folder / "manifest.json").unlink()
        inline = prepare.prepare(comp, 24, workers=1)
        assert inline.decoded == 96
        assert np.array_equal(parallel_x, np.array(inline.train_x))


def test_a_truncated_cache_file_is_rebuilt(tiny):
    cache = _prepared(tiny)
    path = cache.folder / "train.npy"
    path.write_bytes(path.read_bytes()[:1000])
    rebuilt = prepare.prepare(tiny, 24)
    assert rebuilt.decoded == 30 and rebuilt.train_x.shape[0] == 24


def test_unused_files_are_reported(tiny):
    download.fetch(tiny)
    raw = prepare.paths.raw_dir(tiny.name)
    (raw / "train" / "Thumbs.db").write_bytes(b"\0" * 10)
    cache = prepare.prepare(tiny, 24, workers=1)
    assert any(path.endswith("Thumbs.db") and "not used" in reason for path, reason in cache.skipped)
