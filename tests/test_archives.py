"""Safe extraction: nested zips unpacked in place, corrupt files, zip slip, zip bombs and odd member names."""
import io
import stat
import zipfile

import pytest

from fake_kaggle import dogs_vs_cats_zip, make_zip
from harness.archives import CorruptArchive, extract_all
from harness.errors import HarnessError


def write(tmp_path, name, data: bytes):
    path = tmp_path / name
    path.write_bytes(data)
    return path


def tree(root):
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def test_nested_zips_land_where_the_inner_zip_sat(tmp_path):
    extract_all(write(tmp_path, "dogs-vs-cats.zip", dogs_vs_cats_zip()), tmp_path / "out")
    assert tree(tmp_path / "out") == ["sampleSubmission.csv", "test1/1.jpg", "train/cat.1.jpg", "train/dog.1.jpg"]
    assert (tmp_path / "out" / "train" / "cat.1.jpg").read_bytes() == b"\xff\xd8cat"


def test_inner_zip_in_a_subfolder_extracts_into_that_subfolder(tmp_path):
    inner = make_zip({"a.txt": b"a"})
    extract_all(write(tmp_path, "x.zip", make_zip({"sub/inner.zip": inner})), tmp_path / "out")
    assert tree(tmp_path / "out") == ["sub/a.txt"]


@pytest.mark.parametrize("data, words", [(dogs_vs_cats_zip()[:300], "truncated"),
                                         (b"<!DOCTYPE html><html>Sign in</html>", "web page")])
def test_corrupt_archive_is_its_own_error(tmp_path, data, words):
    archive = write(tmp_path, "bad.zip", data)
    with pytest.raises(CorruptArchive, match=words) as err:
        extract_all(archive, tmp_path / "out")
    assert str(archive) in str(err.value) and "download it again" in str(err.value)
    assert isinstance(err.value, HarnessError)


def test_bad_crc_is_corrupt(tmp_path):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("a.txt", b"hello world")
    data = buf.getvalue().replace(b"hello world", b"hello WORLD")  # same length, wrong CRC
    with pytest.raises(CorruptArchive, match="a.txt"):
        extract_all(write(tmp_path, "crc.zip", data), tmp_path / "out")


def test_corrupt_inner_zip_names_the_inner_archive(tmp_path):
    outer = make_zip({"train.zip": b"PK\x03\x04 not really"})
    with pytest.raises(CorruptArchive, match="train.zip"):
        extract_all(write(tmp_path, "outer.zip", outer), tmp_path / "out")


@pytest.mark.parametrize("name", ["../evil.txt", "a/../../evil.txt", "/etc/evil.txt", "..\\evil.txt",
                                  "C:/evil.txt"])
def test_zip_slip_is_refused(tmp_path, name):
    archive = write(tmp_path, "slip.zip", make_zip({"ok.txt": b"ok", name: b"evil"}))
    with pytest.raises(HarnessError, match="zip slip") as err:
        extract_all(archive, tmp_path / "out")
    assert "slip.zip" in str(err.value) and repr(name) in str(err.value)
    assert not (tmp_path / "evil.txt").exists()


def symlink_zip(name: str, target: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        info = zipfile.ZipInfo(name)
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(info, target)
    return buf.getvalue()


def test_symlink_escaping_is_refused(tmp_path):
    with pytest.raises(HarnessError, match="symlink 'link'"):
        extract_all(write(tmp_path, "link.zip", symlink_zip("link", "../../etc")), tmp_path / "out")


def test_symlink_inside_is_kept(tmp_path):
    extract_all(write(tmp_path, "link.zip", symlink_zip("d/link", "../other")), tmp_path / "out")
    assert (tmp_path / "out" / "d" / "link").is_symlink()


def test_zip_bomb_is_refused_before_writing(tmp_path):
    archive = write(tmp_path, "bomb.zip", make_zip({"zeros.bin": b"\0" * 1_000_000}))
    with pytest.raises(HarnessError, match="zip bomb") as err:
        extract_all(archive, tmp_path / "out", max_bytes=10_000)
    assert "bomb.zip" in str(err.value) and "zeros.bin" in str(err.value)
    assert tree(tmp_path / "out") == []


def test_nested_bomb_counts_against_the_same_budget(tmp_path):
    inner = make_zip({"zeros.bin": b"\0" * 50_000})
    archive = write(tmp_path, "outer.zip", make_zip({"inner.zip": inner}))
    with pytest.raises(HarnessError, match="inner.zip"):
        extract_all(archive, tmp_path / "out", max_bytes=len(inner) + 10_000)


def test_member_name_without_utf8_flag_extracts_as_cp437(tmp_path):
    data = make_zip({"cafX.jpg": b"img"}).replace(b"cafX.jpg", b"caf\x82.jpg")  # 0x82 is 'é' in cp437
    extract_all(write(tmp_path, "names.zip", data), tmp_path / "out")
    assert tree(tmp_path / "out") == ["café.jpg"]


def test_endless_nesting_is_refused(tmp_path):
    data = make_zip({"core.txt": b"x"})
    for level in range(8):
        data = make_zip({f"level{level}.zip": data})
    with pytest.raises(HarnessError, match="nested"):
        extract_all(write(tmp_path, "deep.zip", data), tmp_path / "out")
