"""model=pca: eigenpairs vs torch.linalg.eigh for both methods (block, the seed's deflation), memory without the D×D
covariance, the spec left alone, progress lines, the N vs N−1 scale, the run's records and summary."""

import dataclasses
import json
import logging
import re
import weakref

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves

from mlrun import linalg
from mlrun.datasets import digits
from mlrun.datasets.spec import DataSpec
from mlrun.errors import UserError
from mlrun.linalg import covariance
from mlrun.models import PCA

SPLIT = {"train": 0.7, "val": 0.15, "test": 0.15}
METHODS = pytest.mark.parametrize("method", ["block", "deflation"])


@pytest.fixture(autouse=True)
def _one_thread(one_thread):
    """Small matrices, many passes: one thread (see conftest.one_thread)."""


def fitted(x, batch_size=4096, **options):
    torch.manual_seed(0)
    spec = DataSpec(input_shape=tuple(x.shape[1:]), n_outputs=1, task="unsupervised")
    return PCA(spec, **options).fit(x, batch_size)


def exact(x, k, unbiased=True):
    """Top-k eigenvalues (k,) and eigenvectors (D, k) of the covariance, descending, in float64."""
    values, vectors = torch.linalg.eigh(covariance(x.double(), unbiased))
    return values.flip(0)[:k], vectors.flip(1)[:, :k]


@METHODS
def test_digits_top5_match_eigh(method):
    x = digits(SPLIT, seed=0).train.x
    pca = fitted(x, k=5, method=method)
    values, vectors = exact(x, 5)
    rel = (pca.eigenvalues.double() - values).abs() / values
    cos = (pca.components.double() @ vectors).diagonal().abs()
    assert rel.max() <= 1e-4 and cos.min() >= 0.999, (rel, cos)
    report = pca.compare_with_eigh(lambda: iter([x]), len(x))      # the summary.json check agrees
    assert report["eigh_max_rel_eigenvalue_error"] == pytest.approx(float(rel.max()), rel=1e-6)
    assert report["eigh_min_abs_cos"] >= 0.999 and report["eigh_max_subspace_angle"] <= 1e-2


def test_block_matches_eigh_on_low_rank_plus_noise():
    g = torch.Generator().manual_seed(0)
    basis = torch.linalg.qr(torch.randn(200, 8, generator=g))[0]
    x = (torch.randn(1000, 8, generator=g) * torch.logspace(1, 0, 8)) @ basis.T + 0.3 * torch.randn(1000, 200,
                                                                                                   generator=g)
    pca = fitted(x, batch_size=128, k=8)
    values, _ = exact(x, 8)
    assert ((pca.eigenvalues.double() - values).abs() / values).max() <= 1e-4
    report = pca.compare_with_eigh(linalg.row_batches(x, 128), len(x))
    assert report["eigh_max_subspace_angle"] <= 1e-3                       # sin θ ≤ residual/gap ≈ 1e-4/0.2


def test_deflation_is_the_seeds_method_bitwise():
    """The numbers the seed (commit f83cc62, mlrun.models.pca.PCA) gave for this fit: iterations exactly, floats to
    1e-6 (another CPU's SIMD kernels may round differently)."""
    x = digits(SPLIT, seed=0).train.x
    pca = fitted(x, k=3, method="deflation")
    assert pca.lr == 10.0
    assert torch.allclose(pca.eigenvalues, torch.tensor([7.318307876586914, 5.9261016845703125, 5.1300554275512695]),
                          rtol=1e-6, atol=0)
    assert float(pca.total_variance) == pytest.approx(61.048526763916016, rel=1e-6)
    assert torch.allclose(pca.components.sum(1), torch.tensor([0.06550976634025574, -0.11253492534160614,
                                                               -0.5010514855384827]), rtol=1e-5, atol=1e-6)
    torch.manual_seed(0)
    start = torch.randn(3, 64)                                  # what PCA(k=3) draws after manual_seed(0)
    its = [c["iterations"] for c in linalg.deflation(lambda: iter([x]), len(x), pca.mean, start,
                                                     floor=1e-12 * float(pca.total_variance))]
    assert its == [53, 46, 34]


