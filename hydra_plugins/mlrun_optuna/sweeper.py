"""The Hydra Sweeper class of `hydra/sweeper=mlrun_optuna`; the search itself is mlrun.sweep.search.Search."""

from __future__ import annotations

from hydra.plugins.sweeper import Sweeper


class OptunaSweeper(Sweeper):
    """Hydra builds it from hydra.sweeper (hydra_plugins.mlrun_optuna.MlrunOptunaConf), calls setup() then
    sweep(arguments): the command line's overrides."""

    def __init__(self, **conf) -> None:
        self.conf, self.search = conf, None

    def setup(self, *, hydra_context, task_function, config) -> None:
        from mlrun.sweep.search import Search      # here: Hydra imports this module on every start (see __init__)

        self.search = Search(self.conf, config, hydra_context, task_function)

    def sweep(self, arguments: list[str]) -> None:
        self.search.run(list(arguments))
