"""experiments/gpu/check.py stays runnable: without CUDA it skips cleanly; at toy sizes on the CPU every row runs."""

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parent.parent


def load():
    spec = importlib.util.spec_from_file_location("gpu_check", ROOT / "experiments" / "gpu" / "check.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA present: the skip path is not taken")
def test_without_cuda_the_check_skips_cleanly(capsys):
    assert load().main([]) == 0
    assert "no CUDA device here; skipped" in capsys.readouterr().out
    r = subprocess.run(["bash", str(ROOT / "experiments" / "gpu" / "check.sh")], capture_output=True, text=True,
                       env={"PYTHON": sys.executable, "PATH": "/usr/bin:/bin"}, timeout=300)
    assert r.returncode == 0 and "skipped" in r.stdout, r.stderr


@pytest.mark.slow
def test_every_row_runs_at_toy_sizes_on_the_cpu(capsys):
    assert load().main(["--small", "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    assert all(row in out for row in ("mlp_b512", "cnn_fp32", "cnn_bf16", "als_10m", "pca_k50")) and "FAILED" not in out
