"""Monte-Carlo: the covariance divided by N (maximum likelihood) vs N−1 (unbiased), and what it does to PCA.

    PYTHONPATH=. python experiments/pca/estimator_bias.py          # 100,000 samples of N = 2, 4, 10, 100 rows
"""

import torch

from mlrun.linalg import covariance

sigma = torch.tensor([[4.0, 1.0, 0.0], [1.0, 2.0, 0.5], [0.0, 0.5, 1.0]], dtype=torch.float64)
top = torch.linalg.eigvalsh(sigma)[-1]
chol = torch.linalg.cholesky(sigma)
g = torch.Generator().manual_seed(0)
print(f"Σ = {sigma.tolist()}, trace {sigma.trace():.3f}, top eigenvalue {top:.3f}; 100,000 draws per N")
print("| N | (N−1)/N | mean trace, ÷N | ratio to trace Σ | mean trace, ÷(N−1) | ratio "
      "| mean top eigenvalue, ÷(N−1) |")
print("|---:|---:|---:|---:|---:|---:|---:|")
for n in (2, 4, 10, 100):
    x = torch.randn(100_000, n, 3, generator=g, dtype=torch.float64) @ chol.T
    ml, unbiased = covariance(x, unbiased=False), covariance(x, unbiased=True)
    t_ml, t_unb = ml.diagonal(dim1=-2, dim2=-1).sum(-1).mean(), unbiased.diagonal(dim1=-2, dim2=-1).sum(-1).mean()
    lam = torch.linalg.eigvalsh(unbiased)[:, -1].mean()
    print(f"| {n} | {(n - 1) / n:.3f} | {t_ml:.3f} | {t_ml / sigma.trace():.3f} | {t_unb:.3f} | "
          f"{t_unb / sigma.trace():.3f} | {lam:.3f} ({lam / top:.3f}× the true {top:.3f}) |")
