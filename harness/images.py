"""Decode one image file into a square 8-bit RGB array, deciding by content, never by extension.

Policy, the same whichever decoder (OpenCV first, Pillow as fallback) does the work:
- Format: read from the first bytes; PNG, GIF, WebP or BMP saved as .jpg decode as what they are.
- Orientation: the EXIF Orientation tag is applied: the array is the image as a viewer shows it.
- Colour: always 8-bit RGB. Grayscale is repeated over three channels, CMYK and palettes become their
  RGB colours, alpha is dropped (not composited), 16-bit samples keep their high byte (>> 8, no stretching).
- Geometry: squashed to size x size with INTER_AREA, no crop. A JPEG whose short side is at least twice
  the target is first decoded at 1/2, 1/4 or 1/8 scale in the DCT domain (IMREAD_REDUCED_COLOR_*).
- Refused, with ImageError(reason): empty files, content that is not an image (an HTML page, text),
  truncated JPEG and PNG files, images over max_pixels (read from the header, before any pixel is
  decoded; this limit decides, not Pillow's own decompression-bomb thresholds, except that formats only
  Pillow reads, e.g. TIFF, stay refused over Pillow's hard limit of 2 x Image.MAX_IMAGE_PIXELS) and
  anything undecodable.
- Warnings: what libjpeg/libpng print while decoding, e.g. "Corrupt JPEG data: 36 extraneous bytes before
  marker 0xd9", is captured from file descriptor 2 and returned beside the image, which is kept.
  The capture redirects fd 2 during the OpenCV call, so decodes in one process are serialised by a lock:
  parallelise with processes, one decoder each (as the prepare stage does).
"""
import io
import os
import struct
import tempfile
import threading
import warnings

import cv2
import numpy as np
from PIL import Image, ImageOps

cv2.setNumThreads(1)  # parallelism comes from worker processes, one decoder each

DEFAULT_MAX_PIXELS = 100_000_000  # larger images are refused before decoding (decompression bombs)
# DCT-domain reduced decodes, largest factor first; the reduced flags carry IMREAD_COLOR (BGR): swap it for RGB.
_REDUCED = tuple((factor, (flag & ~cv2.IMREAD_COLOR) | cv2.IMREAD_COLOR_RGB)
                 for factor, flag in ((8, cv2.IMREAD_REDUCED_COLOR_8), (4, cv2.IMREAD_REDUCED_COLOR_4),
                                      (2, cv2.IMREAD_REDUCED_COLOR_2)))
_OPENCV_FORMATS = frozenset({"JPEG", "PNG", "GIF", "WEBP", "BMP"})
_JPEG_SOF = frozenset({0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF})
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# Bytes found in text files (the `file` command's notion of text): anything else means binary content.
_TEXT_BYTES = bytes({7, 8, 9, 10, 11, 12, 13, 27} | set(range(0x20, 0x100)) - {0x7F})


class ImageError(Exception):
    """The file cannot become a training image; the message is the reason for the report."""


