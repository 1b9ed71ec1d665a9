"""Run folders: `<root>/<YYYY-MM-DD>/<HH-MM-SS>[_<name>]`, claimed atomically so that two runs started in the
same second (two shells, parallel launcher jobs) never share one: the second gets a `-1`, `-2`, ... suffix."""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

from omegaconf import OmegaConf


def claim_run_dir(root: str, name: str | None = None) -> str:
    now = datetime.now()
    base = Path(root) / now.strftime("%Y-%m-%d") / (now.strftime("%H-%M-%S") + (f"_{name}" if name else ""))
    base.parent.mkdir(parents=True, exist_ok=True)
    for n in range(10_000):
        candidate = base if n == 0 else base.with_name(f"{base.name}-{n}")
        try:
            os.mkdir(candidate)          # atomic: exactly one process succeeds
            return str(candidate)
        except FileExistsError:
            continue
    raise RuntimeError(f"could not claim a run folder under {base.parent}")


def register_resolvers() -> None:
    """`${mlrun_run_dir:root,name}` in conf/config.yaml. Cached: every read in a run (and every job of a sweep,
    whose configs copy the cache) gets the same folder."""
    if not OmegaConf.has_resolver("mlrun_run_dir"):
        OmegaConf.register_new_resolver("mlrun_run_dir", claim_run_dir, use_cache=True)
