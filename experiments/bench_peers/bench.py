"""mlrun's training loop against the loops people write today, on the same data, model, init, epochs and batch size.

    cd experiments/bench_peers
    MLRUN_DATA_DIR=/path/to/shared/data python bench.py                       # every case, best of 3
    python bench.py --cases mnist_mlp_b64 mnist_mlp_b512 --repeats 5 --threads 1
    python bench.py --scaling                                                  # samples/s vs batch size and width

Peers (each case runs them interleaved, `--repeats` times, in rotating order; the best run counts):
  mlrun       the real path: config composed from conf/ → mlrun.fit.bench.prepare (mlrun.fit.build.assemble) → mlrun.fit.loop.fit
  dataloader  DataLoader(TensorDataset(x, y), shuffle=True) feeding a plain step, as in pytorch/examples mnist
  hand        a careful hand-written loop: tensors in memory, one permutation per epoch, slices, loss summed on
              the device (no per-step .item()); torch's default Adam
  hand_fused  the same loop with Adam(fused=True): what mlrun's optimizer.fused=auto picks on CPU, so
              `mlrun ×` over it is mlrun's own loop overhead with the same kernel
  sklearn     LogisticRegression (lbfgs) / MLPClassifier (adam, same widths, batch size, lr, epochs)
  lightning   LightningModule + Trainer over the same DataLoader, when `import lightning` works
samples/s: the fastest training pass from epoch 2 on (epoch 1 is warm-up), best over repeats; wall s is the whole call (build, every
epoch, per-epoch validation); test acc is the final weights on the test split. `mlrun ×` = mlrun's samples/s over
the peer's. The MLP step's achieved FLOP/s (6·Σ fan_in·fan_out per sample: forward 2·, backward ≈ 2× forward) is
compared with a torch.matmul probe in the same run.
"""

from __future__ import annotations

import argparse
import gzip
import os
import statistics
import struct
import time
import warnings
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from mlrun.fit.bench import fit_records, prepare
from mlrun.config.compose import compose
from mlrun.datasets.spec import Data, DataSpec, Split
from mlrun.datasets.splits import split_indices
from mlrun.fit.loop import evaluate

SEED = 0
CASES = {   # name → (dataset, mlrun overrides, hidden widths (None = logistic), batch size, lr, epochs)
    "digits_logistic": ("digits", ["model=logistic", "model.solver=gradient", "trainer.l2=0"], None, 64, 0.01, 10),
    "digits_mlp": ("digits", ["model=mlp", "model.hidden=[128]"], [128], 64, 1e-3, 10),
    "mnist_mlp_b64": ("mnist", ["model=mlp", "model.hidden=[256,256]"], [256, 256], 64, 1e-3, 4),
    "mnist_mlp_b512": ("mnist", ["model=mlp", "model.hidden=[256,256]"], [256, 256], 512, 1e-3, 8),
    "mnist_cnn": ("mnist", ["model=cnn", "model.arch=convnet"], "convnet", 128, 1e-3, 2),   # experiment=mnist_cnn's net
}
MF_CASE = "mf_als"     # MovieLens 100k, 5-fold CV: mlrun's ALS / Bayesian ALS vs Surprise's SVD (another venv)


# ---------------------------------------------------------------- data: the same tensors for every peer
def read_idx(path: Path) -> np.ndarray:
    """An IDX file (MNIST's format): magic (2 zero bytes, dtype code, ndim), ndim big-endian sizes, the data."""
    raw = gzip.open(path).read()
    ndim = raw[3]
    shape = struct.unpack(f">{ndim}I", raw[4:4 + 4 * ndim])
    return np.frombuffer(raw, np.uint8, offset=4 + 4 * ndim).reshape(shape)


