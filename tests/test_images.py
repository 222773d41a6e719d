"""The decoder against the zoo of real-world image files, plus its policies: EXIF, 16-bit, colour, bombs, speed paths."""
import io
import multiprocessing
import os
from concurrent.futures import ThreadPoolExecutor

import cv2
import numpy as np
import pytest
from PIL import Image

from harness import images
from harness.images import ImageError, decode_bytes, decode_file, header_size
from tests.zoo import BLUE, RED, Expected, encode, exif_rotated_jpeg, photo_jpeg, png16, write_junk, write_zoo, zoo_cases


@pytest.fixture(scope="module")
def zoo(tmp_path_factory):
    folder = tmp_path_factory.mktemp("zoo")
    return folder, write_zoo(folder)


@pytest.mark.parametrize("name", sorted(zoo_cases()))
def test_zoo_case(zoo, name):
    folder, expected = zoo
    if name not in expected:
        pytest.skip(f"this file system refuses the name {name!r}")
    case: Expected = expected[name]
    if not case.decodes:
        with pytest.raises(ImageError) as info:
            decode_file(folder / name, 32)
        reason = str(info.value)
        assert case.keyword in reason and reason == reason.lower() and len(reason) < 120
        return
    img, warning = decode_file(folder / name, 32)
    assert img.shape == (32, 32, 3) and img.dtype == np.uint8 and img.flags.c_contiguous
    if case.keyword is None:
        assert warning is None
    else:
        assert case.keyword in warning.lower()
    if case.colour is not None:
        assert np.abs(img.astype(int) - case.colour).max() <= 6, img[16, 16]


def test_non_utf8_name_by_bytes_path(zoo):
    folder, expected = zoo
    if os.fsdecode(b"caf\xe9.jpg") not in expected:
        pytest.skip("this file system refuses names that are not UTF-8")
    name = os.fsencode(folder) + b"/caf\xe9.jpg"
    img, warning = decode_file(name, 16)
    assert img.shape == (16, 16, 3) and warning is None


def test_unreadable_path_is_an_image_error(tmp_path):
    with pytest.raises(ImageError, match="unreadable"):
        decode_file(tmp_path, 16)  # a folder
    with pytest.raises(ImageError, match="unreadable"):
        decode_file(tmp_path / "missing.jpg", 16)


def test_junk_files_are_written_and_refused(tmp_path):
    names = write_junk(tmp_path)
    assert set(names) == {"translate.py", ".DS_Store", "Thumbs.db", "notes.txt"}
    for name in names:
        with pytest.raises(ImageError):
            decode_file(tmp_path / name, 16)


def _top_bottom(img):
    half = img.shape[0] // 2
    return img[:half - 1].reshape(-1, 3).mean(0), img[half + 1:].reshape(-1, 3).mean(0)


@pytest.mark.parametrize("size", [32, 7])  # 7: a 1/4 DCT-reduced decode (short side 30 >= 4 x 7)
def test_exif_orientation_applied(size):
    """Stored 40x30 with red left, blue right; Orientation=6 shows red on top, blue below."""
    img, _ = decode_bytes(exif_rotated_jpeg(6), size)
    top, bottom = _top_bottom(img)
    assert np.abs(top - RED).max() < 40 and np.abs(bottom - BLUE).max() < 40


def test_exif_orientation_same_in_opencv_and_pillow_paths():
    data = exif_rotated_jpeg(6)
    width, height, fmt = header_size(data)
    via_cv2, _ = images._decode_cv2(data, fmt, min(width, height), 64)
    via_pil = images._decode_pil(data)
    assert via_cv2.shape == via_pil.shape == (40, 30, 3)  # portrait: rotated, not just read
    assert np.abs(via_cv2.astype(int) - via_pil).mean() < 3


def test_orientation_1_is_left_as_stored():
    img, _ = decode_bytes(exif_rotated_jpeg(1), 32)
    left, right = img[:, :15].reshape(-1, 3).mean(0), img[:, 17:].reshape(-1, 3).mean(0)
    assert np.abs(left - RED).max() < 40 and np.abs(right - BLUE).max() < 40


