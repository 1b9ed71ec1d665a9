"""What a machine lacks for a sweep ends in one line: a Hydra plugin (naming the extra to install), or Slurm."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mlrun.sweep import summary as sweep

TINY = ["dataset=iris", "model=logistic", "device=cpu", "trainer.epochs=1"]
NEEDS = {"hparams_search=optuna": "sweep", "hydra/launcher=joblib": "sweep", "hydra/launcher=submitit_local": "slurm",
         "hydra/launcher=submitit_slurm": "slurm"}
needs_submitit = pytest.mark.skipif(not sweep._importable("hydra_plugins.hydra_submitit_launcher"),
                                    reason="extra [slurm] not installed")

# A base install has no Optuna and no launcher plugins. This finder makes any interpreter look like one: importing
# optuna or a hydra_plugins launcher raises ModuleNotFoundError, as it does there (mlrun's own sweeper stays).
WITHOUT_PLUGINS = """
import contextlib, importlib.abc, io, json, sys

class NoHydraPlugins(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "optuna" or name.startswith(("hydra_plugins.hydra_joblib", "hydra_plugins.hydra_submitit")):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, NoHydraPlugins())
from mlrun.cli import main

for override in json.loads(sys.argv[1]):
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        try:
            main(["train", "-m", override, "dataset=iris"])
            code = 0
        except SystemExit as e:
            code = e.code
    print(json.dumps([override, code, err.getvalue()]))
"""


def test_without_the_extras_each_override_names_its_extra(tmp_path):
    """`mlrun train -m <override>` in an interpreter without Optuna or the launcher plugins (one process, 4 commands)."""
    path = os.pathsep.join([str(Path(__file__).resolve().parents[2]), os.environ.get("PYTHONPATH", "")])
    out = subprocess.run([sys.executable, "-c", WITHOUT_PLUGINS, json.dumps(list(NEEDS))], cwd=tmp_path, check=False,
                         capture_output=True, text=True, timeout=120, env={**os.environ, "PYTHONPATH": path})
    assert out.returncode == 0 and "Traceback" not in out.stderr, out.stderr
    results = [json.loads(line) for line in out.stdout.splitlines()]
    assert [r[0] for r in results] == list(NEEDS)
    for override, code, err in results:
        extra = NEEDS[override]
        assert code == 2 and err.count("\n") == 1, (override, err)
        assert err.startswith(f"mlrun train: error: {override}: " + ("Optuna" if "optuna" in override
                                                                      else "the Hydra plugin hydra_"))
        assert err.rstrip().endswith(f"is not installed; install the [{extra}] extra: "
                                     f"pip install 'mlrun-classic[{extra}]'")
    assert not (tmp_path / "outputs").exists()                            # nothing started


@pytest.mark.parametrize("error", [ModuleNotFoundError("No module named 'hydra_plugins'"), ValueError("__spec__")])
def test_find_spec_raising_counts_as_not_installed(monkeypatch, error):
    def find_spec(name, *a):
        raise error

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    for override, extra in NEEDS.items():
        assert f"pip install 'mlrun-classic[{extra}]'" in sweep.missing_plugin(["-m", f"+{override}"])
    assert sweep.missing_plugin(["-m", "optimizer=sgd,adam"]) is None


def test_plugin_present_but_module_missing(monkeypatch):
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None)     # hydra_plugins there, not this one
    assert "pip install 'mlrun-classic[sweep]'" in sweep.missing_plugin(["-m", "hparams_search=optuna_mlp"])
    assert "[slurm]" in sweep.missing_plugin(["hydra/launcher=submitit_slurm"])


def test_ray_is_one_line_from_the_command(cli, tmp_path):
    if sweep._importable("ray"):       # the launcher itself: tests/sweep/test_ray_launcher.py
        pytest.skip("Ray is installed")
    out = cli("train", "-m", "hydra/launcher=ray", cwd=tmp_path)
    assert out.returncode == 2 and out.stderr.count("\n") == 1 and "pip install 'mlrun-classic[ray]'" in out.stderr


@needs_submitit
def test_slurm_missing_is_named_and_submitit_local_suggested(monkeypatch):
    import shutil

    monkeypatch.setattr(shutil, "which", lambda cmd, *a, **k: None)
    line = sweep.missing_plugin(["-m", "hydra/launcher=submitit_slurm", "seed=0,1"])
    assert line == ("hydra/launcher=submitit_slurm: Slurm was not found on this machine (sbatch and srun not on PATH); "
                    "run the sweep on a Slurm login node, or run its jobs here with hydra/launcher=submitit_local "
                    "(or joblib)")
    assert sweep.missing_plugin(["-m", "hydra/launcher=submitit_local"]) is None
    monkeypatch.setattr(shutil, "which", lambda cmd, *a, **k: f"/opt/slurm/bin/{cmd}")     # a login node
    assert sweep.missing_plugin(["-m", "hydra/launcher=submitit_slurm"]) is None


@needs_submitit
def test_slurm_missing_from_the_command(cli, tmp_path):
    """Caught before Hydra starts: one line, exit 2, no sweep folder."""
    no_slurm = {"PATH": str(Path(sys.executable).parent)}               # python's folder: no srun, no sbatch
    out = cli("train", "-m", "hydra/launcher=submitit_slurm", *TINY, "seed=0,1", cwd=tmp_path, env=no_slurm)
    assert out.returncode == 2 and out.stderr.count("\n") == 1 and "Traceback" not in out.stderr, out.stderr
    assert "Slurm was not found on this machine" in out.stderr and "hydra/launcher=submitit_local" in out.stderr
    assert not (tmp_path / "outputs").exists()


def test_slurm_launcher_from_a_config_file_stops_when_the_sweep_starts(tmp_path, monkeypatch, capsys):
    """The launcher chosen in a preset, not on the command line: the callback stops before any job is submitted
    and removes the sweep folder it had just claimed."""
    import shutil

    from mlrun.errors import UserError

    from omegaconf import OmegaConf

    claimed = tmp_path / "multirun" / "2026-11-29" / "10-00-00"
    claimed.mkdir(parents=True)
    config = OmegaConf.create({"hydra": {"sweep": {"dir": str(claimed)}, "launcher": {
        "_target_": "hydra_plugins.hydra_submitit_launcher.submitit_launcher.SlurmLauncher"}}})
    monkeypatch.setattr(shutil, "which", lambda cmd, *a, **k: None)
    with pytest.raises(UserError, match="^hydra/launcher=submitit_slurm: Slurm was not found on this machine"):
        sweep.SweepSummary().on_multirun_start(config)          # `mlrun train` prints it as its one line
    assert not claimed.exists()
    claimed.mkdir()
    monkeypatch.setattr(shutil, "which", lambda cmd, *a, **k: f"/opt/slurm/bin/{cmd}")     # a login node: go on
    sweep.SweepSummary().on_multirun_start(config)
    assert claimed.is_dir()
