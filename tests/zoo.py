"""Fixture writers: one small file for each kind of image (and non-image) found in the wild.

No tests here. write_zoo() writes the zoo and says what the decoder should make of each file;
write_junk() writes files a harness should list as unused; photo_jpeg() makes realistic JPEG bytes
(for tests and benchmarks); exif_rotated_jpeg(), png16() and encode() make single cases as bytes.
"""
import functools
import io
import os
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

RED, BLUE = (255, 0, 0), (0, 0, 255)
W, H = 40, 30  # small: the zoo is built in ~0.2 s (mostly the bomb), once a process
BOMB_SIDE = 20_000  # 400 megapixels in a ~50 KB PNG: over the default limit and over Pillow's own


@dataclass(frozen=True)
class Expected:
    """What decode_file should do with a zoo file.

    decodes: an array comes back (else ImageError); keyword: a word expected in the ImageError's reason,
    or in the warning when the file decodes (None: no warning expected); colour: the RGB every pixel
    should be close to, where the image is one flat colour.
    """
    decodes: bool
    keyword: str | None = None
    colour: tuple[int, int, int] | None = None


def photo_jpeg(width: int, height: int, seed: int, quality: int = 90) -> bytes:
    """Photo-like JPEG bytes: smooth colour blobs plus fine noise; ~30 KB at 500x375, quality 90."""
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 256, (height // 50 + 2, width // 50 + 2, 3), dtype=np.uint8)
    img = cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC).astype(np.int16)
    img += rng.normal(0, 2, (height, width, 1)).astype(np.int16)
    return encode(Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)), "JPEG", quality=quality)


def exif_rotated_jpeg(orientation: int = 6) -> bytes:
    """A 40x30 JPEG stored with its left half red and right half blue, tagged with an EXIF Orientation.

    With 6 (rotate 90 degrees clockwise to view) a viewer shows a 30x40 portrait: red on top, blue below.
    """
    exif = Image.Exif()
    exif[0x0112] = orientation
    return encode(_halves(RED, BLUE), "JPEG", quality=95, exif=exif.tobytes())


def png16(samples: np.ndarray) -> bytes:
    """A 16-bit PNG of `samples` (H x W grayscale or H x W x 3 RGB, uint16), written chunk by chunk."""
    height, width = samples.shape[:2]
    colour_type = 2 if samples.ndim == 3 else 0
    rows = samples.astype(">u2").reshape(height, -1)
    raw = b"".join(b"\x00" + row.tobytes() for row in rows)  # filter type 0 on every row
    header = struct.pack(">IIBBBBB", width, height, 16, colour_type, 0, 0, 0)
    return _png_chunks([(b"IHDR", header), (b"IDAT", zlib.compress(raw)), (b"IEND", b"")])


