"""The one build order, for every command that builds a run (train, cv, bench, eval, predict, recommend, sweeps):

    config → trainer settings → device → data (+ transforms) → memory check → model → loss → optimizer/solver
      → epoch plan → scheduler → placement of the splits → the network the loop calls → its step (the loop's Plan)
      → the fitter (the loop, the exact solve of a convex model, or a model/solver that trains the model itself)

    parts = assemble(cfg)            # a composed config (mlrun.config.compose.compose, Hydra's, a checkpoint's)
    parts.fitter.records(...)        # how the model trains (mlrun.fit.fitters), run by mlrun.fit.run.train
    rebuild(payload, overrides)      # the same from a checkpoint's stored config (mlrun.infer.stored)

Every group node is built through `instantiate` only after `allowed()` has checked it against the registry: the
`_target_`s that mlrun's conf/ (and the user's ./conf) give that group, at the group's top level, and nothing
else. A config read from a file (a checkpoint from a stranger) therefore cannot name other code.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from dataclasses import dataclass
from functools import partial

import torch
from hydra.utils import get_class
from omegaconf import DictConfig

from mlrun.config.registry import allowed, make, registry, screen
from mlrun.config.settings import TrainerSettings
from mlrun.datasets.spec import Data, DataSpec
from mlrun.datasets.transforms import maybe_project, without_pca
from mlrun.errors import UserError, check, number
from mlrun.fit import solver_choice
from mlrun.fit.exact import ExactFit, Gap, NoSteps
from mlrun.fit.fitters import DirectFit, GradientFit
from mlrun.fit.loop import Plan, Stream, make_step
from mlrun.fit.losses import make_loss
from mlrun.fit.memory_check import check_memory
from mlrun.metrics.tasks import METRICS
from mlrun.models.base import Model
from mlrun.runtime import distributed, provenance
from mlrun.solvers.base import Solver

log = logging.getLogger("mlrun")

FLOAT32_MAX = 3.4e38          # optimizer hyperparameters become float32 scalars in torch's kernels

# torch optimizers with a fused kernel (one kernel per step over all parameters instead of a Python loop of
# element-wise ops per parameter) and the device types torch implements it on. optimizer.fused=auto uses it
# there (experiments/bench_peers). Results differ from the default kernel only by float rounding.
FUSED_DEVICES = {"torch.optim.Adam": ("cpu", "cuda"), "torch.optim.AdamW": ("cpu", "cuda"),
                 "torch.optim.Adagrad": ("cpu",)}


# ---- each part, in order

def settings(cfg: DictConfig) -> TrainerSettings:
    return make(cfg.trainer, "trainer")


def dataset(cfg: DictConfig) -> Data:
    """The dataset builder (seeded split), then dataset.pca_components (PCA scores fitted on train). A load that
    takes over 2 s says so when it starts to be long and when it ends (one log line each)."""
    option = registry("dataset").get(cfg.dataset.get("_target_"), cfg.dataset.get("_target_"))
    started = time.perf_counter()
    slow = threading.Timer(2.0, log.info, (f"loading dataset={option} ...",))
    slow.daemon = True
    slow.start()
    try:
        data = make(without_pca(cfg.dataset), "dataset", seed=cfg.seed)
    finally:
        slow.cancel()
    seconds = time.perf_counter() - started
    if seconds > 2.0:
        log.info("dataset=%s loaded in %.1f s: %d train / %d val / %d test", option, seconds, len(data.train),
                 len(data.val), len(data.test))
    return maybe_project(data, cfg.dataset.get("pca_components"))


def model(node: DictConfig, spec: DataSpec) -> tuple[Model, DataSpec]:
    """(model, the spec the run monitors), built from the dataset's `spec` (see `model_spec`)."""
    run_spec = model_spec(node, spec)
    return make(allowed(node, "model"), "model", run_spec), run_spec


def model_spec(node: DictConfig, spec: DataSpec) -> DataSpec:
    """The spec the run monitors for model `node` (its Model.adapt_spec of the dataset's). The one check of
    `tasks`: a model learns the dataset tasks it declares; the message lists the models that learn this one."""
    node = allowed(node, "model")
    cls = get_class(node._target_)
    if cls.tasks and spec.task not in cls.tasks:
        fits = sorted(option for target, option in registry("model").items()
                      if spec.task in get_class(target).tasks)
        raise UserError(f"model={registry('model')[node._target_]}: learns {', '.join(cls.tasks)} datasets; "
                        f"dataset={spec.name} is {spec.task} (models for {spec.task}: {', '.join(fits) or 'none'})")
    return cls.adapt_spec(spec)


