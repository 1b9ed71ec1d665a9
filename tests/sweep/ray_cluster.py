"""A two-node Ray cluster on loopback and mlrun sweeps on it, for tests/sweep/test_ray_launcher.py.

    unshare -n python tests/sweep/ray_cluster.py OUT_DIR

Run inside a network namespace of its own (`unshare -n`): only `lo` exists there, so Ray's nodes bind 127.0.0.1 and
no byte leaves the machine. Starts a head node and a second node (`ray start`, one CPU each), then runs in OUT_DIR:

1. `ok`:   a 4-job iris sweep on the cluster (hydra/launcher=ray);
2. `kill`: a 2-job sweep whose job 0 trains long; its Ray worker is killed (SIGKILL) once it has started;
3. `node`: a 2-job sweep (one job per node); the second node dies (its raylet and the job's worker SIGKILLed)
   while its job trains;

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


def raylets() -> set[int]:
    out = run(["ps", "-eo", "pid=,comm="], 10).stdout.split("\n")
    return {int(line.split()[0]) for line in out if line.split()[1:] == ["raylet"]}


def start_cluster() -> set[int]:
    """The second node's raylet pids (the head's are there before it starts)."""
    lo_up()
    common = ["--num-cpus=1", "--node-ip-address=127.0.0.1", "--disable-usage-stats"]
    head = run([*RAY, "start", "--head", f"--port={PORT}", "--include-dashboard=false", *common], 120)
    if head.returncode:
        raise SystemExit(f"ray start --head failed:\n{head.stdout[-2000:]}{head.stderr[-2000:]}")
    before = raylets()
    node = run([*RAY, "start", f"--address=127.0.0.1:{PORT}", *common], 120)
    if node.returncode:
        raise SystemExit(f"ray start --address failed:\n{node.stdout[-2000:]}{node.stderr[-2000:]}")
    return raylets() - before


def sweep_ok(out: Path) -> dict:
    r = run([sys.executable, "-m", "mlrun", "train", *SWEEP, "model=logistic", "trainer.epochs=1", "seed=0,1,2,3",
             f"output_root={out}/ok"], 240, cwd=out)
    return {"rc": r.returncode, "tail": (r.stdout + r.stderr)[-4000:]}


def sweep_kill(out: Path) -> dict:
    """Job 0 trains for minutes; once its node.json names its Ray worker, that worker is SIGKILLed."""
    return sweep_killing(out, "kill", ["trainer.epochs=100000,1"], lambda node, second: [node["pid"]], job="0")


def sweep_node(out: Path, second: set[int]) -> dict:
    """Two jobs of 500 epochs, one per node; the one on the second node loses its node (raylet and worker)."""
    def victims(node, raylet_pids):
        parent = int(Path(f"/proc/{node['pid']}/stat").read_text().rsplit(")", 1)[1].split()[1])
        return [*raylet_pids, node["pid"]] if parent in raylet_pids else []

    return sweep_killing(out, "node", ["trainer.epochs=500", "seed=0,1"], victims, second)


def sweep_killing(out: Path, name: str, jobs: list[str], victims, second: set[int] = frozenset(),
                  job: str = "*") -> dict:
    """Run a sweep; once a job (`job`: its number, or any) trains (metrics.csv) and has not finished (summary.json),
    kill `victims(its node.json, second)` (SIGKILL), once."""
    args = [sys.executable, "-m", "mlrun", "train", *SWEEP, "model=mlp", "trainer.patience=0", *jobs,
            f"output_root={out}/{name}"]
    log = out / f"{name}.log"                # a file, not a pipe: a full pipe would stall the sweep's prints
    with open(log, "w") as sink:
        proc = subprocess.Popen(args, cwd=out, env=ENV, stdout=sink, stderr=subprocess.STDOUT, text=True)
    killed: list[int] = []
    try:
        deadline = time.monotonic() + 200
        while not killed and time.monotonic() < deadline and proc.poll() is None:
            for record in (out / name).glob(f"multirun/*/*/{job}/node.json"):
                training = (record.parent / "metrics.csv").is_file() and not (record.parent / "summary.json").exists()
                if training and not killed:
                    killed = victims(json.loads(record.read_text()), second)
                    for pid in killed:
                        os.kill(pid, signal.SIGKILL)
            time.sleep(0.2)
        proc.wait(timeout=max(1.0, deadline - time.monotonic()))
    finally:
        proc.kill()
        proc.wait()
    return {"rc": proc.returncode, "killed": killed, "tail": log.read_text()[-4000:]}


def main() -> None:
    out = Path(sys.argv[1])
    ENV["HOME"] = str(out)                  # Ray keeps state in ~/.ray (an auth token): not the user's
    result: dict = {}
    try:
        second = start_cluster()
        result["ok"] = sweep_ok(out)
        result["kill"] = sweep_kill(out)
        result["node"] = sweep_node(out, second)
    finally:
        run([*RAY, "stop", "--force"], 60)
        (out / "result.json").write_text(json.dumps(result))


if __name__ == "__main__":
    main()
