"""optimizer=spark_als: the bias stage against numpy's normal equations, Spark's factors against a numpy ALS-WR on the
residuals, trace rows as the iterates of one fit, the run folder and `mlrun eval`, and every one-line error.

Tests that start Spark (≈ 10 s for the JVM, then seconds per fit) are marked slow and skip without pyspark or Java:
    pytest -m slow tests/solvers/test_spark_als.py
"""

from __future__ import annotations

import csv
import itertools
import json
import os
import shutil
import socket
import sys

import numpy as np
import pytest
import torch

from mlrun.errors import UserError
from mlrun.fit.losses import make_loss
from mlrun.solvers.spark_als import default_reg_param, fit_biases, flat_conf
from mlrun.fit import build
from tests.helpers import make_cfg, mlrun_cli

SMALL = ["model=mf", "optimizer=spark_als", "dataset=synthetic_ratings", "dataset.n_users=40", "dataset.n_items=25",
         "dataset.density=0.5", "dataset.rank=2", "dataset.noise=0.1", "model.k=2", "model.reg=1.0",
         "optimizer.master='local[2]'", "optimizer.blocks=2"]


def needs_spark():
    pytest.importorskip("pyspark")
    if not (os.environ.get("JAVA_HOME") or shutil.which("java")):
        pytest.skip("no Java (JAVA_HOME or java on PATH): Spark cannot start")


def parts(*overrides: str):
    """(model, solver, data, trainer, loss_fn) of the small synthetic problem, built like a run builds them."""
    cfg = make_cfg(*SMALL, *overrides)
    torch.manual_seed(cfg.seed)
    data = build.dataset(cfg)
    model, _ = build.model(cfg.model, data.spec)
    return model, build.optimizer(cfg.optimizer, model), data, build.settings(cfg), make_loss(None, data.spec)


def fit(*overrides: str):
    """Run the solver to the end: (model, records, data)."""
    model, solver, data, trainer, loss_fn = parts(*overrides)
    records = [record for record, _ in solver.fit_direct(model, data, trainer, loss_fn)]
    return model, records, data


def first_error(*overrides: str, model=None) -> str:
    """The UserError a fit with `overrides` stops on, before any Spark work."""
    built, solver, data, trainer, loss_fn = parts(*overrides)
    with pytest.raises(UserError) as e:
        next(solver.fit_direct(model if model is not None else built, data, trainer, loss_fn))
    assert "\n" not in str(e.value)
    return str(e.value)


def solve_rows(rows, cols, values, other, n, reg):
    """ALS-WR rows in numpy: x_r = argmin Σ_{j∈Ψ_r} (v_rj − x·y_j)² + reg·|Ψ_r|·‖x‖² (0 for a row without values)."""
    out = np.zeros((n, other.shape[1]))
    for r in range(n):
        mask = rows == r
        if mask.any():
            y = other[cols[mask]]
            out[r] = np.linalg.solve(y.T @ y + reg * mask.sum() * np.eye(y.shape[1]), y.T @ values[mask])
    return out


def train_arrays(data):
    users, items = data.train.x[:, 0].numpy(), data.train.x[:, 1].numpy()
    return users, items, data.train.y.double().numpy()


# ---- no Spark needed

def test_biases_solve_the_normal_equations_of_the_bias_objective():
    """(μ, b, c) = argmin Σ (r − μ − b_u − c_i)² + λ(‖b‖² + ‖c‖²): numpy's dense solve of (XᵀX + λD)θ = Xᵀr."""
    rng = np.random.default_rng(0)
    n_users, n_items, reg = 30, 20, 2.5
    users, items = np.nonzero(rng.random((n_users, n_items)) < 0.3)
    users, items = users[users != 7], items[users != 7]           # user 7 has no ratings: bias 0
    ratings = rng.integers(1, 6, len(users)).astype(float)
    x = np.zeros((len(ratings), 1 + n_users + n_items))
    x[:, 0], x[np.arange(len(x)), 1 + users], x[np.arange(len(x)), 1 + n_users + items] = 1, 1, 1
    theta = np.linalg.solve(x.T @ x + reg * np.diag([0.0] + [1.0] * (n_users + n_items)), x.T @ ratings)
    mu, b, c = fit_biases(torch.tensor(users), torch.tensor(items), torch.tensor(ratings), n_users, n_items, reg)
    np.testing.assert_allclose(float(mu), theta[0], atol=1e-9)
    np.testing.assert_allclose(b.numpy(), theta[1:1 + n_users], atol=1e-9)
    np.testing.assert_allclose(c.numpy(), theta[1 + n_users:], atol=1e-9)
    assert b[7] == 0


