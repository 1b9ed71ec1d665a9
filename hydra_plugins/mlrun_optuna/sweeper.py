"""The Hydra Sweeper class of `hydra/sweeper=mlrun_optuna`; the search itself is mlrun.sweep.search.Search."""

from __future__ import annotations

from hydra.plugins.sweeper import Sweeper


class OptunaSweeper(Sweeper):
    """Hydra builds it from hydra.sweeper (hydra_plugins.mlrun_optuna.MlrunOptunaConf), calls setup() then
    sweep(arguments): the command line's overrides."""

    def __init__(self, **conf) -> None:
        self.conf, self.search = conf, None

    def setup(self, *, hydra_context, task_function, config) -> None:
        from hydra.core.plugins import Plugins

        from mlrun.sweep.search import Search      # here: Hydra imports this module on every start (see __init__)

        launcher = Plugins.instance().instantiate_launcher(config=config, hydra_context=hydra_context,
                                                           task_function=task_function)
        self.search = Search(self.conf, config, launcher)

    def sweep(self, arguments: list[str]) -> None:
        self.search.run(list(arguments))
