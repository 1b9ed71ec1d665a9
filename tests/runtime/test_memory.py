"""mlrun.runtime.memory: sizes that cannot fit are refused in one line before anything is allocated."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from mlrun.fit import build
from mlrun.fit.memory_check import check_memory
from mlrun.runtime import memory
from mlrun.errors import UserError
from tests.helpers import make_cfg


def test_available_bytes_is_between_zero_and_the_physical_memory():
    import os

    physical = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    assert 0 < memory.available_bytes() <= physical


def test_require_names_what_asks_how_it_was_counted_and_what_to_lower():
    memory.require(100, "k=1", "1 × 100 bytes", "lower k", have=100)          # exactly fits
    with pytest.raises(UserError) as e:
        memory.require(3e9, "k=3", "3 × 1 GB", "lower k", have=2_000_000_000)
    assert str(e.value) == "k=3: needs at least 3.0 GB (3 × 1 GB) but this machine has 2.0 GB available; lower k"


@pytest.mark.parametrize("optimizer, copies", [("adam", 4), ("sgd", 2), ("momentum", 3), ("rmsprop", 3)])
def test_the_model_check_counts_parameters_gradients_and_optimizer_states(monkeypatch, optimizer, copies):
    """MLP 64-32-10 on digits: 64·32 + 32 + 32·10 + 10 = 2,410 float32 parameters, counted on the meta device."""
    cfg = make_cfg("model=mlp", "model.hidden=[32]", f"optimizer={optimizer}")
    data = build.dataset(cfg)
    need = 2410 * 4 * copies
    monkeypatch.setattr(memory, "available_bytes", lambda: need)
    check_memory(cfg, data.spec, torch.device("cpu"))                        # exactly fits
    monkeypatch.setattr(memory, "available_bytes", lambda: need - 1)
    with pytest.raises(UserError, match=rf"model=mlp \(model\.hidden=\[32\].*2,410 parameters × {copies} copies"):
        check_memory(cfg, data.spec, torch.device("cpu"))


def test_a_model_too_large_for_the_machine_stops_before_allocating(monkeypatch):
    """4·10^10 parameters: the real build would ask torch for 160 GB; the meta count refuses first."""
    cfg = make_cfg("model=mlp", "model.hidden=[100000,100000]")
    real = torch.nn.Linear.reset_parameters

    def only_on_meta(self):
        if self.weight.device.type != "meta":
            pytest.fail("allocated a real layer")
        real(self)

    monkeypatch.setattr(torch.nn.Linear, "reset_parameters", only_on_meta)
    with pytest.raises(UserError, match=r"10,007,600,010 parameters × 4 copies.*make the model smaller"):
        build.assemble(cfg)


@pytest.mark.parametrize("overrides, match", [
    (["dataset=blobs", "dataset.n_samples=1000", "dataset.n_features=4"],
     r"dataset\.n_samples=1000, dataset\.n_features=4: .*1,000 rows × 5 values × 20 bytes"),
    (["dataset=synthetic_ratings", "dataset.n_users=100", "dataset.n_items=50", "dataset.density=0.5",
      "model=mf"], r"~2,500 ratings × 32 bytes"),
    (["dataset=spiral", "model=node", "dataset.n_points=100", "dataset.segment=10"], r"910 example steps × 24 bytes"),
])
def test_generated_datasets_are_sized_before_they_are_drawn(monkeypatch, overrides, match):
    monkeypatch.setattr(memory, "available_bytes", lambda: 1000)
    with pytest.raises(UserError, match=match):
        build.dataset(make_cfg(*overrides))


def test_modules_first_imported_while_counting_keep_real_tensors():
    """The node model imports torchdiffeq in its __init__ (NeuralODE.import_first); counted on meta, torchdiffeq's
    module-level Butcher tableaus must still be CPU tensors, or every later solve fails ("Cannot copy out of meta
    tensor")."""
    import subprocess
    import sys

    pytest.importorskip("torchdiffeq")
    code = """if True:
        import sys, torch
        from tests.helpers import make_cfg
        from mlrun.fit import build
        from mlrun.fit.memory_check import check_memory
        cfg = make_cfg("model=node", "dataset=spiral")
        data = build.dataset(cfg)
        assert "torchdiffeq" not in sys.modules
        check_memory(cfg, data.spec, torch.device("cpu"))
        from torchdiffeq._impl.dopri5 import Dopri5Solver
        print(Dopri5Solver.tableau.alpha.device.type)
    """
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=False,
                         env={**os.environ, "PYTHONPATH": f"{root}{os.pathsep}{root / 'tests'}"})
    assert out.returncode == 0 and out.stdout.strip() == "cpu", out.stderr[-2000:]
