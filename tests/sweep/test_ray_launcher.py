"""hydra/launcher=ray (mlrun/sweep/ray_jobs.py, hydra_plugins/mlrun_ray_launcher): bad input in one line, and a real
two-node Ray cluster on loopback (tests/sweep/ray_cluster.py, inside a network namespace of its own)."""

from __future__ import annotations

import csv
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from hydra_plugins.mlrun_ray_launcher.ray_launcher import RayLauncher
from mlrun.errors import UserError
from mlrun.sweep import summary as sweep

ROOT = Path(__file__).resolve().parents[2]
HAS_RAY = importlib.util.find_spec("ray") is not None
needs_ray = pytest.mark.skipif(not HAS_RAY, reason="extra [ray] not installed")


def in_namespace() -> list[str] | None:
    """A command prefix that runs a command in a new network namespace with `lo` up, as this user: root's
    `unshare -n`; else a user namespace (`unshare -rn`); else passwordless sudo (a CI runner), which brings lo up
    and drops back to this user. None when none works here."""
    if shutil.which("unshare") is None or shutil.which("ip") is None:
        return None
    up = "ip link set lo up && exec \"$@\""
    candidates = [["unshare", "-n"]] if os.geteuid() == 0 else [
        ["unshare", "-rn", "sh", "-c", up, "sh"],
        ["sudo", "-n", "env", *[f"{k}={v}" for k, v in os.environ.items() if k in ("PATH", "PYTHONPATH", "HOME")],
         "unshare", "-n", "sh", "-c", up, "sh", "setpriv", f"--reuid={os.getuid()}", f"--regid={os.getgid()}",
         "--clear-groups"]]
    for prefix in candidates:
        r = subprocess.run([*prefix, "true"], capture_output=True, timeout=30, check=False)
        if r.returncode == 0:
            return prefix
    return None


def setup(**keys):
    RayLauncher(**keys).setup(hydra_context=None, task_function=None, config=None)


def test_without_ray_one_line(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)              # `import ray` raises ImportError
    with pytest.raises(UserError, match=r"^hydra/launcher=ray: Ray is not installed; install the \[ray\] extra"):
        setup(address="127.0.0.1:6379")
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None)
    assert sweep.missing_plugin(["-m", "hydra/launcher=ray"]) == ("hydra/launcher=ray: Ray is not installed; install "
                                                                  "the [ray] extra: pip install 'mlrun-classic[ray]'")


@pytest.mark.parametrize("keys, line", [({"num_gpus": -1}, "hydra.launcher.num_gpus=-1: must be a number"),
                                         ({"max_retries": 1.5}, "hydra.launcher.max_retries=1.5: must be an integer")])
def test_bad_keys_one_line(keys, line):
    with pytest.raises(UserError, match=f"^{line}"):
        setup(**keys)


@needs_ray
@pytest.mark.parametrize("address, says", [("127.0.0.1", "expected host:port"),
                                            ("127.0.0.1:{port}", "no Ray cluster answers there")])
def test_no_cluster_at_the_address_is_one_line(address, says):
    import socket

    with socket.socket() as s:                                  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(UserError, match=f"^hydra.launcher.address='{address.format(port=port)}': .*{says}"):
        setup(address=address.format(port=port))


@needs_ray
@pytest.mark.skipif(not HAS_RAY or in_namespace() is None, reason="needs a network namespace (unshare -n) and ip")
@pytest.mark.slow                       # a 2-node Ray cluster and 3 sweeps: 1–1.5 min on 2 shared cores
def test_sweeps_on_a_two_node_cluster(tmp_path):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    r = subprocess.run([*in_namespace(), sys.executable, str(ROOT / "tests" / "sweep" / "ray_cluster.py"),
                        str(tmp_path)], env=env, capture_output=True, text=True, timeout=420, check=False)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    result = json.loads((tmp_path / "result.json").read_text())

    assert result["ok"]["rc"] == 0, result["ok"]["tail"]        # every job ok, in one sweep folder
    (sweep_dir,) = [p.parent for p in (tmp_path / "ok").glob("multirun/*/*/sweep_summary.csv")]
    rows = list(csv.DictReader((sweep_dir / "sweep_summary.csv").open()))
    assert sorted(int(r["job"]) for r in rows) == [0, 1, 2, 3] and {r["status"] for r in rows} == {"ok"}
    nodes = [json.loads((sweep_dir / str(j) / "node.json").read_text()) for j in range(4)]
    assert all(Path(r["run_dir"]).parent == sweep_dir and (Path(r["run_dir"]) / "summary.json").is_file()
               for r in rows)
    assert len({n["node_id"] for n in nodes}) == 2 and {n["node_ip"] for n in nodes} == {"127.0.0.1"}

    killed = result["kill"]                                      # a worker killed mid-trial: that job fails
    assert killed["killed"] and killed["rc"] == 1, killed["tail"]
    (sweep_dir,) = [p.parent for p in (tmp_path / "kill").glob("multirun/*/*/sweep_summary.csv")]
    error = (sweep_dir / "0" / "error.txt").read_text()
    assert error.startswith("job 0: its Ray task did not finish (WorkerCrashedError") and error.count("\n") == 1
    assert {r["job"]: r["status"] for r in sweep.collect(sweep_dir)} == {"0": "failed", "1": "ok"}
    (line,) = [x for x in killed["tail"].splitlines() if x.startswith("mlrun train: error:")]   # Ray's lines aside
    assert line == f"mlrun train: error: {error.strip()}"

    dead = result["node"]                                        # the second node dies mid-trial: its job fails
    assert len(dead["killed"]) >= 2 and dead["rc"] == 1, dead["tail"]
    (sweep_dir,) = [p.parent for p in (tmp_path / "node").glob("multirun/*/*/sweep_summary.csv")]
    rows = {r["job"]: r for r in sweep.collect(sweep_dir)}
    (lost,) = [job for job, r in rows.items() if r["status"] == "failed"]
    assert {r["status"] for job, r in rows.items() if job != lost} == {"ok"} and len(rows) == 2
    assert re.fullmatch(rf"job {lost}: its Ray task did not finish \((NodeDiedError|WorkerCrashedError): [^()]+\); "
                        r"the other jobs go on", rows[lost]["error"]), rows[lost]["error"]