@METHODS
def test_components_are_orthonormal_and_descending(method):
    pca = fitted(digits(SPLIT, seed=0).train.x, k=12, method=method)
    v = pca.components.double()
    assert torch.allclose(v @ v.T, torch.eye(12, dtype=torch.float64), atol=1e-5)
    assert (pca.eigenvalues[:-1] >= pca.eigenvalues[1:]).all()


@METHODS
def test_minibatches_change_memory_not_the_result(method):
    x = digits(SPLIT, seed=0).train.x
    full = fitted(x, k=3, method=method)
    small = fitted(x, batch_size=100, k=3, method=method)
    assert torch.allclose(full.eigenvalues, small.eigenvalues, rtol=1e-4)
    assert torch.allclose(full.components, small.components, atol=1e-3)


@METHODS
def test_reconstruction_error_is_the_variance_left_over(method):
    x = digits(SPLIT, seed=0).train.x
    pca = fitted(x, k=4, method=method)
    n = len(x)
    left = (float(pca.total_variance) - float(pca.eigenvalues.sum())) * (n - 1) / n   # mean over N rows
    assert float(pca(x).mean()) == pytest.approx(left, rel=1e-4)
    assert torch.allclose(pca.reconstruct(x), pca.mean + (x - pca.mean) @ pca.components.T @ pca.components)


@METHODS
def test_preprocess_is_applied_before_fitting(method):
    x = torch.randint(0, 256, (300, 8, 8), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))

    class Scale(torch.nn.Module):
        def forward(self, xb):
            return xb.float() / 255

    torch.manual_seed(0)
    a = PCA(DataSpec((8, 8), 1, "unsupervised"), k=2, method=method).fit(x, preprocess=Scale())
    b = fitted(x.float() / 255, k=2, method=method)
    assert torch.allclose(a.eigenvalues, b.eigenvalues, rtol=1e-4) and torch.allclose(a.mean, b.mean.view(-1))


@METHODS
def test_divide_by_n_scales_eigenvalues_by_n_minus_1_over_n(method):
    x = digits(SPLIT, seed=0).train.x
    n = len(x)
    biased, unbiased = fitted(x, k=3, unbiased=False, method=method), fitted(x, k=3, unbiased=True, method=method)
    assert torch.allclose(biased.eigenvalues, unbiased.eigenvalues * (n - 1) / n, rtol=1e-4)
    assert torch.allclose(biased.components, unbiased.components, atol=1e-3)      # directions do not change


class PeakAllocated(TorchDispatchMode):
    """Peak bytes of tensor storage allocated inside the block and alive at once (views of existing data are free)."""

    def __init__(self):
        super().__init__()
        self.live = self.peak = 0

    def _free(self, n):
        self.live -= n

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        seen = {t.untyped_storage().data_ptr() for t in tree_leaves((args, kwargs)) if isinstance(t, torch.Tensor)}
        for t in tree_leaves(out):
            if isinstance(t, torch.Tensor) and t.untyped_storage().data_ptr() not in seen:
                storage = t.untyped_storage()
                seen.add(storage.data_ptr())
                self.live += storage.nbytes()
                self.peak = max(self.peak, self.live)
                weakref.finalize(storage, self._free, storage.nbytes())
        return out


def peak_rss_delta(fn) -> int | None:
    """Peak resident memory of this process during fn() above the resident memory before; None when the kernel's
    peak counter cannot be reset here."""
    def status(key):
        return int(re.search(rf"{key}:\s+(\d+)", open("/proc/self/status").read()).group(1)) * 1024
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")                                   # resets VmHWM to the current RSS
        before = status("VmRSS")
    except (OSError, AttributeError):
        return None
    fn()
    return status("VmHWM") - before


