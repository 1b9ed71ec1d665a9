import csv
import json

import pytest
import torch

from tests.helpers import make_cfg
from mlrun.datasets import digits
from mlrun.fit.loop import Plan, evaluate, fit, make_step, train_epoch
from mlrun.fit.losses import make_loss
from mlrun.models import MLP
from mlrun.fit.run import train
from mlrun.report.table import table

OPTIMIZERS = ["sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "adamw"]
BATCHING = [["trainer.batch_size=32"], ["trainer.batch_size=full"], ["trainer.batch_size=1"], ["trainer.online=true"]]
MODELS = [["model=mlp"], ["model=logistic"], ["model=linear", "dataset=diabetes"],
          ["model=linear", "dataset=diabetes", "model.solver=lstsq"]]


def rows(run_dir):
    with open(run_dir / "metrics.csv") as f:
        return list(csv.DictReader(f))


@pytest.mark.parametrize("model", MODELS, ids=lambda m: "-".join(m))
@pytest.mark.parametrize("optimizer", OPTIMIZERS)
@pytest.mark.parametrize("batching", BATCHING, ids=lambda b: b[0])
def test_every_model_optimizer_batching_trains_one_epoch(tmp_path, model, optimizer, batching):
    # a 5% train split keeps batch_size=1 cheap: ~90 digits, ~22 diabetes rows
    value = train(make_cfg(*model, f"optimizer={optimizer}", *batching, "trainer.epochs=1",
                           "dataset.split.train=0.05", "dataset.split.val=0.05", "dataset.split.test=0.05"), tmp_path)
    got = rows(tmp_path)
    assert len(got) == 1 and float(got[0]["train_loss"]) == float(got[0]["train_loss"])   # finite, not NaN
    assert (tmp_path / "checkpoints" / "best.pt").is_file() and (tmp_path / "summary.json").is_file()
    assert isinstance(value, float)


def test_same_seed_same_metrics_other_seed_differs(tmp_path):
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    for d, seed in ((a, 1), (b, 1), (c, 2)):
        train(make_cfg(f"seed={seed}", "trainer.epochs=3"), d)
    strip = lambda r: [{k: v for k, v in row.items() if k not in ("epoch_seconds", "samples_per_second")} for row in r]
    assert strip(rows(a)) == strip(rows(b))
    assert strip(rows(a)) != strip(rows(c))
    sa, sb = (json.loads((d / "summary.json").read_text()) for d in (a, b))
    assert sa["test_acc"] == sb["test_acc"] and sa["test_loss"] == sb["test_loss"]


def test_explicit_l2_equals_sgd_weight_decay_2lambda():
    """loss + λ‖W‖² has gradient ∇loss + 2λW: one SGD step equals weight_decay = 2λ on the weight matrices."""
    data = digits({"train": 0.7, "val": 0.15, "test": 0.15})
    loss_fn, lam = make_loss(None, data.spec), 0.01
    torch.manual_seed(0)
    a = MLP(data.spec, hidden=[16])
    b = MLP(data.spec, hidden=[16])
    b.load_state_dict(a.state_dict())
    opt_a = torch.optim.SGD(a.parameters(), lr=0.1)
    weights = [p for p in b.parameters() if p.ndim >= 2]
    biases = [p for p in b.parameters() if p.ndim < 2]
    opt_b = torch.optim.SGD([{"params": weights, "weight_decay": 2 * lam}, {"params": biases}], lr=0.1)
    make_step(a, loss_fn, opt_a, l2=lam)(data.train.x[:32], data.train.y[:32])
    make_step(b, loss_fn, opt_b)(data.train.x[:32], data.train.y[:32])
    for pa, pb in zip(a.parameters(), b.parameters()):
        assert torch.allclose(pa, pb, atol=1e-6)


def test_train_epoch_counts_steps_and_weights_the_mean():
    data = digits({"train": 0.7, "val": 0.15, "test": 0.15})
    seen = []

    def step(xb, yb):
        seen.append(len(yb))
        return torch.tensor(float(len(yb)))          # "loss" = batch size → weighted mean = Σn²/N

    mean = train_epoch(step, data.train, batch_size=500, shuffle=True, generator=torch.Generator().manual_seed(0))
    n = len(data.train)
    assert seen == [500, 500, n - 1000]
    assert torch.isclose(mean, torch.tensor(sum(s * s for s in seen) / n))


def test_online_visits_examples_once_in_order():
    data = digits({"train": 0.7, "val": 0.15, "test": 0.15})
    firsts = []
    train_epoch(lambda xb, yb: firsts.append(xb[0, :3].clone()) or torch.tensor(0.0), data.train.head(5),
                batch_size=1, shuffle=False, generator=None)
    assert all(torch.equal(f, data.train.x[i, :3]) for i, f in enumerate(firsts))


def test_early_stopping_and_best_epoch(tmp_path):
    train(make_cfg("trainer.epochs=200", "trainer.patience=3", "optimizer.lr=0.05"), tmp_path)
    got = rows(tmp_path)
    summary = json.loads((tmp_path / "summary.json").read_text())
    accs = [float(r["val_acc"]) for r in got]
    assert len(got) < 200                                        # stopped early
    assert len(got) - summary["best_epoch"] == 3                 # exactly `patience` epochs without improvement
    assert max(accs) == pytest.approx(summary["best_val_acc"], abs=1e-6)


def test_evaluate_empty_split_is_nan():
    data = digits({"train": 0.7, "val": 0.0, "test": 0.3})
    m = evaluate(MLP(data.spec), data.val, make_loss(None, data.spec), "multiclass")
    assert m["loss"] != m["loss"] and m["acc"] != m["acc"]


def test_lr_schedules(tmp_path):
    train(make_cfg("trainer.epochs=4", "trainer.lr_schedule=step", "trainer.step_size=2", "trainer.gamma=0.5",
                   "trainer.patience=0"), tmp_path / "s")
    assert [float(r["lr"]) for r in rows(tmp_path / "s")] == [1e-3, 1e-3, 5e-4, 5e-4]
    train(make_cfg("trainer.epochs=4", "trainer.lr_schedule=cosine", "trainer.patience=0"), tmp_path / "c")
    lrs = [float(r["lr"]) for r in rows(tmp_path / "c")]
    assert lrs[0] == 1e-3 and lrs[2] == pytest.approx(5e-4, rel=1e-3) and lrs == sorted(lrs, reverse=True)


def test_clip_and_fast_dev_run(tmp_path):
    train(make_cfg("trainer.fast_dev_run=true", "trainer.clip_grad_norm=0.5", "trainer.epochs=50"), tmp_path)
    assert len(rows(tmp_path)) == 1
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["epochs_run"] == 1 and summary["status"] == "fast_dev_run" and "measure nothing" in summary["note"]
    assert "transform" not in summary["spec"]                      # digits' 64 × (fill, shift, scale): apart
    assert json.loads((tmp_path / summary["transform_file"]).read_text())["width"] == 64
    (tmp_path / ".hydra").mkdir()                                  # what Hydra writes beside it in a real run
    (tmp_path / ".hydra" / "overrides.yaml").write_text("- trainer.fast_dev_run=true\n")
    df = table([str(tmp_path)])[0]                                 # mlrun report: marked, no metric shown
    assert list(df["status"]) == ["fast_dev_run"] and not [c for c in df if c.startswith(("test_", "val_", "ref_"))]


def test_fit_yields_records_with_all_columns():
    data = digits({"train": 0.7, "val": 0.15, "test": 0.15})
    model = MLP(data.spec)
    loss_fn = make_loss(None, data.spec)
    opt = torch.optim.Adam(model.parameters())
    plan = Plan(model, make_step(model, loss_fn, opt), data.train, data.val, loss_fn, "multiclass", "acc", epochs=1,
                batch_size=64, optimizer=opt)
    record, improved = next(fit(plan))
    assert list(record) == ["epoch", "train_loss", "val_loss", "val_acc", "lr", "epoch_seconds", "samples_per_second"]
    assert improved and record["samples_per_second"] > 0
