"""model=pca: eigenpairs vs torch.linalg.eigh, memory without the D×D covariance, deflation, the N vs N−1 scale."""

import json
import re
import weakref

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves

from mlrun.datasets import digits
from mlrun.datasets.spec import DataSpec
from mlrun.errors import UserError
from mlrun.models import PCA
from mlrun.models.pca import covariance

SPLIT = {"train": 0.7, "val": 0.15, "test": 0.15}


def fitted(x, **options):
    torch.manual_seed(0)
    return PCA(DataSpec(input_shape=tuple(x.shape[1:]), n_outputs=1, task="unsupervised"), **options).fit(x)


def exact(x, k, unbiased=True):
    """Top-k eigenvalues (k,) and eigenvectors (D, k) of the covariance, descending, in float64."""
    values, vectors = torch.linalg.eigh(covariance(x.double(), unbiased))
    return values.flip(0)[:k], vectors.flip(1)[:, :k]


def test_digits_top5_match_eigh():
    x = digits(SPLIT, seed=0).train.x
    pca = fitted(x, k=5)
    values, vectors = exact(x, 5)
    rel = (pca.eigenvalues.double() - values).abs() / values
    cos = (pca.components.double() @ vectors).diagonal().abs()
    assert rel.max() <= 1e-3 and cos.min() >= 0.999, (rel, cos)
    report = pca.compare_with_eigh(lambda: iter([x]), len(x))      # the summary.json check agrees
    assert report["eigh_max_rel_eigenvalue_error"] <= 1e-3 and report["eigh_min_abs_cos"] >= 0.999


def test_deflated_components_are_orthonormal_and_descending():
    pca = fitted(digits(SPLIT, seed=0).train.x, k=12)
    v = pca.components.double()
    assert torch.allclose(v @ v.T, torch.eye(12, dtype=torch.float64), atol=1e-5)
    assert (pca.eigenvalues[:-1] >= pca.eigenvalues[1:]).all()


def test_minibatches_change_memory_not_the_result():
    x = digits(SPLIT, seed=0).train.x
    full = fitted(x, k=3)
    torch.manual_seed(0)
    small = PCA(DataSpec((64,), 1, "unsupervised"), k=3).fit(x, batch_size=100)
    assert torch.allclose(full.eigenvalues, small.eigenvalues, rtol=1e-4)
    assert torch.allclose(full.components, small.components, atol=1e-3)


def test_reconstruction_error_is_the_variance_left_over():
    x = digits(SPLIT, seed=0).train.x
    pca = fitted(x, k=4)
    n = len(x)
    left = (float(pca.total_variance) - float(pca.eigenvalues.sum())) * (n - 1) / n   # mean over N rows
    assert float(pca(x).mean()) == pytest.approx(left, rel=1e-4)
    assert torch.allclose(pca.reconstruct(x), pca.mean + (x - pca.mean) @ pca.components.T @ pca.components)


def test_preprocess_is_applied_before_fitting():
    x = torch.randint(0, 256, (300, 8, 8), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))

    class Scale(torch.nn.Module):
        def forward(self, xb):
            return xb.float() / 255

    torch.manual_seed(0)
    a = PCA(DataSpec((8, 8), 1, "unsupervised"), k=2).fit(x, preprocess=Scale())
    b = fitted(x.float() / 255, k=2)
    assert torch.allclose(a.eigenvalues, b.eigenvalues, rtol=1e-4) and torch.allclose(a.mean, b.mean.view(-1))


def test_divide_by_n_scales_eigenvalues_by_n_minus_1_over_n():
    x = digits(SPLIT, seed=0).train.x
    n = len(x)
    biased, unbiased = fitted(x, k=3, unbiased=False), fitted(x, k=3, unbiased=True)
    assert torch.allclose(biased.eigenvalues, unbiased.eigenvalues * (n - 1) / n, rtol=1e-4)
    assert torch.allclose(biased.components, unbiased.components, atol=1e-3)      # directions do not change


def test_monte_carlo_mean_of_the_n_divided_estimator_is_n_minus_1_over_n_sigma():
    g = torch.Generator().manual_seed(0)
    sigma = torch.tensor([[4.0, 1.0, 0.0], [1.0, 2.0, 0.5], [0.0, 0.5, 1.0]], dtype=torch.float64)
    n, draws = 4, 40_000
    x = torch.randn(draws, n, 3, generator=g, dtype=torch.float64) @ torch.linalg.cholesky(sigma).T
    ml, unb = covariance(x, unbiased=False).mean(0), covariance(x, unbiased=True).mean(0)
    # Monte-Carlo standard error per entry ≈ 4/sqrt(3·40,000) ≈ 0.012; the gap Σ/N is 0.25…1.0 on the diagonal
    assert torch.allclose(ml, (n - 1) / n * sigma, atol=0.06)
    assert torch.allclose(unb, sigma, atol=0.06)
    assert (sigma.diagonal() - ml.diagonal()).min() > 0.2       # the biased mean is visibly below Σ


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


