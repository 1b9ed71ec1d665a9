"""`mlrun train`: build → fit → save.

    mlrun train                                              # MLP on digits
    mlrun train model=linear dataset=diabetes model.solver=lstsq
    mlrun train -m optimizer=sgd,adam                        # one run dir per job

`train(cfg, run_dir)` is separate from the Hydra entry (mlrun.cli_train) so tests can call it on a composed config.

Extension points, so new model families plug in without touching the loop:
  - `data.preprocess` (a module without parameters) runs on each batch in front of the model;
  - a model whose `fit_direct` is not None trains itself (closed forms, ALS sweeps, PCA):
    `model.fit_direct(data, trainer, loss_fn)` yields (record, improved) per epoch, like `mlrun.loop.fit`;
    so does an optimizer with `fit_direct(model, data, trainer, loss_fn)` (optimizer=als for model=mf);
  - a model with `penalty()` adds it to each step's objective (model=mf: λ/N ‖θ‖²);
  - a model with `epoch_metrics()` adds its numbers (e.g. solver function evaluations) to each epoch's record;
    `summary_metrics()` adds to summary.json, `write_artifacts(run_dir, data)` writes files after the test.

Reliability (README "Reliability"): `resume=` hands the payload of last.pt in (mlrun.resume), SIGINT/SIGTERM stop
at a step boundary after a checkpoint (mlrun.faults), trainer.nan_policy, trainer.strategy=ddp (mlrun.distributed).
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import logging
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

import mlrun
from mlrun import checkpoints, distributed, faults, loggers, resume as resuming
from mlrun.errors import UserError, check, find_user_error, number
from mlrun.datasets.spec import Data
from mlrun.loop import Position, Stream, evaluate, fit, make_step
from mlrun.losses import make_loss
from mlrun.metrics import HIGHER_IS_BETTER
from mlrun.datasets.transforms import maybe_project, without_pca
from mlrun.outputs import MetricsCSV, environment, epoch_line, progress, table, write_json
from mlrun.references import reference_for

log = logging.getLogger("mlrun")


def check_task(node: DictConfig, spec) -> None:
    """A model class with `tasks` (the dataset tasks it can learn) refuses other datasets in one line."""
    from hydra.utils import get_class

    try:
        tasks = getattr(get_class(node._target_), "tasks", None)
    except Exception:  # noqa: BLE001 - a bad _target_ is reported by build() itself
        return
    if tasks and spec.task not in tasks:
        raise UserError(f"model={node._target_.rsplit('.', 1)[-1]}: learns {', '.join(tasks)} datasets; "
                        f"dataset={spec.name} is {spec.task}")


def build(node: DictConfig, key: str, *args, **runtime):
    """instantiate(node, *args, **runtime), with errors raised by the target surfaced as one-line UserErrors.

    Runtime objects go positionally (the spec, the parameters): keyword dataclasses would be merged as config.
    """
    if key == "dataset":                # dataset.pca_components is applied after the builder (maybe_project)
        node = without_pca(node)
    if key == "model" and args:
        check_task(node, args[0])
    try:
        return instantiate(node, *args, **runtime, _convert_="all")
    except Exception as e:  # noqa: BLE001 - instantiate wraps everything; keep the user's line, name the group
        user = find_user_error(e)
        if user is not None:
            raise user from None
        cause = e.__cause__ or e
        raise UserError(f"{key}: cannot build {node.get('_target_', '?')} ({type(cause).__name__}: "
                        f"{str(cause).splitlines()[0] if str(cause) else ''})") from None


# torch optimizers with a fused kernel (one kernel per step over all parameters instead of a Python loop of
# element-wise ops per parameter) and the device types torch implements it on. optimizer.fused=auto uses it
# there: Adam 1.5× the samples/s of torch's default at batch 64 on the 784-256-256-10 MLP, 2-core CPU
# (experiments/bench_peers). Results differ from the default kernel only by float rounding.
FUSED_DEVICES = {"torch.optim.Adam": ("cpu", "cuda"), "torch.optim.AdamW": ("cpu", "cuda"),
                 "torch.optim.Adagrad": ("cpu",)}


def build_optimizer(node: DictConfig, model: torch.nn.Module) -> torch.optim.Optimizer:
    if node.get("fused") is not None:
        fused = node.get("fused")
        check(fused in ("auto", True, False), "optimizer.fused", fused, "must be auto, true or false")
        if fused == "auto":
            params = list(model.parameters())
            devices = FUSED_DEVICES.get(node.get("_target_"), ())
            node = node.copy()
            node.fused = bool(params) and all(p.device.type in devices and p.is_floating_point() for p in params)
    if "lr" in node:                               # solvers such as optimizer=als have no learning rate
        number("optimizer.lr", node.get("lr"), 0, low_open=True)
    for key in ("weight_decay", "eps"):
        if node.get(key) is not None:
            number(f"optimizer.{key}", node.get(key), 0)
    for key in ("momentum", "alpha"):
        if node.get(key) is not None:
            number(f"optimizer.{key}", node.get(key), 0, 0.999999)
    return build(node, "optimizer", model.parameters())


def build_scheduler(trainer, optimizer, epochs: int):
    if trainer.lr_schedule == "step":
        return torch.optim.lr_scheduler.StepLR(optimizer, step_size=trainer.step_size, gamma=trainer.gamma)
    if trainer.lr_schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs)
    return None


def network(model: torch.nn.Module, data) -> torch.nn.Module:
    """The module the loop calls: the dataset's on-device preprocessing (if any) in front of the model."""
    return model if data.preprocess is None else torch.nn.Sequential(data.preprocess, model)


