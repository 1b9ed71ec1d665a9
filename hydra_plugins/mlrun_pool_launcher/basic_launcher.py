"""`hydra/launcher=mlrun_basic` (mlrun's default for -m): Hydra's basic launcher — the jobs one after the other in
this process — with each job's config built from a cached composition (mlrun.sweep.job_config) instead of composed
from the YAML files twice per job (once by the sweeper's check, once at launch). Equal to Hydra's config key for key
(tests/sweep/test_pool.py); a 12-job grid of cached iris jobs composed 34 times before, 10 now.
"""

from dataclasses import dataclass

from hydra._internal.core_plugins.basic_launcher import BasicLauncher
from hydra.core.config_store import ConfigStore
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig

from hydra_plugins.mlrun_pool_launcher.pool_launcher import cache_sweep_configs


@dataclass
class CachedBasicLauncherConf:
    _target_: str = "hydra_plugins.mlrun_pool_launcher.basic_launcher.CachedBasicLauncher"


ConfigStore.instance().store(group="hydra/launcher", name="mlrun_basic", node=CachedBasicLauncherConf,
                             provider="mlrun")


class CachedBasicLauncher(BasicLauncher):
    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        super().setup(hydra_context=hydra_context, task_function=task_function, config=config)
        cache_sweep_configs(hydra_context.config_loader, config)
