"""`logger=tensorboard`: scalars per epoch and the run's config as hparams, in `<run dir>/tensorboard/`.

    mlrun train -m logger=tensorboard optimizer=sgd,adam
    tensorboard --logdir outputs/multirun          # one run per job; the HPARAMS tab compares them
"""

from __future__ import annotations

from pathlib import Path

from mlrun.loggers.base import Logger, missing, scalars


class TensorBoard(Logger):
    def __init__(self, run_dir: Path, subdir: str = "tensorboard", flush_secs: int = 30):
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            raise missing("tensorboard", "tensorboard") from None
        self.log_dir = Path(run_dir) / subdir
        self.writer = SummaryWriter(log_dir=str(self.log_dir), flush_secs=flush_secs)
        self.params: dict = {}

    def log_params(self, params: dict) -> None:
        self.params = {k: v for k, v in params.items() if not k.startswith(("hydra.", "spec."))}
        self.writer.add_text("config", "\n".join(f"    {k}: {v}" for k, v in self.params.items()))

    def log_epoch(self, record: dict) -> None:
        for key, value in scalars(record).items():
            self.writer.add_scalar(key, value, global_step=record["epoch"])

    def log_summary(self, summary: dict) -> None:
        numbers = {f"hparam/{k}": v for k, v in scalars(summary).items()
                   if k.startswith(("test_", "best_val_")) or k in ("total_seconds", "best_epoch")}
        self.writer.add_hparams(self.params, numbers, run_name=".")   # "." = this run's folder, not a subfolder

    def close(self, failed: bool = False) -> None:
        self.writer.close()
