"""Config helpers every command shares: compose conf/ as `mlrun train` would, read override keys, flatten.

    compose(["model=logistic", "dataset=iris"])      # the DictConfig `mlrun train model=logistic dataset=iris` runs
    override_key("+trainer.l2=0.1")                  # 'trainer.l2'
    flatten({"optimizer": {"lr": 0.1}})              # {'optimizer.lr': 0.1}
"""

from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from mlrun.errors import UserError
from mlrun.paths import config_dir
from mlrun.runtime.rundir import register_resolvers


def override_key(override: str) -> str:
    """The dotted key of a command-line override: `+a.b=1`, `~a.b`, `a/b=c` → `a.b`, `a.b`, `a/b`."""
    return override.partition("=")[0].lstrip("+~")


def user_searchpath() -> str | None:
    """./conf of the working directory (user options: ./conf/<group>/<option>.yaml), as a Hydra search path."""
    mine = Path.cwd() / "conf"
    if mine.is_dir() and mine.resolve() != config_dir().resolve():
        return f"file://{mine.resolve()}"
    return None


def compose(overrides: list[str], searchpath: str | None = None) -> DictConfig:
    """The config `mlrun train OVERRIDES` composes (hydra.* overrides are dropped); one line when it cannot."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra


    register_resolvers()
    items = [o for o in overrides if not override_key(o).startswith("hydra")]
    items += [f"hydra.searchpath=[{searchpath}]"] if searchpath else []
    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
            return hydra_compose(config_name="config", overrides=items)
    except Exception as e:  # noqa: BLE001 - e.g. the run's original overrides no longer compose
        raise UserError(f"cannot compose {' '.join(items)}: {one_line(e)}") from None
    finally:
        GlobalHydra.instance().clear()


def flatten(tree, prefix: str = "") -> dict:
    """{"optimizer": {"lr": 0.1}} → {"optimizer.lr": 0.1}; a DictConfig is resolved first; lists stay values."""
    data = OmegaConf.to_container(tree, resolve=True) if isinstance(tree, DictConfig) else tree
    out = {}
    for key, value in data.items():
        if isinstance(value, dict) and value:
            out |= flatten(value, f"{prefix}{key}.")
        else:
            out[f"{prefix}{key}"] = value
    return out


def one_line(e: BaseException) -> str:
    """Hydra's multi-line messages as one line (without the config search path dump)."""
    text = str(e).split("Config search path:")[0]
    return " ".join(text.split())
