"""A saved run, rebuilt from its checkpoint (`mlrun eval`, `mlrun predict`, `mlrun recommend`).

    cfg = stored_config(payload, ["device=cpu"])      # the checkpoint's config with key=value overrides
    cfg, parts = rebuild(payload, overrides, key)     # every part in the training build order, weights loaded
    load_weights(model, payload["model"], target, key)

The build goes through mlrun.fit.build, so every `_target_` of the stored config passes the registry allowlist
(a checkpoint from a stranger cannot name other code), and the same seed gives the same split, scaling and
projection as in training.
"""

from __future__ import annotations

import logging

import torch
from omegaconf import DictConfig, ListConfig, OmegaConf, open_dict

from mlrun.errors import UserError
from mlrun.fit.build import Parts, assemble

NEWER_SPEC_KEYS = ("features", "transform")   # checkpoints written before these existed compare without them
REPORT_SPEC_KEYS = ("profile",)               # what the data looked like (a report, not the model's contract): not compared


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
    log = logging.getLogger("mlrun")                # the data's warnings (an empty split, skipped files) were
    level = log.level                               # said when it trained; a rebuild for predict/eval repeats none
    log.setLevel(max(level, logging.ERROR))
    try:
        parts = assemble(cfg)
    finally:
        log.setLevel(level)
    stored = {k: v for k, v in payload["spec"].items() if k not in REPORT_SPEC_KEYS}
    rebuilt = {k: v for k, v in parts.spec.to_dict().items()
               if k not in REPORT_SPEC_KEYS and (k in stored or k not in NEWER_SPEC_KEYS)}
    if rebuilt != stored:
        differ = sorted(k for k in rebuilt.keys() | stored.keys() if rebuilt.get(k) != stored.get(k))
        raise UserError(f"{key}: the rebuilt dataset differs from the one the model was trained on (spec keys "
                        f"{', '.join(differ)}); pass the same data files")
    load_weights(parts.model, payload["model"], cfg.model._target_, key)
    return cfg, parts


def load_weights(model: torch.nn.Module, weights, target: str, key: str = "checkpoint") -> None:
    """Load a checkpoint's `weights` into `model` (built from `target`); a mismatch is one line."""
    try:
        model.load_state_dict(weights)
    except (RuntimeError, KeyError, TypeError) as e:
        raise UserError(f"{key}: its weights do not fit {target} "
                        f"({str(e).splitlines()[0] if str(e) else type(e).__name__})") from None