def optimizer(node: DictConfig, net: torch.nn.Module) -> torch.optim.Optimizer:
    """A torch optimizer (optimizer.fused=auto → torch's fused kernel where it has one) or a solver."""
    if node.get("fused") is not None:
        fused = node.get("fused")
        check(fused in ("auto", True, False), "optimizer.fused", fused, "must be auto, true or false")
        if fused == "auto":
            params = list(net.parameters())
            devices = FUSED_DEVICES.get(node.get("_target_"), ())
            node = node.copy()
            node.fused = bool(params) and all(p.device.type in devices and p.is_floating_point() for p in params)
    if "lr" in node:                               # solvers such as optimizer=als have no learning rate
        number("optimizer.lr", node.get("lr"), 0, low_open=True)
    for key in ("weight_decay", "eps"):
        if node.get(key) is not None:
            number(f"optimizer.{key}", node.get(key), 0)
    for key in ("lr", "weight_decay", "eps"):      # torch's kernels take them as float32 scalars
        check(not isinstance(node.get(key), (int, float)) or node.get(key) <= FLOAT32_MAX, f"optimizer.{key}",
              node.get(key), f"must be ≤ {FLOAT32_MAX:g} (torch applies it as a float32)")
    ints = [k for k in ("lr", "weight_decay", "eps", "momentum", "alpha") if type(node.get(k)) is int]
    if ints:                                       # lr=2**70 as a float (a Python int overflows torch's int64)
        node = node.copy()
        for key in ints:
            node[key] = float(node[key])
    for key in ("momentum", "alpha"):
        if node.get(key) is not None:
            number(f"optimizer.{key}", node.get(key), 0, 0.999999)
    return make(node, "optimizer", net.parameters())


def scheduler(trainer: TrainerSettings, opt: torch.optim.Optimizer, epochs: int):
    if trainer.lr_schedule == "step":
        return torch.optim.lr_scheduler.StepLR(opt, step_size=trainer.step_size, gamma=trainer.gamma)
    if trainer.lr_schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs)
    return None


def network(net: torch.nn.Module, data: Data) -> torch.nn.Module:
    """The module the loop calls: the dataset's on-device preprocessing (if any) in front of the model."""
    return net if data.preprocess is None else torch.nn.Sequential(data.preprocess, net)


def place(data: Data, trainer: TrainerSettings, device: torch.device, seed: int, batch_size: int, shuffle: bool):
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


