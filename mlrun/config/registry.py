"""The registry: what each config group may build, read from the `_target_:` lines of conf/<group>/*.yaml (mlrun's
own and the user's ./conf). No second list to keep in sync: a new option YAML is a new registered target.

    registry("model")                 # {'mlrun.models.MLP': 'mlp', ...}
    make(cfg.model, "model", spec)    # instantiate, after allowed() checked the node against the registry
    screen(cfg)                       # every group of a config read from a file, before anything is built

A config read from a file (a checkpoint from a stranger) therefore cannot name other code.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from mlrun.config.compose import user_searchpath
from mlrun.errors import UserError, find_user_error
from mlrun.paths import config_dir
from mlrun.runtime.trees import walk

GROUPS = ("dataset", "model", "optimizer", "device", "trainer", "logger")   # the config groups that build objects
RENAMED = {"mlrun.models.ALS": "mlrun.solvers.ALS",              # targets older checkpoints may carry
           "mlrun.trainer.Trainer": "mlrun.config.settings.TrainerSettings",
           "mlrun.settings.TrainerSettings": "mlrun.config.settings.TrainerSettings",   # before the package tree
           "mlrun.device.pick": "mlrun.runtime.device.pick",
           "mlrun.sweep.SweepSummary": "mlrun.sweep.summary.SweepSummary"}


@lru_cache(maxsize=8)
def _scan(folder: str) -> dict[str, dict[str, list[str]]]:
    """{group: {target: [options]}} from the `_target_:` lines of <folder>/<group>/*.yaml."""
    found: dict[str, dict[str, list[str]]] = {}
    for group in GROUPS:
        for file in sorted(Path(folder, group).glob("*.yaml")):
            m = re.search(r"^_target_:\s*([\w.]+)", file.read_text(encoding="utf-8"), re.M)
            if m:
                found.setdefault(group, {}).setdefault(m.group(1), []).append(file.stem)
    return found


def registry(group: str) -> dict[str, str]:
    """{target: option} that `group=option` can build (mlrun's conf/ plus the user's ./conf); several options
    with one target (device=auto|cpu|cuda) give their first name."""
    return {target: names[0] for target, names in _targets(group).items()}


def options(group: str) -> list[str]:
    """Every option name of `group`, for messages."""
    return sorted({name for names in _targets(group).values() for name in names})


def _targets(group: str) -> dict[str, list[str]]:
    folders = [str(config_dir())]
    mine = user_searchpath()
    if mine:
        folders.append(mine.removeprefix("file://"))
    table: dict[str, list[str]] = {}
    for folder in folders:
        for target, names in _scan(folder).get(group, {}).items():
            table.setdefault(target, []).extend(names)
    return table


def allowed(node: DictConfig, group: str) -> DictConfig:
    """`node` if its `_target_` is one of `group`'s registered options and no other key names code; a renamed
    target of an older checkpoint is mapped to its current name. Anything else is refused in one line."""
    table = registry(group)
    target = node.get("_target_")
    target = target if target in table else RENAMED.get(target, target)
    if target not in table:
        raise UserError(f"{group}._target_={node.get('_target_')!r}: refused: not an mlrun {group} option "
                        f"(valid: {', '.join(options(group))})")
    for path, value in walk(OmegaConf.to_container(node, resolve=False)):
        special = path.rsplit(".", 1)[-1]
        if special.startswith("_") and special.endswith("_") and path != "_target_":
            raise UserError(f"{group}.{path}={value!r}: refused: only {group}._target_ may direct how a config "
                            f"is built")
    node = node.copy()
    node._target_ = target
    return node


def screen(cfg: DictConfig) -> None:
    """Every group node through `allowed()`, and no `_target_` outside them: a config read from a file can
    name only what mlrun's registry builds, whether or not this command builds that group."""
    for group in GROUPS:
        if isinstance(cfg.get(group), DictConfig):
            allowed(cfg[group], group)
    for path, value in walk(OmegaConf.to_container(cfg, resolve=False)):
        if path.rsplit(".", 1)[-1] == "_target_" and path.split(".")[0] not in GROUPS:
            raise UserError(f"{path}={value!r}: refused: only the config groups ({', '.join(GROUPS)}) name "
                            f"what is built")


def make(node: DictConfig, group: str, *args, **runtime):
    """instantiate(node, *args, **runtime) after `allowed()`; errors raised by the target become one line.
    Runtime objects go positionally (the spec, the parameters): keyword dataclasses would be merged as config."""
    node = allowed(node, group)
    try:
        return instantiate(node, *args, **runtime, _convert_="all")
    except Exception as e:  # noqa: BLE001 - instantiate wraps everything; keep the user's line, name the group
        user = find_user_error(e)
        if user is not None:
            raise user from None
        cause = e.__cause__ or e
        raise UserError(f"{group}: cannot build {node.get('_target_', '?')} ({type(cause).__name__}: "
                        f"{str(cause).splitlines()[0] if str(cause) else ''})") from None
