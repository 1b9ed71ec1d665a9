"""`hydra/launcher=ray`: sweep jobs as Ray tasks, on this machine or a Ray cluster (mlrun.sweep.ray_jobs).

    mlrun train -m hydra/launcher=ray hydra.launcher.address=HEAD:6379 hydra.launcher.num_gpus=1 model=mlp seed=0,1,2,3

Needs the [ray] extra (pip install 'mlrun-classic[ray]'). Hydra imports this module on every start to find its
plugins, so Ray is imported only when a sweep uses this launcher. `submit(overrides, job_idx)` gives one job's Future
(its JobReturn) as soon as it is asked for; `launch()` submits a batch and returns it in order.
"""

import logging
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Optional, Sequence

from hydra.core.config_store import ConfigStore
from hydra.core.utils import JobReturn, configure_log, filter_overrides
from hydra.plugins.launcher import Launcher
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, OmegaConf

from mlrun.errors import UserError
from mlrun.sweep.ray_jobs import RayJobs, connect

log = logging.getLogger(__name__)


@dataclass
class RayLauncherConf:
    _target_: str = "hydra_plugins.mlrun_ray_launcher.ray_launcher.RayLauncher"
    address: Optional[str] = None    # null = start Ray on this machine; auto = the cluster it joined; host:port
    num_cpus: float = 1              # CPUs per job (Ray resource; also torch's threads there)
    num_gpus: float = 0              # GPUs per job: 1 = one GPU per trial (Ray sets CUDA_VISIBLE_DEVICES)
    resources: Dict[str, float] = field(default_factory=dict)   # custom Ray resources per job, e.g. {big_mem: 1}
    max_retries: int = 0             # Ray re-runs a job whose node died this many times; 0 = it fails (rerun later)


ConfigStore.instance().store(group="hydra/launcher", name="ray", node=RayLauncherConf, provider="mlrun")


class RayLauncher(Launcher):
    def __init__(self, address: Optional[str] = None, num_cpus: float = 1, num_gpus: float = 0,
                 resources: Optional[Dict[str, float]] = None, max_retries: int = 0) -> None:
        self.address, self.max_retries = address, max_retries
        self.options: Dict[str, Any] = {"num_cpus": num_cpus, "num_gpus": num_gpus,
                                        "resources": dict(resources or {}), "max_retries": max_retries}
        self.config: Optional[DictConfig] = None
        self.jobs = None

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        """Check the keys, import Ray and join the cluster (one line if any of it fails)."""
        for key in ("num_cpus", "num_gpus"):
            value = self.options[key]
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1024:
                raise UserError(f"hydra.launcher.{key}={value!r}: must be a number in [0, 1024]")
        if isinstance(self.max_retries, bool) or not isinstance(self.max_retries, int) or self.max_retries < 0:
            raise UserError(f"hydra.launcher.max_retries={self.max_retries!r}: must be an integer ≥ 0")
        self.options["resources"] = OmegaConf.to_container(self.options["resources"]) \
            if OmegaConf.is_config(self.options["resources"]) else self.options["resources"]
        try:
            import ray
        except ImportError:
            raise UserError("hydra/launcher=ray: Ray is not installed; install the [ray] extra: "
                            "pip install 'mlrun-classic[ray]'") from None
        self.config = config
        connect(self.address, ray)
        self.jobs = RayJobs(ray, hydra_context, config, task_function, self.options)

    def submit(self, overrides: Sequence[str], job_idx: int) -> Future:
        """One job as a Ray task; the Future's result is its JobReturn (failed, not raised, when the job fails or
        its node dies)."""
        assert self.jobs is not None, "setup() first"
        return self.jobs.submit(list(overrides), job_idx)

    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Sequence[JobReturn]:
        assert self.config is not None and self.jobs is not None
        configure_log(self.config.hydra.hydra_logging, self.config.hydra.verbose)
        sweep_dir = Path(str(self.config.hydra.sweep.dir))
        sweep_dir.mkdir(parents=True, exist_ok=True)
        log.info("Ray is launching %d jobs (%s), sweep output dir: %s", len(job_overrides),
                 ", ".join(f"{k}={v}" for k, v in self.options.items()), sweep_dir)
        for idx, overrides in enumerate(job_overrides):
            log.info("\t#%d : %s", initial_job_idx + idx, " ".join(filter_overrides(overrides)))
        try:
            futures = [self.submit(o, initial_job_idx + i) for i, o in enumerate(job_overrides)]
            return [f.result() for f in futures]
        except BaseException:
            self.jobs.cancel_all()                       # Ctrl-C: Ray's driver goes, its tasks are cancelled
            raise
