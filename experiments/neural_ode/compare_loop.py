"""Epoch time of `mlrun train model=node` vs a hand loop in the style of torchdiffeq's examples/odenet_mnist.py,
same config and data (digits_odenet: digits, width 64, AdamW lr 0.003 wd 0.1, batch 64), in one process,
two alternating rounds; ratio > 1 means mlrun is faster.

    OMP_NUM_THREADS=1 python experiments/neural_ode/compare_loop.py [epochs] [solver overrides...]

The hand loop is the example's: an ODEfunc with an nfe counter, an ODEBlock calling odeint on [0, 1], a
DataLoader over a TensorDataset, and per batch: zero_grad → forward → read/reset nfe → backward → step. Its
network is the same as mlrun's flat ODE-Net (Linear stem → [h, t]-MLP dynamics → ReLU, Linear head). Both loops
train with a constant lr (the preset's cosine schedule is switched off) and are timed on training only.
"""

import csv
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
from torch import nn
from torchdiffeq import odeint

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests"))
from conftest import make_cfg  # noqa: E402  (the real composed config)

from mlrun.config.registry import make as build
from mlrun.fit.run import train  # noqa: E402


class ConcatLinear(nn.Module):                       # the example's ConcatConv2d, for flat states
    def __init__(self, dim_in, dim_out):
        super().__init__()
        self._layer = nn.Linear(dim_in + 1, dim_out)

    def forward(self, t, x):
        tt = torch.ones_like(x[:, :1]) * t
        return self._layer(torch.cat([x, tt], 1))


class ODEfunc(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.fc1, self.fc2 = ConcatLinear(dim, dim), ConcatLinear(dim, dim)
        self.nfe = 0

    def forward(self, t, x):
        self.nfe += 1
        return self.fc2(t, torch.tanh(self.fc1(t, x)))


class ODEBlock(nn.Module):
    def __init__(self, odefunc, method, tol, options):
        super().__init__()
        self.odefunc, self.method, self.tol, self.options = odefunc, method, tol, options
        self.integration_time = torch.tensor([0, 1]).float()

    def forward(self, x):
        self.integration_time = self.integration_time.type_as(x)
        out = odeint(self.odefunc, x, self.integration_time, rtol=self.tol, atol=self.tol, method=self.method,
                     options=self.options)
        return out[1]

    @property
    def nfe(self):
        return self.odefunc.nfe

    @nfe.setter
    def nfe(self, value):
        self.odefunc.nfe = value


def hand_loop(cfg, data, epochs):
    torch.manual_seed(cfg.seed)
    m = cfg.model
    options = {"step_size": m.step_size} if m.step_size else {}
    feature_layers = [ODEBlock(ODEfunc(m.width), m.solver, m.rtol, options)]
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, m.width), *feature_layers, nn.ReLU(), nn.Linear(m.width, 10))
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.optimizer.lr, weight_decay=cfg.optimizer.weight_decay)
    criterion = nn.CrossEntropyLoss()
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(data.train.x, data.train.y),
                                         batch_size=cfg.trainer.batch_size, shuffle=True)
    seconds, nfe = [], []
    for _ in range(epochs):
        start, f_nfe, b_nfe, batches = time.perf_counter(), 0, 0, 0
        for x, y in loader:
            optimizer.zero_grad()
            logits = model(x)
            loss = criterion(logits, y)
            f_nfe += feature_layers[0].nfe
            feature_layers[0].nfe = 0
            loss.backward()
            optimizer.step()
            b_nfe += feature_layers[0].nfe          # 0 without the adjoint, as in the example
            feature_layers[0].nfe = 0
            batches += 1
        seconds.append(time.perf_counter() - start)
        nfe.append(f_nfe / batches)
    return seconds, nfe


def mlrun_loop(cfg):
    with tempfile.TemporaryDirectory() as run_dir:
        train(cfg, run_dir)
        rows = list(csv.DictReader(open(Path(run_dir) / "metrics.csv")))
    n_train = len(build(cfg.dataset, "dataset", seed=cfg.seed).train)
    return [n_train / float(r["samples_per_second"]) for r in rows], [float(r["nfe_forward"]) for r in rows]


def main(epochs, overrides, rounds=2):
    """`rounds` × (mlrun, hand loop), alternating, so that a change of load on a shared machine hits both."""
    cfg = make_cfg("experiment=digits_odenet", "device=cpu", f"trainer.epochs={epochs}", "trainer.lr_schedule=none",
                   *overrides, shrink=False)
    data = build(cfg.dataset, "dataset", seed=cfg.seed)
    times = {"mlrun node": ([], []), "hand loop": ([], [])}
    for _ in range(rounds):
        for name, run in (("mlrun node", lambda: mlrun_loop(cfg)), ("hand loop", lambda: hand_loop(cfg, data, epochs))):
            seconds, nfe = run()
            times[name][0].extend(seconds)
            times[name][1].extend(nfe)
    print(f"overrides: {' '.join(overrides) or '(preset)'}; {rounds} rounds × {epochs} epochs; "
          f"threads {torch.get_num_threads()}")
    for name, (seconds, nfe) in times.items():
        print(f"{name:10}: train s/epoch min {min(seconds):.3f} median {statistics.median(seconds):.3f}, "
              f"forward NFE/batch {statistics.median(nfe):.1f}")
    (m_s, m_nfe), (h_s, h_nfe) = times["mlrun node"], times["hand loop"]
    for stat in (min, statistics.median):
        print(f"{stat.__name__:6} speed ratio hand time / mlrun time: {stat(h_s) / stat(m_s):.2f}x "
              f"(per forward NFE: {(stat(h_s) / statistics.median(h_nfe)) / (stat(m_s) / statistics.median(m_nfe)):.2f}x)")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5, sys.argv[2:])
