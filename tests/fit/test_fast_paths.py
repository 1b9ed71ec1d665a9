"""Each fast path gives the plain path's results: the trimmed step, streaming from the host, autocast, compile.
CUDA variants skip without CUDA."""

import copy

import pytest
import torch
import torch.nn.functional as F

from mlrun.fit.bench import fit_records, prepare
from mlrun.errors import UserError
from mlrun.fit.loop import make_step
from mlrun.config.settings import TrainerSettings as Trainer
from tests.helpers import make_cfg

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")


def reference_step(model, loss_fn, optimizer, l2, clip):
    """The step as it was written before the per-setting trim (GradScaler disabled, nullcontext autocast)."""
    scaler = torch.amp.GradScaler("cpu", enabled=False)
    weights = [p for p in model.parameters() if p.ndim >= 2]

    def step(xb, yb):
        loss = loss_fn(model(xb), yb)
        objective = loss + l2 * sum(w.pow(2).sum() for w in weights) if l2 else loss
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(objective).backward()
        if clip:
            scaler.unscale_(optimizer)
            torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
        scaler.step(optimizer)
        scaler.update()
        return loss.detach()

    return step


@pytest.mark.parametrize("l2,clip", [(0.0, 0.0), (1e-3, 0.0), (0.0, 0.5), (1e-2, 0.1)])
def test_trimmed_step_is_bitwise_the_reference(l2, clip):
    torch.manual_seed(0)
    x, y = torch.randn(96, 8), torch.randint(0, 3, (96,))
    a = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.Tanh(), torch.nn.Linear(16, 3))
    b = copy.deepcopy(a)
    sa = make_step(a, F.cross_entropy, torch.optim.Adam(a.parameters(), 0.05), l2, clip)
    sb = reference_step(b, F.cross_entropy, torch.optim.Adam(b.parameters(), 0.05), l2, clip)
    for i in range(0, 96, 16):
        assert torch.equal(sa(x[i:i + 16], y[i:i + 16]), sb(x[i:i + 16], y[i:i + 16]))
    for pa, pb in zip(a.parameters(), b.parameters()):
        assert torch.equal(pa, pb)


def losses(*overrides):
    records = fit_records(prepare(make_cfg(*overrides)))
    return [(r["train_loss"], r["val_loss"], r["val_acc"]) for r in records]


def flat(rows):
    return [v for row in rows for v in row]


def test_streaming_matches_on_device_on_cpu():
    """Same batches in the same order (one CPU permutation per epoch, read by 2 worker processes), dropout
    drawing the same masks: the same losses."""
    common = ("model.dropout=0.2", "trainer.batch_size=100")
    plain = losses(*common, "trainer.data_on_device=true")
    streamed = losses(*common, "trainer.data_on_device=false", "trainer.workers=2")
    assert flat(streamed) == pytest.approx(flat(plain), rel=1e-5, abs=1e-6)


def test_streaming_train_writes_the_same_summary(tmp_path):
    import json

    from mlrun.fit.run import train

    for on in ("true", "false"):
        (tmp_path / on).mkdir()
        train(make_cfg(f"trainer.data_on_device={on}", "trainer.workers=0", "trainer.epochs=1"), tmp_path / on)
    a, b = (json.loads((tmp_path / on / "summary.json").read_text()) for on in ("true", "false"))
    assert b["test_loss"] == pytest.approx(a["test_loss"], rel=1e-5)
    assert b["test_acc"] == a["test_acc"]


def test_bf16_autocast_on_cpu_close_to_fp32():
    fp32 = losses()
    bf16 = losses("trainer.precision=bf16")
    for (t32, v32, a32), (t16, v16, a16) in zip(fp32, bf16):
        assert t16 == pytest.approx(t32, rel=0.05) and v16 == pytest.approx(v32, rel=0.05)
        assert abs(a16 - a32) <= 0.05


@pytest.mark.slow     # torch.compile (inductor) builds C++ kernels: tens of seconds on 2 cores
def test_compile_on_cpu_matches_eager():
    eager = losses("trainer.epochs=2")
    compiled = losses("trainer.epochs=2", "trainer.compile=true")
    assert flat(compiled) == pytest.approx(flat(eager), rel=1e-3, abs=1e-4)


@pytest.mark.parametrize("optimizer", ["adam", "adamw", "adagrad"])
def test_fused_optimizer_matches_the_default_kernel(optimizer):
    """optimizer.fused=auto (torch's fused kernel on CPU) against fused=false: the same losses to float rounding."""
    default = losses(f"optimizer={optimizer}", "optimizer.fused=false", "trainer.epochs=2")
    fused = losses(f"optimizer={optimizer}", "optimizer.fused=auto", "trainer.epochs=2")
    assert flat(fused) == pytest.approx(flat(default), rel=1e-4, abs=1e-5)


def test_fused_auto_picks_the_kernel_by_optimizer_and_device():
    from omegaconf import OmegaConf

    from mlrun.fit.build import optimizer as build_optimizer

    model = torch.nn.Linear(3, 2)
    for name, expected in (("adam", True), ("adamw", True), ("adagrad", True), ("sgd", None), ("rmsprop", None)):
        node = make_cfg(f"optimizer={name}").optimizer
        optimizer = build_optimizer(node, model)
        assert optimizer.defaults.get("fused") == expected, name
        assert OmegaConf.select(node, "fused") in ("auto", None)           # the config itself is left as written
    assert build_optimizer(make_cfg("optimizer=adam", "optimizer.fused=false").optimizer, model).defaults["fused"] \
        is False
    assert build_optimizer(make_cfg("optimizer=adam").optimizer, model.double()).defaults["fused"] is True
    with pytest.raises(UserError, match=r"optimizer.fused='sometimes': must be auto, true or false"):
        build_optimizer(make_cfg("optimizer=adam", "optimizer.fused=sometimes").optimizer, model)


def test_data_on_device_choices():
    with pytest.raises(UserError, match="trainer.data_on_device='sometimes'"):
        Trainer(data_on_device="sometimes")
    with pytest.raises(UserError, match="trainer.workers"):
        Trainer(workers=-1)
    auto = Trainer(device_data_mb=1)
    assert auto.on_device(10 * 2**20, torch.device("cpu"))          # host memory: nothing to copy
    assert auto.on_device(2**20, torch.device("cuda"))
    assert not auto.on_device(2**20 + 1, torch.device("cuda"))       # above the threshold: stream
    assert not Trainer(data_on_device=False).on_device(1, torch.device("cpu"))


@cuda
@pytest.mark.gpu
def test_cuda_streaming_matches_on_device():
    plain = losses("device=cuda", "trainer.data_on_device=true")
    streamed = losses("device=cuda", "trainer.data_on_device=false")
    # different permutations (CUDA vs CPU generator), same data and model: close, not identical
    assert streamed[-1][2] == pytest.approx(plain[-1][2], abs=0.05)


@cuda
@pytest.mark.gpu
@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_cuda_autocast_close_to_fp32(precision):
    fp32 = losses("device=cuda", "trainer.epochs=3")
    low = losses("device=cuda", "trainer.epochs=3", f"trainer.precision={precision}")
    assert low[-1][1] == pytest.approx(fp32[-1][1], rel=0.05)


@cuda
@pytest.mark.gpu
@pytest.mark.slow
def test_cuda_compile_bf16_matches_eager():
    eager = losses("device=cuda", "trainer.precision=bf16")
    compiled = losses("device=cuda", "trainer.precision=bf16", "trainer.compile=true")
    assert compiled[-1][1] == pytest.approx(eager[-1][1], rel=0.02)
