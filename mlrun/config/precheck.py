"""Turn Hydra's multi-line composition errors into one line before the run starts.

`mlrun train` composes the config once with the user's overrides (each value of a sweep in turn) before handing
over to Hydra, so that a typo ends as `key=value: what is wrong; valid choices ...` with exit 2, and no run
folder is created. Overrides of `hydra.*` keys are left to Hydra; `hydra/<group>=option` choices are checked here.
Also refused here: a value Hydra's grammar cannot read unquoted (with a hint to quote it), a `${...}` that cannot
be resolved (an unset environment variable), and YAML files in the user's ./conf that are too large or expand
(through aliases) beyond MAX_YAML_NODES values, before Hydra loads them. A near miss of a group, an option or a key
gets "did you mean ...?" (`model=mpl` → model=mlp, `optimzer=sgd` → optimizer=sgd, `trainer.epoch=3` → epochs).
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path

from mlrun.config.compose import one_line

MAX_YAML_BYTES = 1 << 20        # a config file of the user's ./conf: at most 1 MiB
MAX_YAML_NODES = 100_000        # values after expanding aliases (a "billion laughs" file: 10**9; conf/ files: < 300)


def check_overrides(config_dir: Path, overrides: list[str], searchpath: str | None = None) -> str | None:
    """None when every override composes, else one line describing the first that does not.
    `searchpath`: the user's ./conf (file://...), so options defined there compose too."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import HydraException

    problem = check_yaml_files(Path(searchpath.removeprefix("file://"))) if searchpath else None
    if problem:
        return problem
    problem = _hydra_values(overrides)
    if problem:
        return problem
    mine = [o for o in overrides if not o.lstrip("+~").startswith("hydra") or o.lstrip("+~").startswith("hydra/")]
    try:
        parsed = OverridesParser.create().parse_overrides(mine)
    except HydraException as e:
        return _unparsable(mine, e)
    is_group = [o.get_key_element().lstrip("+~").startswith("hydra/") for o in parsed]   # hydra/launcher=...
    groups = [o for o, g in zip(parsed, is_group) if g]
    mine = [t for t, g in zip(mine, is_group) if not g]
    parsed = [o for o, g in zip(parsed, is_group) if not g]
    choices = []                               # per override: the single-value forms to try
    for text, o in zip(mine, parsed):
        if o.is_interval_sweep():              # interval(lo,hi) for the Optuna sweeper: try both ends
            key, interval = o.get_key_element(), o.value()
            choices.append([f"{key}={interval.start}", f"{key}={interval.end}"])
        elif o.is_sweep_override():
            key = o.get_key_element()
            values = list(o.sweep_string_iterator())
            if not values:                     # range(1,1), an empty choice: Hydra would launch no job
                return f"{text}: sweeps no value; give at least one (e.g. range(1,5) or 1,2)"
            choices.append([f"{key}={v}" for v in values])
        else:
            choices.append([text])
    problem = _optional_groups(config_dir, parsed, searchpath)
    if problem:
        return problem
    extra = [f"hydra.searchpath=[{searchpath}]"] if searchpath else []
    base = [c[0] for c in choices] + extra
    trials = [base] + [base[:i] + [v] + base[i + 1:] for i, c in enumerate(choices) for v in c[1:]]
    plugin_keys = [o for o in overrides if re.match(r"hydra\.(sweeper|launcher)\.[^=]+=", o)]
    return _compose_all(config_dir, trials, groups, searchpath, plugin_keys)


# hydra.* values Hydra takes as typed but whose range only the launcher or sweeper would find, with a traceback
HYDRA_RANGES = {
    "hydra.launcher.n_jobs": (lambda v: isinstance(v, int) and v != 0,
                              "an integer, not 0 (joblib: -1 = every core; pool: ≥ 1)"),
    "hydra.sweeper.max_failure_rate": (lambda v: isinstance(v, (int, float)) and 0 <= v <= 1, "a number in [0, 1]"),
}


def _hydra_values(overrides: list[str]) -> str | None:
    for text in overrides:
        key, sep, value = text.lstrip("+~").partition("=")
        if not sep or key not in HYDRA_RANGES:
            continue
        ok, what = HYDRA_RANGES[key]
        try:
            number = int(value) if value.strip().lstrip("-").isdigit() else float(value)
        except ValueError:
            return f"{key}={value!r}: must be {what}"
        if not ok(number):
            return f"{key}={value}: must be {what}"
    return None