def mnist_t10k(root: Path) -> Data:
    """The official MNIST test split (10,000 images) carved 70/15/15, stratified, seeded; pixels / 255."""
    x = read_idx(root / "mnist" / "t10k-images-idx3-ubyte.gz").reshape(-1, 784).astype(np.float32) / 255
    y = read_idx(root / "mnist" / "t10k-labels-idx1-ubyte.gz").astype(np.int64)
    parts = split_indices(y, (0.7, 0.15, 0.15), SEED, stratify=True)
    spec = DataSpec((784,), 10, "multiclass", name="mnist_t10k", classes=[str(c) for c in range(10)])
    return Data(*(Split(torch.from_numpy(x[i]), torch.from_numpy(y[i])) for i in parts), spec=spec)


def load(dataset: str) -> Data:
    root = Path(os.environ.get("MLRUN_DATA_DIR", Path(__file__).resolve().parents[2].parent / "shared" / "data"))
    if dataset == "mnist":
        return mnist_t10k(root)
    from mlrun.config.registry import make as build

    return build(compose([f"dataset={dataset}"]).dataset, "dataset", seed=SEED)


# ---------------------------------------------------------------- the peers
def plain_model(spec: DataSpec, hidden: list[int] | str | None) -> nn.Module:
    """What a user writes; created after the same seed in the same layer order, so the init equals mlrun's.
    A CNN case uses mlrun's CNN module itself (the same network; the peers differ in the loop only)."""
    torch.manual_seed(SEED)
    if isinstance(hidden, str):
        from mlrun.models import CNN

        return CNN(spec, arch=hidden)
    widths = [spec.n_features, *(hidden or []), spec.n_outputs]
    layers = []
    for a, b in zip(widths[:-1], widths[1:]):
        layers += [nn.Linear(a, b), nn.ReLU()]
    return nn.Sequential(*layers[:-1])


def accuracy(model: nn.Module, split: Split) -> float:
    with torch.no_grad():
        model.eval()
        acc = (model(split.x).argmax(1) == split.y).float().mean().item()
        model.train()
    return acc


def result(n: int, epoch_seconds: list[float], wall: float, acc: float) -> dict:
    """samples/s of the fastest training pass from epoch 2 on (epoch 1 = warm-up): on a shared CPU the fastest
    pass is the least disturbed one; the median over repeats is printed beside it."""
    steady = epoch_seconds[1:] or epoch_seconds
    return {"sps": n / min(steady), "wall": wall, "acc": acc}


def run_mlrun(case, data: Data) -> dict:
    dataset, overrides, hidden, bs, lr, epochs = case
    start = time.perf_counter()
    cfg = compose([f"dataset={dataset if dataset != 'mnist' else 'digits'}", *overrides, "optimizer=adam",
                   f"optimizer.lr={lr}", f"trainer.batch_size={bs}", f"trainer.epochs={epochs}",
                   "trainer.patience=0", "device=cpu", f"seed={SEED}"])
    run = prepare(cfg, data=data)          # mnist: the same Data object as the peers (no mnist option here yet)
    records = fit_records(run)
    acc = evaluate(run.plan.net, run.data.test, run.plan.loss_fn, run.spec.task)["acc"]
    return result(len(data.train), [len(data.train) / r["samples_per_second"] for r in records],
                  time.perf_counter() - start, acc)


def run_dataloader(case, data: Data) -> dict:
    _, _, hidden, bs, lr, epochs = case
    start = time.perf_counter()
    model = plain_model(data.spec, hidden)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(data.train.x, data.train.y),
                                         batch_size=bs, shuffle=True)
    times = []
    for _ in range(epochs):
        model.train()
        t = time.perf_counter()
        for xb, yb in loader:
            optimizer.zero_grad()
            loss = F.cross_entropy(model(xb), yb)
            loss.backward()
            optimizer.step()
        times.append(time.perf_counter() - t)
        accuracy(model, data.val)
    return result(len(data.train), times, time.perf_counter() - start, accuracy(model, data.test))