@METHODS
def test_20000_dims_planted_spectrum_without_the_covariance(method):
    d, n = 20_000, 400
    g = torch.Generator().manual_seed(0)
    planted, _ = torch.linalg.qr(torch.randn(d, 3, generator=g))          # (D, 3) orthonormal directions
    x = (torch.randn(n, 3, generator=g) * torch.tensor([10.0, 7.0, 5.0])) @ planted.T
    x += 0.05 * torch.randn(n, d, generator=g)                              # isotropic noise
    dxd = d * d * 4                                                         # a float32 covariance: 1.6 GB
    box = {}
    torch.manual_seed(0)
    rss = peak_rss_delta(lambda: box.update(pca=PCA(DataSpec((d,), 1, "unsupervised"), k=3,
                                                    method=method).fit(x, 128)))
    pca = box["pca"]
    # exact reference from the small N×N Gram matrix: same non-zero eigenvalues as X_cᵀX_c
    xc = x - x.mean(0)
    values, w = torch.linalg.eigh((xc @ xc.T).double() / (n - 1))
    values, w = values.flip(0)[:3], w.flip(1)[:, :3]
    vectors = xc.T.double() @ w
    vectors /= vectors.norm(dim=0)
    assert ((pca.eigenvalues.double() - values).abs() / values).max() <= 1e-4
    assert (pca.components.double() @ vectors).diagonal().abs().min() >= 0.999
    assert (pca.components @ planted).diagonal().abs().min() >= 0.99      # the planted directions
    if rss is not None:
        assert rss < dxd / 20, f"peak RSS grew by {rss / 1e6:.0f} MB; a D×D covariance is {dxd / 1e6:.0f} MB"
    with PeakAllocated() as mem:                                            # every op counted: a short run
        model = PCA(DataSpec((d,), 1, "unsupervised"), k=2, max_iter=2, method=method).fit(x, 128)
    # O(batch·D + p·D) floats, plus block's buffer of centred rows (≤ 32 MB); D×D would be 1,600 MB
    bound = (2 * 128 + 16 * model.block_size) * d * 4 + (linalg.CENTRED_BYTES if method == "block" else 0)
    assert mem.peak < bound, f"peak allocated {mem.peak / 1e6:.1f} MB"


@pytest.mark.parametrize("options,key", [
    ({"k": 65}, "k"), ({"k": 0}, "k"), ({"method": "power"}, "method"), ({"tol": -1.0}, "tol"),
    ({"max_iter": 0}, "max_iter"), ({"unbiased": "yes"}, "unbiased"), ({"compare_max_dim": -1}, "compare_max_dim"),
    ({"lr": 5.0}, "lr"),                                          # method=block has no step size
    ({"method": "deflation", "lr": 0.0}, "lr"), ({"method": "deflation", "oversample": 5}, "oversample"),
    ({"oversample": -1}, "oversample"), ({"oversample": 2.5}, "oversample")])
def test_bad_options_are_one_line_errors(options, key):
    with pytest.raises(UserError, match=rf"^model\.{key}=") as err:
        PCA(DataSpec((64,), 10, "multiclass"), **options)
    assert "\n" not in str(err.value)


def test_building_leaves_the_datasets_spec_alone():
    data = digits(SPLIT, seed=0)
    before = dataclasses.asdict(data.spec)
    adapted = PCA.adapt_spec(data.spec)
    PCA(data.spec, k=3)
    PCA(adapted, k=3, method="deflation")
    assert dataclasses.asdict(data.spec) == before and data.spec.task == "multiclass"
    assert adapted is not data.spec
    assert (adapted.task, adapted.n_outputs, adapted.loss, adapted.metric) == ("unsupervised", 1, "reconstruction",
                                                                                "recon_error")
    assert adapted.input_shape == data.spec.input_shape and adapted.classes == data.spec.classes


@METHODS
def test_progress_lines_without_a_terminal(method, caplog, monkeypatch):
    x = digits(SPLIT, seed=0).train.x
    with caplog.at_level(logging.INFO, logger="mlrun"):                # default 2 s: per component only
        fitted(x, k=2, method=method)
    lines = [r.getMessage() for r in caplog.records]
    if method == "deflation":
        assert len(lines) == 2 and lines[1].startswith("model=pca: component 2 done: eigenvalue 5.9")
    caplog.clear()
    monkeypatch.setattr(linalg, "PROGRESS_SECONDS", 0.0)              # a line every pass
    with caplog.at_level(logging.INFO, logger="mlrun"):
        fitted(x, k=2, method=method)
    lines = [r.getMessage() for r in caplog.records]
    beat = [line for line in lines if "residual" in line and " done" not in line]
    assert len(beat) >= 5 and all(line.startswith("model=pca: ") for line in lines)
    assert re.search(r"iteration \d+.*residual \d\.\d\de-\d\d \(tol 0\.0001\)", beat[-1])
    if method == "deflation":
        assert "component 1/2 iteration 1, residual" in beat[0]


