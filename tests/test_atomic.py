"""harness.atomic: files appear whole, with the permissions the user's umask gives (not mkstemp's 0600)."""
import os
import stat

import pytest

from harness import atomic


@pytest.mark.parametrize("mask, mode", [(0o022, 0o644), (0o002, 0o664), (0o077, 0o600)])
def test_written_files_follow_the_umask(tmp_path, mask, mode):
    before = os.umask(mask)
    try:
        assert atomic.umask() == mask
        atomic.write_text(tmp_path / "a.txt", "x")
        atomic.save_npy(tmp_path / "a.npy", [1, 2])
    finally:
        os.umask(before)
    assert stat.S_IMODE((tmp_path / "a.txt").stat().st_mode) == mode
    assert stat.S_IMODE((tmp_path / "a.npy").stat().st_mode) == mode
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temporary file left
