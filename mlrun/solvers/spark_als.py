"""`optimizer=spark_als`: model=mf factored by Apache Spark's ALS (pyspark.ml.recommendation.ALS), here or on a cluster.

    pip install 'mlrun-classic[spark]'                  # pyspark; Spark also needs Java 17+ (JAVA_HOME or PATH)
    mlrun train model=mf optimizer=spark_als dataset=movielens_100k model.k=10
    mlrun train model=mf optimizer=spark_als dataset=movielens_100k optimizer.master=spark://host:7077 \\
        optimizer.checkpoint_dir=hdfs://namenode/tmp/mlrun

The objective differs from optimizer=als (docs/spark.md): Spark's ALS has no bias terms and its penalty is
ALS-WR, λ_s scaled by each row's rating count. So the fit has two stages, both deterministic:
  1. biases (optimizer.biases=true): (μ, b, c) = argmin Σ_Ω (r − μ − b_u − c_i)² + λ (‖b‖² + ‖c‖²), λ = model.reg
     (μ unpenalised), by exact block minimisations (μ, every b_u, every c_i in closed form) until they stop moving;
     biases=false: μ = the mean rating, b = c = 0.
  2. Spark: (P, Q) = argmin Σ_Ω (e − p_u·q_i)² + λ_s (Σ_u n_u ‖p_u‖² + Σ_i n_i ‖q_i‖²) on the residuals
     e = r − μ − b_u − c_i (n_u, n_i: train ratings of the row), rank model.k; λ_s = optimizer.reg_param, or
     by default model.reg·(users + items)/(2·ratings), counting users and items with train ratings: the total
     penalty of λ(‖P‖² + ‖Q‖²) when every row's factor has the same norm.
The factors (float32, as Spark keeps them) go into the MF with `set_params`, so the checkpoint is a plain model=mf
one: `mlrun eval`, `mlrun recommend` read it unchanged.

Epochs: Spark's ALS cannot start from given factors, so an epoch cannot continue the one before. One epoch is one
ALS iteration (a sweep over users and items, as with optimizer=als): by default one Spark fit runs trainer.epochs
iterations and metrics.csv gets one row (epoch = trainer.epochs). optimizer.trace=true refits with 1, 2, …,
trainer.epochs iterations (same seed → same start, so fit n is the first n iterations of the full one): a row per
epoch and trainer.patience applies, for epochs·(epochs + 1)/2 iterations in all.

Cold start: Spark returns factors only for ids with train ratings; every other train index keeps zero factors and
biases, and index −1 (unseen in train) is handled by MF.forward (μ + b_u or μ + c_i or μ). Spark's own
coldStartStrategy only concerns its `transform`, which is not used: predictions come from the MF.

Spark's JVM writes its console output (log4j at WARN, no progress bars) to a log file named in the run's log, not
to the run's stdout; Spark errors end in one line that names that file.
"""

from __future__ import annotations

import contextlib
import logging
import math
import time

import torch

from mlrun.errors import UserError, check, number
from mlrun.metrics.records import Monitor, epoch_record
from mlrun.metrics.scoring import evaluate
from mlrun.models.mf import MF
from mlrun.solvers.base import Solver
from mlrun.solvers.spark_session import (CLUSTER, LOCAL, MASTERS, MEMORY, STANDALONE, check_reachable, checkpoints,
                                         find_java, flat_conf, require_pyspark, spark_errors, spark_log,
                                         spark_session)

log = logging.getLogger("mlrun")

BIAS_TOL, BIAS_STEPS = 1e-12, 1000        # stage 1: stop at ‖residual‖ ≤ tol·‖Xᵀr‖, or after this many CG steps


