"""Trackers besides the run files (`logger=none|tensorboard|mlflow`): one small class each.

    mlrun train logger=tensorboard            # <run dir>/tensorboard/ event files; tensorboard --logdir outputs
    mlrun train logger=mlflow                 # outputs/mlflow.db (sqlite) and outputs/mlrun-artifacts/

Every logger has log_params(cfg), log_epoch(record), log_artifact(path), log_summary(summary) and close().
`mlrun.train` calls `start` after building the run and `finish` after writing summary.json.
"""

from mlrun.loggers.base import Logger, NoLogger, finish, start
from mlrun.loggers.mlflow import MLflow
from mlrun.loggers.tensorboard import TensorBoard

__all__ = ["Logger", "NoLogger", "TensorBoard", "MLflow", "start", "finish"]