@pytest.mark.parametrize("path", ["cv2", "pil"])
def test_16bit_keeps_the_high_byte(path):
    """>> 8, not rounding (511 -> 1, not 2) and not a min/max stretch of a narrow range."""
    gray = np.tile(np.array([0x01FF, 0x1000, 0x2000, 0xFFFF], np.uint16), (4, 1))
    data = png16(gray)
    img = images._decode_pil(data) if path == "pil" else images._decode_cv2(data, "PNG", 4, 4)[0]
    assert img[0, :, 0].tolist() == [1, 0x10, 0x20, 0xFF]
    assert (img == img[..., :1]).all()


def test_16bit_rgb_channels():
    rgb = np.full((4, 4, 3), (0xFF00, 0x4080, 0x00FF), np.uint16)
    img, _ = decode_bytes(png16(rgb), 4)
    assert img[0, 0].tolist() == [255, 64, 0]


@pytest.mark.parametrize("name", ["cmyk.jpg", "rgba.jpg", "palette.jpg", "png_as.jpg"])
def test_red_stays_red_in_the_pillow_path(zoo, name):
    folder, _ = zoo
    img = images._decode_pil((folder / name).read_bytes())
    assert np.abs(img.astype(int) - RED).max() <= 6


def test_bomb_refused_from_the_header_before_decoding(zoo, monkeypatch):
    folder, _ = zoo
    data = (folder / "bomb.jpg").read_bytes()
    assert len(data) < 100_000 and header_size(data)[:2] == (20_000, 20_000)

    def no_decoding(*args):
        raise AssertionError("a decoder was called")
    monkeypatch.setattr(images, "_decode_cv2", no_decoding)
    monkeypatch.setattr(images, "_decode_pil", no_decoding)
    with pytest.raises(ImageError, match="too large"):
        decode_bytes(data, 224)  # refused from the header: the decoders above would raise if reached


def test_the_harness_limit_decides_not_pillows(zoo):
    folder, _ = zoo
    with pytest.raises(ImageError, match="too large: 40x30 pixels, over the limit of 1000"):
        decode_file(folder / "good.jpg", 16, max_pixels=1000)
    with pytest.raises(ImageError, match="too large"):
        decode_file(folder / "gif_as.jpg", 16, max_pixels=1000)
    assert decode_file(folder / "good.jpg", 16, max_pixels=1200)[0].shape == (16, 16, 3)


@pytest.mark.parametrize("name, fmt", [("good.jpg", "JPEG"), ("png_as.jpg", "PNG"), ("gif_as.jpg", "GIF"),
                                       ("webp_as.jpg", "WEBP"), ("bmp_as.jpg", "BMP")])
def test_header_size_reads_every_format(zoo, name, fmt):
    folder, _ = zoo
    assert header_size((folder / name).read_bytes()) == (40, 30, fmt)


def test_webp_lossy_header():
    data = encode(Image.new("RGB", (41, 29), RED), "WEBP", quality=80)
    assert header_size(data) == (41, 29, "WEBP")


@pytest.mark.parametrize("size, factor", [(224, 1), (187, 2), (100, 2), (93, 4), (64, 4), (46, 8), (30, 8)])
def test_reduced_decode_close_to_full_decode(size, factor, monkeypatch):
    """The short side 375 picks the largest DCT factor that keeps it >= size; 1/8 is DC-only, so coarser."""
    flags = []
    monkeypatch.setattr(images, "_imdecode", lambda buf, flag: flags.append(flag) or cv2.imdecode(buf, flag))
    data = photo_jpeg(500, 375, seed=3)
    fast, _ = decode_bytes(data, size)
    assert flags == [dict(images._REDUCED).get(factor, cv2.IMREAD_COLOR_RGB)]
    full = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR_RGB)
    reference = cv2.resize(full, (size, size), interpolation=cv2.INTER_AREA)
    assert np.abs(fast.astype(int) - reference).mean() < (5.0 if factor == 8 else 1.5)


