"""Sweep jobs as Ray tasks, on one machine or a cluster: `hydra/launcher=ray` (hydra_plugins/mlrun_ray_launcher).

    ray start --head --port=6379                      # on the head node; `ray start --address=HEAD:6379` on the others
    mlrun train -m hydra/launcher=ray hydra.launcher.address=HEAD:6379 dataset=iris seed=0,1,2,3

The sweep's process composes each job's config (mlrun.sweep.job_config: once per base, not per job) and submits
one Ray task per job with the job's resources (`num_cpus`, `num_gpus`: 1 = one GPU per trial, `resources`). Hydra's
state (config loader, callbacks, the task function, Hydra's singletons) goes into Ray's object store once per
sweep; a node fetches it once. On the node the task runs Hydra's `run_job` in the job's folder and writes
`node.json` there first (Ray node id, node IP, host, pid): where each job ran. Every node must see the sweep folder
(`output_root` on a shared filesystem) and have the same Python environment (docs/sweeps.md).

Failures: a job that raises is a failed JobReturn, as with any launcher; a task whose worker or node died
(`max_retries` = 0: not re-run by Ray) is a failed JobReturn too, with `error.txt` in the job's folder, so the
sweep goes on and a rerun of failed jobs picks it up. No cluster at the address: one line before anything runs.
"""

from __future__ import annotations

import json
import logging
import os
import socket
from concurrent.futures import Future
from pathlib import Path

from omegaconf import OmegaConf, open_dict

from mlrun.errors import RunFailed, UserError
from mlrun.sweep.job_config import JobConfigs
from mlrun.sweep.pool import dumps

log = logging.getLogger(__name__)

CONNECT_S = 10.0             # seconds to wait for the head node's port before saying it is not there
_STATES: dict[str, dict] = {}   # on a node: the sweep's unpickled Hydra state, by sweep token (once per worker)


def connect(address: str | None, ray):
    """ray.init for the sweep: None → a Ray started on this machine; 'auto' → the cluster this machine joined
    (`ray start`, RAY_ADDRESS); 'host:port' → that cluster's head, checked first so a wrong address is one line."""
    if ray.is_initialized():
        return
    if address not in (None, "auto", "local"):
        host, sep, port = str(address).rpartition(":")
        if not sep or not port.isdigit():
            raise UserError(f"hydra.launcher.address={address!r}: expected host:port of a Ray head node "
                            f"(e.g. 10.0.0.5:6379), auto, or null to start Ray on this machine")
        try:
            socket.create_connection((host, int(port)), timeout=CONNECT_S).close()
        except OSError as e:
            raise UserError(f"hydra.launcher.address={address!r}: no Ray cluster answers there "
                            f"({e.strerror or type(e).__name__}); start one with `ray start --head --port={port}` "
                            f"or give the head node's address") from None
    try:
        ray.init(address=None if address == "local" else address, log_to_driver=True, include_dashboard=False,
                 configure_logging=False)
    except ConnectionError as e:
        raise UserError(f"hydra.launcher.address={address!r}: cannot join the Ray cluster: "
                        f"{' '.join(str(e).split())[:300]}") from None


class RayJobs:
    """One sweep's jobs on Ray: `submit(overrides, idx)` → a Future of the job's JobReturn."""

    def __init__(self, ray, hydra_context, config, task_function, options: dict):
        from hydra.core.singleton import Singleton

        self.ray, self.config = ray, config
        self.configs = JobConfigs(hydra_context.config_loader, config)
        self.token = os.urandom(8).hex()
        state = {"context": hydra_context, "task": task_function, "singletons": Singleton.get_state()}
        self.state_ref = ray.put(dumps(state))
        self.remote = ray.remote(run_remote).options(**options)

    def submit(self, overrides: list[str], idx: int) -> Future:
        done: Future = Future()
        try:
            cfg = self.configs(list(overrides))          # a bad override fails this job alone
            with open_dict(cfg):
                cfg.hydra.job.id = f"{cfg.hydra.job.name}_{idx}"
                cfg.hydra.job.num = idx
            job_dir = str(Path(str(OmegaConf.select(cfg, "hydra.sweep.dir")))
                          / str(OmegaConf.select(cfg, "hydra.sweep.subdir")))
        except Exception as e:  # noqa: BLE001 - Hydra's composition errors: the job's JobReturn carries them
            done.set_result(failed_return(list(overrides), None, e))
            return done
        ref = self.remote.remote(self.token, self.state_ref, dumps(cfg), idx)
        ref.future().add_done_callback(lambda f: done.set_result(self._settle(f, list(overrides), idx, job_dir)))
        return done

    def _settle(self, f: Future, overrides: list[str], idx: int, job_dir: str):
        """The task's JobReturn, or (its worker or node died, Ray gave up) a failed one with error.txt."""
        try:
            ret, node = f.result()
        except Exception as e:  # noqa: BLE001 - NodeDiedError, WorkerCrashedError, ObjectLostError, ...
            first = " ".join(str(e).split()).split(". ")[0].rstrip(".")[:200]    # Ray's first sentence
            line = f"job {idx}: its Ray task did not finish ({type(e).__name__}: {first}); the other jobs go on"
            if Path(job_dir).is_dir():
                (Path(job_dir) / "error.txt").write_text(line + "\n")
            log.error("%s", line)
            return failed_return(overrides, job_dir, RunFailed(line))
        log.info("job %d ran on node %s (%s)", idx, node["node_ip"], node["node_id"][:12])
        return ret

    def cancel_all(self) -> None:
        self.ray.shutdown()


def failed_return(overrides: list[str], job_dir: str | None, error: Exception):
    from hydra.core.utils import JobReturn, JobStatus

    ret = JobReturn(overrides=overrides, working_dir=job_dir, status=JobStatus.FAILED)
    ret.return_value = error
    return ret


def run_remote(token: str, state_blob: bytes, cfg_blob: bytes, idx: int):
    """On a node: one job; (its JobReturn, where it ran). The state arrives once per worker process."""
    import pickle

    import ray
    from hydra.core.hydra_config import HydraConfig
    from hydra.core.singleton import Singleton
    from hydra.core.utils import run_job, setup_globals

    if token not in _STATES:
        _STATES.clear()
        _STATES[token] = pickle.loads(state_blob)
    state = _STATES[token]
    setup_globals()
    Singleton.set_state(state["singletons"])
    cfg = pickle.loads(cfg_blob)
    HydraConfig.instance().set_config(cfg)
    job_dir = Path(str(OmegaConf.select(cfg, "hydra.sweep.dir"))) / str(OmegaConf.select(cfg, "hydra.sweep.subdir"))
    ctx = ray.get_runtime_context()
    node = {"job": idx, "node_id": ctx.get_node_id(), "node_ip": ray.util.get_node_ip_address(),
            "host": socket.gethostname(), "pid": os.getpid()}
    job_dir.mkdir(parents=True, exist_ok=True)
    (job_dir / "node.json").write_text(json.dumps(node) + "\n")
    ret = run_job(hydra_context=state["context"], config=cfg, task_function=state["task"],
                  job_dir_key="hydra.sweep.dir", job_subdir_key="hydra.sweep.subdir")
    try:
        dumps(ret)
    except Exception:  # noqa: BLE001 - a return value or exception that does not pickle travels as its text
        value = ret._return_value
        ret._return_value = RuntimeError(f"{type(value).__name__}: {value}")
        ret.cfg = ret.hydra_cfg = None
    return ret, node