def place(data: Data, trainer, device: torch.device, seed: int, batch_size: int, shuffle: bool):
    """(data, generator, stream): the splits moved to `device` once (every batch is then a view; stream None),
    or kept on the host with a `Stream` of train batches (trainer.data_on_device=false, or auto above
    trainer.device_data_mb). The generator draws the shuffles; the host path uses a CPU one, so on CPU both
    paths see the same batches."""
    nbytes = sum(t.nbytes for part in (data.train, data.val, data.test) for t in (part.x, part.y))
    if trainer.on_device(nbytes, device):
        return data.to(device), torch.Generator(device=device).manual_seed(seed), None
    pre = data.preprocess.to(device) if data.preprocess is not None else None
    generator = torch.Generator().manual_seed(seed)
    stream = Stream(data.train, batch_size, shuffle, generator, device, trainer.workers, seed)
    return Data(data.train, data.val, data.test, data.spec, pre), generator, stream


def assemble(cfg: DictConfig, trainer, device: torch.device, data: Data, ddp=None) -> SimpleNamespace:
    """Everything between the data and the loop, in one order for `mlrun train` and `mlrun bench`: the model
    (on `device`, after the dataset has drawn from the seeded RNG), loss, optimizer, the fast_dev_run cut,
    the epoch plan, scheduler, placement of the splits, the network the loop calls (compiled or not) and its step
    (through `ddp` when it has more than one process). `data` is not modified."""
    spec = data.spec
    model = build(cfg.model, "model", spec).to(device)
    loss_fn = make_loss(cfg.get("loss"), spec)
    optimizer = build_optimizer(cfg.optimizer, model)
    if trainer.fast_dev_run:                       # one batch of each split
        n = trainer.plan(len(data.train))[1]
        data = dataclasses.replace(data, train=data.train.head(n), val=data.val.head(n), test=data.test.head(n))
    epochs, batch_size, shuffle = trainer.plan(len(data.train))
    scheduler = build_scheduler(trainer, optimizer, epochs)
    data, generator, stream = place(data, trainer, device, cfg.seed, batch_size, shuffle)
    net = network(model, data)
    net = torch.compile(net) if trainer.compile else net

    def make(module, loss):
        return make_step(module, loss, optimizer, trainer.l2, trainer.clip_grad_norm, trainer.precision, device,
                         penalty=getattr(model, "penalty", None), skip_nonfinite=trainer.nan_policy == "skip_batch")

    step = make(net, loss_fn) if ddp is None or ddp.world == 1 else ddp.step(make, net, loss_fn)
    return SimpleNamespace(device=device, trainer=trainer, data=data, spec=spec, model=model, net=net,
                           loss_fn=loss_fn, optimizer=optimizer, scheduler=scheduler, step=step, epochs=epochs,
                           batch_size=batch_size, shuffle=shuffle, generator=generator, stream=stream)


