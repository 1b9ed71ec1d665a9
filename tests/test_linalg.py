"""mlrun.linalg: block subspace iteration and the seed's deflation against torch.linalg.eigh (float64), the
covariance helpers against closed forms, progress lines, and the layering (no models/datasets/loop imports)."""

import logging

import pytest
import torch

from mlrun import linalg
from mlrun.datasets import digits

SPLIT = {"train": 0.7, "val": 0.15, "test": 0.15}


@pytest.fixture(autouse=True)
def _one_thread(one_thread):
    """Small matrices, many passes: one thread (see conftest.one_thread)."""


def reference(x, k, unbiased=True):
    """Top-k eigenvalues (k,) and eigenvectors (D, k) of the covariance, descending, float64."""
    values, vectors = torch.linalg.eigh(linalg.covariance(x.double(), unbiased))
    return values.flip(0)[:k], vectors.flip(1)[:, :k]


def largest_angle(ours, vectors):
    """Largest principal angle (radians) between span(rows of ours (k, D)) and span(columns of vectors (D, k))."""
    q = torch.linalg.qr(ours.double().T)[0]
    return float(torch.asin(torch.linalg.matrix_norm(vectors - q @ (q.T @ vectors), ord=2).clamp(max=1.0)))


def run_block(x, k, p=None, batch=256, seed=0, **options):
    batches = linalg.row_batches(x, batch)
    mean, trace = linalg.moments(batches, len(x), dtype=x.dtype)
    p = p or min(x.shape[1], k + linalg.default_oversample(k))
    start = torch.randn(x.shape[1], p, generator=torch.Generator().manual_seed(seed), dtype=x.dtype)
    steps = list(linalg.block(batches, len(x), mean, start, k, floor=1e-12 * float(trace), **options))
    return steps


def low_rank_plus_noise(n=600, d=120, rank=6, noise=0.1, seed=0):
    g = torch.Generator().manual_seed(seed)
    basis = torch.linalg.qr(torch.randn(d, rank, generator=g))[0]                 # (D, rank) orthonormal
    scales = torch.tensor([8.0 * 0.7 ** i for i in range(rank)])
    x = (torch.randn(n, rank, generator=g) * scales) @ basis.T + noise * torch.randn(n, d, generator=g)
    return x + 3.0, basis                                                           # a non-zero mean to remove


@pytest.mark.parametrize("k", [3, 6, 9])     # inside, at and beyond the planted rank (then noise directions)
def test_block_matches_eigh_on_low_rank_plus_noise(k):
    x, basis = low_rank_plus_noise()
    steps = run_block(x, k)
    last = steps[-1]
    values, vectors = reference(x, k)
    assert last.converged and (last.residuals <= 1e-4).all()
    assert ((last.values - values).abs() / values).max() <= 1e-4
    assert largest_angle(last.vectors, vectors) <= 1e-3
    if k == 6:                                                          # the planted span (noise 0.1 tilts it)
        assert largest_angle(last.vectors, basis.double()) <= 0.1       # sampling tilt ≈ 0.04 here
    v = last.vectors.double()
    assert torch.allclose(v @ v.T, torch.eye(k, dtype=torch.float64), atol=1e-5)
    assert (last.values[:-1] >= last.values[1:]).all()


def test_block_matches_eigh_on_digits():
    x = digits(SPLIT, seed=0).train.x
    last = run_block(x, 10)[-1]
    values, vectors = reference(x, 10)
    assert last.converged
    assert ((last.values - values).abs() / values).max() <= 1e-4
    assert largest_angle(last.vectors, vectors) <= 1e-3
    cos = (last.vectors.double() @ vectors).diagonal().abs()               # digits' top 10 are well separated
    assert cos.min() >= 0.9999


def test_residuals_fall_and_the_ritz_values_rise():
    x = digits(SPLIT, seed=0).train.x
    steps = run_block(x, 5, p=8)
    assert len(steps) > 3 and steps[-1].converged and not steps[0].converged
    worst = [float(s.residuals.max()) for s in steps]
    assert worst[-1] < 1e-2 * worst[0]
    sums = [float(s.values.sum()) for s in steps]
    assert all(b >= a * (1 - 1e-6) for a, b in zip(sums, sums[1:]))      # subspace iteration: Ritz values rise


def test_data_far_from_the_origin_keep_their_accuracy():
    """Rows are centred before the products (x·v − μ·v would lose ~log10(‖μ‖/spread) digits in float32)."""
    x, _ = low_rank_plus_noise(n=2000, d=200)
    x = x + 1e4 * torch.rand(200, generator=torch.Generator().manual_seed(3))    # ‖μ‖ ≈ 8e4, spread ≈ 1…8
    last = run_block(x, 6)[-1]
    values, vectors = reference(x, 6)
    assert last.converged and ((last.values - values).abs() / values).max() <= 1e-4
    assert largest_angle(last.vectors, vectors) <= 1e-3


