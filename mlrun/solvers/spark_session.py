"""The Spark side of `optimizer=spark_als` (mlrun.solvers.spark_als): the environment (pyspark, Java, a reachable
master URL), the option checks that need no Spark (master forms, spark_conf), the session and its JVM (console
output to spark_log(), not the run's stdout), the RDD checkpoint directory, and Spark/py4j failures as one line.
Nothing here imports pyspark at module level: the config composes and builds where Spark is absent.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
import socket
import subprocess
import tempfile
import warnings
from pathlib import Path

from mlrun.errors import UserError, check

log = logging.getLogger("mlrun")

INSTALL = "install the [spark] extra: pip install 'mlrun-classic[spark]'"
MASTERS = ("local, local[N], local[*], local[N,F] (this machine) | spark://host:7077[,host2:7077] (standalone "
           "cluster) | yarn | k8s://https://host:port")
LOCAL = re.compile(r"local(\[(\*|[1-9]\d*)(,[1-9]\d*)?\])?")
STANDALONE = re.compile(r"spark://([^\s:/,]+:\d+(,[^\s:/,]+:\d+)*)")
CLUSTER = re.compile(r"yarn|k8s://\S+")
MEMORY = re.compile(r"[1-9]\d*([kmgtp]b?)?", re.IGNORECASE)
OWN_KEYS = {"spark.master": "optimizer.master", "spark.driver.memory": "optimizer.driver_memory"}


# ---- the session, its log, its checkpoint directory, its errors

@contextlib.contextmanager
def checkpoints(spark, directory: str | None, master: str):
    """Spark's RDD checkpoint directory for the fit (ALS cuts its lineage there every checkpoint_interval
    iterations): the given one, or with a local master a temporary folder removed afterwards."""
    temporary = None
    if directory is None and LOCAL.fullmatch(master):
        directory = temporary = tempfile.mkdtemp(prefix="mlrun-spark-checkpoints-")
    try:
        if directory is not None:
            with spark_errors(master, None):
                spark.sparkContext.setCheckpointDir(directory)
        yield
    finally:
        if temporary is not None:
            shutil.rmtree(temporary, ignore_errors=True)


def spark_session(master: str, driver_memory: str, conf: dict[str, str]):
    """The process's Spark session for these settings: the running one when it matches, else a new one (the JVM is
    started once per process, its output sent to spark_log(); driver_memory applies only then)."""
    from pyspark import SparkConf, SparkContext
    from pyspark.java_gateway import launch_gateway
    from pyspark.sql import SparkSession

    logging.getLogger("py4j").setLevel(logging.WARNING)     # its INFO lines would land in the run's log
    settings = {"spark.master": master, "spark.app.name": "mlrun", "spark.driver.memory": driver_memory,
                "spark.ui.showConsoleProgress": "false", "spark.ui.enabled": "false", **conf}
    active = SparkContext._active_spark_context
    if active is not None:
        current = dict(active.getConf().getAll())
        if all(current.get(k) == v for k, v in settings.items() if k != "spark.driver.memory"):
            return SparkSession(active)
        log.info("spark_als: stopping the running Spark context (master %s) to start one with these settings",
                 active.master)
        active.stop()
    spark_conf = SparkConf().setAll(list(settings.items()))
    gateway = None
    if SparkContext._gateway is None:                        # first use in this process: start the JVM, quietly
        with open(spark_log(), "ab") as out:
            gateway = launch_gateway(spark_conf, popen_kwargs={"stdout": out, "stderr": out})
    context = SparkContext(conf=spark_conf, gateway=gateway)
    context.setLogLevel("WARN")
    return SparkSession(context)


def spark_log() -> Path:
    """Where the JVM this process starts writes its console output."""
    return Path(tempfile.gettempdir()) / f"mlrun-spark-{os.getpid()}.log"


@contextlib.contextmanager
def spark_errors(master: str, java: str | None):
    """Spark and py4j failures (a JVM that does not start, a lost cluster, a failed job) as one UserError line;
    pyspark's warning about the pandas version (unused here) left out."""
    from py4j.protocol import Py4JError
    from pyspark.errors import PySparkException

    try:
        with warnings.catch_warnings():              # "PySpark does not yet fully support pandas >= 3.0.0"
            warnings.filterwarnings("ignore", "PySpark does not yet", FutureWarning)
            yield
    except (Py4JError, PySparkException) as e:
        what = f"{type(e).__name__}: {first_line(e)}"
        hint = f"; java: {java} ({java_version(java)}), Spark 4 needs Java 17+" if java and "GATEWAY" in what else ""
        raise UserError(f"optimizer=spark_als: Spark failed on master={master} ({what}){hint}; "
                        f"Spark's log: {spark_log()}") from None


