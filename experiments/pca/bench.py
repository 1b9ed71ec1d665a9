"""Time, accuracy and peak memory of model=pca's gradient ascent against exact and randomized PCA.

    PYTHONPATH=. python experiments/pca/bench.py mnist --k 10      # MNIST t10k images, 10,000 × 784
    PYTHONPATH=. python experiments/pca/bench.py wide --k 5        # synthetic 2,000 × 100,000, planted spectrum

Accuracy is against an exact reference: torch.linalg.eigh of the D×D covariance (mnist) or, where that would need
D²·4 bytes (40 GB at D = 100,000), eigh of the N×N Gram matrix X_c X_cᵀ, which has the same non-zero eigenvalues.
Peak memory is this process's resident-set growth during one method (Linux VmHWM, reset before each method), so
it counts every buffer the method allocates beyond the input matrix. Eigenvalues use the N−1 divisor throughout.
"""

from __future__ import annotations

import argparse
import ctypes
import gzip
import os
import re
import time
from pathlib import Path

import numpy as np
import torch

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


def mnist_images(root: Path) -> torch.Tensor:
    """The t10k IDX file read directly: (10000, 784) float32 in [0, 1]."""
    raw = gzip.open(root / "mnist" / "t10k-images-idx3-ubyte.gz").read()
    n, rows, cols = np.frombuffer(raw, ">i4", 3, 4)
    return torch.from_numpy(np.frombuffer(raw, np.uint8, offset=16).reshape(n, rows * cols).astype(np.float32) / 255)


def wide(n: int, d: int, k: int, seed: int = 0) -> torch.Tensor:
    """n × d: k planted directions with standard deviations 40, 30, 22, … plus unit isotropic noise."""
    g = torch.Generator().manual_seed(seed)
    directions, _ = torch.linalg.qr(torch.randn(d, k, generator=g))            # (d, k)
    scales = torch.tensor([40.0 * 0.75 ** i for i in range(k)])
    x = torch.randn(n, d, generator=g)
    x += (torch.randn(n, k, generator=g) * scales) @ directions.T
    return x


def ours(x, k, batch):
    torch.manual_seed(0)
    pca = PCA(DataSpec((x.shape[1],), 1, "unsupervised"), k=k, compare_max_dim=0)
    batches = lambda: (x[i:i + batch] for i in range(0, len(x), batch))   # noqa: E731
    iters = [c["iterations"] for c in pca.components_by_ascent(batches, len(x))]
    return pca.eigenvalues.double(), pca.components.double().T, sum(iters)


def eigh_cov(x, k):
    xc = x - x.mean(0)
    values, vectors = torch.linalg.eigh((xc.T @ xc).double() / (len(x) - 1))
    return values.flip(0)[:k], vectors.flip(1)[:, :k], None


def eigh_gram(x, k):
    xc = x - x.mean(0)
    values, w = torch.linalg.eigh((xc @ xc.T).double() / (len(x) - 1))
    values, w = values.flip(0)[:k], w.flip(1)[:, :k]
    vectors = xc.T.double() @ w
    return values, vectors / vectors.norm(dim=0), None


def lowrank(x, k):
    torch.manual_seed(0)
    u, s, v = torch.pca_lowrank(x, q=k + 10, center=True, niter=4)            # default oversampling 10, 4 sweeps
    return (s[:k].double() ** 2) / (len(x) - 1), v[:, :k].double(), None


def sklearn_randomized(x, k):
    from sklearn.decomposition import PCA as SkPCA

    pca = SkPCA(n_components=k, svd_solver="randomized", random_state=0).fit(x.numpy())
    return (torch.as_tensor(pca.explained_variance_).double(), torch.as_tensor(pca.components_.T).double(), None)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("problem", choices=("mnist", "wide"))
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--rows", type=int, default=2000)          # wide only
    ap.add_argument("--cols", type=int, default=100_000)       # wide only
    ap.add_argument("--batch", type=int, default=1024)         # ours: rows per (Xv) product
    ap.add_argument("--data", default=os.environ.get("MLRUN_DATA_DIR", "../shared/data"))
    args = ap.parse_args()
    torch.set_grad_enabled(True)
    x = mnist_images(Path(args.data)) if args.problem == "mnist" else wide(args.rows, args.cols, args.k)
    n, d = x.shape
    print(f"{args.problem}: {n} × {d} float32 ({x.numel() * 4 / 1e6:.0f} MB), k={args.k}, "
          f"a float32 covariance would be {d * d * 4 / 1e6:,.1f} MB; threads={torch.get_num_threads()}, "
          f"load average {os.getloadavg()[0]:.1f}")
    methods = {"eigh (D×D covariance)": lambda: eigh_cov(x, args.k)} if args.problem == "mnist" else \
        {"eigh (N×N Gram)": lambda: eigh_gram(x, args.k)}
    methods |= {f"model=pca ascent (batch {args.batch})": lambda: ours(x, args.k, args.batch),
                "torch.pca_lowrank (q=k+10, niter=4)": lambda: lowrank(x, args.k),
                "sklearn PCA randomized": lambda: sklearn_randomized(x, args.k)}
    ref = None
    print("| method | wall s | CPU s | peak RSS growth (MB) | max rel. eigenvalue error | min abs cos | ascent steps |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, fn in methods.items():
        (values, vectors, passes), seconds, cpu, peak = measure(fn)
        if ref is None:
            ref = values, vectors
        rel = float(((values - ref[0]).abs() / ref[0]).max())
        cos = float((vectors.T @ ref[1]).diagonal().abs().min())
        print(f"| {name} | {seconds:.2f} | {cpu:.2f} | {peak / 1e6:.0f} | {rel:.1e} | {cos:.5f} | {passes or ''} |",
              flush=True)


if __name__ == "__main__":
    main()
