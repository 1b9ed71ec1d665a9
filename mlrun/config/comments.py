"""The end-of-line comments of conf/*.yaml (units, allowed values), put back beside the keys of a printed config:
`mlrun train --help` and `mlrun train --cfg job` print the composed config through OmegaConf, which drops them.

    annotate(OmegaConf.to_yaml(cfg), choices)   # 'lr: 0.001' → 'lr: 0.001          # step size, > 0'

A top-level key takes its comment from conf/config.yaml; a key directly under a group (`dataset:`, `model:`, ...)
from the option file that group is set to (`choices`, e.g. {"model": "cnn"}), in mlrun's conf/ or the user's
./conf. Comment lines right below a key continue its comment.
"""

from __future__ import annotations

import re
from pathlib import Path

from mlrun.paths import config_dir

KEY = re.compile(r"^(\s*)([\w@.-]+):(.*)$")       # indent, key, rest of the line
COLUMN = 36                                        # comments start at this column (or one space past a long line)


def key_comments(path: Path) -> dict[str, str]:
    """{top-level key: its comment} of one YAML file (keys at indent 0; indented comment lines continue one)."""
    comments: dict[str, str] = {}
    last = None
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return comments
    for line in lines:
        found = KEY.match(line)
        if found and not found.group(1):
            last = found.group(2)
            _, hash_, text = _split_comment(found.group(3))
            if hash_ and last not in ("defaults", "hydra"):
                comments[last] = text
            elif last in ("defaults", "hydra"):
                last = None
        elif last in comments and line.strip().startswith("#") and line.startswith(" "):
            comments[last] += " " + line.strip().lstrip("#").strip()
        elif line.strip() and not line.startswith(" "):
            last = None
    return comments


def _split_comment(rest: str) -> tuple[str, str, str]:
    """'0.1   # a fraction' → ('0.1', '#', 'a fraction'); a '#' inside quotes is not a comment."""
    quote = None
    for i, ch in enumerate(rest):
        if ch in "'\"" and quote in (None, ch):
            quote = None if quote else ch
        elif ch == "#" and quote is None and (i == 0 or rest[i - 1].isspace()):
            return rest[:i].rstrip(), "#", rest[i + 1:].strip()
    return rest, "", ""


def option_file(group: str, option: str, searchpath: str | None) -> Path:
    """conf/<group>/<option>.yaml: the user's ./conf first (it may define or replace options), then mlrun's."""
    folders = ([Path(searchpath.removeprefix("file://"))] if searchpath else []) + [config_dir()]
    return next((f / group / f"{option}.yaml" for f in folders if (f / group / f"{option}.yaml").is_file()),
                config_dir() / group / f"{option}.yaml")


def annotate(text: str, choices: dict[str, str], searchpath: str | None = None) -> str:
    """`text` (OmegaConf.to_yaml of the composed config) with each key's comment at the end of its line."""
    root = key_comments(config_dir() / "config.yaml")
    groups: dict[str, dict[str, str]] = {}
    out, top = [], None
    for line in text.splitlines():
        found = KEY.match(line)
        comment = None
        if found and not found.group(1):
            top = found.group(2)
            comment = root.get(top)
        elif found and found.group(1) == "  " and top in choices:
            if top not in groups:
                groups[top] = key_comments(option_file(top, choices[top], searchpath))
            comment = groups[top].get(found.group(2))
        out.append(f"{line.ljust(COLUMN - 1)} # {comment}" if comment else line)
    return "\n".join(out) + ("\n" if text.endswith("\n") else "")


def group_choices(overrides: list[str], searchpath: str | None = None) -> dict[str, str]:
    """{group: option} that `mlrun train OVERRIDES` composes (defaults, experiments and overrides applied); {} when
    the overrides do not compose (the command then says why)."""
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from omegaconf import OmegaConf

    items = [o for o in overrides if not o.startswith("-") and "=" in o and not o.lstrip("+~").startswith("hydra.")]
    items += [f"hydra.searchpath=[{searchpath}]"] if searchpath else []
    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
            cfg = compose(config_name="config", overrides=items, return_hydra_config=True)
            return {str(k): str(v) for k, v in OmegaConf.to_container(cfg.hydra.runtime.choices).items()
                    if v is not None and not str(k).startswith("hydra")}
    except Exception:  # noqa: BLE001 - a bad override: the command itself reports it in one line
        return {}
    finally:
        GlobalHydra.instance().clear()
