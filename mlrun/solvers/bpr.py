"""`optimizer=bpr`: Bayesian personalised ranking (Rendle et al. 2009) for model=mf model.implicit=true — the
factors trained by gradient steps on pairs instead of by ALS.

    mlrun train model=mf optimizer=bpr dataset=movielens_100k model.implicit=true model.threshold=4 \\
        model.k=64 model.reg=0.01 dataset.metric=ndcg@10 trainer.epochs=20 trainer.threads=1

For every train interaction (u, i) of an epoch (shuffled), one item j drawn uniformly from the catalogue is the
negative; each batch minimises the mean over its triples of

    −log σ(x_u·y_i − x_u·y_j) + λ (‖x_u‖² + ‖y_i‖² + ‖y_j‖²)          λ = model.reg

with Adam (optimizer.lr). A drawn j that the user has is kept (its probability is the user's share of the
catalogue, small for real data; as in the `implicit` library's default). One record per epoch (val ranking as
optimizer=als: mlrun.solvers.als.val_scores); train_loss is the epoch's mean pair loss.
"""

from __future__ import annotations

import math
import time

import torch
import torch.nn.functional as F

from mlrun.errors import check, number
from mlrun.metrics.records import Monitor, epoch_record
from mlrun.models.mf import MF
from mlrun.solvers import implicit_als
from mlrun.solvers.als import ranked, val_scores
from mlrun.solvers.base import Solver


class BPR(Solver):
    """`optimizer=bpr`: trainer.epochs passes over the train interactions in batches of optimizer.batch_size."""
    name = "bpr"
    epoch_unit = "epoch"

    def __init__(self, params, lr: float = 0.01, batch_size: int = 1024, seed: int = 0):
        super().__init__(params, {"lr": math.nan})
        number("optimizer.lr", lr, 0, low_open=True)
        number("optimizer.batch_size", batch_size, 1, integer=True)
        self.lr, self.batch_size, self.seed = float(lr), batch_size, seed

    def fit_direct(self, model: MF, data, trainer, loss_fn):
        """Yield (record, improved) per epoch: train_loss (mean pair loss), val ranking, epoch_seconds."""
        check(isinstance(model, MF) and model.implicit, "optimizer", "bpr", "trains model=mf with "
              "model.implicit=true only (a ranking objective on interactions)")
        users, items, _ = implicit_als.interactions(data.train.x[:, 0], data.train.x[:, 1], data.train.y,
                                                    model.threshold)
        x, y = model.user_factors, model.item_factors
        opt = torch.optim.Adam([x, y], lr=self.lr)
        generator = torch.Generator(device=users.device).manual_seed(self.seed)
        monitor = Monitor(data.spec.metric, trainer.patience)
        for epoch in range(1, (1 if trainer.fast_dev_run else trainer.epochs) + 1):
            start = time.perf_counter()
            order = torch.randperm(len(users), generator=generator, device=users.device)
            total = users.new_zeros((), dtype=torch.float64)
            for at in range(0, len(order), self.batch_size):
                batch = order[at:at + self.batch_size]
                u, i = users[batch], items[batch]
                j = torch.randint(0, model.n_items, (len(batch),), generator=generator, device=users.device)
                xu, yi, yj = x[u], y[i], y[j]
                pair = -F.logsigmoid((xu * (yi - yj)).sum(1))
                loss = pair.mean() + model.reg * (xu.pow(2) + yi.pow(2) + yj.pow(2)).sum(1).mean()
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                total += pair.detach().sum()
            swept = time.perf_counter()
            scores = val_scores(model, data, loss_fn, trainer, first=epoch == 1)
            improved = monitor.update(scores[data.spec.metric], has_val=len(data.val) > 0)
            yield epoch_record(epoch, float(total) / max(len(users), 1), scores, data.spec.metric,
                               time.perf_counter() - start, len(users) / max(swept - start, 1e-9),
                               fit_seconds=swept - start, **ranked(scores, data.spec.metric)), improved
            if monitor.done:
                break
