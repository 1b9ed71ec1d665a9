"""The one build order, for every command that builds a run (train, cv, bench, eval, predict, recommend, sweeps):

    config → trainer settings → device → data (+ transforms) → model → loss → optimizer/solver → epoch plan
           → scheduler → placement of the splits → the network the loop calls → its step

    parts = assemble(cfg)                       # a composed config (mlrun.config.compose.compose, Hydra's, a checkpoint's)
    parts = rebuild(payload, overrides)         # the same from a checkpoint's stored config: eval, predict, recommend

Every group node is built through `instantiate` only after `allowed()` has checked it against the registry: the
`_target_`s that mlrun's conf/ (and the user's ./conf) give that group, at the group's top level, and nothing
else. A config read from a file (a checkpoint from a stranger) therefore cannot name other code.
"""

from __future__ import annotations

import builtins
import contextlib
import dataclasses
import logging
import threading
import time
from dataclasses import dataclass

import torch
from hydra.utils import get_class
from omegaconf import DictConfig, ListConfig, OmegaConf, open_dict

from mlrun.runtime import distributed
from mlrun.runtime import memory
from mlrun.config.registry import allowed, make, registry, screen
from mlrun.datasets.spec import Data, DataSpec
from mlrun.datasets.transforms import maybe_project, without_pca
from mlrun.errors import UserError, check, number
from mlrun.fit.loop import Stream, make_step
from mlrun.fit.losses import make_loss
from mlrun.config.settings import TrainerSettings

log = logging.getLogger("mlrun")

NEWER_SPEC_KEYS = ("features", "transform")   # checkpoints written before these existed compare without them

# torch optimizers with a fused kernel (one kernel per step over all parameters instead of a Python loop of
# element-wise ops per parameter) and the device types torch implements it on. optimizer.fused=auto uses it
# there (experiments/bench_peers). Results differ from the default kernel only by float rounding.
FLOAT32_MAX = 3.4e38          # optimizer hyperparameters become float32 scalars in torch's kernels

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


def model(node: DictConfig, spec: DataSpec) -> tuple[torch.nn.Module, DataSpec]:
    """(model, the spec the run monitors). The one check of `tasks`: a model learns the dataset tasks it
    declares; the message lists the models that do learn this dataset's task."""
    node = allowed(node, "model")
    cls = get_class(node._target_)
    tasks = getattr(cls, "tasks", ())
    if tasks and spec.task not in tasks:
        fits = sorted(option for target, option in registry("model").items()
                      if spec.task in getattr(get_class(target), "tasks", ()))
        raise UserError(f"model={registry('model')[node._target_]}: learns {', '.join(tasks)} datasets; "
                        f"dataset={spec.name} is {spec.task} (models for {spec.task}: {', '.join(fits) or 'none'})")
    adapt = getattr(cls, "adapt_spec", None)
    run_spec = adapt(spec) if adapt is not None else spec
    return make(node, "model", run_spec), run_spec


# per-parameter tensors an optimizer keeps (exp_avg and exp_avg_sq for Adam, square_avg for RMSprop, ...); solvers 0
STATE_COPIES = {"torch.optim.Adam": 2, "torch.optim.AdamW": 2, "torch.optim.Adagrad": 1, "torch.optim.RMSprop": 1}


def check_memory(cfg: DictConfig, spec: DataSpec, device: torch.device) -> None:
    """Refuse, in one line, a model whose parameters, gradients and optimizer states cannot fit on `device` —
    counted on torch's meta device, before one byte is allocated (a lower bound: activations come on top)."""
    try:
        get_class(allowed(cfg.model, "model")._target_)     # its module's own tensors: imported for real, first
        with torch.device("meta"), _imports_on_host():
            net, _ = model(cfg.model, spec)
    except UserError:
        raise                                      # the real build would say the same
    except Exception:  # noqa: BLE001 - a model that cannot be built without real tensors: its allocation decides
        return
    params = sum(p.numel() * p.element_size() for p in net.parameters())
    buffers = sum(b.numel() * b.element_size() for b in net.buffers())
    target = str(cfg.optimizer.get("_target_", ""))
    states = STATE_COPIES.get(target, 1 if target == "torch.optim.SGD" and cfg.optimizer.get("momentum") else 0)
    grads = 1 if target.startswith("torch.optim.") else 0
    sizes = [f"model.{k}={v}" for k, v in cfg.model.items() if k != "_target_" and _sized(v)]
    have, where = memory.available_bytes(), "this machine"
    if device.type == "cuda":
        have, where = torch.cuda.mem_get_info(device)[0], str(device)
    copies = ["weights", *(["gradients"] if grads else []), *([f"{states} optimizer state" + "s" * (states > 1)]
                                                              if states else [])]
    memory.require(params * (1 + grads + states) + buffers,
                   f"model={registry('model').get(cfg.model.get('_target_'), '?')} ({', '.join(sizes) or 'defaults'})",
                   f"{sum(p.numel() for p in net.parameters()):,} parameters × {1 + grads + states} copies "
                   f"({', '.join(copies)})", "make the model smaller", have, where)


@contextlib.contextmanager
def _imports_on_host():
    """Modules first imported while the model is counted on the meta device (torchdiffeq's Butcher tableaus, imported
    by the node model's __init__) create their module-level tensors on the CPU, not on meta, where they would stay."""
    real, depth = builtins.__import__, [0]

    def host_import(*args, **kwargs):
        if depth[0]:                               # entering torch.device("cpu") imports too: once is enough
            return real(*args, **kwargs)
        depth[0] += 1
        try:
            with torch.device("cpu"):
                return real(*args, **kwargs)
        finally:
            depth[0] -= 1

    builtins.__import__ = host_import
    try:
        yield
    finally:
        builtins.__import__ = real


