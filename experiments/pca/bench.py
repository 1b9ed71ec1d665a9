"""Time, accuracy and peak memory of model=pca (block and deflation) against exact and randomized PCA.

    PYTHONPATH=. MLRUN_DATA_DIR=../shared/data python experiments/pca/bench.py mnist --k 50   # 8,000 × 784
    PYTHONPATH=. python experiments/pca/bench.py wide --k 5 --no-deflation                     # 2,000 × 100,000

mnist = what `mlrun train model=pca dataset=mnist dataset.train_prefix=t10k dataset.test_prefix=null` fits: the
train split carved from the t10k file (8,000 rows), pixels normalised by the dataset's preprocess. wide = a
synthetic planted spectrum whose D×D covariance would need 40 GB; its exact reference is eigh of the N×N Gram
matrix X_c X_cᵀ (same non-zero eigenvalues).

Each method runs --repeat times; the table shows the fastest wall time (the machine is shared) and that run's CPU
seconds; "× lowrank" divides by torch.pca_lowrank's fastest time in this same run. Accuracy is against the first
row (exact, float64): the largest relative eigenvalue error, the smallest |cos| between matching eigenvectors, and
the largest principal angle between the k-dim subspaces (well defined where single eigenvectors are not).
Peak memory = this process's resident-set growth during one run (VmHWM reset first). N−1 divisor throughout.
"""

from __future__ import annotations

import argparse
import ctypes
import logging
import os
import re
import time
from pathlib import Path

import torch

from mlrun import linalg
from mlrun.datasets.spec import DataSpec
from mlrun.models.pca import PCA


def rss(key: str) -> int:
    return int(re.search(rf"{key}:\s+(\d+)", Path("/proc/self/status").read_text()).group(1)) * 1024


def measure(fn):
    """(result, wall seconds, CPU seconds, peak RSS growth in bytes) of fn(). Freed heap memory is returned to the
    OS first, so a method cannot reuse what an earlier one left resident."""
    ctypes.CDLL("libc.so.6").malloc_trim(0)
    Path("/proc/self/clear_refs").write_text("5")          # VmHWM := current RSS
    before = rss("VmRSS")
    start, cpu = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - start, time.process_time() - cpu, rss("VmHWM") - before


def mnist_rows(root: Path) -> torch.Tensor:
    """The 8,000 train rows of dataset=mnist with train_prefix=t10k, test_prefix=null, preprocessed: (8000, 784)."""
    from mlrun.datasets import mnist

    data = mnist(str(root / "mnist"), train_prefix="t10k", test_prefix=None, seed=0)
    return torch.cat(list(linalg.row_batches(data.train.x, 4096, data.preprocess)()))


def wide(n: int, d: int, k: int, seed: int = 0) -> torch.Tensor:
    """n × d: k planted directions with standard deviations 40, 30, 22, … plus unit isotropic noise."""
    g = torch.Generator().manual_seed(seed)
    directions, _ = torch.linalg.qr(torch.randn(d, k, generator=g))            # (d, k)
    scales = torch.tensor([40.0 * 0.75 ** i for i in range(k)])
    x = torch.randn(n, d, generator=g)
    x += (torch.randn(n, k, generator=g) * scales) @ directions.T
    return x


def ours(x, k, batch, method, **options):
    """model=pca's fit (moments + the method), as `mlrun train` runs it minus the per-epoch val evaluation."""
    torch.manual_seed(0)
    pca = PCA(DataSpec((x.shape[1],), 1, "unsupervised"), k=k, method=method, compare_max_dim=0, **options)
    pca.fit(x, batch)
    return pca.eigenvalues.double(), pca.components.double().T, pca.report["passes"]


def eigh_cov(x, k):
    xc = x.double() - x.double().mean(0)
    values, vectors = torch.linalg.eigh(xc.T @ xc / (len(x) - 1))
    return values.flip(0)[:k], vectors.flip(1)[:, :k], None


def eigh_gram(x, k):
    xc = x - x.mean(0)
    values, w = torch.linalg.eigh((xc @ xc.T).double() / (len(x) - 1))
    values, w = values.flip(0)[:k], w.flip(1)[:, :k]
    vectors = xc.T.double() @ w
    return values, vectors / vectors.norm(dim=0), None


def lowrank(x, k, oversample, niter):
    torch.manual_seed(0)
    _, s, v = torch.pca_lowrank(x, q=k + oversample, center=True, niter=niter)
    return (s[:k].double() ** 2) / (len(x) - 1), v[:, :k].double(), None