def test_the_batch_size_changes_nothing_and_the_buffer_only_rounding(monkeypatch):
    x = digits(SPLIT, seed=0).train.x
    mean, trace = linalg.moments(linalg.row_batches(x, 1000), len(x))
    start = torch.randn(64, 10, generator=torch.Generator().manual_seed(0))

    def fit(batch):
        return list(linalg.block(linalg.row_batches(x, batch), len(x), mean, start, 5))[-1]

    whole, sliced = fit(1000), fit(7)                                       # rows are gathered into the buffer
    assert torch.equal(whole.values, sliced.values) and torch.equal(whole.vectors, sliced.vectors)
    monkeypatch.setattr(linalg, "CENTRED_BYTES", 7 * 64 * 4)                  # 7 rows per product
    parts = fit(1000)
    assert whole.iteration == parts.iteration
    assert torch.allclose(whole.values, parts.values, rtol=1e-6)
    assert torch.allclose(whole.vectors, parts.vectors, atol=1e-4)


def test_a_full_block_is_exact_after_one_pass():
    x = torch.randn(80, 7, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    steps = run_block(x, 3, p=7, tol=1e-10)
    values, _ = reference(x, 3)
    assert len(steps) == 1 and torch.allclose(steps[0].values, values, rtol=1e-12)


def test_float64_rows_reach_float64_accuracy():
    x = digits(SPLIT, seed=0).train.x.double()
    last = run_block(x, 4, tol=1e-10)[-1]
    values, _ = reference(x, 4)
    assert last.vectors.dtype == torch.float64 and last.converged
    assert ((last.values - values).abs() / values).max() <= 1e-12


def test_max_iter_stops_an_unconverged_fit():
    x = digits(SPLIT, seed=0).train.x
    steps = run_block(x, 5, p=6, max_iter=2)
    assert len(steps) == 2 and not steps[-1].converged and steps[-1].iteration == 2


def test_more_directions_than_the_rank_converge_to_zero():
    x = torch.randn(5, 16, generator=torch.Generator().manual_seed(0))              # centred rank 4
    last = run_block(x, 6, p=8, batch=2)[-1]
    assert last.converged
    assert torch.allclose(last.values[4:], torch.zeros(2, dtype=torch.float64), atol=1e-5)
    assert (last.values[:4] > 1e-3).all()
    assert torch.allclose(last.vectors @ last.vectors.T, torch.eye(6), atol=1e-5)


def test_block_checks_its_shapes():
    x = torch.randn(10, 4)
    with pytest.raises(ValueError, match="k ≤ p ≤ D"):
        next(linalg.block(lambda: iter([x]), 10, x.mean(0), torch.randn(4, 2), k=3))


def test_deflation_matches_eigh_and_block():
    x = digits(SPLIT, seed=0).train.x
    batches = linalg.row_batches(x, 4096)
    mean, trace = linalg.moments(batches, len(x))
    torch.manual_seed(0)
    comps = list(linalg.deflation(batches, len(x), mean, torch.randn(4, 64), floor=1e-12 * float(trace)))
    values, vectors = reference(x, 4)
    got = torch.tensor([c["eigenvalue"] for c in comps], dtype=torch.float64)
    assert [c["component"] for c in comps] == [1, 2, 3, 4] and all(c["converged"] for c in comps)
    assert ((got - values).abs() / values).max() <= 1e-4
    assert largest_angle(torch.stack([c["vector"] for c in comps]), vectors) <= 1e-2
    block = run_block(x, 4)[-1]
    assert torch.allclose(block.values, got, rtol=1e-4)


def test_moments_are_the_mean_and_the_trace_of_the_covariance():
    x = low_rank_plus_noise(n=50, d=9)[0]
    for unbiased in (True, False):
        mean, trace = linalg.moments(linalg.row_batches(x, 7), len(x), unbiased)
        assert torch.allclose(mean, x.mean(0), atol=1e-6)
        assert float(trace) == pytest.approx(float(linalg.covariance(x.double(), unbiased).trace()), rel=1e-6)


def test_row_batches_flatten_and_preprocess():
    x = torch.arange(2 * 3 * 2 * 2, dtype=torch.uint8).reshape(6, 1, 2, 2)

    class Half(torch.nn.Module):
        def forward(self, xb):
            return xb.float() / 2

    passes = linalg.row_batches(x, 4, Half())
    first, second = list(passes())
    assert first.shape == (4, 4) and second.shape == (2, 4) and first.dtype == torch.float32
    assert torch.equal(torch.cat([first, second]), x.reshape(6, 4).float() / 2)
    assert len(list(passes())) == 2                                      # a fresh pass each call


def test_sign_fixed_makes_the_largest_entry_positive():
    v = torch.tensor([[0.1, -0.9, 0.3], [0.8, 0.2, -0.1]])
    assert torch.equal(linalg.sign_fixed(v), torch.tensor([[-0.1, 0.9, -0.3], [0.8, 0.2, -0.1]]))


def test_monte_carlo_mean_of_the_n_divided_estimator_is_n_minus_1_over_n_sigma():
    g = torch.Generator().manual_seed(0)
    sigma = torch.tensor([[4.0, 1.0, 0.0], [1.0, 2.0, 0.5], [0.0, 0.5, 1.0]], dtype=torch.float64)
    n, draws = 4, 40_000
    x = torch.randn(draws, n, 3, generator=g, dtype=torch.float64) @ torch.linalg.cholesky(sigma).T
    ml, unb = linalg.covariance(x, unbiased=False).mean(0), linalg.covariance(x, unbiased=True).mean(0)
    # Monte-Carlo standard error per entry ≈ 4/sqrt(3·40,000) ≈ 0.012; the gap Σ/N is 0.25…1.0 on the diagonal
    assert torch.allclose(ml, (n - 1) / n * sigma, atol=0.06)
    assert torch.allclose(unb, sigma, atol=0.06)
    assert (sigma.diagonal() - ml.diagonal()).min() > 0.2       # the biased mean is visibly below Σ


def test_progress_lines_without_a_terminal(caplog, monkeypatch):
    monkeypatch.setattr(linalg, "PROGRESS_SECONDS", 0.0)                  # every pass may print
    x = digits(SPLIT, seed=0).train.x
    with caplog.at_level(logging.INFO, logger="mlrun"), linalg.Progress("test-fit", 1e-4, tty=False) as progress:
        steps = run_block(x, 3, p=5, progress=progress)
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == len(steps) and lines[0].startswith("test-fit: iteration 1, ")
    assert "converged, residual" in lines[-1] and "(tol 0.0001)" in lines[-1]


def test_progress_is_throttled_and_per_component(caplog):
    with caplog.at_level(logging.INFO, logger="mlrun"):
        with linalg.Progress("fit", 1e-4, tty=False) as progress:        # 2 s between heartbeat lines
            for it in range(1, 50):
                progress({"component": 1, "of": 2, "iteration": it, "residual": 1.0 / it})
            progress.component({"component": 1, "eigenvalue": 2.5, "iterations": 49, "residual": 2e-5,
                                "converged": True})
    lines = [r.getMessage() for r in caplog.records]
    assert lines == ["fit: component 1 done: eigenvalue 2.5, 49 iterations, residual 2.00e-05"]


def test_progress_bar_on_a_terminal(caplog, capsys):
    with caplog.at_level(logging.INFO, logger="mlrun"), linalg.Progress("fit", 1e-4, tty=True) as progress:
        progress({"iteration": 1, "residual": 0.5, "converged": 0, "of": 3})
        assert progress.bar is not None and progress.bar.n == 1
    assert not caplog.records                                              # the bar, not log lines


def imported_mlrun_modules(name: str, seen: set | None = None) -> set:
    """Every mlrun module `name` imports, transitively, read from the sources (nothing is executed)."""
    import ast
    from pathlib import Path

    import mlrun

    root = Path(mlrun.__file__).parent.parent

    def source(mod):
        base = root.joinpath(*mod.split("."))
        return next((p for p in (base.with_suffix(".py"), base / "__init__.py") if p.is_file()), None)

    seen = set() if seen is None else seen
    for node in ast.walk(ast.parse(source(name).read_text())):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:      # `from mlrun import linalg` imports a module
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        else:
            continue
        for mod in names:
            if mod.startswith("mlrun") and mod not in seen and source(mod) is not None:
                seen.add(mod)
                if mod != "mlrun":
                    imported_mlrun_modules(mod, seen)
    return seen


def test_linalg_and_transforms_do_not_import_models_datasets_or_the_loop():
    assert not {m for m in imported_mlrun_modules("mlrun.linalg")
                if m.startswith(("mlrun.models", "mlrun.datasets", "mlrun.fit.loop"))}
    assert not {m for m in imported_mlrun_modules("mlrun.datasets.transforms")
                if m.startswith(("mlrun.models", "mlrun.fit.loop"))}
    assert "mlrun.linalg" in imported_mlrun_modules("mlrun.datasets.transforms")      # the walk sees imports
