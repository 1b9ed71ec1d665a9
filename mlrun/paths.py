"""Where the packaged configs live (`mlrun/conf` in a wheel, the top-level `conf/` in a source tree) and mlrun's
own cache folder."""

from __future__ import annotations

import os
from pathlib import Path

_HERE = Path(__file__).resolve().parent


def config_dir() -> Path:
    for candidate in (_HERE / "conf", _HERE.parent / "conf"):
        if (candidate / "config.yaml").is_file():
            return candidate
    raise RuntimeError(f"mlrun's configs are missing: looked in {_HERE / 'conf'} and {_HERE.parent / 'conf'}")


def cache_dir() -> Path:
    """mlrun's own cache (decoded image folders, ...): $MLRUN_CACHE_DIR, else $XDG_CACHE_HOME/mlrun, else
    ~/.cache/mlrun. Never inside the user's data folders; safe to delete at any time."""
    explicit = os.environ.get("MLRUN_CACHE_DIR")
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base).expanduser() / "mlrun"