class SparkALS(Solver):
    """`optimizer=spark_als`. Options are checked when it is built; pyspark, Java and a standalone master's port
    when the fit starts, before any Spark work (so the config composes and builds where Spark is absent)."""
    name = "spark_als"

    def __init__(self, params, master: str = "local[*]", trace: bool = False, biases: bool = True,
                 reg_param: float | None = None, implicit_prefs: bool = False, implicit_alpha: float = 1.0,
                 nonnegative: bool = False, blocks: int | None = None, checkpoint_interval: int = 10,
                 checkpoint_dir: str | None = None, driver_memory: str = "2g", spark_conf: dict | None = None,
                 seed: int = 0):
        super().__init__(params, {"lr": math.nan})        # NaN: schedulers leave it alone; no lr in the records
        check(isinstance(master, str) and any(p.fullmatch(master) for p in (LOCAL, STANDALONE, CLUSTER)),
              "optimizer.master", master, f"valid forms are {MASTERS}")
        self.master = master
        for key, value in (("trace", trace), ("biases", biases), ("implicit_prefs", implicit_prefs),
                           ("nonnegative", nonnegative)):
            check(isinstance(value, bool), f"optimizer.{key}", value, "must be true or false")
        if reg_param is not None:
            number("optimizer.reg_param", reg_param, 0, low_open=True)
        number("optimizer.implicit_alpha", implicit_alpha, 0)   # not `alpha`: the run checks that key as RMSprop's
        if blocks is not None:
            number("optimizer.blocks", blocks, 1, integer=True)
        number("optimizer.checkpoint_interval", checkpoint_interval, 1, integer=True)
        check(checkpoint_dir is None or (isinstance(checkpoint_dir, str) and checkpoint_dir.strip() != ""),
              "optimizer.checkpoint_dir", checkpoint_dir, "must be null or a directory path/URL")
        check(isinstance(driver_memory, str) and MEMORY.fullmatch(driver_memory) is not None,
              "optimizer.driver_memory", driver_memory, "must be a size such as 512m, 2g or 4gb")
        number("optimizer.seed", seed, integer=True)
        self.spark_conf = flat_conf(spark_conf or {})
        self.trace, self.biases, self.implicit, self.nonnegative = trace, biases, implicit_prefs, nonnegative
        self.reg_param, self.alpha, self.blocks, self.seed = reg_param, float(implicit_alpha), blocks, seed
        self.checkpoint_interval, self.driver_memory = checkpoint_interval, driver_memory
        self.checkpoint_dir = checkpoint_dir or self.spark_conf.get("spark.checkpoint.dir")

    def _preflight(self, model: MF, trainer) -> tuple[str, int]:
        """(the java Spark will run, epochs): every check that needs no Spark work, so a mistake costs no JVM."""
        check(isinstance(model, MF), "optimizer", "spark_als", f"factors model=mf only, not "
              f"{type(model).__name__}; use a gradient optimizer such as optimizer=adam")
        check(model.reg > 0, "model.reg", model.reg, "must be > 0 with optimizer=spark_als (it sets the bias "
              "penalty and Spark's regParam)")
        check(model.k >= 1, "model.k", model.k, "must be ≥ 1 with optimizer=spark_als; biases only: optimizer=als")
        if self.implicit and (self.biases or model.clip):
            raise UserError("optimizer.implicit_prefs=true: Spark then fits 0/1 preferences weighted by 1 + "
                            "implicit_alpha·|rating|, not ratings: also set optimizer.biases=false model.clip=false")
        require_pyspark()
        java = find_java()
        check_reachable(self.master)
        epochs = 1 if trainer.fast_dev_run else trainer.epochs
        if self.checkpoint_dir is None and not LOCAL.fullmatch(self.master) and epochs > self.checkpoint_interval:
            raise UserError(f"optimizer.checkpoint_dir=None: master={self.master} with trainer.epochs={epochs} > "
                            f"optimizer.checkpoint_interval={self.checkpoint_interval} needs a checkpoint directory "
                            f"every executor reaches (e.g. hdfs://namenode/tmp/mlrun): without one Spark ALS's "
                            f"lineage overflows the stack after ~30 iterations")
        return java, epochs

    def _baseline(self, model: MF, users, items, ratings):
        """(μ, b, c) of stage 1: fitted biases, the mean alone (biases=false), or zeros (implicit preferences)."""
        if self.implicit:                                          # preferences, not ratings: no baseline
            mu, b, c = ratings.new_zeros(()), ratings.new_zeros(model.n_users), ratings.new_zeros(model.n_items)
        elif self.biases:
            mu, b, c = fit_biases(users, items, ratings, model.n_users, model.n_items, model.reg)
        else:
            mu, b, c = ratings.mean(), ratings.new_zeros(model.n_users), ratings.new_zeros(model.n_items)
        return mu, b, c

    def fit_direct(self, model: MF, data, trainer, loss_fn):
        """Yield (record, improved) per recorded epoch (mlrun.metrics.records); the record adds `objective` (mlrun's J of
        the biased model on the train ratings), `spark_seconds` (the Spark fit and the factor download) and
        `reg_param` (λ_s)."""
        java, epochs = self._preflight(model, trainer)
        users, items = data.train.x[:, 0].cpu(), data.train.x[:, 1].cpu()
        ratings = data.train.y.cpu().double()
        started = time.perf_counter()
        mu, b, c = self._baseline(model, users, items, ratings)
        targets = ratings if self.implicit else ratings - mu - b[users] - c[items]      # what Spark factors
        reg_param = self.reg_param if self.reg_param is not None else default_reg_param(
            model.reg, len(users.unique()), len(items.unique()), len(ratings))
        device = model.mu.device
        with spark_errors(self.master, java):
            spark = spark_session(self.master, self.driver_memory, self.spark_conf)
            frame = ratings_frame(spark, users, items, targets)
        blocks = self.blocks or spark.sparkContext.defaultParallelism
        log.info("spark_als: Spark %s on %s, rank %d, regParam %.4g, %d blocks, %d ratings; Spark's log: %s",
                 spark.version, self.master, model.k, reg_param, blocks, len(ratings), spark_log())
        monitor, metric, task = Monitor(data.spec.metric, trainer.patience), data.spec.metric, data.spec.task
        try:
            with checkpoints(spark, self.checkpoint_dir, self.master):
                for iterations in (range(1, epochs + 1) if self.trace else [epochs]):
                    fit_start = time.perf_counter()
                    with spark_errors(self.master, java):
                        p, q = spark_factors(frame, model.n_users, model.n_items, rank=model.k, iterations=iterations,
                                             reg_param=reg_param, implicit=self.implicit, alpha=self.alpha,
                                             nonnegative=self.nonnegative, blocks=blocks,
                                             checkpoint_interval=self.checkpoint_interval, seed=self.seed)
                    spark_seconds = time.perf_counter() - fit_start
                    model.set_params(*(t.to(device, torch.float32) for t in (mu, b, c, p, q)))
                    j = model.objective(users.to(device), items.to(device), ratings.to(device))
                    scores = evaluate(model, data.val, loss_fn, task, trainer.eval_batch_size)
                    train_loss = evaluate(model, data.train, loss_fn, task, trainer.eval_batch_size)["loss"]
                    improved = monitor.update(scores[metric], has_val=len(data.val) > 0)
                    yield epoch_record(iterations, train_loss, scores, metric, time.perf_counter() - started,
                                       len(ratings) * iterations / max(spark_seconds, 1e-9), objective=j,
                                       spark_seconds=spark_seconds, reg_param=reg_param), improved
                    started = time.perf_counter()
                    if monitor.done:
                        break
        finally:
            with contextlib.suppress(Exception):            # Spark may already be gone after a failure
                frame.unpersist()


