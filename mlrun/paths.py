"""Where the packaged configs live: `mlrun/conf` in a wheel, the top-level `conf/` in a source tree."""

from __future__ import annotations

from pathlib import Path

_HERE = Path(__file__).resolve().parent


def config_dir() -> Path:
    for candidate in (_HERE / "conf", _HERE.parent / "conf"):
        if (candidate / "config.yaml").is_file():
            return candidate
    raise RuntimeError(f"mlrun's configs are missing: looked in {_HERE / 'conf'} and {_HERE.parent / 'conf'}")