def test_default_reg_param_gives_the_same_total_penalty_for_equal_norm_factors():
    """λ_s Σ_u n_u‖p_u‖² + λ_s Σ_i n_i‖q_i‖² = λ(‖P‖² + ‖Q‖²) when every row of P and Q has the same norm."""
    rng = np.random.default_rng(1)
    n_u, n_i = rng.integers(1, 9, 50), rng.integers(1, 9, 30)
    n_i[-1] += n_u.sum() - n_i.sum()                          # both sides count the same ratings
    assert n_i[-1] > 0
    p, q = rng.normal(size=(50, 3)), rng.normal(size=(30, 3))
    p, q = p / np.linalg.norm(p, axis=1, keepdims=True), q / np.linalg.norm(q, axis=1, keepdims=True)
    reg_s = default_reg_param(4.0, 50, 30, int(n_u.sum()))
    weighted = reg_s * ((n_u * (p ** 2).sum(1)).sum() + (n_i * (q ** 2).sum(1)).sum())
    assert weighted == pytest.approx(4.0 * ((p ** 2).sum() + (q ** 2).sum()))


def test_spark_conf_takes_flat_and_nested_keys():
    assert flat_conf({"spark.executor.memory": "4g", "spark": {"sql": {"shuffle": {"partitions": 8}}},
                      "spark.ui.enabled": True}) == {
        "spark.executor.memory": "4g", "spark.sql.shuffle.partitions": "8", "spark.ui.enabled": "true"}


@pytest.mark.parametrize("override, key, says", [
    ("optimizer.master=localhost", "optimizer.master", "spark://host:7077"),
    ("optimizer.master='local[0]'", "optimizer.master", "local[N]"),
    ("optimizer.master='spark://host'", "optimizer.master", "valid forms"),
    ("optimizer.driver_memory=lots", "optimizer.driver_memory", "2g"),
    ("optimizer.blocks=0", "optimizer.blocks", "≥ 1"),
    ("optimizer.reg_param=0", "optimizer.reg_param", "> 0"),
    ("optimizer.checkpoint_interval=0", "optimizer.checkpoint_interval", "≥ 1"),
    ("optimizer.trace=yes", "optimizer.trace", "true or false"),
    ("optimizer.implicit_alpha=-1", "optimizer.implicit_alpha", "≥ 0"),
    ("+optimizer.spark_conf.executor.memory=4g", "optimizer.spark_conf.executor.memory", "start with spark."),
    ("+optimizer.spark_conf.spark.master=local", "optimizer.spark_conf.spark.master", "optimizer.master instead"),
])
def test_bad_options_are_one_line_errors_at_build(override, key, says):
    with pytest.raises(UserError) as e:
        parts(override)
    assert str(e.value).startswith(key + "=") and says in str(e.value) and "\n" not in str(e.value)


def test_missing_pyspark_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "pyspark", None)         # import pyspark → ImportError
    assert "pip install 'mlrun-classic[spark]'" in first_error()


def test_missing_java_is_one_line(monkeypatch, tmp_path):
    pytest.importorskip("pyspark")
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert "Java not found: set JAVA_HOME or put `java` on PATH" in first_error()
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "jdk"))
    assert first_error().startswith(f"JAVA_HOME={str(tmp_path / 'jdk')!r}: has no bin/java")


def test_unreachable_standalone_master_and_clusters_without_checkpoint_dir():
    needs_spark()
    with socket.socket() as s:                                # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    said = first_error(f"optimizer.master='spark://127.0.0.1:{port}'")
    assert said.startswith(f"optimizer.master='spark://127.0.0.1:{port}': cannot reach 127.0.0.1:{port}")
    said = first_error("optimizer.master=yarn", "trainer.epochs=30")
    assert said.startswith("optimizer.checkpoint_dir=None: master=yarn") and "hdfs://" in said


def test_other_models_and_implicit_without_its_settings_are_refused():
    assert "factors model=mf only, not Linear" in first_error(model=torch.nn.Linear(2, 1))
    assert "also set optimizer.biases=false model.clip=false" in first_error("optimizer.implicit_prefs=true")
    assert "model.reg=0.0: must be > 0" in first_error("model.reg=0.0")


# ---- Spark on local[2]

