"""The training-loop settings: `conf/trainer/*.yaml` → `TrainerSettings`, checked before anything is built."""

from __future__ import annotations

from dataclasses import dataclass

from mlrun.errors import check, number

SCHEDULES = ("none", "step", "cosine")
PRECISIONS = ("fp32", "bf16", "fp16")
NAN_POLICIES = ("stop", "skip_batch")
STRATEGIES = ("single", "ddp")
AUTO_EPOCHS = 30              # trainer.epochs=auto: at least this many epochs, more when min_steps asks for them


@dataclass
class TrainerSettings:
    epochs: int | str = "auto"    # passes over the train split; auto = AUTO_EPOCHS, raised to reach min_steps
    min_steps: int = 1000         # epochs=auto: at least this many optimiser steps (small sets get more epochs)
    batch_size: int | str = 64    # examples per step: int ≥ 1 (1 = stochastic GD) or "full" (batch GD)
    online: bool = False          # one pass in data order, one example per step (online GD)
    shuffle: bool = True          # reshuffle the train split every epoch
    lr_schedule: str = "none"     # none | step | cosine
    step_size: int = 10           # epochs between lr drops (lr_schedule=step)
    gamma: float = 0.1            # lr factor per drop (lr_schedule=step)
    clip_grad_norm: float = 0.0   # max global gradient L2 norm; 0 = off
    l2: float = 0.0               # explicit penalty l2·Σ‖W‖² over weight matrices, added to the loss
    patience: int = 10            # epochs without val improvement before stopping; 0 = off
    precision: str = "fp32"       # fp32 | bf16 | fp16 autocast (fp16 with a grad scaler on CUDA)
    compile: bool = False         # torch.compile the model
    fast_dev_run: bool = False    # one batch of train/val/test, then stop
    eval_batch_size: int = 4096   # examples per forward pass in evaluation
    cv_folds: int = 1             # > 1: k-fold cross validation, one run per fold (datasets with a `folds` key)
    data_on_device: bool | str = "auto"  # true | false (stream from the host) | auto (true up to device_data_mb)
    device_data_mb: float = 4096  # auto: the largest data (all splits, MB) kept on a CUDA device; CPU keeps all
    workers: int = 2              # DataLoader worker processes when streaming (0 = in the main process)
    checkpoint_every_steps: int = 0   # also write last.pt every N optimiser steps; 0 = only after each epoch
    nan_policy: str = "stop"      # stop | skip_batch: what a NaN/Inf loss or gradient does
    strategy: str = "single"      # single | ddp (DistributedDataParallel under torchrun)
    threads: int | None = None    # torch CPU threads: None = torch's default (a sweep job: cores ÷ parallel jobs)

    def __post_init__(self):
        check(self.epochs == "auto" or not isinstance(self.epochs, str), "trainer.epochs", self.epochs,
              "must be an integer ≥ 1 or auto")
        self.auto_epochs = self.epochs == "auto"
        self.epochs = AUTO_EPOCHS if self.auto_epochs else self.epochs
        number("trainer.epochs", self.epochs, 1, integer=True)
        number("trainer.min_steps", self.min_steps, 0, integer=True)
        if self.batch_size != "full":
            check(isinstance(self.batch_size, int) and not isinstance(self.batch_size, bool) and self.batch_size >= 1,
                  "trainer.batch_size", self.batch_size, "must be an integer ≥ 1 or 'full'")
        check(self.lr_schedule in SCHEDULES, "trainer.lr_schedule", self.lr_schedule,
              f"valid choices are {', '.join(SCHEDULES)}")
        number("trainer.step_size", self.step_size, 1, integer=True)
        number("trainer.gamma", self.gamma, 0, 1, low_open=True)
        number("trainer.clip_grad_norm", self.clip_grad_norm, 0)
        number("trainer.l2", self.l2, 0)
        number("trainer.patience", self.patience, 0, integer=True)
        check(self.precision in PRECISIONS, "trainer.precision", self.precision,
              f"valid choices are {', '.join(PRECISIONS)}")
        number("trainer.eval_batch_size", self.eval_batch_size, 1, integer=True)
        number("trainer.cv_folds", self.cv_folds, 1, integer=True)
        check(self.data_on_device in (True, False, "auto"), "trainer.data_on_device", self.data_on_device,
              "valid choices are true, false, auto")
        number("trainer.device_data_mb", self.device_data_mb, 0)
        number("trainer.workers", self.workers, 0, integer=True)
        number("trainer.checkpoint_every_steps", self.checkpoint_every_steps, 0, integer=True)
        check(self.nan_policy in NAN_POLICIES, "trainer.nan_policy", self.nan_policy,
              f"valid choices are {', '.join(NAN_POLICIES)}")
        if self.threads is not None:
            number("trainer.threads", self.threads, 1, 4096, integer=True)
        check(self.strategy in STRATEGIES, "trainer.strategy", self.strategy,
              f"valid choices are {', '.join(STRATEGIES)}")
        for key in ("online", "shuffle", "compile", "fast_dev_run"):
            check(isinstance(getattr(self, key), bool), f"trainer.{key}", getattr(self, key), "must be true or false")

    def plan(self, n_train: int) -> tuple[int, int, bool]:
        """(epochs, batch size, shuffle) for a train split of `n_train` examples."""
        if self.online:
            return 1, 1, False
        batch = n_train if self.batch_size == "full" else min(self.batch_size, max(n_train, 1))
        epochs = self.epochs
        if self.auto_epochs:                       # enough steps for a small set: epochs × batches ≥ min_steps
            epochs = max(epochs, -(-self.min_steps // -(-max(n_train, 1) // max(batch, 1))))
        return (1 if self.fast_dev_run else epochs), batch, self.shuffle

    def on_device(self, nbytes: int, device) -> bool:
        """Keep the splits (`nbytes` in all) on `device`, or stream them from the host?"""
        if self.data_on_device != "auto":
            return self.data_on_device
        return device.type == "cpu" or nbytes <= self.device_data_mb * 2**20