def _sized(value) -> bool:
    """A size-like config value: an integer, or a list of integers (model.hidden=[256,256])."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True
    return hasattr(value, "__len__") and not isinstance(value, str) and len(value) > 0 and all(
        isinstance(v, int) and not isinstance(v, bool) for v in value)


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


@dataclass
class Parts:
    """Everything a run is made of, built in one order (`assemble`)."""
    trainer: TrainerSettings
    device: torch.device
    data: Data                  # placed: on the device, or on the host with `stream`
    spec: DataSpec              # the spec the run monitors (the model's view of the dataset's)
    model: torch.nn.Module
    net: torch.nn.Module        # what the loop calls: preprocessing + model, compiled when asked
    loss_fn: object
    optimizer: torch.optim.Optimizer
    scheduler: object
    step: object                # mlrun.fit.loop.make_step (through DDP with several processes)
    epochs: int
    batch_size: int
    shuffle: bool
    generator: torch.Generator | None
    stream: Stream | None
    fit_direct: object          # None, or fit(data, trainer, loss_fn) for models/solvers that train themselves
    source: Data                # the dataset as its builder returned it (host, whole splits, id maps of ratings)
    ddp: distributed.Context


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
    data = data if data is not None else dataset(cfg)
    check_memory(cfg, data.spec, device)
    net_model, spec = model(cfg.model, data.spec)
    net_model = net_model.to(device)
    source = data = dataclasses.replace(data, spec=spec)
    loss_fn = make_loss(cfg.get("loss"), spec)
    opt = optimizer(cfg.optimizer, net_model)
    if trainer.fast_dev_run:                       # one batch of each split
        n = trainer.plan(len(data.train))[1]
        data = dataclasses.replace(data, train=data.train.head(n), val=data.val.head(n), test=data.test.head(n))
    epochs, batch_size, shuffle = trainer.plan(len(data.train))
    sched = scheduler(trainer, opt, epochs)
    data, generator, stream = place(data, trainer, device, cfg.seed, batch_size, shuffle)
    net = network(net_model, data)
    net = torch.compile(net) if trainer.compile else net

    def step_of(module, loss):
        return make_step(module, loss, opt, trainer.l2, trainer.clip_grad_norm, trainer.precision, device,
                         penalty=net_model.penalty, skip_nonfinite=trainer.nan_policy == "skip_batch")

    step = step_of(net, loss_fn) if ddp.world == 1 else ddp.step(step_of, net, loss_fn)
    direct = getattr(net_model, "fit_direct", None)
    if direct is None and hasattr(opt, "fit_direct"):       # a solver (optimizer=als) trains the model itself
        direct = lambda data, trainer, loss_fn: opt.fit_direct(net_model, data, trainer, loss_fn)  # noqa: E731
    return Parts(trainer, device, data, spec, net_model, net, loss_fn, opt, sched, step, epochs, batch_size,
                 shuffle, generator, stream, direct, source, ddp)


# ---- rebuilding a saved run (eval, predict, recommend)

def stored_config(payload: dict, overrides: list[str] = ()) -> DictConfig:
    """The checkpoint's config with `key=value` overrides of existing keys (device=cpu picks the device type)."""
    cfg = OmegaConf.create(payload["config"])
    OmegaConf.set_struct(cfg, True)
    for item in overrides:
        key, _, value = item.partition("=")
        if key == "device" and value in ("auto", "cpu", "cuda"):
            cfg.device.type = value
            continue
        parsed = OmegaConf.from_dotlist([item])
        if OmegaConf.select(cfg, key, default=KeyError) is KeyError:
            raise UserError(f"{key}={value!r}: not a key of the checkpoint's config")
        new = OmegaConf.select(parsed, key)
        OmegaConf.update(cfg, key, OmegaConf.to_container(new) if isinstance(new, (DictConfig, ListConfig)) else new,
                         merge=False)
    return cfg


def rebuild(payload: dict, overrides: list[str] = (), key: str = "checkpoint") -> tuple[DictConfig, Parts]:
    """(config, parts) of a saved run with its weights loaded: the same build order as training, from the
    checkpoint's config (same seed → same split, scaling and projection); the spec must match the saved one."""
    cfg = stored_config(payload, overrides)
    with open_dict(cfg):                          # whole splits, eager, one process
        cfg.trainer.fast_dev_run, cfg.trainer.compile, cfg.trainer.strategy = False, False, "single"
    parts = assemble(cfg)
    rebuilt = {k: v for k, v in parts.spec.to_dict().items() if k in payload["spec"] or k not in NEWER_SPEC_KEYS}
    if rebuilt != payload["spec"]:
        raise UserError(f"{key}: the rebuilt dataset differs from the one the model was trained on (spec "
                        f"{parts.spec.to_dict()} vs {payload['spec']}); pass the same data files")
    try:
        parts.model.load_state_dict(payload["model"])
    except (RuntimeError, KeyError, TypeError) as e:
        raise UserError(f"{key}: its weights do not fit {cfg.model._target_} "
                        f"({str(e).splitlines()[0] if str(e) else type(e).__name__})") from None
    return cfg, parts
