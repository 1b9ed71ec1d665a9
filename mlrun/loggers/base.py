"""The logger interface and the two calls `mlrun.fit.run.train` makes."""

from __future__ import annotations

import math
from pathlib import Path

from mlrun.config.registry import make
from mlrun.config.compose import flatten
from mlrun.errors import UserError


class Logger:
    """Does nothing; subclasses send the run's numbers somewhere else as well."""

    def __init__(self, run_dir: Path | None = None):
        pass

    def log_params(self, params: dict) -> None:     # flat {dotted.key: scalar} from the resolved config
        pass

    def log_epoch(self, record: dict) -> None:      # one metrics.csv row; record["epoch"] is the step
        pass

    def log_summary(self, summary: dict) -> None:   # the numbers of summary.json (test metrics, best val, time)
        pass

    def log_artifact(self, path: Path) -> None:     # a file of the run dir, e.g. checkpoints/best.pt
        pass

    def close(self, failed: bool = False) -> None:
        pass


NoLogger = Logger     # logger=none


def start(cfg, run_dir: Path) -> Logger:
    """Build `cfg.logger` for `run_dir` (NoLogger when the config has none) and log the run's parameters."""
    node = cfg.get("logger")
    logger = make(node, "logger", Path(run_dir)) if node else NoLogger()
    logger.log_params({k: v if isinstance(v, (bool, int, float, str)) else str(v) for k, v in flatten(cfg).items()})
    return logger


def finish(logger: Logger, summary: dict, *artifacts: Path) -> None:
    logger.log_summary(summary)
    for path in artifacts:
        logger.log_artifact(Path(path))
    logger.close()


def scalars(record: dict) -> dict[str, float]:
    """The finite numbers of a record (metrics.csv row, summary.json), without the step counter."""
    return {k: float(v) for k, v in record.items()
            if isinstance(v, (int, float)) and not isinstance(v, bool) and k != "epoch" and math.isfinite(v)}


def missing(extra: str, package: str):

    return UserError(f"logger={extra}: the {package} package is not installed; "
                     f"pip install 'mlrun-classic[{extra}]' (or logger=none)")