def _compose_all(config_dir: Path, trials: list[list[str]], groups, searchpath: str | None,
                 plugin_keys: list[str] = ()) -> str | None:
    """Compose each trial (one value per swept key); the first failure as one line."""
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from omegaconf import OmegaConf

    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=str(config_dir), version_base="1.3"):
            problem = _hydra_groups(groups, searchpath)
            for trial in trials:
                if problem:
                    break
                try:
                    problem = _unresolvable(compose(config_name="config", overrides=trial), trial)
                except Exception as e:  # noqa: BLE001 - every composition failure becomes one line
                    bad = _unknown_key(e)
                    if not bad:
                        return _missing_option(one_line(e))
                    parent, _, leaf = bad.rpartition(".")
                    cfg = compose(config_name="config", overrides=[t for t in trial if not _is_key(t, bad)])
                    node = OmegaConf.select(cfg, parent) if parent else cfg
                    names = list(node.keys()) if hasattr(node, "keys") else []
                    value = next((t.partition("=")[2] for t in trial if _is_key(t, bad)), "")
                    guess = did_you_mean(leaf, [str(n) for n in names], f"{parent}." if parent else "", f"={value}")
                    return (f"{bad}={value}: unknown key{guess}; valid keys of {parent or 'the config'}: "
                            f"{', '.join(map(str, names)) or '(none)'} (prefix + to add a key)")
            problem = problem or _plugin_keys(plugin_keys, groups, trials[0])
    finally:
        GlobalHydra.instance().clear()
    return problem


def did_you_mean(word: str, choices: list[str], prefix: str = "", suffix: str = "") -> str:
    """' (did you mean <prefix><closest><suffix>?)' for the closest of `choices` to a typo (difflib ratio ≥ 0.6),
    else ''. E.g. did_you_mean("mpl", ["mlp", "cnn"], "model=") → ' (did you mean model=mlp?)'."""
    close = difflib.get_close_matches(word, [c for c in choices if c != word], n=1, cutoff=0.6)
    return f" (did you mean {prefix}{close[0]}{suffix}?)" if close else ""


def _missing_option(line: str) -> str:
    """Hydra's "Could not find 'model/mpl' Available options in 'model': cnn ... mlp ..." + did you mean model=mlp."""
    found = re.search(r"Could not find '([\w/]+)/([^']+)' Available options in '[\w/]+': (.*)$", line)
    return line + did_you_mean(found.group(2), found.group(3).split(), f"{found.group(1)}=") if found else line


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
                return (f"{group}={value}: no such option{did_you_mean(value, list(options), f'{group}=')}; valid "
                        f"choices are {', '.join(sorted(options))} (or your own ./conf/{group}/<name>.yaml)")
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


def _unparsable(overrides: list[str], e: Exception) -> str:
    """Hydra's grammar error; for a value with characters its unquoted grammar does not take (non-ASCII letters,
    emoji), how to quote it."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import HydraException

    for text in overrides:
        try:
            OverridesParser.create().parse_overrides([text])
        except HydraException:
            key, _, value = text.partition("=")
            if not value.isascii() and '"' not in value and not value.startswith("'"):
                return (f"cannot parse overrides: {text}: an unquoted value may hold only ASCII letters, digits and "
                        f"a few signs; quote it: '{key}=\"{value}\"' (single quotes around the whole override in "
                        f"the shell)")
            break
    return f"cannot parse overrides: {one_line(e)}"


def _plugin_keys(keys: list[str], groups, base: list[str]) -> str | None:
    """`hydra.sweeper.<key>=` / `hydra.launcher.<key>=` that the chosen plugin lacks: one line with its valid keys
    (Hydra says "Could not override ..." over several lines without them). `base`: the first trial (composes)."""
    from hydra import compose

    if not keys:
        return None
    chosen = [f"{o.get_key_element().lstrip('+~')}={_values(o)[0]}" for o in groups if not o.is_delete()]
    hydra_cfg = compose(config_name="config", overrides=base + chosen, return_hydra_config=True).hydra   # the
    # job's overrides too: hparams_search=optuna chooses the sweeper in its defaults
    for text in keys:
        key, _, value = text.partition("=")
        plugin, name = key.split(".")[1], key.split(".")[2]
        names = [str(n) for n in hydra_cfg[plugin].keys()]
        if name not in names:
            which = hydra_cfg.runtime.choices.get(f"hydra/{plugin}", "?")
            valid = [n for n in names if n != "_target_"]
            return (f"{key}={value}: unknown key{did_you_mean(name, valid, f'hydra.{plugin}.', f'={value}')}; "
                    + (f"valid keys of hydra/{plugin}={which}: {', '.join(valid)}" if valid else
                       f"hydra/{plugin}={which} takes no keys"))
    return None


def _values(o) -> list[str]:
    """The option(s) of a parsed `hydra/<group>=` override: one, or each of a sweep's."""
    return list(o.sweep_string_iterator()) if o.is_sweep_override() else [str(o.value())]


