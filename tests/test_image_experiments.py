"""Every image experiment preset composes and runs one batch (trainer.fast_dev_run) on generated files of the
real shapes, so a preset can't rot while the real files are absent."""

import json

import numpy as np
import pytest

from tests.helpers import make_cfg
from mlrun.datasets.idx import write_idx
from mlrun.fit.run import train

PRESETS = {"mnist_logistic": "idx", "mnist_mlp": "idx", "mnist_cnn": "idx", "mnist_lenet5": "idx",
           "fashion_cnn": "idx", "svhn_cnn": "mat"}


def fake_files(root, kind):
    rng = np.random.default_rng(0)
    root.mkdir(parents=True)
    y = np.arange(40) % 10
    for prefix in ("train", "t10k") if kind == "idx" else ("train", "test"):
        if kind == "idx":
            write_idx(root / f"{prefix}-images-idx3-ubyte.gz", rng.integers(0, 256, (40, 28, 28)).astype(np.uint8))
            write_idx(root / f"{prefix}-labels-idx1-ubyte.gz", y.astype(np.uint8))
        else:
            import scipy.io

            scipy.io.savemat(root / f"{prefix}_32x32.mat", {"X": rng.integers(0, 256, (32, 32, 3, 40)).astype(np.uint8),
                                                            "y": (y + 1).reshape(-1, 1)})


@pytest.mark.parametrize("name", list(PRESETS))
def test_preset_runs_one_batch(name, tmp_path):
    if PRESETS[name] == "mat":
        pytest.importorskip("scipy.io")
    fake_files(tmp_path / "data", PRESETS[name])
    cfg = make_cfg(f"experiment={name}", "device=cpu", "trainer.fast_dev_run=true", f"dataset.root={tmp_path / 'data'}",
                   shrink=False)
    assert cfg.trainer.epochs > 2                                   # the preset's own epochs, not the shrink
    train(cfg, tmp_path)
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["epochs_run"] == 1 and summary["reference"]["source"]