def run_hand(case, data: Data, fused: bool = False) -> dict:
    _, _, hidden, bs, lr, epochs = case
    start = time.perf_counter()
    model = plain_model(data.spec, hidden)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr, fused=fused)
    x, y, n = data.train.x, data.train.y, len(data.train)
    times = []
    for _ in range(epochs):
        t = time.perf_counter()
        order = torch.randperm(n)
        xs, ys = x[order], y[order]
        total = torch.zeros(())
        for i in range(0, n, bs):
            yb = ys[i:i + bs]
            loss = F.cross_entropy(model(xs[i:i + bs]), yb)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += loss.detach() * len(yb)
        float(total)
        times.append(time.perf_counter() - t)
        accuracy(model, data.val)
    return result(n, times, time.perf_counter() - start, accuracy(model, data.test))


def run_hand_fused(case, data: Data) -> dict:
    return run_hand(case, data, fused=True)


def run_sklearn(case, data: Data) -> dict:
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.neural_network import MLPClassifier

    _, _, hidden, bs, lr, epochs = case
    if isinstance(hidden, str):
        return None                                            # no scikit-learn CNN
    x, y = data.train.x.numpy(), data.train.y.numpy()
    if hidden is None:
        model = LogisticRegression(max_iter=1000)
    else:
        model = MLPClassifier(hidden_layer_sizes=hidden, solver="adam", alpha=0.0, batch_size=bs,
                              learning_rate_init=lr, max_iter=epochs, tol=0.0, n_iter_no_change=epochs + 1,
                              shuffle=True, random_state=SEED)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(x, y)
    wall = time.perf_counter() - start
    passes = int(np.max(model.n_iter_))                        # lbfgs iterations / adam epochs over the data
    acc = float((model.predict(data.test.x.numpy()) == data.test.y.numpy()).mean())
    return {"sps": len(y) * passes / wall, "wall": wall, "acc": acc}


def run_lightning(case, data: Data) -> dict:
    import lightning as L

    _, _, hidden, bs, lr, epochs = case

    class Lit(L.LightningModule):
        def __init__(self):
            super().__init__()
            self.net = plain_model(data.spec, hidden)

        def training_step(self, batch, _):
            x, y = batch
            return F.cross_entropy(self.net(x), y)

        def validation_step(self, batch, _):
            x, y = batch
            self.log("val_acc", (self.net(x).argmax(1) == y).float().mean())

        def configure_optimizers(self):
            return torch.optim.Adam(self.parameters(), lr=lr)

    class Clock(L.Callback):
        def __init__(self):
            self.times, self.t = [], 0.0

        def on_train_epoch_start(self, *_):
            self.t = time.perf_counter()

        def on_validation_epoch_start(self, trainer, *_):
            if not trainer.sanity_checking:
                self.times.append(time.perf_counter() - self.t)

    start = time.perf_counter()
    lit, clock = Lit(), Clock()
    trainer = L.Trainer(max_epochs=epochs, accelerator="cpu", devices=1, logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0,
                        callbacks=[clock])
    train = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(data.train.x, data.train.y), batch_size=bs,
                                        shuffle=True)
    val = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(data.val.x, data.val.y), batch_size=len(data.val))
    trainer.fit(lit, train, val)
    return result(len(data.train), clock.times, time.perf_counter() - start, accuracy(lit.net, data.test))


def peers() -> dict:
    found = {"mlrun": run_mlrun, "dataloader": run_dataloader, "hand": run_hand, "hand_fused": run_hand_fused,
             "sklearn": run_sklearn}
    try:
        import lightning  # noqa: F401
        import logging

        logging.getLogger("lightning").setLevel(logging.ERROR)
        logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
        found["lightning"] = run_lightning
    except Exception:  # noqa: BLE001 - not installed (never a dependency of mlrun)
        print("lightning: not importable here; install it in a separate venv (see README) to add its rows")
    return found


# ---------------------------------------------------------------- the limit
def matmul_flops(m: int, k: int, n: int, reps: int = 20) -> float:
    """Best FLOP/s of (m×k)@(k×n) in fp32 over `reps` timed calls."""
    a, b = torch.randn(m, k), torch.randn(k, n)
    torch.matmul(a, b)
    best = min(_timed(lambda: torch.matmul(a, b)) for _ in range(reps))
    return 2 * m * k * n / best


