"""The harness as a wheel, built from the checkout with nothing but the standard library.

A Kaggle notebook has no internet, so the harness travels in a dataset as a wheel and is installed with
`pip install --no-index --no-deps`. Building it needs no build tool and no network: the packages and metadata
named in pyproject.toml are zipped in the wheel layout (PEP 427), with fixed timestamps, so the same checkout
gives the same bytes (and a re-push of an unchanged run uploads an identical file).
"""
import base64
import hashlib
import io
import zipfile
from pathlib import Path

from harness import atomic, paths
from harness.errors import HarnessError

EPOCH = (1980, 1, 1, 0, 0, 0)  # zip's earliest timestamp, for reproducible archives


def project() -> dict:
    """pyproject.toml's [project] table, plus the packages setuptools ships (tool.setuptools.packages)."""
    pyproject = paths._PROJECT / "pyproject.toml"
    if not pyproject.is_file():
        raise HarnessError(f"Packaging builds the harness from its checkout, but {pyproject} does not exist (is this "
                           f"an installed copy?); run the command from a clone of the project.")
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        raise HarnessError("Packaging reads pyproject.toml with tomllib, which needs Python 3.11 or newer.") from None
    data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    return {**data["project"], "packages": data["tool"]["setuptools"]["packages"]}


def build(dest: Path) -> Path:
    """Write <name>-<version>-py3-none-any.whl into `dest`; returns its path."""
    meta = project()
    dist = meta["name"].replace("-", "_")
    info = f"{dist}-{meta['version']}.dist-info"
    files = {}
    for package in meta["packages"]:
        for path in sorted((paths._PROJECT / package).rglob("*.py")):
            files[path.relative_to(paths._PROJECT).as_posix()] = path.read_bytes()
    files[f"{info}/METADATA"] = _metadata(meta).encode()
    files[f"{info}/WHEEL"] = b"Wheel-Version: 1.0\nGenerator: harness.wheel\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    scripts = "".join(f"{name} = {target}\n" for name, target in meta.get("scripts", {}).items())
    files[f"{info}/entry_points.txt"] = f"[console_scripts]\n{scripts}".encode()
    record = "".join(f"{name},sha256={_digest(data)},{len(data)}\n" for name, data in files.items())
    files[f"{info}/RECORD"] = (record + f"{info}/RECORD,,\n").encode()
    out = Path(dest) / f"{dist}-{meta['version']}-py3-none-any.whl"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in files.items():
            entry = zipfile.ZipInfo(name, EPOCH)
            entry.external_attr = 0o644 << 16
            entry.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(entry, data)
    atomic.write_bytes(out, buf.getvalue())
    return out


def _metadata(meta: dict) -> str:
    lines = ["Metadata-Version: 2.1", f"Name: {meta['name']}", f"Version: {meta['version']}",
             f"Summary: {meta.get('description', '')}", f"Requires-Python: {meta.get('requires-python', '>=3')}"]
    lines += [f"Requires-Dist: {dep}" for dep in meta.get("dependencies", [])]
    return "\n".join(lines) + "\n"


def _digest(data: bytes) -> str:
    """RECORD's hash: urlsafe base64 of the sha256, without padding."""
    return base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
