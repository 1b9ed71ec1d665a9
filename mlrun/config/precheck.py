"""Turn Hydra's multi-line composition errors into one line before the run starts.

`mlrun train` composes the config once with the user's overrides (each value of a sweep in turn) before handing
over to Hydra, so that a typo ends as `key=value: what is wrong; valid choices ...` with exit 2, and no run
folder is created. Overrides of `hydra.*` are left to Hydra.
"""

from __future__ import annotations

import re
from pathlib import Path

from mlrun.config.compose import one_line


def check_overrides(config_dir: Path, overrides: list[str], searchpath: str | None = None) -> str | None:
    """None when every override composes, else one line describing the first that does not.
    `searchpath`: the user's ./conf (file://...), so options defined there compose too."""
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import HydraException
    from omegaconf import OmegaConf

    mine = [o for o in overrides if not o.lstrip("+~").startswith("hydra")]
    try:
        parsed = OverridesParser.create().parse_overrides(mine)
    except HydraException as e:
        return f"cannot parse overrides: {one_line(e)}"
    choices = []                               # per override: the single-value forms to try
    for text, o in zip(mine, parsed):
        if o.is_interval_sweep():              # interval(lo,hi) for the Optuna sweeper: try both ends
            key, interval = o.get_key_element(), o.value()
            choices.append([f"{key}={interval.start}", f"{key}={interval.end}"])
        elif o.is_sweep_override():
            key = o.get_key_element()
            choices.append([f"{key}={v}" for v in o.sweep_string_iterator()])
        else:
            choices.append([text])
    problem = _optional_groups(config_dir, parsed, searchpath)
    if problem:
        return problem
    extra = [f"hydra.searchpath=[{searchpath}]"] if searchpath else []
    base = [c[0] for c in choices] + extra
    trials = [base] + [base[:i] + [v] + base[i + 1:] for i, c in enumerate(choices) for v in c[1:]]
    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=str(config_dir), version_base="1.3"):
            for trial in trials:
                try:
                    compose(config_name="config", overrides=trial)
                except Exception as e:  # noqa: BLE001 - every composition failure becomes one line
                    bad = _unknown_key(e)
                    if bad:
                        parent, _, leaf = bad.rpartition(".")
                        cfg = compose(config_name="config", overrides=[t for t in trial if not _is_key(t, bad)])
                        node = OmegaConf.select(cfg, parent) if parent else cfg
                        keys = ", ".join(node.keys()) if hasattr(node, "keys") else "(none)"
                        value = next((t.partition("=")[2] for t in trial if _is_key(t, bad)), "")
                        return (f"{bad}={value}: unknown key; valid keys of {parent or 'the config'}: {keys} "
                                f"(prefix + to add a key)")
                    return one_line(e)
    finally:
        GlobalHydra.instance().clear()
    return None


OPTIONAL = ("experiment", "hparams_search")     # `optional` in config.yaml's defaults: Hydra skips a missing one


def _optional_groups(config_dir: Path, parsed, searchpath: str | None) -> str | None:
    """`experiment=smok` would be skipped in silence (an optional default): name the valid options instead. An
    experiment file without `# @package _global_` would be merged under `experiment.` and change nothing."""
    folders = [config_dir] + ([Path(searchpath.removeprefix("file://"))] if searchpath else [])
    for o in parsed:
        group = o.get_key_element().lstrip("+~")
        if group not in OPTIONAL or o.is_delete():
            continue
        values = list(o.sweep_string_iterator()) if o.is_sweep_override() else [str(o.value())]
        options = {p.stem: p for folder in folders for p in sorted((folder / group).glob("*.yaml"))}
        for value in values:
            if value in ("null", "None"):
                continue
            if value not in options:
                return (f"{group}={value}: no such option; valid choices are {', '.join(sorted(options))} "
                        f"(or your own ./conf/{group}/<name>.yaml)")
            head = options[value].read_text(encoding="utf-8").lstrip().splitlines()[:1]
            if group == "experiment" and not (head and "@package _global_" in head[0]):
                return (f"experiment={value}: {options[value]} must start with the line `# @package _global_` "
                        f"(an experiment overrides keys of the whole config; without it Hydra would put them "
                        f"under `experiment.` and they would change nothing)")
    return None


def _unknown_key(e: Exception) -> str | None:
    text = f"{e} {e.__cause__}"
    m = re.search(r"Could not override '([^']+)'", text)
    return m.group(1) if m and "not in struct" in text else None


def _is_key(override: str, key: str) -> bool:
    return override.partition("=")[0].lstrip("+~") == key