def _timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def step_flops_per_sample(spec: DataSpec, hidden: list[int] | None) -> int:
    if isinstance(hidden, str):
        raise ValueError("only for MLPs")
    """6·Σ fan_in·fan_out: forward 2·Σ per sample, backward ≈ 2× forward (grad wrt input and wrt weights)."""
    widths = [spec.n_features, *(hidden or []), spec.n_outputs]
    return 6 * sum(a * b for a, b in zip(widths[:-1], widths[1:]))


# ---------------------------------------------------------------- main
def bench_cases(names: list[str], repeats: int, table: list[str]) -> None:
    runners = peers()
    square = matmul_flops(1024, 1024, 1024)
    table.append(f"torch.matmul probe 1024×1024×1024 fp32: {square / 1e9:.1f} GFLOP/s "
                 f"({torch.get_num_threads()} threads)")
    for name in names:
        case = CASES[name]
        data = load(case[0])
        results: dict[str, list[dict]] = {p: [] for p in runners}
        order = list(runners)
        for r in range(repeats):
            for p in order[r % len(order):] + order[:r % len(order)]:     # rotate who runs first
                out = runners[p](case, data)
                if out is not None:                                       # None: the peer has no such model
                    results[p].append(out)
        results = {p: rs for p, rs in results.items() if rs}
        best = {p: max(rs, key=lambda d: d["sps"]) for p, rs in results.items()}
        lines = [f"\n{name}: {case[0]} {len(data.train)} train, batch {case[3]}, {case[5]} epochs, Adam lr {case[4]}",
                 f"{'peer':<11} {'samples/s':>11} {'median':>11} {'wall s':>8} {'test acc':>9} {'mlrun ×':>8}"]
        for p, b in best.items():
            med = statistics.median(d["sps"] for d in results[p])
            lines.append(f"{p:<11} {b['sps']:>11,.0f} {med:>11,.0f} {min(d['wall'] for d in results[p]):>8.2f} "
                         f"{b['acc']:>9.4f} {best['mlrun']['sps'] / b['sps']:>8.2f}")
        if isinstance(case[2], str):
            print("\n".join(lines), flush=True)
            table.extend(lines)
            continue
        flops = step_flops_per_sample(data.spec, case[2]) * best["mlrun"]["sps"]
        widths = [data.spec.n_features, *(case[2] or []), data.spec.n_outputs]
        shape = min(matmul_flops(case[3], a, b) for a, b in zip(widths[:-1], widths[1:]))
        lines.append(f"mlrun step: {flops / 1e9:.2f} GFLOP/s = {100 * flops / square:.0f}% of the square matmul "
                     f"probe; slowest forward GEMM at this batch runs at {shape / 1e9:.1f} GFLOP/s")
        print("\n".join(lines), flush=True)
        table.extend(lines)