def loop_plan(trainer: TrainerSettings, data: Data, net_model: Model, loss_fn, opt: torch.optim.Optimizer | NoSteps,
              device: torch.device, seed: int, ddp: distributed.Context) -> tuple[Plan, Data]:
    """(what the gradient loop runs, the splits placed): epochs and batches, scheduler, placement, the network
    the loop calls (compiled with trainer.compile) and its step (through DDP with several processes)."""
    epochs, batch_size, shuffle = trainer.plan(len(data.train))
    loop = uses_loop(net_model, opt)
    if epochs > trainer.epochs and not trainer.fast_dev_run and loop:
        log.info("trainer.epochs=auto: %d epochs (%d train rows in batches of %d = %d steps an epoch; at least "
                 "trainer.min_steps=%d steps, early stopping after trainer.patience=%d epochs without improvement)",
                 epochs, len(data.train), batch_size, -(-len(data.train) // batch_size), trainer.min_steps,
                 trainer.patience)
    sched = scheduler(trainer, opt, epochs) if loop else None
    data, generator, stream = place(data, trainer, device, seed, batch_size, shuffle)
    net = network(net_model, data)
    net = torch.compile(net) if trainer.compile else net

    def step_of(module, loss):
        return make_step(module, loss, opt, trainer.l2, trainer.clip_grad_norm, trainer.precision, device,
                         penalty=net_model.penalty, skip_nonfinite=trainer.nan_policy == "skip_batch")

    step = step_of(net, loss_fn) if ddp.world == 1 else ddp.step(step_of, net, loss_fn)
    return Plan(net, step, data.train, data.val, loss_fn, data.spec.task, data.spec.metric, epochs, batch_size,
                shuffle, trainer.patience, opt, sched, generator, trainer.eval_batch_size, stream), data


def uses_loop(net_model: Model, opt: torch.optim.Optimizer) -> bool:
    """The gradient loop trains this model (not its own fit, an exact solve or a solver)."""
    return net_model.fit_direct is None and net_model.solver != "exact" and not isinstance(opt, Solver)


def fitter(net_model: Model, opt: torch.optim.Optimizer, plan: Plan, data: Data, trainer: TrainerSettings,
           loss: str | None = None, device: torch.device = torch.device("cpu")) -> GradientFit | DirectFit:
    """How the model trains: by itself (its fit_direct: PCA), by a solver (optimizer=als), exactly (a convex model
    with solver=exact), or by the gradient loop over `plan` (with its gap to the exact optimum for a convex
    model trained on the loss the exact solver minimises). loss: the config's `loss` key."""
    if net_model.fit_direct is not None:
        return DirectFit(partial(net_model.fit_direct, data, trainer, plan.loss_fn), net_model,
                         net_model.epoch_unit, None)
    if isinstance(opt, Solver):                    # (it says which models it solves)
        return DirectFit(partial(opt.fit_direct, net_model, data, trainer, plan.loss_fn), net_model, opt.epoch_unit,
                         1 if trainer.fast_dev_run else trainer.epochs)
    if net_model.solver == "exact":
        fit = ExactFit(net_model, data, trainer, plan.net, plan.loss_fn)
        return DirectFit(fit, net_model, net_model.epoch_unit, 1, lambda: fit.summary)
    monitors = ", ".join(METRICS[data.spec.task])
    check(data.spec.metric in METRICS[data.spec.task], "dataset.metric", data.spec.metric, "top-k metrics are "
          f"measured every sweep by optimizer=als only; the gradient loop monitors {monitors}")
    check(not getattr(data, "ranking", {}).get("per_epoch"), "dataset.ranking.per_epoch", True,   # RatingsData
          "per-sweep ranking needs optimizer=als; the gradient loop ranks the test split once, at the end")
    gap = None
    if net_model.convex is not None and loss in solver_choice.EXACT_LOSSES[net_model.convex]:
        spec = data.spec
        need = solver_choice.exact_bytes(net_model.convex, len(data.train), spec.n_features, spec.n_outputs)
        gap = Gap(net_model, data, trainer.l2, need <= solver_choice.free_bytes(device)[0])
    return GradientFit(plan, net_model, trainer.nan_policy == "skip_batch", gap)


@dataclass
class Parts:
    """Everything a run is made of, built in one order (`assemble`)."""
    trainer: TrainerSettings
    device: torch.device
    data: Data                  # placed: on the device, or on the host with `plan.stream`
    spec: DataSpec              # the spec the run monitors (the model's view of the dataset's)
    model: Model
    plan: Plan                  # what the gradient loop runs: network, step, loss, optimizer, epochs, batches, ...
    fitter: GradientFit | DirectFit   # how the model trains (mlrun.fit.fitters)
    source: Data                # the dataset as its builder returned it (host, whole splits, id maps of ratings)
    ddp: distributed.Context
    data_files: list[str] = dataclasses.field(default_factory=list)   # the files the dataset read (provenance)


def assemble(cfg: DictConfig, ddp: distributed.Context | None = None, data: Data | None = None) -> Parts:
    """Build every part of `cfg` in the one order. `data`: a ready Data instead of building cfg.dataset
    (benchmarks on generated files). Nothing is modified in place; RNG use is seeded by cfg.seed."""
    screen(cfg)
    seed = cfg.get("seed")
    check(isinstance(seed, int) and not isinstance(seed, bool) and 0 <= seed < 2**63, "seed", seed,
          "must be an integer in [0, 2**63 - 1]")
    torch.manual_seed(cfg.seed)
    trainer = settings(cfg)
    if trainer.threads is not None:                # else torch's default, or what the sweep job set (cli.train)
        torch.set_num_threads(trainer.threads)
    ddp = ddp or distributed.context(trainer.strategy)
    device = ddp.device(make(cfg.device, "device"))
    with provenance.Recorder() as read:            # the data files the dataset opens (summary.json's provenance)
        data = data if data is not None else dataset(cfg)
    check_memory(cfg, model_spec(cfg.model, data.spec), device)
    node = solver_choice.settle(cfg.model, data.spec, len(data.train), cfg.get("loss"), device,
                                solver_choice.command_keys())
    net_model, spec = model(node, data.spec)
    net_model = net_model.to(device)
    source = data = dataclasses.replace(data, spec=spec)
    loss_fn = make_loss(cfg.get("loss"), spec)
    exact = net_model.solver == "exact" and str(cfg.optimizer.get("_target_", "")).startswith("torch.optim.")
    opt = NoSteps() if exact else optimizer(cfg.optimizer, net_model)
    if trainer.fast_dev_run:                       # one batch of each split
        n = trainer.plan(len(data.train))[1]
        data = dataclasses.replace(data, train=data.train.head(n), val=data.val.head(n), test=data.test.head(n))
    plan, data = loop_plan(trainer, data, net_model, loss_fn, opt, device, cfg.seed, ddp)
    return Parts(trainer, device, data, spec, net_model, plan,
                 fitter(net_model, opt, plan, data, trainer, cfg.get("loss"), device), source, ddp, read.paths)
