"""The GPU check, ready to run on a machine with CUDA: the `gpu`-marked tests, then the GPU rows, one table.

    bash experiments/gpu/check.sh                 # CUDA: tests + rows → experiments/gpu/results_<date>.txt
    python experiments/gpu/check.py --small --device cpu   # the same code at toy sizes on a CPU (a smoke test)

Rows (each measured in this run; ratios are against a baseline measured in the same run):
  mlp_b512      784-256-256-10 MLP, batch 512, 60k synthetic MNIST-shaped rows: mlrun's step (mlrun.fit.bench) vs a
                DataLoader loop (TensorDataset, shuffle, pin_memory) — samples/s and the ratio
  cnn_fp32 / cnn_bf16 / cnn_compile   experiment=mnist_cnn's convnet, one epoch over 60k synthetic 1×28×28 images
                (fp32, trainer.precision=bf16, trainer.compile=true): epoch seconds after a warm-up epoch
  als_10m       model=mf optimizer=als model.k=10 on synthetic ratings, 100k users × 20k items × 0.005 (10M):
                seconds per sweep
  pca_k50       model=pca model.k=50 on 60k × 784 synthetic low-rank rows vs torch.pca_lowrank on the GPU: seconds
Without CUDA (and without --device cpu) it says so and exits 0: CI and this project's CPU machines skip it.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import torch


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def images(n: int, seed: int = 0):
    """A Data of `n` synthetic 1×28×28 images in 10 classes (80/10/10), labels learnable from the pixels."""
    from mlrun.datasets.spec import Data, DataSpec, Split

    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 10, (n,), generator=g)
    x = torch.rand(n, 1, 28, 28, generator=g) * 0.5
    x[torch.arange(n), 0, y * 2, :] += 1.0                 # class k lights row 2k: a CNN/MLP learns it quickly
    a, b = int(0.8 * n), int(0.9 * n)
    spec = DataSpec(input_shape=(1, 28, 28), n_outputs=10, task="multiclass", name="synthetic_images",
                    classes=[str(i) for i in range(10)])
    return Data(Split(x[:a], y[:a]), Split(x[a:b], y[a:b]), Split(x[b:], y[b:]), spec)


def mlp_b512(device: torch.device, n: int) -> dict:
    from mlrun.fit.bench import prepare, throughput
    from mlrun.config.compose import compose

    data = images(n)
    cfg = compose(["model=mlp", "model.hidden=[256,256]", "trainer.batch_size=512", f"device={device.type}"])
    sps_mlrun = throughput(prepare(cfg, data=data), steps=100, warmup=20)
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 256), torch.nn.ReLU(),
                              torch.nn.Linear(256, 256), torch.nn.ReLU(), torch.nn.Linear(256, 10)).to(device)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(data.train.x, data.train.y), batch_size=512,
                                         shuffle=True, pin_memory=device.type == "cuda", drop_last=True)

    def epoch(limit: int) -> tuple[int, float]:
        seen, start = 0, time.perf_counter()
        for i, (xb, yb) in enumerate(loader):
            if i == limit:
                break
            xb, yb = xb.to(device, non_blocking=True), yb.to(device, non_blocking=True)
            loss = torch.nn.functional.cross_entropy(net(xb), yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            seen += len(yb)
        synchronize(device)
        return seen, time.perf_counter() - start

    epoch(20)
    seen, seconds = epoch(100)
    sps_loader = seen / seconds
    return {"mlrun samples/s": sps_mlrun, "DataLoader samples/s": sps_loader, "ratio": sps_mlrun / sps_loader}


def cnn(device: torch.device, n: int, extra: list[str]) -> dict:
    from mlrun.fit.bench import fit_records, prepare
    from mlrun.config.compose import compose

    cfg = compose(["experiment=mnist_cnn", f"device={device.type}", "trainer.epochs=2", "trainer.patience=0",
                   *extra])
    records = fit_records(prepare(cfg, data=images(n)))
    return {"epoch s (2nd)": records[-1]["epoch_seconds"], "epoch s (1st, warm-up)": records[0]["epoch_seconds"],
            "val acc": records[-1]["val_acc"]}


def als(device: torch.device, users: int, items: int, density: float) -> dict:
    from mlrun.fit.bench import fit_records, prepare
    from mlrun.config.compose import compose

    cfg = compose(["model=mf", "optimizer=als", "model.k=10", "dataset=synthetic_ratings",
                   f"dataset.n_users={users}", f"dataset.n_items={items}", f"dataset.density={density}",
                   "trainer.epochs=3", "trainer.patience=0", f"device={device.type}"])
    start = time.perf_counter()
    parts = prepare(cfg)
    built = time.perf_counter() - start
    records = list(record for record, _ in parts.fitter.records())
    sweeps = [r.get("sweep_seconds", r["epoch_seconds"]) for r in records]
    return {"ratings": len(parts.data.train), "build s": built, "sweep s (median)": statistics.median(sweeps),
            "val rmse": records[-1]["val_rmse"]}


def pca(device: torch.device, n: int) -> dict:
    from mlrun.fit.bench import prepare
    from mlrun.config.compose import compose
    from mlrun.datasets.spec import Data, DataSpec, Split

    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, 60, generator=g) @ torch.randn(60, 784, generator=g) + 0.1 * torch.randn(n, 784, generator=g)
    spec = DataSpec(input_shape=(784,), n_outputs=1, task="regression", name="lowrank")
    a, b = int(0.8 * n), int(0.9 * n)
    data = Data(Split(x[:a], torch.zeros(a, 1)), Split(x[a:b], torch.zeros(b - a, 1)),
                Split(x[b:], torch.zeros(n - b, 1)), spec)
    cfg = compose(["model=pca", "model.k=50", f"device={device.type}", "model.compare_max_dim=0"])
    start = time.perf_counter()
    parts = prepare(cfg, data=data)
    for _ in parts.fitter.records():
        pass
    synchronize(device)
    mine = time.perf_counter() - start
    xd = x[:a].to(device)
    torch.pca_lowrank(xd, q=50)                            # warm-up
    synchronize(device)
    start = time.perf_counter()
    torch.pca_lowrank(xd, q=50)
    synchronize(device)
    lowrank = time.perf_counter() - start
    return {"model=pca s": mine, "pca_lowrank s": lowrank, "ratio": mine / lowrank}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cuda", choices=("cuda", "cpu"))
    ap.add_argument("--small", action="store_true", help="toy sizes (a smoke test of this script)")
    args = ap.parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        print("experiments/gpu/check.py: no CUDA device here; skipped (run it on a GPU machine)")
        return 0
    device = torch.device(args.device)
    n = 512 if args.small else 60_000
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    print(f"device {name}; torch {torch.__version__}; sizes {'small' if args.small else 'full'}")
    rows = {"mlp_b512": lambda: mlp_b512(device, max(n, 2048)),      # at least a few batches of 512
            "cnn_fp32": lambda: cnn(device, n, []),
            "cnn_bf16": lambda: cnn(device, n, ["trainer.precision=bf16"]),
            "cnn_compile": lambda: cnn(device, n, ["trainer.compile=true"]),
            "als_10m": lambda: als(device, *((2_000, 500, 0.01) if args.small else (100_000, 20_000, 0.005))),
            "pca_k50": lambda: pca(device, n)}
    if args.small:
        rows.pop("cnn_compile")                            # compiling takes minutes on a small CPU
    failed = 0
    for row, measure in rows.items():
        start = time.perf_counter()
        try:
            values = measure()
        except Exception as e:  # noqa: BLE001 - one failing row must not hide the others
            failed += 1
            print(f"{row:<12} FAILED {type(e).__name__}: {' '.join(str(e).split())[:300]}")
            continue
        text = "  ".join(f"{k} {v:,.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in values.items())
        print(f"{row:<12} {text}  ({time.perf_counter() - start:.0f} s)", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