def test_cut_jpeg_with_an_end_marker_is_still_truncated():
    good = photo_jpeg(200, 150, seed=1)
    progressive = encode(Image.open(io.BytesIO(good)), "JPEG", progressive=True)
    for data in (good[:len(good) // 2] + b"\xff\xd9", progressive[:len(progressive) // 2],
                 progressive[:len(progressive) // 2] + b"\xff\xd9"):
        with pytest.raises(ImageError, match="truncated jpeg"):
            decode_bytes(data, 32)
    assert decode_bytes(progressive, 32)[1] is None


def test_formats_opencv_is_not_asked_about_go_through_pillow():
    tiff = encode(Image.new("RGB", (40, 30), RED), "TIFF")
    assert header_size(tiff) == (40, 30, "TIFF")
    img, warning = decode_bytes(tiff, 8)
    assert np.abs(img.astype(int) - RED).max() <= 2 and warning is None
    with pytest.raises(ImageError, match="too large"):
        decode_bytes(tiff, 8, max_pixels=1000)


def _decode_name(path):
    return decode_file(path, 16)[1]


def test_warnings_go_to_the_right_file_across_threads_and_processes(zoo):
    folder, _ = zoo
    paths = [folder / ("extraneous.jpg" if i % 3 == 0 else "good.jpg") for i in range(60)]
    expected = [("extraneous" in str(p)) for p in paths]
    with ThreadPoolExecutor(4) as pool:
        assert [w is not None for w in pool.map(_decode_name, paths)] == expected
    decode_file(folder / "good.jpg", 16)  # the parent's capture file exists before the fork
    with multiprocessing.get_context("fork").Pool(2) as pool:
        assert [w is not None for w in pool.map(_decode_name, paths)] == expected


def test_output_contract_on_a_photo():
    img, warning = decode_bytes(photo_jpeg(500, 375, seed=1), 224)
    assert img.shape == (224, 224, 3) and img.dtype == np.uint8 and img.flags.c_contiguous
    assert warning is None


def test_output_at_source_size_is_contiguous():
    img, _ = decode_bytes(photo_jpeg(48, 48, seed=2), 48)
    assert img.shape == (48, 48, 3) and img.flags.c_contiguous


def test_photo_jpeg_is_realistic():
    data = photo_jpeg(500, 375, seed=0)
    assert 20_000 <= len(data) <= 40_000


def test_size_is_validated():
    with pytest.raises(ValueError, match="Received: size=0"):
        decode_bytes(photo_jpeg(40, 30, seed=0), 0)


def test_warning_capture_leaves_stderr_working(zoo, capfd):
    folder, _ = zoo
    _, warning = decode_file(folder / "extraneous.jpg", 16)
    assert "marker 0xd9" in warning
    os.write(2, b"still here\n")
    assert capfd.readouterr().err == "still here\n"


@pytest.mark.parametrize("compression", [None, "tiff_lzw", "tiff_deflate", "packbits"])
def test_tiff_patches_decode_by_content_whatever_the_name(tmp_path, compression):
    """Histopathology ships 96x96 RGB TIFFs: Pillow decodes them (TensorFlow's decode_image cannot); a TIFF
    named .jpg decodes the same, and a cut one is refused, not half-read."""
    pixels = np.random.default_rng(5).integers(0, 256, (96, 96, 3), dtype=np.uint8)
    data = encode(Image.fromarray(pixels), "TIFF", **({"compression": compression} if compression else {}))
    assert header_size(data) == (96, 96, "TIFF")
    for name in ("patch.tif", "patch.jpg"):
        (tmp_path / name).write_bytes(data)
        img, warning = decode_file(tmp_path / name, 96)
        np.testing.assert_array_equal(img, pixels)
        assert warning is None
    with pytest.raises(ImageError, match="truncated tiff|not an image"):
        decode_bytes(data[:len(data) // 2], 32)


def test_16bit_tiff_keeps_the_high_byte():
    samples = np.full((8, 8), 0xA1FF, np.uint16)
    img, _ = decode_bytes(encode(Image.fromarray(samples), "TIFF"), 8)
    assert (img == 0xA1).all()
