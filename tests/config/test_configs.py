"""Every YAML under conf/ composes, has a _target_ and a comment on every key, and instantiates."""


import pytest
import torch
from omegaconf import OmegaConf

from tests.helpers import data_dir, make_cfg
from mlrun.errors import UserError
from mlrun.paths import config_dir
from mlrun.config import registry
from mlrun.fit import build
from mlrun.fit.run import train

CONF = config_dir()
GROUPS = sorted(p.name for p in CONF.iterdir() if p.is_dir())
OPTIONS = [(g, p.stem) for g in GROUPS for p in sorted((CONF / g).glob("*.yaml"))]
NEEDS_FILES = ("not found", "no such file", "put ", "download")


def test_groups_exist():
    assert {"dataset", "model", "optimizer", "device", "trainer", "experiment"} <= set(GROUPS)


@pytest.mark.parametrize("path", sorted(CONF.rglob("*.yaml")), ids=lambda p: str(p.relative_to(CONF)))
def test_every_key_has_an_end_of_line_comment(path):
    for n, line in enumerate(path.read_text().splitlines(), 1):
        s = line.strip()
        if not s or s.startswith(("#", "- ", "_target_:")) or s.endswith((":", "|")):
            continue                                   # _target_ names its builder: self-describing
        if path.name == "config.yaml" and line.startswith(" " * 4):      # hydra's help text and logging block
            continue
        assert "#" in line, f"{path.name}:{n} has no comment: {line!r}"


@pytest.mark.parametrize("group, option", [o for o in OPTIONS if o[0] not in ("experiment", "hparams_search")],
                         ids="=".join)
def test_option_composes_and_instantiates(group, option):
    cfg = make_cfg(f"{group}={option}", "device=cpu")
    node = cfg[group]
    if "_target_" not in node:
        pytest.skip(f"{group} has no _target_")  # e.g. search presets that only configure hydra
    if group == "dataset":
        try:
            build.dataset(cfg)
        except UserError as e:
            if any(k in str(e) for k in NEEDS_FILES):
                pytest.skip(f"data files absent: {e}")
            raise
    elif group == "model":
        data = build.dataset(make_cfg())
        try:
            model, _ = build.model(node, data.spec)
        except UserError as e:                          # a model for another task (e.g. linear on digits)
            assert "learns" in str(e) or "dataset" in str(e)
            return
        assert isinstance(model, torch.nn.Module)
    elif group == "optimizer":
        build.optimizer(node, torch.nn.Linear(2, 1))
    elif group in ("device", "trainer"):
        registry.make(node, group)


@pytest.mark.parametrize("option", [o for g, o in OPTIONS if g == "experiment"])
def test_every_experiment_runs_one_batch(tmp_path, option, monkeypatch):
    if data_dir():
        monkeypatch.setenv("MLRUN_DATA_DIR", str(data_dir()))
    cfg = make_cfg(f"experiment={option}", "device=cpu", "trainer.fast_dev_run=true")
    try:
        train(cfg, tmp_path)
    except UserError as e:
        if any(k in str(e).lower() for k in NEEDS_FILES):
            pytest.skip(f"data files absent: {e}")
        raise
    assert (tmp_path / "summary.json").is_file()


def test_config_yaml_defaults():
    cfg = make_cfg(shrink=False)
    assert cfg.dataset._target_.endswith(".digits") and cfg.model._target_.endswith(".MLP")
    assert cfg.optimizer._target_ == "torch.optim.Adam" and cfg.device.type == "auto"
    assert OmegaConf.select(cfg, "seed") == 0 and "experiment" not in cfg
