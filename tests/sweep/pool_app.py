"""A tiny Hydra app for the pool launcher's tests (no torch, no mlrun run): each job does what its `mode` says.

    python -c "from tests.sweep.pool_app import main; main()" -m hydra/launcher=pool hydra.launcher.preload=[] \
        hydra.sweep.dir=DIR mode=short,long

The task lives in this importable module, so it travels to the workers by plain pickle.
"""

from __future__ import annotations

import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

import hydra
from hydra.core.config_store import ConfigStore
from hydra.core.hydra_config import HydraConfig


@dataclass
class AppConf:
    mode: str = "short"      # short | fail | die (SIGKILL itself) | wait (until <sweep dir>/release, ≤ 60 s)


ConfigStore.instance().store(name="pool_app", node=AppConf)


def task(cfg) -> int:
    hc = HydraConfig.get()
    job = Path(hc.runtime.output_dir)
    (job / "pid").write_text(str(os.getpid()))
    if cfg.mode == "fail":
        raise ValueError("asked to fail")
    if cfg.mode == "die":
        os.kill(os.getpid(), signal.SIGKILL)
    if cfg.mode == "wait":
        release = Path(hc.sweep.dir) / "release"
        for _ in range(600):
            if release.exists():
                break
            time.sleep(0.1)
    (job / "done").write_text("")
    return os.getpid()


def main() -> None:
    hydra.main(version_base="1.3", config_path=str(Path(__file__).parent), config_name="pool_app")(task)()