@pytest.mark.slow
def test_spark_factors_are_als_wr_on_the_bias_residuals():
    """Spark's P minimises the ALS-WR objective given its Q exactly (its last half-step), the biases are stage 1's,
    and numpy's ALS-WR from another start converges to the same predictions; a row without train ratings keeps
    zero factors and bias."""
    needs_spark()
    model, solver, data, trainer, loss_fn = parts("trainer.epochs=40", "dataset.density=0.6")
    keep = data.train.x[:, 0] != 3                            # user 3 keeps its index but loses its train ratings
    data.train.x, data.train.y = data.train.x[keep], data.train.y[keep]
    (record, _), = list(solver.fit_direct(model, data, trainer, loss_fn))
    users, items, ratings = train_arrays(data)
    mu, b, c = fit_biases(*(torch.tensor(a) for a in (users, items, ratings)), model.n_users, model.n_items, 1.0)
    assert float(model.mu.detach()) == pytest.approx(float(mu), abs=1e-6)
    np.testing.assert_allclose(model.user_bias.detach().numpy(), b.numpy(), atol=1e-6)
    np.testing.assert_allclose(model.item_bias.detach().numpy(), c.numpy(), atol=1e-6)
    assert model.user_bias[3] == 0 and torch.all(model.user_factors[3] == 0)
    residual = ratings - (mu + b[users] + c[items]).numpy()
    reg_s = default_reg_param(1.0, model.n_users - 1, model.n_items, len(ratings))   # users with train ratings
    assert len(np.unique(items)) == model.n_items
    assert record["reg_param"] == pytest.approx(reg_s) and record["epoch"] == 40
    p, q = (t.detach().double().numpy() for t in (model.user_factors, model.item_factors))
    np.testing.assert_allclose(solve_rows(users, items, residual, q, model.n_users, reg_s), p, atol=1e-5)
    q_ref = np.random.default_rng(5).normal(0, 0.5, q.shape)  # numpy's own ALS-WR, from another start
    for _ in range(300):
        p_ref = solve_rows(users, items, residual, q_ref, model.n_users, reg_s)
        q_ref = solve_rows(items, users, residual, p_ref, model.n_items, reg_s)
    np.testing.assert_allclose(p @ q.T, p_ref @ q_ref.T, atol=1e-3)
    test_x = data.test.x[(data.test.x >= 0).all(1)]
    ref = (mu + b[test_x[:, 0]] + c[test_x[:, 1]]).numpy() + (p_ref[test_x[:, 0]] * q_ref[test_x[:, 1]]).sum(1)
    model.eval()
    np.testing.assert_allclose(model(test_x).detach().double().numpy(), np.clip(ref, model.low, model.high), atol=1e-3)


@pytest.mark.slow
def test_trace_rows_are_the_iterates_of_one_fit():
    """Fit n+1 = one more ALS iteration from fit n: items solved from fit n's users, then users from those items
    (numpy); the last row equals the single fit of the same length; trainer.patience stops the trace."""
    needs_spark()
    model, solver, data, trainer, loss_fn = parts("trainer.epochs=3", "optimizer.trace=true")
    users, items, ratings = train_arrays(data)
    factors, rows = [], []
    for record, improved in solver.fit_direct(model, data, trainer, loss_fn):
        rows.append(record)
        factors.append((model.user_factors.detach().double().numpy().copy(),
                        model.item_factors.detach().double().numpy().copy()))
    assert [r["epoch"] for r in rows] == [1, 2, 3] and "lr" not in rows[0]
    residual = ratings - (model.mu + model.user_bias[users] + model.item_bias[items]).detach().double().numpy()
    reg_s = rows[0]["reg_param"]
    for (p, _), (p_next, q_next) in itertools.pairwise(factors):
        q_step = solve_rows(items, users, residual, p, model.n_items, reg_s)
        np.testing.assert_allclose(q_step, q_next, atol=1e-5)
        np.testing.assert_allclose(solve_rows(users, items, residual, q_next, model.n_users, reg_s), p_next, atol=1e-5)
    single, records, _ = fit("trainer.epochs=3")
    assert len(records) == 1 and records[0]["epoch"] == 3
    np.testing.assert_array_equal(single.user_factors.detach().double().numpy(), factors[-1][0])
    _, stopped, _ = fit("trainer.epochs=6", "optimizer.trace=true", "trainer.patience=1", "optimizer.reg_param=0.001",
                        "model.k=6", "dataset.noise=1.0")    # overfits: val RMSE rises from iteration 2
    assert [r["epoch"] for r in stopped] == [1, 2] and stopped[1]["val_rmse"] > stopped[0]["val_rmse"]


