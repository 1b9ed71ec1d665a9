"""mlrun's Optuna sweeper for Hydra: `hydra/sweeper=mlrun_optuna` (the hparams_search=optuna presets choose it).

Hydra imports every module under the `hydra_plugins` namespace package when it starts, for every `mlrun train`, so
these modules import only Hydra; Optuna and the search itself (mlrun.sweep.search) load when a sweep starts.
docs/sweeps.md is the user's guide; the keys are below, each with its choices.
"""
# no `from __future__ import annotations`: Hydra executes this module outside sys.modules, where dataclass needs real types

from dataclasses import dataclass, field
from typing import Any, Dict, Optional

from hydra.core.config_store import ConfigStore


@dataclass
class MlrunOptunaConf:
    _target_: str = "hydra_plugins.mlrun_optuna.sweeper.OptunaSweeper"
    direction: str = "maximize"          # maximize | minimize (the presets: from the dataset's metric)
    study_name: Optional[str] = None     # null = Optuna's random name (the presets: ${mlrun_study_name:})
    storage: Optional[str] = None        # sqlite:///<path>.db | journal:<path> | an RDB URL | null (in memory)
    n_trials: int = 20                   # trials in this invocation (≥ 1)
    n_jobs: int = 1                      # trials in flight at once (run them in parallel with a parallel launcher)
    max_failure_rate: float = 1.0        # stop asking new trials once more than this fraction of trials failed
    sampler: str = "tpe"                 # tpe | random | grid | cmaes | gp
    seed: Optional[int] = None           # the sampler's seed: same seed, same suggestions
    samplers: Dict[str, Any] = field(default_factory=lambda: {   # keys of each sampler (optuna.samplers.*)
        "tpe": {"n_startup_trials": 10, "multivariate": False}, "random": {}, "grid": {},
        "cmaes": {"n_startup_trials": 1}, "gp": {"n_startup_trials": 10}})
    pruner: str = "none"                 # none | median | asha | hyperband: stop a bad trial after an epoch
    pruners: Dict[str, Any] = field(default_factory=lambda: {    # keys of each pruner (optuna.pruners.*)
        "none": {},
        # median: 2 start-up trials, 1 epoch never pruned: on the digits search of experiments/search, 20-39% of
        # the unpruned epochs and its best test accuracy within 0.37 point on 3 seeds; (5, 2) kept 65-69%
        "median": {"n_startup_trials": 2, "n_warmup_steps": 1, "interval_steps": 1},
        "asha": {"min_resource": 2, "reduction_factor": 3, "min_early_stopping_rate": 0},
        "hyperband": {"min_resource": 2, "max_resource": "auto", "reduction_factor": 3}})
    params: Optional[Dict[str, str]] = None   # key: interval(lo,hi) | tag(log, interval(lo,hi)) | choice(..) | range(..)
    trial: Optional[int] = None          # set per job by the sweeper: the trial's id in the storage (for pruning)


ConfigStore.instance().store(group="hydra/sweeper", name="mlrun_optuna", node=MlrunOptunaConf, provider="mlrun")