def test_20000_dims_planted_spectrum_without_the_covariance():
    d, n = 20_000, 400
    g = torch.Generator().manual_seed(0)
    planted, _ = torch.linalg.qr(torch.randn(d, 3, generator=g))          # (D, 3) orthonormal directions
    x = (torch.randn(n, 3, generator=g) * torch.tensor([10.0, 7.0, 5.0])) @ planted.T
    x += 0.05 * torch.randn(n, d, generator=g)                              # isotropic noise
    dxd = d * d * 4                                                         # a float32 covariance: 1.6 GB
    box = {}
    torch.manual_seed(0)
    rss = peak_rss_delta(lambda: box.update(pca=PCA(DataSpec((d,), 1, "unsupervised"), k=3).fit(x, 128)))
    pca = box["pca"]
    # exact reference from the small N×N Gram matrix: same non-zero eigenvalues as X_cᵀX_c
    xc = x - x.mean(0)
    values, w = torch.linalg.eigh((xc @ xc.T).double() / (n - 1))
    values, w = values.flip(0)[:3], w.flip(1)[:, :3]
    vectors = xc.T.double() @ w
    vectors /= vectors.norm(dim=0)
    assert ((pca.eigenvalues.double() - values).abs() / values).max() <= 1e-3
    assert (pca.components.double() @ vectors).diagonal().abs().min() >= 0.999
    assert (pca.components @ planted).diagonal().abs().min() >= 0.99      # the planted directions
    if rss is not None:
        assert rss < dxd / 20, f"peak RSS grew by {rss / 1e6:.0f} MB; a D×D covariance is {dxd / 1e6:.0f} MB"
    with PeakAllocated() as mem:                                            # every op counted: a short run
        PCA(DataSpec((d,), 1, "unsupervised"), k=2, max_iter=2).fit(x, 128)
    bound = (128 + 10 * 3) * d * 4                                          # O(batch·D + k·D) floats: 13 MB
    assert mem.peak < bound, f"peak allocated {mem.peak / 1e6:.1f} MB"      # measured ~1 MB


@pytest.mark.parametrize("key,value", [("k", 65), ("k", 0), ("lr", 0.0), ("tol", -1.0), ("max_iter", 0),
                                       ("unbiased", "yes"), ("compare_max_dim", -1)])
def test_bad_options_are_one_line_errors(key, value):
    with pytest.raises(UserError, match=rf"model\.{key}="):
        PCA(DataSpec((64,), 10, "multiclass"), **{key: value})


def test_train_writes_eigenpairs_and_the_eigh_check(cfg, tmp_path):
    from mlrun.saved import evaluate_checkpoint
    from mlrun.run import train

    run = tmp_path / "run"
    run.mkdir()
    train(cfg("model=pca", "model.k=4", "trainer.batch_size=full"), run)
    summary = json.loads((run / "summary.json").read_text())
    assert summary["spec"]["task"] == "unsupervised" and summary["monitor"] == "val_recon_error"
    assert summary["mode"] == "min" and summary["epochs_run"] == 4 and len(summary["eigenvalues"]) == 4
    assert summary["eigh_max_rel_eigenvalue_error"] <= 1e-3 and summary["eigh_min_abs_cos"] >= 0.999
    assert 0 < summary["test_explained_variance_ratio"] < 1 and summary["all_converged"]
    rows = (run / "metrics.csv").read_text().splitlines()
    assert len(rows) == 5 and "eigenvalue" in rows[0]
    again = evaluate_checkpoint(str(run))                   # the checkpoint rebuilds the same model
    assert again["test_recon_error"] == pytest.approx(summary["test_recon_error"], rel=1e-5)


def test_supervised_loss_is_refused(cfg, tmp_path):
    from mlrun.run import train

    with pytest.raises(UserError, match="loss='mse'"):
        train(cfg("model=pca", "loss=mse"), tmp_path / "run")


def test_more_components_than_the_rank_get_zero_eigenvalues():
    x = torch.randn(5, 16, generator=torch.Generator().manual_seed(0))         # centred rank 4
    pca = fitted(x, k=6)
    assert torch.allclose(pca.eigenvalues[4:], torch.zeros(2), atol=1e-4) and (pca.eigenvalues[:4] > 1e-3).all()
    assert torch.allclose(pca.components @ pca.components.T, torch.eye(6), atol=1e-5)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu():
    x = digits(SPLIT, seed=0).train.x
    cpu = fitted(x, k=3)
    torch.manual_seed(0)
    gpu = PCA(DataSpec((64,), 1, "unsupervised"), k=3).cuda().fit(x.cuda())
    assert torch.allclose(gpu.eigenvalues.cpu(), cpu.eigenvalues, rtol=1e-3)
    assert (gpu.components.cpu() @ cpu.components.T).diagonal().abs().min() >= 0.999
