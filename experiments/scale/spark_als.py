"""Baseline for the scale benchmark: Spark MLlib ALS on one ratings CSV (userId,movieId,rating,timestamp), local[2].

    python experiments/scale/spark_als.py /tmp/r10m.csv            # prints one JSON line

Load (read with a schema, cache, count), an 80/10/10 random split (seed 0), fit (rank 10, 5 iterations,
regParam 0.1: Spark's λ·n_u scaling), test RMSE (cold-start rows dropped). Spark's own timings are in the JSON;
the whole process (JVM start included) is timed by bench.py.
"""

from __future__ import annotations

import json
import sys
import time


def main(path: str, driver_memory: str = "6g") -> dict:
    from pyspark.ml.evaluation import RegressionEvaluator
    from pyspark.ml.recommendation import ALS
    from pyspark.sql import SparkSession

    started = time.perf_counter()
    spark = (SparkSession.builder.master("local[2]").appName("scale-bench")
             .config("spark.driver.memory", driver_memory).config("spark.ui.enabled", "false")
             .config("spark.sql.shuffle.partitions", "8").config("spark.ui.showConsoleProgress", "false")
             .getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")
    ready = time.perf_counter()
    df = spark.read.csv(path, header=True, schema="userId INT, movieId INT, rating DOUBLE, timestamp LONG")
    train, _, test = df.select("userId", "movieId", "rating").randomSplit([0.8, 0.1, 0.1], seed=0)
    train = train.cache()
    n_train = train.count()
    test = test.cache()
    n_test = test.count()
    loaded = time.perf_counter()
    als = ALS(rank=10, maxIter=5, regParam=0.1, userCol="userId", itemCol="movieId", ratingCol="rating",
              coldStartStrategy="drop", seed=0)
    model = als.fit(train)
    model.userFactors.count()                      # the fit is lazy in parts: force the factors
    fitted = time.perf_counter()
    rmse = RegressionEvaluator(metricName="rmse", labelCol="rating", predictionCol="prediction").evaluate(
        model.transform(test))
    done = time.perf_counter()
    spark.stop()
    return {"spark_start_s": ready - started, "load_s": loaded - ready, "fit_s": fitted - loaded,
            "eval_s": done - fitted, "test_rmse": rmse, "n_train": n_train, "n_test": n_test}


if __name__ == "__main__":
    print(json.dumps(main(*sys.argv[1:])), flush=True)
