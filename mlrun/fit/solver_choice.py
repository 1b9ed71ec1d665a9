"""Which solver trains a convex model (model=linear, model=logistic): `model.solver` → exact | gradient.

    auto      exact, unless the command names the gradient loop: the optimizer group or one of its keys
              (`optimizer=sgd`, `optimizer.lr=0.1`) or a trainer key only the loop reads (GRADIENT_KEYS); or the
              loss is one the exact solvers do not minimise (`loss=hinge`); or the data is beyond the exact
              solver's memory. One log line says which and why.
    exact     mlrun.fit.exact (float64 to the optimum); refused in one line with another loss or beyond memory
    gradient  the gradient loop (the optimizer studies); it logs its gap to the exact optimum (mlrun.fit.exact)
    lstsq     the older name of exact (commands and checkpoints from before `auto`)

The command's keys are Hydra's task overrides of the job (`mlrun train`, mlrun.api, every job of a sweep -m); a config
composed without Hydra running (a script or test calling mlrun.fit.run.train) names none, so auto is exact there.
The run then records the concrete choice in its stored config (checkpoints) and summary.json (mlrun.fit.run).
"""

from __future__ import annotations

import logging

import torch
from hydra.utils import get_class
from omegaconf import DictConfig

from mlrun.config.compose import override_key
from mlrun.config.registry import allowed
from mlrun.datasets.spec import DataSpec
from mlrun.errors import UserError
from mlrun.runtime import memory
from mlrun.solvers.exact_logistic import HESSIAN_BLOCK, NEWTON_MAX_PARAMS

log = logging.getLogger("mlrun")

# trainer keys that only the gradient loop reads: naming one asks for the loop
GRADIENT_KEYS = ("trainer.batch_size", "trainer.online", "trainer.lr_schedule", "trainer.clip_grad_norm")
# the losses each exact solver minimises (None: the dataset's default, which is one of them)
EXACT_LOSSES = {"least_squares": (None, "mse"), "logistic": (None, "bce", "cross_entropy")}
OBJECTIVES = {"least_squares": "least squares (ridge with trainer.l2 > 0), float64",
              "logistic": "mean cross-entropy + trainer.l2·‖W‖² by Newton / L-BFGS, float64"}


def command_keys() -> list[str]:
    """The keys this job's command line overrides (Hydra's task overrides); [] when Hydra is not running."""
    from hydra.core.hydra_config import HydraConfig   # imported here: only a running Hydra job has overrides

    if not HydraConfig.initialized():
        return []
    return [override_key(o) for o in HydraConfig.get().overrides.task]


def gradient_keys(keys: list[str]) -> list[str]:
    """The keys among `keys` that ask for the gradient loop: optimizer, optimizer.*, GRADIENT_KEYS."""
    return [k for k in keys if k.split(".")[0].split("/")[0] == "optimizer" or k in GRADIENT_KEYS]


def exact_bytes(convex: str, n: int, d: int, k: int) -> int:
    """A lower bound on what the exact solver holds at once for n train rows × d features and k outputs, in
    float64 bytes: least squares: X, its centred copy and the SVD's U (3·N·D) and Vᵀ, the D×D normal matrix;
    logistic: [X, 1] (N·(D+1)), logits, probabilities, targets and the gradient's temporaries (4·N·K), and Newton's
    Hessian with its solve copy and row-block temporary (K(D+1) square, twice) or L-BFGS's 20 pairs of history."""
    if convex == "least_squares":
        return 8 * (3 * n * d + 2 * d * d + 2 * n * k)
    p = k * (d + 1)
    second = 2 * p * p + HESSIAN_BLOCK if p <= NEWTON_MAX_PARAMS else 42 * p
    return 8 * (n * (d + 1) + 4 * n * k + second)


def free_bytes(device: torch.device) -> tuple[int, str]:
    """(bytes available, where) on `device`: CUDA's free memory, else the machine's (mlrun.runtime.memory)."""
    if device.type == "cuda":
        return torch.cuda.mem_get_info(device)[0], str(device)
    return memory.available_bytes(), "this machine"


def settle(node: DictConfig, spec: DataSpec, n_train: int, loss: str | None, device: torch.device,
           keys: list[str]) -> DictConfig:
    """`node` (the model's config) with `solver` concrete (exact | gradient) for a convex model; other models'
    nodes, and a convex model's node without `solver` (an older checkpoint: gradient), are returned as they are.
    n_train: train rows; loss: the config's `loss` key; keys: the command's (`command_keys`)."""
    node = allowed(node, "model")
    convex = getattr(get_class(node._target_), "convex", None)
    solver = node.get("solver")
    if convex is None or solver is None or solver == "gradient":
        return node
    name, d, k = "model.solver", spec.n_features, spec.n_outputs
    need = exact_bytes(convex, n_train, d, k)
    have, where = free_bytes(device)
    size = f"{n_train:,} train rows × {d:,} features × {k} output{'s' * (k > 1)} in float64"
    if solver in ("exact", "lstsq"):
        if loss not in EXACT_LOSSES[convex]:
            raise UserError(f"{name}={solver}: the exact solver minimises {OBJECTIVES[convex].split(',')[0]}, "
                            f"not loss={loss}; use {name}=gradient for loss={loss}")
        memory.require(need, f"{name}={solver}", size, f"use {name}=gradient (the optimizer loop)", have, where)
        return _with(node, "exact")
    if solver != "auto":                               # the model's constructor names the valid choices
        return node
    asked = gradient_keys(keys)
    if asked:
        why = f"the command names {', '.join(asked)}"
    elif loss not in EXACT_LOSSES[convex]:
        why = f"loss={loss} is not what the exact solver minimises"
    elif need > have:
        why = f"the exact solver would need {memory.gb(need)} ({size}) and {where} has {memory.gb(have)}"
    else:
        log.info("%s=auto: exact (%s); %s=gradient trains by the optimizer loop", name, OBJECTIVES[convex], name)
        return _with(node, "exact")
    log.info("%s=auto: gradient: %s (%s=exact solves it exactly)", name, why, name)
    return _with(node, "gradient")


def _with(node: DictConfig, solver: str) -> DictConfig:
    node = node.copy()
    node.solver = solver
    return node
