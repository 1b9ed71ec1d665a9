"""A two-node Ray cluster on loopback and mlrun sweeps on it, for tests/sweep/test_ray_launcher.py.

    unshare -n python tests/sweep/ray_cluster.py OUT_DIR

Run inside a network namespace of its own (`unshare -n`): only `lo` exists there, so Ray's nodes bind 127.0.0.1 and
no byte leaves the machine. Starts a head node and a second node (`ray start`, one CPU each), then runs in OUT_DIR:

1. `ok`:   a 4-job iris sweep on the cluster (hydra/launcher=ray);
2. `kill`: a 2-job sweep whose job 0 trains long; its Ray worker is killed (SIGKILL) once it has started;

and writes OUT_DIR/result.json (each sweep's exit status and output tail). `ray stop --force` always ends it.
Every step has a timeout.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PORT = 6379                    # the namespace is ours: no other Ray there
RAY = [sys.executable, "-c", "import sys; from ray.scripts.scripts import main; sys.argv[0] = 'ray'; main()"]
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
       "RAY_USAGE_STATS_ENABLED": "0", "PYTHONUNBUFFERED": "1", "RAY_DEDUP_LOGS": "0"}
SWEEP = ["-m", "hydra/launcher=ray", f"hydra.launcher.address=127.0.0.1:{PORT}", "dataset=iris", "device=cpu"]


def run(args: list[str], timeout: float, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=cwd, env=ENV, capture_output=True, text=True, timeout=timeout, check=False)


def lo_up() -> None:
    """Bring loopback up (as root in the namespace), unless whoever made the namespace did; refuse to go on where
    other interfaces are visible (not a namespace of our own). Asks netlink (`ip`): /sys shows the host's."""
    links = run(["ip", "-o", "link", "show"], 10).stdout.splitlines()
    names = [line.split(":")[1].strip().split("@")[0] for line in links if line.strip()]
    if names != ["lo"]:
        raise SystemExit(f"not in a network namespace of our own: interfaces {names} are visible")
    if ",UP" not in links[0] and "<UP" not in links[0]:
        subprocess.run(["ip", "link", "set", "lo", "up"], check=True, timeout=10)


def start_cluster() -> None:
    lo_up()
    common = ["--num-cpus=1", "--node-ip-address=127.0.0.1", "--disable-usage-stats"]
    head = run([*RAY, "start", "--head", f"--port={PORT}", "--include-dashboard=false", *common], 120)
    if head.returncode:
        raise SystemExit(f"ray start --head failed:\n{head.stdout[-2000:]}{head.stderr[-2000:]}")
    node = run([*RAY, "start", f"--address=127.0.0.1:{PORT}", *common], 120)
    if node.returncode:
        raise SystemExit(f"ray start --address failed:\n{node.stdout[-2000:]}{node.stderr[-2000:]}")


def sweep_ok(out: Path) -> dict:
    r = run([sys.executable, "-m", "mlrun", "train", *SWEEP, "model=logistic", "trainer.epochs=1", "seed=0,1,2,3",
             f"output_root={out}/ok"], 240, cwd=out)
    return {"rc": r.returncode, "tail": (r.stdout + r.stderr)[-4000:]}


def sweep_kill(out: Path) -> dict:
    """Job 0 trains for minutes; once its node.json names its Ray worker, that worker is SIGKILLed."""
    args = [sys.executable, "-m", "mlrun", "train", *SWEEP, "model=mlp", "trainer.patience=0",
            "trainer.epochs=100000,1", f"output_root={out}/kill"]
    proc = subprocess.Popen(args, cwd=out, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    killed = None
    try:
        deadline = time.monotonic() + 180
        while killed is None and time.monotonic() < deadline and proc.poll() is None:
            for record in (out / "kill").glob("multirun/*/*/0/node.json"):
                if (record.parent / "metrics.csv").is_file():        # training has started
                    killed = json.loads(record.read_text())["pid"]
                    os.kill(killed, signal.SIGKILL)
            time.sleep(0.2)
        output, _ = proc.communicate(timeout=max(1.0, deadline - time.monotonic()))
    finally:
        proc.kill()
    return {"rc": proc.returncode, "killed": killed, "tail": (output or "")[-4000:]}


def main() -> None:
    out = Path(sys.argv[1])
    result: dict = {}
    try:
        start_cluster()
        result["ok"] = sweep_ok(out)
        result["kill"] = sweep_kill(out)
    finally:
        run([*RAY, "stop", "--force"], 60)
        (out / "result.json").write_text(json.dumps(result))


if __name__ == "__main__":
    main()
