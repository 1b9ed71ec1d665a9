"""Find a GroupLens release under dataset.root, or download it (dataset.download=true) with an MD5 check."""

from __future__ import annotations

import hashlib
import shutil
import tempfile
import zipfile
from pathlib import Path

from mlrun.errors import UserError


def fetch(url: str, md5: str, root: Path, member: str) -> None:
    """Download the archive at `url`, check its MD5, extract its folder `member` (e.g. ml-100k) as `root`."""
    import urllib.request

    root = Path(root)
    with tempfile.TemporaryDirectory() as tmp:
        archive = Path(tmp) / "archive.zip"
        try:
            with urllib.request.urlopen(url, timeout=60) as response, open(archive, "wb") as f:
                shutil.copyfileobj(response, f)
        except Exception as e:  # noqa: BLE001 - no network, proxy, HTTP errors end the same way
            raise UserError(f"dataset.download=true: cannot download {url} ({type(e).__name__}: {e}); "
                            f"put the files under {root} instead") from None
        digest = hashlib.md5(archive.read_bytes()).hexdigest()
        if digest != md5:
            raise UserError(f"dataset.download=true: {url} has MD5 {digest}, expected {md5}; not extracted")
        with zipfile.ZipFile(archive) as z:
            z.extractall(tmp)
        root.parent.mkdir(parents=True, exist_ok=True)
        shutil.copytree(Path(tmp) / member, root, dirs_exist_ok=True)


def locate(root: str, filename: str, url: str, md5: str, member: str, download: bool) -> Path:
    """`root/filename`, downloaded first when missing and `download`, else one line saying what to put where."""
    root_path = Path(str(root)).expanduser()
    if not (root_path / filename).is_file():
        if not download:
            raise UserError(f"dataset.root={str(root_path)!r}: {filename} not found; put the {member} files there "
                            f"(from {url}), set MLRUN_DATA_DIR to a folder holding {member}/, or pass "
                            f"dataset.download=true")
        fetch(url, md5, root_path, member)
    return root_path / filename