def sklearn_randomized(x, k):
    from sklearn.decomposition import PCA as SkPCA

    pca = SkPCA(n_components=k, svd_solver="randomized", random_state=0).fit(x.numpy())
    return (torch.as_tensor(pca.explained_variance_).double(), torch.as_tensor(pca.components_.T).double(), None)


def largest_angle(vectors, ref):
    """Largest principal angle (radians) between span(vectors (D, k)) and span(ref (D, k)): asin of
    ‖(I − QQᵀ)R‖₂ with Q, R orthonormal bases (arccos of the cosines would lose small angles to round-off)."""
    q, r = torch.linalg.qr(vectors)[0], torch.linalg.qr(ref)[0]
    return float(torch.asin(torch.linalg.matrix_norm(r - q @ (q.T @ r), ord=2).clamp(max=1.0)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("problem", choices=("mnist", "wide"))
    ap.add_argument("--k", type=int, default=50)
    ap.add_argument("--rows", type=int, default=2000)          # wide only
    ap.add_argument("--cols", type=int, default=100_000)       # wide only
    ap.add_argument("--batch", type=int, nargs="+", default=[64, 1024])   # model=pca: rows per pass batch
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--threads", type=int, default=0, help="torch threads; 0 = torch's default")
    ap.add_argument("--no-deflation", action="store_true", help="skip the seed's method (minutes at k=50)")
    ap.add_argument("--oversample", type=int, nargs="*", default=[],
                    help="also model=pca block with these model.oversample values (batch: the last --batch)")
    ap.add_argument("--data", default=os.environ.get("MLRUN_DATA_DIR", "../shared/data"))
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")            # model=pca's progress lines
    if args.threads:
        torch.set_num_threads(args.threads)
    x = mnist_rows(Path(args.data)) if args.problem == "mnist" else wide(args.rows, args.cols, args.k)
    n, d = x.shape
    print(f"{args.problem}: {n} × {d} float32 ({x.numel() * 4 / 1e6:.0f} MB), k={args.k}, "
          f"a float32 covariance would be {d * d * 4 / 1e6:,.1f} MB; torch {torch.__version__}, "
          f"threads={torch.get_num_threads()}, load average {' '.join(f'{a:.1f}' for a in os.getloadavg())}")
    k = args.k
    methods = {"eigh (D×D covariance, float64)": lambda: eigh_cov(x, k)} if args.problem == "mnist" else \
        {"eigh (N×N Gram, float64)": lambda: eigh_gram(x, k)}
    methods |= {"torch.pca_lowrank (q=k, niter=2)": lambda: lowrank(x, k, 0, 2),
                "torch.pca_lowrank (q=k+10, niter=4)": lambda: lowrank(x, k, 10, 4)}
    for b in args.batch:
        methods[f"model=pca block (batch {b})"] = lambda b=b: ours(x, k, b, "block")
    for o in args.oversample:
        methods[f"model=pca block, oversample {o} (batch {args.batch[-1]})"] = \
            lambda o=o: ours(x, k, args.batch[-1], "block", oversample=o)
    if not args.no_deflation:
        methods[f"model=pca deflation (batch {args.batch[-1]})"] = lambda: ours(x, k, args.batch[-1], "deflation")
    methods["sklearn PCA randomized"] = lambda: sklearn_randomized(x, k)
    ref, base = None, None
    print("| method | wall s | CPU s | × lowrank (q=k+10) | × eigh | peak RSS growth (MB) | max rel. eigenvalue error "
          "| min abs cos | max subspace angle | passes |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, fn in methods.items():
        repeat = 1 if "deflation" in name else args.repeat                   # minutes per run at k=50
        runs = [measure(fn) for _ in range(repeat)]
        (values, vectors, passes), seconds, cpu, peak = min(runs, key=lambda r: r[1])
        if ref is None:
            ref, eigh_seconds = (values, vectors), seconds
        if name.startswith("torch.pca_lowrank (q=k+10"):
            base = seconds
        rel = float(((values - ref[0]).abs() / ref[0]).max())
        cos = float((vectors.T @ ref[1]).diagonal().abs().min())
        ratio = f"{seconds / base:.1f}" if base else ""
        print(f"| {name} | {seconds:.3f} | {cpu:.3f} | {ratio} | {seconds / eigh_seconds:.2f} | {peak / 1e6:.0f} | "
              f"{rel:.1e} | {cos:.5f} | {largest_angle(vectors, ref[1]):.1e} | {passes or ''} |", flush=True)
    print(f"load average after: {' '.join(f'{a:.1f}' for a in os.getloadavg())}")


if __name__ == "__main__":
    main()
