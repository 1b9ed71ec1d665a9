"""The neural-ODE presets compose; digits_odenet runs one batch (trainer.fast_dev_run; spiral_node runs in
tests/datasets/test_spiral.py). mnist_odenet composes only where dataset=mnist exists (it comes from another
branch) and runs only with the real MNIST files."""

import pytest

from tests.helpers import make_cfg
from mlrun.paths import config_dir
from mlrun.fit.run import train

pytest.importorskip("torchdiffeq")


@pytest.mark.parametrize("name", ["digits_odenet", "spiral_node", "mnist_odenet"])
def test_preset_runs_one_batch(name, tmp_path):
    if name == "mnist_odenet" and not (config_dir() / "dataset" / "mnist.yaml").exists():
        pytest.skip("dataset=mnist is not in this tree")
    extra = []
    if name == "mnist_odenet":                       # generated IDX files of the real shapes
        from tests.test_image_experiments import fake_files

        fake_files(tmp_path / "data", "idx")
        extra = [f"dataset.root={tmp_path / 'data'}"]
    cfg = make_cfg(f"experiment={name}", "trainer.fast_dev_run=true", *extra)
    assert cfg.model._target_ == "mlrun.models.NeuralODE"
    if name == "spiral_node":
        return
    train(cfg, tmp_path)
    assert (tmp_path / "summary.json").exists()