def _hydra_groups(parsed, searchpath: str | None) -> str | None:
    """`hydra/launcher=nonexistent`: name the valid options (Hydra would print its search path over many lines)."""
    from hydra.core.global_hydra import GlobalHydra

    loader = GlobalHydra.instance().config_loader()
    for o in parsed:
        group = o.get_key_element().lstrip("+~")
        if o.is_delete():
            continue
        values = _values(o)
        options = set(loader.get_group_options(group))
        if searchpath:
            options |= {p.stem for p in (Path(searchpath.removeprefix("file://")) / group).glob("*.yaml")}
        if not options:
            return f"{group}: no such config group of Hydra's (e.g. hydra/launcher, hydra/sweeper)"
        for value in values:
            if value not in options:
                return (f"{group}={value}: no such option{did_you_mean(value, sorted(options), f'{group}=')}; "
                        f"valid choices are {', '.join(sorted(options))}")
    return None


def _unresolvable(cfg, trial: list[str]) -> str | None:
    """The first `${...}` of the composed config that cannot be resolved (an unset environment variable, a missing
    key), as one line naming the key; `${hydra:...}` resolves only inside the run and is left alone."""
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    try:
        OmegaConf.to_container(cfg, resolve=True)
    except OmegaConfBaseException as e:
        message = re.sub(r"^\w+ raised while resolving interpolation: ", "", " ".join(str(e).split("\n")[0].split()))
        if "HydraConfig" in str(e):
            return None
        key = getattr(e, "full_key", None) or "?"
        given = next((t.partition("=")[2] for t in trial if _is_key(t, key)), None)
        value = given if given is not None else OmegaConf.select(cfg, key, throw_on_resolution_failure=False)
        hint = ("; set the variable, or give a default: ${oc.env:NAME,default}"
                if "Environment variable" in message else "")
        return f"{key}={value}: cannot be resolved: {message}{hint}"
    return None


def check_yaml_files(folder: Path) -> str | None:
    """Refuse a YAML file under `folder` larger than MAX_YAML_BYTES, or whose aliases (`*name`, repeating the
    node anchored `&name`) expand it beyond MAX_YAML_NODES values: loading builds every copy (a "billion laughs"
    file of a few hundred bytes would take all memory). PyYAML's composer keeps an alias as one shared node, so
    the count costs one pass over the file. A file that does not parse is left to Hydra's message."""
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    for path in sorted(folder.rglob("*.yaml")):
        size = path.stat().st_size
        if size > MAX_YAML_BYTES:
            return f"{path}: {size:,} bytes; a config file may hold at most {MAX_YAML_BYTES:,} bytes"
        try:
            root = yaml.compose(path.read_text(encoding="utf-8"), Loader=loader)
        except (yaml.YAMLError, UnicodeDecodeError, RecursionError):
            continue
        if _expanded(root, {}) > MAX_YAML_NODES:
            return (f"{path}: expands to more than {MAX_YAML_NODES:,} values through its aliases (*name repeats "
                    f"the node anchored &name); refused before loading it")
    return None


def _expanded(node, seen: dict) -> int:
    """How many values `node` stands for once every alias is copied (a shared node counted once per use)."""
    import yaml

    if node is None:
        return 0
    if id(node) in seen:
        return seen[id(node)]
    seen[id(node)] = 1                                   # a node that contains itself counts once
    if isinstance(node, yaml.SequenceNode):
        count = 1 + sum(_expanded(child, seen) for child in node.value)
    elif isinstance(node, yaml.MappingNode):
        count = 1 + sum(_expanded(k, seen) + _expanded(v, seen) for k, v in node.value)
    else:
        count = 1
    seen[id(node)] = count
    return count
