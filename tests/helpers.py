"""Shared test helpers (`from tests.helpers import ...`): compose the real config and shrink it; run the command."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra

from mlrun.paths import config_dir
from mlrun.runtime.rundir import register_resolvers

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = ROOT.parent / "shared" / "data"
SMALL = ["device=cpu", "trainer.epochs=2"]     # the shrink applied by `cfg()` unless overridden


def data_dir() -> Path | None:
    """The real-data root: $MLRUN_DATA_DIR or ../shared/data; None when absent (tests skip)."""
    root = Path(os.environ.get("MLRUN_DATA_DIR", SHARED_DATA))
    return root if root.is_dir() else None


def make_cfg(*overrides: str, shrink: bool = True):
    """The real composed config with `overrides` (after the test shrink)."""
    register_resolvers()
    GlobalHydra.instance().clear()
    real = [f"data_root={data_dir()}"] if data_dir() else []      # real files when this machine has them
    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        return compose(config_name="config", overrides=[*real, *(SMALL if shrink else []), *overrides])


def mlrun_cli(*args: str, cwd: Path, env: dict | None = None, timeout: int = 300) -> subprocess.CompletedProcess:
    """Run `python -m mlrun ARGS` in `cwd` (the same entry as the installed `mlrun` command)."""
    real = {"MLRUN_DATA_DIR": str(data_dir())} if data_dir() else {}
    full_env = {**os.environ, **real, "PYTHONUNBUFFERED": "1", **(env or {})}
    return subprocess.run([sys.executable, "-m", "mlrun", *args], cwd=cwd, env=full_env, capture_output=True,
                          text=True, timeout=timeout)
