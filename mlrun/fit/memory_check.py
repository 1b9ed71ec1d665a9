"""The memory pre-check of the build order: a model whose parameters, gradients and optimizer states cannot fit
on the device is refused in one line before one byte of it is allocated.

    check_memory(cfg, spec, device)        # mlrun.fit.build.assemble, before the model is built for real

The model is built once on torch's meta device (shapes, no storage) and its tensors are counted. Modules that
create tensors when imported must be imported before that, or their tensors would be made on meta and stay there:
the model's own module is imported by the class lookup, and the third-party modules its constructor imports are
named by the class (`Model.import_first`, e.g. torchdiffeq for model=node).
"""

from __future__ import annotations

import importlib

import torch
from hydra.utils import get_class
from omegaconf import DictConfig

from mlrun.config.registry import allowed, make, registry
from mlrun.datasets.spec import DataSpec
from mlrun.errors import UserError
from mlrun.runtime import memory

# per-parameter tensors an optimizer keeps (exp_avg and exp_avg_sq for Adam, square_avg for RMSprop, ...); solvers 0
STATE_COPIES = {"torch.optim.Adam": 2, "torch.optim.AdamW": 2, "torch.optim.Adagrad": 1, "torch.optim.RMSprop": 1}


def check_memory(cfg: DictConfig, spec: DataSpec, device: torch.device) -> None:
    """Refuse, in one line, a model whose parameters, gradients and optimizer states cannot fit on `device` —
    counted on torch's meta device, before one byte is allocated (a lower bound: activations come on top).
    `spec`: the spec the model is built with (mlrun.fit.build.model_spec)."""
    node = allowed(cfg.model, "model")
    try:
        cls = get_class(node._target_)             # its module's own tensors: imported for real, first
        for name in cls.import_first:              # and those of the modules its constructor imports
            importlib.import_module(name)
        with torch.device("meta"):
            net = make(node, "model", spec)
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


def _sized(value) -> bool:
    """A size-like config value: an integer, or a list of integers (model.hidden=[256,256])."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True
    return hasattr(value, "__len__") and not isinstance(value, str) and len(value) > 0 and all(
        isinstance(v, int) and not isinstance(v, bool) for v in value)