@pytest.mark.slow
def test_nonnegative_and_implicit_factors_meet_their_optimality_conditions():
    """nonnegative: KKT of the NNLS row problems (x ≥ 0, gradient ≥ 0, x·gradient = 0). implicit: Spark's rows solve
    (YᵀY + Σ α|r| y yᵀ + λ_s n⁺ I) x = Σ_{r>0} (1 + α|r|) y on the raw ratings; μ = b = c = 0."""
    needs_spark()
    model, _, data = fit("trainer.epochs=5", "optimizer.nonnegative=true")
    users, items, ratings = train_arrays(data)
    p, q = (t.detach().double().numpy() for t in (model.user_factors, model.item_factors))
    residual = ratings - (model.mu + model.user_bias[users] + model.item_bias[items]).detach().double().numpy()
    reg_s = default_reg_param(1.0, len(np.unique(users)), len(np.unique(items)), len(ratings))
    assert (p >= 0).all() and (q >= 0).all() and (p > 0).any()
    for u in range(model.n_users):
        mask = users == u
        y = q[items[mask]]
        grad = (y.T @ y + reg_s * mask.sum() * np.eye(2)) @ p[u] - y.T @ residual[mask]
        scale = np.abs(y.T @ residual[mask]).max() + 1
        assert (grad >= -1e-3 * scale).all() and abs(p[u] @ grad) <= 1e-3 * scale

    alpha = 0.5
    model, _, data = fit("trainer.epochs=5", "optimizer.implicit_prefs=true", "optimizer.biases=false",
                         "model.clip=false", f"optimizer.implicit_alpha={alpha}")
    assert float(model.mu.detach()) == 0 and torch.all(model.user_bias == 0) and torch.all(model.item_bias == 0)
    users, items, ratings = train_arrays(data)
    p, q = (t.detach().double().numpy() for t in (model.user_factors, model.item_factors))
    reg_s = default_reg_param(1.0, len(np.unique(users)), len(np.unique(items)), len(ratings))
    for u in range(model.n_users):
        mask = users == u
        y, conf = q[items[mask]], alpha * np.abs(ratings[mask])
        a = q.T @ q + (y.T * conf) @ y + reg_s * (ratings[mask] > 0).sum() * np.eye(2)
        rhs = y.T @ np.where(ratings[mask] > 0, 1 + conf, 0.0)
        np.testing.assert_allclose(np.linalg.solve(a, rhs), p[u], atol=1e-4)


@pytest.mark.slow
def test_train_writes_the_run_folder_and_eval_reproduces_it(tmp_path):
    """`mlrun train ... optimizer=spark_als` through the command: one metrics row (epoch = iterations), summary.json,
    nothing from Spark on stdout; `mlrun eval` and `mlrun recommend` read the checkpoint as a plain model=mf one."""
    needs_spark()
    run = tmp_path / "run"
    done = mlrun_cli("train", *SMALL, "trainer.epochs=8", f"hydra.run.dir={run}", cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    rows = list(csv.DictReader((run / "metrics.csv").open()))
    assert len(rows) == 1 and rows[0]["epoch"] == "8" and "lr" not in rows[0] and float(rows[0]["objective"]) > 0
    summary = json.loads((run / "summary.json").read_text())
    assert summary["epochs_run"] == 8 and 0 < summary["test_rmse"] < 1.0
    for noise in ("WARN", "Stage", "log4j", "[Stage"):
        assert noise not in done.stdout
    assert "Spark's log:" in done.stdout
    evaluated = mlrun_cli("eval", f"checkpoint={run}", "format=json", cwd=tmp_path)
    assert evaluated.returncode == 0, evaluated.stderr[-2000:]
    assert json.loads(evaluated.stdout)["test_rmse"] == pytest.approx(summary["test_rmse"], abs=1e-6)
    top = mlrun_cli("recommend", f"checkpoint={run}", "user=0", "k=3", "format=json", cwd=tmp_path)
    assert top.returncode == 0, top.stderr[-2000:]
    assert [r["rank"] for r in json.loads(top.stdout)] == [1, 2, 3]


@pytest.mark.slow
def test_a_java_that_cannot_run_spark_is_one_line(tmp_path):
    """A JVM that does not start (here a `java` that fails at once, as Java 8 or 11 does for Spark 4): one line
    naming the java found, its version and Spark's log; exit 2, no traceback."""
    needs_spark()
    java = tmp_path / "jdk" / "bin" / "java"
    java.parent.mkdir(parents=True)
    java.write_text("#!/bin/sh\necho 'openjdk version \"11.0.2\"' >&2\nexit 1\n")
    java.chmod(0o755)
    done = mlrun_cli("train", *SMALL, "trainer.epochs=2", f"hydra.run.dir={tmp_path / 'run'}", cwd=tmp_path,
                     env={"JAVA_HOME": str(java.parent.parent)})
    assert done.returncode == 2, done.stderr[-2000:]
    line = [s for s in (done.stdout + done.stderr).splitlines() if "spark_als" in s and "error" in s]
    assert len(line) == 1 and "Traceback" not in done.stderr
    assert f"java: {java}" in line[0] and "11.0.2" in line[0] and "Spark's log: " in line[0]