def mf_als(repeats: int, surprise_python: str | None, table: list[str]) -> None:
    """5-fold CV on ml-100k, timed like Surprise's cross_validate (fit + predict every fold, parsing excluded):
    mlrun's ALS (K=5, λ=10, 15 sweeps) and Bayesian ALS (experiment=movielens_bayes_als's settings), and
    Surprise's SVD run by `surprise_python` (scikit-surprise needs numpy < 2: its own venv), interleaved."""
    import subprocess
    import sys

    here = Path(__file__).resolve().parent
    sys.path.insert(0, str(here.parent / "movielens"))
    from bench_als import fit_and_score

    from mlrun.datasets.ratings.data import ratings_data
    from mlrun.datasets.ratings.read import read_ratings

    root = Path(os.environ.get("MLRUN_DATA_DIR", here.parents[1].parent / "shared" / "data")) / "ml-100k"
    users, items, ratings = read_ratings(root / "u.data", "\t", [0, 1, 2], header=False)
    folds = [ratings_data(users, items, ratings, name="movielens_100k", split={"train": 1, "val": 0, "test": 0},
                          folds=5, fold=f, seed=SEED) for f in range(5)]
    settings = {"mlrun ALS (K=5, λ=10, 15 sweeps, float64)": dict(k=5, reg=10.0, sweeps=15, update="seed",
                                                                 dtype="float64"),
                "mlrun Bayesian ALS (K=5, λ=3, σ=1, 45 sweeps, float32)": dict(
                    k=5, reg=3.0, sweeps=45, update="seed", dtype="float32", noise=1.0, burn_in=5)}
    results: dict[str, list[tuple[float, float]]] = {name: [] for name in settings}
    svd: list[tuple[float, float]] = []
    for _ in range(repeats):
        for name, kw in settings.items():
            scores = [fit_and_score(data, **kw) for data in folds]
            results[name].append((float(np.mean([s[0] for s in scores])), sum(s[2] for s in scores)))
        if surprise_python:
            out = subprocess.run([surprise_python, str(here.parent / "movielens" / "surprise_svd.py"), str(root),
                                  "svd"], capture_output=True, text=True, check=True).stdout
            line = out.strip().splitlines()[-1]             # "svd: folds ... mean R ± S  T s for 5 folds ..."
            words = line.split()
            svd.append((float(words[words.index("mean") + 1]), float(words[words.index("s") - 1])))
    base = min(t for _, t in svd) if svd else None
    lines = [f"\n{MF_CASE}: ml-100k 5-fold CV, fit + predict of all folds, best of {repeats}",
             f"{'peer':<56} {'RMSE':>7} {'wall s':>8} {'SVD time ÷ this':>16}"]
    for name, runs in results.items():
        best = min(t for _, t in runs)
        ratio = f"{base / best:>16.2f}" if base else f"{'–':>16}"
        lines.append(f"{name:<56} {runs[0][0]:>7.4f} {best:>8.2f} {ratio}")
    if svd:
        lines.append(f"{'Surprise SVD (defaults)':<56} {svd[0][0]:>7.4f} {base:>8.2f} {1:>16.2f}")
    else:
        lines.append("Surprise SVD: not run (give --surprise-python, a venv with scikit-surprise)")
    print("\n".join(lines), flush=True)
    table.extend(lines)


def scaling(table: list[str]) -> None:
    """samples/s of mlrun's step on MNIST-shaped data as the batch size and the width grow."""
    from mlrun.fit.bench import throughput

    data = load("mnist")
    lines = ["\nscaling: mlrun step (MNIST 784-w-w-10, Adam), samples/s after 10 warm-up steps",
             f"{'width':>6} " + " ".join(f"{'b' + str(b):>9}" for b in (32, 128, 512, 2048))]
    for width in (64, 256, 1024):
        row = []
        for bs in (32, 128, 512, 2048):
            cfg = compose(["model=mlp", f"model.hidden=[{width},{width}]", f"trainer.batch_size={bs}", "device=cpu"])
            run = prepare(cfg, data=data)
            row.append(max(throughput(run, steps=max(8, 4096 // bs), warmup=5) for _ in range(2)))
        lines.append(f"{width:>6} " + " ".join(f"{v:>9,.0f}" for v in row))
    print("\n".join(lines), flush=True)
    table.extend(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", nargs="+", default=[*CASES, MF_CASE], choices=[*CASES, MF_CASE])
    ap.add_argument("--surprise-python", help="python of a venv with scikit-surprise, for the mf_als case")
    ap.add_argument("--repeats", type=int, default=3, help="interleaved runs per peer; the best counts")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0 = torch's default)")
    ap.add_argument("--scaling", action="store_true", help="only the batch-size × width table")
    ap.add_argument("--out", type=Path, help="also write the printed tables to this file")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    table = [f"torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} CPUs, "
             f"load average {os.getloadavg()[0]:.1f} at start"]
    print(table[0])
    if args.scaling:
        scaling(table)
    else:
        bench_cases([c for c in args.cases if c != MF_CASE], args.repeats, table)
        if MF_CASE in args.cases:
            mf_als(args.repeats, args.surprise_python, table)
    table.append(f"load average {os.getloadavg()[0]:.1f} at end")
    if args.out:
        args.out.write_text("\n".join(table) + "\n")


if __name__ == "__main__":
    main()
