"""Newton vs L-BFGS for mlrun.solvers.exact_logistic on digits (all 1,797 rows standardized, 10 classes), one thread.

    PYTHONPATH=. python experiments/defaults/solver_choice.py

Prints a Markdown row per (method, l2): iterations, final objective, ‖∇f‖∞, best-of-3 seconds.
"""

from __future__ import annotations

import time

import torch
from sklearn.datasets import load_digits
from sklearn.preprocessing import StandardScaler

from mlrun.solvers.exact_logistic import fit


def main() -> None:
    torch.set_num_threads(1)
    x, y = load_digits(return_X_y=True)
    x, y = torch.tensor(StandardScaler().fit_transform(x)), torch.tensor(y)
    print("| method | l2 | iterations | objective | ‖∇f‖∞ | seconds (best of 3) |\n|---|---|---:|---|---:|---:|")
    for l2 in (1e-2, 1e-4, 1e-6):
        for method in ("newton", "lbfgs"):
            best = float("inf")
            for _ in range(3):
                start = time.perf_counter()
                solution = fit(x, y, 10, l2, method=method)
                best = min(best, time.perf_counter() - start)
            print(f"| {method} | {l2:g} | {solution.iterations} | {solution.objective:.13g} | "
                  f"{solution.grad_norm:.1e} | {best:.2f} |")


if __name__ == "__main__":
    main()