def decode_bytes(data: bytes, size: int, max_pixels: int = DEFAULT_MAX_PIXELS) -> tuple[np.ndarray, str | None]:
    """A (size, size, 3) C-contiguous uint8 RGB array, and the decoder's warning or None."""
    if not isinstance(size, (int, np.integer)) or size < 1:
        raise ValueError(f"`size` must be a positive integer. Received: size={size!r}")
    if not data:
        raise ImageError("empty file (0 bytes)")
    width, height, fmt = header_size(data)
    if width * height > max_pixels:
        raise ImageError(f"too large: {width}x{height} pixels, over the limit of {max_pixels}")
    img, warning = _decode_cv2(data, fmt, min(width, height), size) if fmt in _OPENCV_FORMATS else (None, None)
    if img is None:
        img = _decode_pil(data)
    if img.shape[:2] != (size, size):
        img = cv2.resize(img, (size, size), interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(img), warning


def decode_file(path, size: int, max_pixels: int = DEFAULT_MAX_PIXELS) -> tuple[np.ndarray, str | None]:
    """decode_bytes on a file's content; `path` may be str, bytes or a Path (non-UTF-8 names work)."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise ImageError(f"unreadable file ({e.strerror or type(e).__name__})") from None
    return decode_bytes(data, size, max_pixels)


def header_size(data: bytes) -> tuple[int, int, str]:
    """(width, height, format) from the header alone, without decoding pixels.

    Also checks what the header walk sees cheaply: a JPEG without its end-of-image marker or a PNG without
    its IEND chunk is truncated, content no decoder recognises is not an image.
    """
    if data[:3] == b"\xff\xd8\xff":
        return _jpeg_header(data)
    if data[:8] == _PNG_SIGNATURE:
        if len(data) < 24 or data[12:16] != b"IHDR":
            raise ImageError("truncated png (no header)")
        if data.rfind(b"IEND", 33) < 0:
            raise ImageError("truncated png (no end chunk)")
        return (*struct.unpack(">II", data[16:24]), "PNG")
    if data[:6] in (b"GIF87a", b"GIF89a") and len(data) >= 10:
        return (*struct.unpack("<HH", data[6:10]), "GIF")
    if data[:2] == b"BM" and len(data) >= 26:
        if struct.unpack("<I", data[14:18])[0] == 12:  # OS/2 BITMAPCOREHEADER: 16-bit sizes
            return (*struct.unpack("<HH", data[18:22]), "BMP")
        width, height = struct.unpack("<ii", data[18:26])
        return abs(width), abs(height), "BMP"  # a negative height means rows stored top-down
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP" and len(data) >= 30:
        return (*_webp_size(data), "WEBP")
    return _pil_header(data)


def _jpeg_header(data: bytes) -> tuple[int, int, str]:
    """Walk the JPEG segments up to the first scan: size from the SOF segment, EOI expected after the scan."""
    i, n, width, height = 2, len(data), None, None
    while i + 4 <= n:
        if data[i] != 0xFF:  # garbage between segments: libjpeg skips it (with a warning), so do we
            i = data.find(b"\xff", i)
            if i < 0:
                break
            continue
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
        elif marker == 0x01 or 0xD0 <= marker <= 0xD8:  # segments without a length
            i += 2
        elif marker == 0xD9:
            raise ImageError("undecodable jpeg (end of image before any scan)")
        elif marker == 0xDA:
            if width is None:
                raise ImageError("undecodable jpeg (scan before the frame header)")
            # Entropy-coded data never holds FF D9 (0xFF is stuffed as FF 00), so it marks the end of the image.
            if data.rfind(b"\xff\xd9", i) < 0:
                raise ImageError("truncated jpeg (no end-of-image marker)")
            return width, height, "JPEG"
        else:
            if marker in _JPEG_SOF and i + 9 <= n:
                height, width = struct.unpack(">HH", data[i + 5:i + 9])
            i += 2 + ((data[i + 2] << 8) | data[i + 3])
    raise ImageError("truncated jpeg (ends before the image data)")


def _webp_size(data: bytes) -> tuple[int, int]:
    chunk = data[12:16]
    if chunk == b"VP8 ":  # lossy: 14-bit sizes after the frame tag and start code
        width, height = struct.unpack("<HH", data[26:30])
        return width & 0x3FFF, height & 0x3FFF
    if chunk == b"VP8L":  # lossless: 14-bit sizes minus one, packed after the signature byte
        bits = struct.unpack("<I", data[21:25])[0]
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8X":  # extended: 24-bit canvas sizes minus one
        return int.from_bytes(data[24:27], "little") + 1, int.from_bytes(data[27:30], "little") + 1
    raise ImageError(f"undecodable webp (unknown chunk {chunk!r})")


def _pil_header(data: bytes) -> tuple[int, int, str]:
    """Formats without a parser here (TIFF, ICO, ...): Pillow reads the header lazily."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # DecompressionBombWarning: max_pixels decides
            with Image.open(io.BytesIO(data)) as im:
                return im.size[0], im.size[1], im.format
    except Image.DecompressionBombError:
        raise ImageError("too large: over pillow's decompression-bomb limit") from None
    except Exception:
        raise _not_an_image(data) from None


def _not_an_image(data: bytes) -> ImageError:
    head = data[:1024].lstrip().lower()
    if head.startswith((b"<!doctype html", b"<html", b"<?xml")) or b"<html" in head or b"<body" in head:
        return ImageError("not an image (html page)")
    if not data[:4096].translate(None, _TEXT_BYTES):
        return ImageError("not an image (text)")
    return ImageError("not an image (unrecognised content)")


def _decode_cv2(data: bytes, fmt: str, short_side: int, size: int) -> tuple[np.ndarray | None, str | None]:
    """OpenCV decode to RGB, DCT-reduced for JPEGs at least twice the target; None if OpenCV cannot."""
    flag = cv2.IMREAD_COLOR_RGB
    if fmt == "JPEG":
        flag = next((reduced for factor, reduced in _REDUCED if short_side >= size * factor), flag)
    img, messages = _STDERR.capture(_imdecode, np.frombuffer(data, np.uint8), flag)
    if "premature end" in messages.lower():
        raise ImageError(f"truncated {fmt.lower()} (premature end of data)")
    if img is None or img.ndim != 3 or img.shape[2] != 3:
        return None, None
    return img, "; ".join(messages.split("\n")).strip("; ") or None


def _imdecode(buf, flag):
    try:
        return cv2.imdecode(buf, flag)
    except cv2.error:
        return None


def _decode_pil(data: bytes) -> np.ndarray:
    """Pillow fallback for what OpenCV cannot read; normalised to 8-bit RGB by the module's policy."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # DecompressionBombWarning, palette-transparency notices
            with Image.open(io.BytesIO(data)) as im:
                im = ImageOps.exif_transpose(im)
                if im.mode in ("I", "F") or im.mode.startswith("I;16"):
                    return _high_byte_gray(np.asarray(im), im.mode)
                return np.asarray(im.convert("RGB"))
    except Image.DecompressionBombError:
        raise ImageError("too large: over pillow's decompression-bomb limit") from None
    except Exception as e:
        message = (str(e).splitlines() or [type(e).__name__])[0].lower()[:80]
        kind = "truncated" if "truncated" in message else "undecodable"
        raise ImageError(f"{kind} {_format_name(data)} ({message})") from None


def _high_byte_gray(arr: np.ndarray, mode: str) -> np.ndarray:
    """16-bit (and 32-bit integer) grayscale keeps its high byte; float images are clipped to 0..255."""
    gray = np.clip(arr, 0, 255) if mode == "F" else np.clip(arr.astype(np.int64) >> 8, 0, 255)
    return np.repeat(gray.astype(np.uint8)[..., None], 3, axis=2)


def _format_name(data: bytes) -> str:
    try:
        return header_size(data)[2].lower()
    except ImageError:
        return "image"


class _StderrCapture:
    """Collects what C libraries print on file descriptor 2 (libjpeg's warnings) while a call runs."""

    def __init__(self):
        self._lock = threading.Lock()
        self._fd = -1  # an unlinked temporary file, opened on first use in each process

    def reset(self):
        """After fork: the child gets its own lock and file (a shared file offset would mix messages)."""
        self._lock = threading.Lock()
        self._fd = -1

    def capture(self, fn, *args):
        with self._lock:
            try:
                if self._fd < 0:
                    fd, path = tempfile.mkstemp(prefix="harness-stderr-")
                    os.unlink(path)
                    self._fd = fd
                saved = os.dup(2)
            except OSError:  # no fd 2, or no temporary folder: decode without capturing
                return fn(*args), ""
            os.dup2(self._fd, 2)
            try:
                result = fn(*args)
            finally:
                os.dup2(saved, 2)
                os.close(saved)
            end = os.lseek(self._fd, 0, os.SEEK_CUR)
            if not end:
                return result, ""
            text = os.pread(self._fd, end, 0).decode("utf-8", "replace")
            os.ftruncate(self._fd, 0)
            os.lseek(self._fd, 0, os.SEEK_SET)
            return result, text.strip()


_STDERR = _StderrCapture()
os.register_at_fork(after_in_child=_STDERR.reset)