@METHODS
def test_train_writes_eigenpairs_and_the_eigh_check(method, cfg, tmp_path):
    from mlrun.runtime import checkpoints
    from mlrun.fit.run import train
    from mlrun.infer.saved import evaluate_checkpoint

    run = tmp_path / "run"
    run.mkdir()
    train(cfg("model=pca", "model.k=4", f"model.method={method}", "trainer.batch_size=full"), run)
    summary = json.loads((run / "summary.json").read_text())
    rows = [line.split(",") for line in (run / "metrics.csv").read_text().splitlines()]
    assert summary["spec"]["task"] == "unsupervised" and summary["monitor"] == "val_recon_error"
    assert summary["mode"] == "min" and len(summary["eigenvalues"]) == 4 and summary["method"] == method
    assert summary["eigh_max_rel_eigenvalue_error"] <= 1e-4 and summary["eigh_min_abs_cos"] >= 0.999
    assert summary["eigh_max_subspace_angle"] <= 1e-3 and max(summary["residuals"]) <= 1e-4
    assert 0 < summary["test_explained_variance_ratio"] < 1 and summary["all_converged"]
    assert summary["best_epoch"] == summary["epochs_run"] == len(rows) - 1      # the fit is the last epoch
    if method == "deflation":                               # one epoch per component, lr = the ascent step
        assert summary["epochs_run"] == 4 and "eigenvalue" in rows[0] and "lr" in rows[0]
    else:                                                   # one epoch per pass; no learning rate
        assert summary["epochs_run"] == summary["iterations"] > 1 and "lr" not in rows[0]
        col = {name: i for i, name in enumerate(rows[0])}
        residual = [float(r[col["residual"]]) for r in rows[1:]]
        assert residual[-1] <= 1e-4 < residual[0] and int(rows[-1][col["converged"]]) == 4
        # train_loss from the eigenvalues = the mean train reconstruction error measured directly
        data = digits(SPLIT, seed=0)
        model = PCA(PCA.adapt_spec(data.spec), k=4)
        model.load_state_dict(checkpoints.load(run / "checkpoints" / "best.pt")["model"])
        assert float(rows[-1][col["train_loss"]]) == pytest.approx(float(model(data.train.x).mean()), rel=1e-4)
    again = evaluate_checkpoint(str(run))                   # the checkpoint rebuilds the same model
    assert again["test_recon_error"] == pytest.approx(summary["test_recon_error"], rel=1e-5)


def test_supervised_loss_is_refused(cfg, tmp_path):
    from mlrun.fit.run import train

    with pytest.raises(UserError, match="loss='mse'"):
        train(cfg("model=pca", "loss=mse"), tmp_path / "run")


@METHODS
def test_more_components_than_the_rank_get_zero_eigenvalues(method):
    x = torch.randn(5, 16, generator=torch.Generator().manual_seed(0))         # centred rank 4
    pca = fitted(x, k=6, method=method)
    assert torch.allclose(pca.eigenvalues[4:], torch.zeros(2), atol=1e-4) and (pca.eigenvalues[:4] > 1e-3).all()
    assert torch.allclose(pca.components @ pca.components.T, torch.eye(6), atol=1e-5)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@METHODS
def test_cuda_matches_cpu(method):
    x = digits(SPLIT, seed=0).train.x
    cpu = fitted(x, k=3, method=method)
    torch.manual_seed(0)
    gpu = PCA(DataSpec((64,), 1, "unsupervised"), k=3, method=method).cuda().fit(x.cuda())
    assert torch.allclose(gpu.eigenvalues.cpu(), cpu.eigenvalues, rtol=1e-4)
    assert (gpu.components.cpu() @ cpu.components.T).diagonal().abs().min() >= 0.999