# ---- stage 1: the biases

def fit_biases(users: torch.Tensor, items: torch.Tensor, ratings: torch.Tensor, n_users: int, n_items: int,
               reg: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(μ, b, c) minimising Σ (r − μ − b_u − c_i)² + reg (‖b‖² + ‖c‖²), in float64: the normal equations
    (XᵀX + reg·D) θ = Xᵀr for θ = [μ, b, c] (X: one 1 for μ, one for the user, one for the item per rating;
    D = diag(0, 1, …, 1)) solved by conjugate gradients with the diagonal as preconditioner, matrix-free (each
    product is two gathers and two bincounts over the ratings). A row without ratings gets bias 0."""
    n = len(ratings)

    def split(theta):
        return theta[0], theta[1:1 + n_users], theta[1 + n_users:]

    def normal(theta):                                       # (XᵀX + reg·D) θ
        mu, b, c = split(theta)
        e = mu + b[users] + c[items]                         # (N,) X θ
        return torch.cat([e.sum().reshape(1), torch.bincount(users, e, minlength=n_users) + reg * b,
                          torch.bincount(items, e, minlength=n_items) + reg * c])

    rhs = torch.cat([ratings.sum().reshape(1), torch.bincount(users, ratings, minlength=n_users),
                     torch.bincount(items, ratings, minlength=n_items)])
    diag = torch.cat([ratings.new_full((1,), float(max(n, 1))),
                      torch.bincount(users, minlength=n_users).double() + reg,
                      torch.bincount(items, minlength=n_items).double() + reg])
    theta = torch.cat([ratings.mean().reshape(1), ratings.new_zeros(n_users + n_items)])
    residual = rhs - normal(theta)
    z = residual / diag
    direction, rz = z.clone(), residual @ z
    tol = BIAS_TOL * float(rhs.norm())
    for _ in range(BIAS_STEPS):
        if float(residual.norm()) <= tol:
            break
        a = normal(direction)
        step = rz / (direction @ a)
        theta, residual = theta + step * direction, residual - step * a
        z = residual / diag
        rz, rz_old = residual @ z, rz
        direction = z + (rz / rz_old) * direction
    return split(theta)


def default_reg_param(reg: float, n_users: int, n_items: int, n_ratings: int) -> float:
    """λ_s with λ_s Σ_u n_u‖p_u‖² + λ_s Σ_i n_i‖q_i‖² = λ(‖P‖² + ‖Q‖²) when every factor has the same norm:
    λ_s·2N = λ(users + items)."""
    return reg * (n_users + n_items) / (2 * max(n_ratings, 1))


# ---- stage 2: Spark

def spark_factors(frame, n_users: int, n_items: int, *, rank: int, iterations: int, reg_param: float,
                  implicit: bool, alpha: float, nonnegative: bool, blocks: int, checkpoint_interval: int,
                  seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """P (n_users, rank), Q (n_items, rank) float32 from one pyspark ALS fit on `frame` (user, item, rating);
    rows Spark has no factors for (no train rating) are zero."""
    from pyspark.ml.recommendation import ALS

    als = ALS(rank=rank, maxIter=iterations, regParam=reg_param, implicitPrefs=implicit, alpha=alpha,
              nonnegative=nonnegative, numUserBlocks=blocks, numItemBlocks=blocks,
              checkpointInterval=checkpoint_interval, seed=seed, userCol="user", itemCol="item", ratingCol="rating")
    fitted = als.fit(frame)
    return (dense(fitted.userFactors.collect(), n_users, rank), dense(fitted.itemFactors.collect(), n_items, rank))


def dense(rows, n: int, rank: int) -> torch.Tensor:
    """Spark's factor rows [Row(id, features)] → (n, rank) float32, zero where an id has no row."""
    out = torch.zeros(n, rank)
    if rows:
        ids = torch.tensor([r.id for r in rows])
        out[ids] = torch.tensor([list(r.features) for r in rows], dtype=torch.float32)
    return out


def ratings_frame(spark, users: torch.Tensor, items: torch.Tensor, targets: torch.Tensor):
    """The train ratings as a cached Spark DataFrame (user int, item int, rating double), shipped from here."""
    rows = list(zip(users.tolist(), items.tolist(), targets.tolist()))
    frame = spark.createDataFrame(rows, "user int, item int, rating double").cache()
    frame.count()                                       # materialise once: every refit reads the cache
    return frame
