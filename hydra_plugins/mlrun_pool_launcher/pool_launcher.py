"""`hydra/launcher=pool`: sweep jobs on a warm pool of worker processes, no batch barrier (mlrun.sweep.pool).

    mlrun train -m hydra/launcher=pool hydra.launcher.n_jobs=2 dataset=iris trainer.epochs=5 seed=0,1,2,3

Hydra imports this module on every start to find its plugins: it imports nothing heavy (mlrun.sweep.pool is the
standard library and Hydra). A sweeper may call `submit(overrides, job_idx)` for one job's Future (its JobReturn)
and ask for the next trial as soon as any job finishes; `launch()` submits a batch and returns it in order.
"""

import logging
import os
import weakref
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import List, Optional, Sequence

from hydra.core.config_store import ConfigStore
from hydra.core.singleton import Singleton
from hydra.core.utils import JobReturn, configure_log, filter_overrides
from hydra.plugins.launcher import Launcher
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig

from mlrun.errors import UserError
from mlrun.sweep.job_config import JobConfigs
from mlrun.sweep.pool import Pool, dumps, sigterm_stops

log = logging.getLogger(__name__)


@dataclass
class PoolLauncherConf:
    _target_: str = "hydra_plugins.mlrun_pool_launcher.pool_launcher.PoolLauncher"
    n_jobs: int = 2                  # worker processes; -1 = one per core
    # modules each worker imports when it starts, beside the sweeper's first compositions: mlrun and torch, and
    # torch._dynamo, which torch imports on the first optimizer (≈ 1 s, else paid by each worker's first job)
    preload: List[str] = field(default_factory=lambda: ["mlrun.fit.run", "torch._dynamo"])
    stop_grace_s: float = 10.0       # on Ctrl-C/SIGTERM: seconds a running job gets to save, then SIGKILL


ConfigStore.instance().store(group="hydra/launcher", name="pool", node=PoolLauncherConf, provider="mlrun")


def cache_sweep_configs(loader, master: DictConfig) -> None:
    """The sweeper composes every job once more in this process before launching it (BasicSweeper's
    validate_batch_is_legal): give this sweep's config loader the cached composition the workers use
    (mlrun.sweep.job_config, equal to Hydra's); any other master config still goes to Hydra's own."""
    configs, hydras = JobConfigs(loader, master), loader.load_sweep_config

    def load_sweep_config(master_config: DictConfig, sweep_overrides: List[str]) -> DictConfig:
        if master_config is master:
            return configs(list(sweep_overrides))
        return hydras(master_config, sweep_overrides)

    loader.load_sweep_config = load_sweep_config


class PoolLauncher(Launcher):
    def __init__(self, n_jobs: int = 2, preload: Sequence[str] = (), stop_grace_s: float = 10.0) -> None:
        self.n_jobs, self.preload, self.grace = n_jobs, list(preload), stop_grace_s
        self.config: Optional[DictConfig] = None
        self.task_function: Optional[TaskFunction] = None
        self.hydra_context: Optional[HydraContext] = None
        self.pool: Optional[Pool] = None

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        """Start the workers now: they import while the sweeper composes and checks its first batch. Bad keys
        are refused here, in one line (a UserError raised in __init__ would reach the user wrapped by Hydra's
        instantiate)."""
        n_jobs, grace = self.n_jobs, self.grace
        if not isinstance(n_jobs, int) or isinstance(n_jobs, bool) or not (n_jobs == -1 or n_jobs >= 1):
            raise UserError(f"hydra.launcher.n_jobs={n_jobs!r}: must be an integer ≥ 1, or -1 for one per core")
        if isinstance(grace, bool) or not isinstance(grace, (int, float)) or not 0 <= grace <= 3600:
            raise UserError(f"hydra.launcher.stop_grace_s={grace!r}: must be a number of seconds in [0, 3600]")
        self.n_jobs = (os.cpu_count() or 1) if n_jobs == -1 else n_jobs
        self.config, self.task_function, self.hydra_context = config, task_function, hydra_context
        state = {"context": hydra_context, "config": config, "task": task_function,
                 "singletons": Singleton.get_state(), "preload": self.preload}
        self.pool = Pool(self.n_jobs, dumps(state), float(grace))
        weakref.finalize(self, self.pool.close)          # the sweep is over when Hydra drops its launcher
        cache_sweep_configs(hydra_context.config_loader, config)

    def submit(self, overrides: Sequence[str], job_idx: int) -> Future:
        """Run one job on the first free worker; the Future's result is its JobReturn (failed, not raised, when
        the job fails or its worker dies)."""
        assert self.pool is not None, "setup() first"
        return self.pool.submit(list(overrides), job_idx)

    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Sequence[JobReturn]:
        assert self.config is not None and self.pool is not None
        configure_log(self.config.hydra.hydra_logging, self.config.hydra.verbose)
        sweep_dir = Path(str(self.config.hydra.sweep.dir))
        sweep_dir.mkdir(parents=True, exist_ok=True)
        log.info("Pool(n_jobs=%d) is launching %d jobs", self.n_jobs, len(job_overrides))
        log.info("Launching jobs, sweep output dir : %s", sweep_dir)
        for idx, overrides in enumerate(job_overrides):
            log.info("\t#%d : %s", initial_job_idx + idx, " ".join(filter_overrides(overrides)))
        try:
            with sigterm_stops():                        # SIGTERM → Stopped here, as SIGINT → KeyboardInterrupt
                futures = [self.submit(o, initial_job_idx + i) for i, o in enumerate(job_overrides)]
                return [f.result() for f in futures]
        except BaseException:
            self.close()                                 # Ctrl-C, SIGTERM: no worker outlives the sweep
            raise

    def close(self) -> None:
        if self.pool is not None:
            self.pool.close()
