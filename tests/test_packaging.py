"""The built wheel carries conf/ as mlrun/conf and the command finds it from any working directory."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_wheel_ships_configs_and_runs_from_anywhere(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp_path / "whl"), str(ROOT)],
                   check=True, capture_output=True)
    (wheel,) = (tmp_path / "whl").glob("mlrun_classic-*.whl")
    import zipfile

    names = zipfile.ZipFile(wheel).namelist()
    assert "mlrun/conf/config.yaml" in names and "mlrun/conf/model/mlp.yaml" in names
    assert "hydra_plugins/mlrun_optuna/__init__.py" in names and "hydra_plugins/__init__.py" not in names   # namespace
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target), str(wheel)],
                   check=True, capture_output=True)
    work = tmp_path / "elsewhere"
    work.mkdir()
    env = {"PYTHONPATH": str(target), "PATH": "/usr/bin:/bin"}
    where = subprocess.run([sys.executable, "-c", "import mlrun.paths as p; print(p.config_dir())"], cwd=work,
                           env=env, capture_output=True, text=True, check=True).stdout.strip()
    assert Path(where) == target / "mlrun" / "conf"
    r = subprocess.run([sys.executable, "-m", "mlrun", "train", "experiment=smoke", "trainer.epochs=1"], cwd=work,
                       env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert list((work / "outputs").rglob("summary.json"))