def first_line(e: BaseException) -> str:
    """The Java exception's message line, without py4j's 'An error occurred while calling' preamble."""
    java = getattr(e, "java_exception", None)
    text = str(java.toString()) if java is not None else str(e)
    lines = [s.strip() for s in text.splitlines() if s.strip() and not s.startswith("An error occurred")]
    line = lines[0].lstrip(": ") if lines else type(e).__name__
    return line if len(line) <= 300 else line[:297] + "..."


# ---- the environment: pyspark, Java, the master URL

def require_pyspark() -> None:
    try:
        import pyspark  # noqa: F401
    except ImportError:
        raise UserError(f"optimizer=spark_als: pyspark is not installed; {INSTALL}") from None


def find_java() -> str:
    """The `java` Spark will run: $JAVA_HOME/bin/java when JAVA_HOME is set, else `java` on PATH."""
    home = os.environ.get("JAVA_HOME")
    if home:
        java = Path(home) / "bin" / "java"
        check(java.is_file() and os.access(java, os.X_OK), "JAVA_HOME", home,
              "has no bin/java; point it at a Java 17+ installation, or unset it to use `java` on PATH "
              "(optimizer=spark_als runs Spark, a JVM)")
        return str(java)
    java = shutil.which("java")
    if java is None:
        raise UserError("optimizer=spark_als: Java not found: set JAVA_HOME or put `java` on PATH "
                        "(Spark 4 needs Java 17 or newer, e.g. apt-get install openjdk-17-jre-headless)")
    return java


def java_version(java: str) -> str:
    try:
        out = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=20, check=False)
        return (out.stderr or out.stdout).strip().splitlines()[0]
    except (OSError, subprocess.SubprocessError, IndexError):
        return "version unknown"


def check_reachable(master: str) -> None:
    """A standalone master (spark://host:port[,host:port]) must answer on one of its ports: Spark itself would
    retry for a minute before giving up."""
    standalone = STANDALONE.fullmatch(master)
    if not standalone:
        return
    failures = []
    for address in standalone.group(1).split(","):
        host, port = address.rsplit(":", 1)
        check(1 <= int(port) <= 65535, "optimizer.master", master, f"port {port} is not in 1..65535")
        try:
            socket.create_connection((host, int(port)), timeout=3).close()
            return
        except OSError as e:
            failures.append(f"{address} ({e.strerror or type(e).__name__})")
    raise UserError(f"optimizer.master={master!r}: cannot reach {', '.join(failures)}; start the master "
                    f"(sbin/start-master.sh) or fix the URL (local[*] runs on this machine)")


def flat_conf(conf) -> dict[str, str]:
    """optimizer.spark_conf as flat Spark keys: {spark.executor.memory: 4g} and the nested form Hydra makes of
    `+optimizer.spark_conf.spark.executor.memory=4g` both give {"spark.executor.memory": "4g"}."""
    check(isinstance(conf, dict), "optimizer.spark_conf", conf, "must be a mapping of Spark settings")
    flat: dict[str, str] = {}

    def walk(prefix: str, node) -> None:
        for key, value in node.items():
            name = f"{prefix}{key}"
            if isinstance(value, dict):
                walk(name + ".", value)
                continue
            check(isinstance(value, (str, int, float, bool)), f"optimizer.spark_conf.{name}", value,
                  "must be a string, number or boolean")
            flat[name] = str(value).lower() if isinstance(value, bool) else str(value)

    walk("", conf)
    for name, value in flat.items():
        check(name.startswith("spark."), f"optimizer.spark_conf.{name}", value,
              "Spark settings start with spark. (e.g. spark.executor.memory)")
        check(name not in OWN_KEYS, f"optimizer.spark_conf.{name}", value, f"set {OWN_KEYS.get(name)} instead")
    return flat