def train(cfg: DictConfig, run_dir: str | Path, resume: dict | None = None) -> float:
    """Build every part from `cfg`, train, write outputs under `run_dir`; return the best monitored val metric.

    resume: the payload of a last.pt (mlrun.resume.load) to continue from; `cfg` is then its (merged) config.
    """
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    if cfg.trainer.get("cv_folds", 1) != 1:        # k-fold cross validation: one train() per fold (mlrun.cv)
        from mlrun.cv import cross_validate

        return cross_validate(cfg, run_dir)
    started = time.perf_counter()
    # ---- build: every part is checked before any training starts
    torch.manual_seed(cfg.seed)
    trainer = build(cfg.trainer, "trainer")
    ddp = distributed.context(trainer.strategy)
    device = ddp.device(build(cfg.device, "device"))
    data = build(cfg.dataset, "dataset", seed=cfg.seed)
    data = maybe_project(data, cfg.dataset.get("pca_components"))     # dataset.pca_components=k: PCA scores
    run = assemble(cfg, trainer, device, data, ddp)
    data, spec, model, net, loss_fn, optimizer, scheduler, step = (
        run.data, run.spec, run.model, run.net, run.loss_fn, run.optimizer, run.scheduler, run.step)
    epochs, batch_size, shuffle, generator, stream = run.epochs, run.batch_size, run.shuffle, run.generator, run.stream
    direct = getattr(model, "fit_direct", None)
    if direct is None and hasattr(optimizer, "fit_direct"):     # a solver (optimizer=als) trains the model itself
        direct = functools.partial(optimizer.fit_direct, model)
    skipped = getattr(step, "skipped", None)       # batches skipped by nan_policy=skip_batch (on device)
    position, best_record, best_state = Position(), None, None
    if resume is not None and not direct:          # continue exactly where last.pt left off
        model.load_state_dict(resume["model"])
        optimizer.load_state_dict(resume["optimizer"])
        position = resuming.restore(resume["resume"], generator, scheduler, device)
        if ddp.rank and position.total is not None:   # the saved running loss is the sum over ranks: count once
            position.total.zero_()
        if resume["resume"]["best"] is not None:
            best_record, best_state = resume["resume"]["best"]["record"], resume["resume"]["best"]["model"]
        skipped.fill_(resume["resume"]["skipped"])
    ddp.seed_ranks(cfg.seed, position.step)
    n_params = sum(p.numel() for p in model.parameters())
    logger = loggers.start(cfg, run_dir) if ddp.rank == 0 else loggers.NoLogger()   # rank 0 reports
    log.info("%s: %s on %s (%s, %d train / %d val / %d test), %d parameters, %s", run_dir, cfg.model._target_,
             spec.name, spec.task, len(data.train), len(data.val), len(data.test), n_params, device)

    # ---- fit
    metric = spec.metric
    csv = MetricsCSV(run_dir / "metrics.csv")
    payload = {"config": OmegaConf.to_container(cfg, resolve=True), "spec": spec.to_dict(),
               "mlrun_version": mlrun.__version__}
    if resume is not None and ddp.rank == 0:       # a model that fits itself (direct) restarts its fit
        csv.fields = resuming.reopen_metrics(run_dir / "metrics.csv", position.epoch)
        log.info("resuming %s at epoch %d, batch %d (step %d)", run_dir, position.epoch + 1, position.batch,
                 position.step)
    record = resume["metrics"] if resume is not None and not direct else None
    n_batches = -(-len(data.train) // batch_size)
    last = run_dir / "checkpoints" / "last.pt"

    def check_finite(epoch: int, loss: float) -> None:
        """nan_policy=stop: a NaN/Inf loss or parameter ends the run; skip_batch: only parameters, or an epoch
        that skipped every batch, do. Named: the steps since the last checkpoint."""
        hopeless = skipped is not None and trainer.nan_policy == "skip_batch" and int(skipped) >= n_batches
        if hopeless or not faults.finite(loss if trainer.nan_policy == "stop" else 0.0, model):
            raise faults.diverged(f"epoch {epoch}, optimiser steps {boundary.saved + 1}-{boundary.steps}", loss,
                                  str(last) if last.exists() else "", cfg.optimizer.get("lr"), trainer.nan_policy)

    def save(name: str, record: dict) -> None:
        state = {**payload, "model": model.state_dict(), "optimizer": optimizer.state_dict(),
                 "epoch": record["epoch"], "metrics": record}
        if name == "last.pt":
            best = None if best_state is None else {"model": best_state, "record": best_record}
            state["resume"] = resuming.snapshot(position, generator, scheduler, best,
                                                int(skipped) if skipped is not None else 0, ddp.world)
        if ddp.rank == 0:
            checkpoints.save(run_dir / "checkpoints" / name, state)
        if name == "last.pt":
            boundary.saved = position.step

    def save_mid_epoch(batches: int, total: torch.Tensor) -> None:
        """A checkpoint inside an epoch (every N steps, or on a stop signal): last.pt with the running total."""
        position.batch, position.total, position.step = batches, ddp.sum(total), boundary.steps
        boundary.where = f"epoch {position.epoch + 1} step {batches}/{n_batches}"
        check_finite(position.epoch + 1, float(position.total) / max(batches * batch_size, 1))
        save("last.pt", record or {"epoch": position.epoch})
        position.batch, position.total = 0, None

    boundary = faults.Boundary(trainer.checkpoint_every_steps, save_mid_epoch, ddp.agree if ddp.world > 1 else None)
    boundary.restart(position.step)
    steps = 0 if direct else epochs * n_batches - position.step
    with progress(steps, enabled=sys.stderr.isatty()) as bar, faults.on_signals(boundary.handler):
        if direct:
            records = direct(data, trainer, loss_fn)
        else:
            records = fit(net, step, data.train, data.val, loss_fn, spec.task, metric, epochs=epochs,
                          batch_size=batch_size, shuffle=shuffle, patience=trainer.patience, scheduler=scheduler,
                          optimizer=optimizer, generator=generator, eval_batch_size=trainer.eval_batch_size,
                          progress=bar, stream=stream, position=position, boundary=boundary, reduce=ddp.sum)
        for record, improved in records:
            record |= getattr(model, "epoch_metrics", dict)()
            if trainer.nan_policy == "skip_batch" and not direct:
                record["skipped_batches"] = int(skipped)
            position.step, boundary.where = boundary.steps, f"the end of epoch {record['epoch']}"
            if ddp.rank == 0:
                csv.append(record)
                logger.log_epoch(record)
            log.info(epoch_line(record, epochs, improved))
            check_finite(record["epoch"], record["train_loss"])
            if skipped is not None:
                skipped.zero_()
            if improved:                           # best.pt first: last.pt is the commit point of the epoch
                best_record, best_state = record, copy.deepcopy(model.state_dict())
                save("best.pt", record)
            save("last.pt", record)
            boundary.check_epoch_end()
    if best_state is None:
        raise UserError(f"training diverged: val_{metric} was NaN in every epoch; lower optimizer.lr "
                        f"(now {cfg.optimizer.get('lr')}) or set trainer.clip_grad_norm")

    # ---- test the best epoch's weights, write the summary
    model.load_state_dict(best_state)
    test = evaluate(network(model, data), data.test, loss_fn, spec.task, trainer.eval_batch_size, device)
    summary = {
        **{f"test_{k}": v for k, v in test.items()},
        "best_epoch": best_record["epoch"], f"best_val_{metric}": best_record[f"val_{metric}"],
        "monitor": f"val_{metric}", "mode": "max" if HIGHER_IS_BETTER[metric] else "min",
        "epochs_run": record["epoch"], "total_seconds": time.perf_counter() - started,
        "samples_per_second": record["samples_per_second"], "n_params": n_params,
        "dataset": spec.name, "model": cfg.model._target_, "spec": spec.to_dict(), **environment(device),
        "reference": reference_for(cfg, spec, test),      # closest published result (mlrun/references.yaml)
    }
    summary |= getattr(model, "summary_metrics", dict)()    # model extras, e.g. PCA eigenvalues, NFE totals
    if ddp.rank == 0:
        write_json(run_dir / "summary.json", summary)
        getattr(model, "write_artifacts", lambda run_dir, data: None)(run_dir, data)   # e.g. a plot in the run dir
        loggers.finish(logger, summary, run_dir / "checkpoints" / "best.pt")
    log.info("done: %s\n%s", run_dir, table({k: v for k, v in summary.items() if k.startswith(("test_", "best_"))
                                             or k in ("epochs_run", "total_seconds", "n_params", "device")}))
    return best_record[f"val_{metric}"]