def write_zoo(folder: Path) -> dict[str, Expected]:
    """Write one file of each kind into `folder`; return {file name: what decoding it should give}.

    Names are str; the non-UTF-8 one is the surrogate-escaped form of b"caf\\xe9.jpg", which open() and
    os.fsencode() turn back into the same bytes. A name the file system refuses is left out of the result.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = {}
    for name, (data, expected) in zoo_cases().items():
        try:
            (folder / name).write_bytes(data)
        except (OSError, UnicodeEncodeError):  # e.g. macOS refuses names that are not UTF-8: left out
            continue
        written[name] = expected
    return written


@functools.cache
def zoo_cases() -> dict[str, tuple[bytes, Expected]]:
    """{file name: (content, expected)} for write_zoo; computed once a process."""
    good = photo_jpeg(W, H, seed=0)
    red = Image.new("RGB", (W, H), RED)
    return {
        "good.jpg": (good, Expected(True)),
        "empty.jpg": (b"", Expected(False, "empty")),
        "truncated.jpg": (good[:-64], Expected(False, "truncated")),  # cut inside the scan data
        "truncated_png.jpg": (encode(red, "PNG")[:60], Expected(False, "truncated")),
        "html.jpg": (b"<!DOCTYPE html>\n<html><body><h1>404 Not Found</h1></body></html>\n",
                     Expected(False, "not an image")),
        "text.jpg": (b"This file was saved as .jpg by a scraper.\n" * 3, Expected(False, "not an image")),
        "png_as.jpg": (encode(red, "PNG"), Expected(True, colour=RED)),
        "gif_as.jpg": (encode(red, "GIF"), Expected(True, colour=RED)),
        "webp_as.jpg": (encode(red, "WEBP", lossless=True), Expected(True, colour=RED)),
        "bmp_as.jpg": (encode(red, "BMP"), Expected(True, colour=RED)),
        "corrupt_png.jpg": (_corrupt_png(), Expected(False, "undecodable")),
        "cmyk.jpg": (encode(red.convert("CMYK"), "JPEG", quality=95), Expected(True, colour=RED)),
        "gray.jpg": (encode(Image.new("L", (W, H), 128), "JPEG"), Expected(True, colour=(128, 128, 128))),
        "rgba.jpg": (encode(Image.new("RGBA", (W, H), RED + (128,)), "PNG"), Expected(True, colour=RED)),
        "la.jpg": (encode(Image.new("LA", (W, H), (200, 100)), "PNG"), Expected(True, colour=(200, 200, 200))),
        "palette.jpg": (_palette_png(), Expected(True, colour=RED)),
        "gray16.jpg": (png16(np.full((H, W), 0x80FF, np.uint16)), Expected(True, colour=(128, 128, 128))),
        "rgb16.jpg": (png16(np.full((H, W, 3), (0xFF00, 0x4080, 0x00FF), np.uint16)),
                      Expected(True, colour=(255, 64, 0))),
        "exif_rotated.jpg": (exif_rotated_jpeg(6), Expected(True)),
        "extraneous.jpg": (good[:-2] + b"\x00" * 37 + good[-2:], Expected(True, "extraneous")),
        "bomb.jpg": (_bomb_png(), Expected(False, "too large")),
        os.fsdecode(b"caf\xe9.jpg"): (good, Expected(True)),
        "my holiday \u00e9t\u00e9 \u2014 \u65e5\u672c (1).jpg": (good, Expected(True)),
        "shouting.JPG": (good, Expected(True)),
    }


def write_junk(folder: Path) -> list[str]:
    """Write files that are not training images and a harness should report as unused; return their names."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    junk = {
        "translate.py": b'translate = {"cane": "dog", "cavallo": "horse"}\n',
        ".DS_Store": b"\x00\x00\x00\x01Bud1" + bytes(64),
        "Thumbs.db": b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(64),  # an OLE2 compound file
        "notes.txt": b"downloaded from a mirror\n",
    }
    for name, data in junk.items():
        (folder / name).write_bytes(data)
    return list(junk)


def encode(im: Image.Image, fmt: str, **params) -> bytes:
    """The bytes Pillow writes for `im` in format `fmt` (JPEG, PNG, GIF, WEBP, BMP, TIFF, ...)."""
    buf = io.BytesIO()
    im.save(buf, fmt, **params)
    return buf.getvalue()


def _halves(left, right) -> Image.Image:
    arr = np.empty((H, W, 3), np.uint8)
    arr[:, :W // 2], arr[:, W // 2:] = left, right
    return Image.fromarray(arr)


def _palette_png() -> bytes:
    """A palette (P) PNG with a transparent index: index 0 red (opaque, everywhere), index 1 transparent."""
    im = Image.new("P", (W, H), 0)
    im.putpalette(list(RED) + [0, 255, 0] + [0, 0, 0] * 254)
    return encode(im, "PNG", transparency=1)


def _corrupt_png() -> bytes:
    """A PNG whose header and end chunk are intact but whose pixel data is not a zlib stream."""
    header = struct.pack(">IIBBBBB", W, H, 8, 2, 0, 0, 0)
    return _png_chunks([(b"IHDR", header), (b"IDAT", bytes(range(256)) * 4), (b"IEND", b"")])


def _png_chunks(chunks) -> bytes:
    out = [b"\x89PNG\r\n\x1a\n"]
    for kind, body in chunks:
        out.append(struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body)))
    return b"".join(out)


def _bomb_png() -> bytes:
    """A valid 1-bit PNG, BOMB_SIDE x BOMB_SIDE black pixels, deflated to ~50 KB."""
    row = bytes(1 + BOMB_SIDE // 8)  # filter byte + 1 bit a pixel
    deflate = zlib.compressobj(9)
    block = row * 1000
    body = b"".join(deflate.compress(block) for _ in range(BOMB_SIDE // 1000)) + deflate.flush()
    header = struct.pack(">IIBBBBB", BOMB_SIDE, BOMB_SIDE, 1, 0, 0, 0, 0)
    return _png_chunks([(b"IHDR", header), (b"IDAT", body), (b"IEND", b"")])
