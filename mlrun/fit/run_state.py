"""What a run keeps between epochs and writes to its checkpoints: the loop position, the best epoch, skipped batches.

    state = RunState.begin(cfg, run_dir, parts, resume)   # fresh, or where a last.pt left off
    state.epoch_end(record, improved)                     # best.pt (when improved), then last.pt: the commit point
    state.mid_epoch(batches, total)                       # last.pt inside an epoch (every N steps, or on a signal)

Only rank 0 writes. Before last.pt is written, the epoch's loss and the parameters are checked (`NanGuard`), so
nothing non-finite is ever saved.
"""

from __future__ import annotations

import copy
from pathlib import Path

import torch
from omegaconf import DictConfig, OmegaConf

from mlrun.version import VERSION
from mlrun.runtime import checkpoints
from mlrun.fit import resume as resuming
from mlrun.fit.build import Parts
from mlrun.errors import UserError
from mlrun.runtime.faults import Boundary, NanGuard
from mlrun.fit.loop import Position


class RunState:
    def __init__(self, cfg: DictConfig, run_dir: Path, parts: Parts, ddp, position: Position,
                 best: tuple[dict, dict] | None):
        self.parts, self.ddp, self.position = parts, ddp, position
        self.best_record, self.best_state = best if best is not None else (None, None)
        self.last = run_dir / "checkpoints" / "last.pt"
        self.folder = run_dir / "checkpoints"
        self.skipped = parts.plan.step.skipped                 # batches skipped by nan_policy=skip_batch (device)
        self.n_batches = parts.plan.batches
        self.record: dict | None = None                        # the last finished epoch's record
        self.base = {"config": OmegaConf.to_container(cfg, resolve=True), "spec": parts.spec.to_dict(),
                     "mlrun_version": VERSION}
        self.guard = NanGuard(parts.trainer.nan_policy, parts.model, self.skipped, self.n_batches, self.last,
                              cfg.optimizer.get("lr"))
        self.boundary = Boundary(parts.trainer.checkpoint_every_steps, self.mid_epoch,
                                 ddp.agree if ddp.world > 1 else None)
        self.boundary.restart(position.step)

    @classmethod
    def begin(cls, cfg: DictConfig, run_dir: Path, parts: Parts, ddp, resume: dict | None) -> "RunState":
        """A fresh state, or the one `resume` (a last.pt payload) saved; a model that fits itself restarts."""
        if resume is None or not parts.fitter.resumes:
            return cls(cfg, run_dir, parts, ddp, Position(), None)
        saved = resume["resume"]
        plan, n_batches = parts.plan, parts.plan.batches
        if saved["position"]["batch"] > n_batches:         # = n_batches: saved after the epoch's last step
            raise UserError(f"resume: last.pt's position.batch={saved['position']['batch']} does not fit this run's "
                            f"{n_batches} batches per epoch")
        try:
            parts.model.load_state_dict(resume["model"])
            plan.optimizer.load_state_dict(resume["optimizer"])
            position = resuming.restore(saved, plan.generator, plan.scheduler, parts.device)
        except (RuntimeError, KeyError, TypeError, ValueError, IndexError) as e:
            raise UserError(f"resume: last.pt does not fit the run being resumed ({type(e).__name__}: "
                            f"{str(e).splitlines()[0][:200] if str(e) else ''})") from None
        if ddp.rank and position.total is not None:    # the saved running loss is the sum over ranks: count once
            position.total.zero_()
        best = (saved["best"]["record"], saved["best"]["model"]) if saved["best"] is not None else None
        state = cls(cfg, run_dir, parts, ddp, position, best)
        state.record = resume["metrics"]
        if state.skipped is not None:
            state.skipped.fill_(saved["skipped"])
        return state

    def epoch_end(self, record: dict, improved: bool) -> None:
        self.record = record
        self.position.step, self.boundary.where = self.boundary.steps, f"the end of epoch {record['epoch']}"
        self.guard.check(f"epoch {record['epoch']}", record["train_loss"], self.boundary)
        if self.skipped is not None:
            self.skipped.zero_()
        if improved:                               # best.pt first: last.pt is the commit point of the epoch
            self.best_record, self.best_state = record, copy.deepcopy(self.parts.model.state_dict())
            self._write("best.pt", record)
        self._write("last.pt", record)
        self.boundary.check_epoch_end()

    def mid_epoch(self, batches: int, total: torch.Tensor) -> None:
        """`Boundary` calls this inside an epoch: last.pt with the running total (every N steps, or a signal)."""
        p = self.position
        p.batch, p.total, p.step = batches, self.ddp.sum(total), self.boundary.steps
        self.boundary.where = f"epoch {p.epoch + 1} step {batches}/{self.n_batches}"
        self.guard.check(f"epoch {p.epoch + 1}", float(p.total) / max(batches * self.parts.plan.batch_size, 1),
                         self.boundary)
        self._write("last.pt", self.record or {"epoch": p.epoch})
        p.batch, p.total = 0, None

    def _write(self, name: str, record: dict) -> None:
        parts, plan = self.parts, self.parts.plan
        state = {**self.base, "model": parts.model.state_dict(), "optimizer": plan.optimizer.state_dict(),
                 "epoch": record["epoch"], "metrics": record}
        if name == "last.pt":
            best = None if self.best_state is None else {"model": self.best_state, "record": self.best_record}
            state["resume"] = resuming.snapshot(self.position, plan.generator, plan.scheduler, best,
                                                int(self.skipped) if self.skipped is not None else 0,
                                                self.ddp.world)
        if self.ddp.rank == 0:
            checkpoints.save(self.folder / name, state)
        if name == "last.pt":
            self.boundary.saved = self.position.step
