"""A warm pool of worker processes for Hydra sweeps: `hydra/launcher=pool` (hydra_plugins/mlrun_pool_launcher).

    mlrun train -m hydra/launcher=pool hydra.launcher.n_jobs=2 dataset=iris trainer.epochs=5 seed=0,1,2,3

Each worker is one Python process started when the sweep starts and kept for the whole sweep: it unpickles Hydra's
state (the config loader, the sweep config, the task function, Hydra's singletons) once, imports the modules of
`preload` once (torch, mlrun), then runs job after job: compose the job's config, `hydra.core.utils.run_job`, send
the `JobReturn` back. A job is handed to the first free worker, so there is no batch barrier: with `submit()` a
sweeper can ask for a new trial whenever one finishes.

Failures: a job that raises is a failed `JobReturn` (the worker goes on); a worker that dies (killed, out of memory)
fails the job it was running — `error.txt` in the job's folder, a `RunFailed` in its `JobReturn` — and a new worker
takes its place. SIGINT/SIGTERM in the sweep's process stops the workers (SIGTERM, then SIGKILL after
`stop_grace_s`); workers sit in their own session (a terminal's Ctrl-C reaches only the sweep's process) and get
SIGTERM from the kernel if the sweep's process dies (Linux: PR_SET_PDEATHSIG). Messages travel over a socket pair
per worker (multiprocessing.connection framing); Hydra's state is pickled with cloudpickle where it is installed.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import os
import pickle
import signal
import subprocess
import sys
import threading
from collections import deque
from concurrent.futures import Future
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

from mlrun.errors import RunFailed, Stopped, UserError
from mlrun.sweep.job_config import JobConfigs

log = logging.getLogger(__name__)

WORKER = "from mlrun.sweep.pool import worker_main; worker_main()"
WAKE_S = 1.0                 # the dispatcher's longest sleep without a message (s)


def dumps(obj: Any) -> bytes:
    """pickle, or cloudpickle for what pickle refuses (mlrun's task function is a closure; a script's task lives in
    its __main__); one line when neither can."""
    try:
        return pickle.dumps(obj)
    except (pickle.PicklingError, TypeError, AttributeError) as e:
        first = e
    for module in ("cloudpickle", "joblib.externals.cloudpickle", "ray.cloudpickle"):
        try:
            return importlib.import_module(module).dumps(obj)
        except ImportError:
            continue
        except Exception as e:  # noqa: BLE001 - what cloudpickle cannot send either
            first = e
            break
    raise UserError(f"hydra/launcher=pool: the sweep's task cannot be sent to the workers "
                    f"({type(first).__name__}: {first}); install cloudpickle: pip install cloudpickle")


@dataclass
class Worker:
    proc: subprocess.Popen
    conn: Connection
    job: "Job | None" = None     # the job it runs; None: free
    ready: bool = False          # sent its first message: Hydra's state unpickled, preload imported


@dataclass
class Job:
    idx: int
    overrides: list[str]
    future: Future = field(default_factory=Future)
    job_dir: str | None = None   # the job's output folder, once its worker composed its config


class Pool:
    """`size` workers, each sent `init` (pickled Hydra state) on start; `submit` → a Future of the job's JobReturn."""

    def __init__(self, size: int, init: bytes, stop_grace_s: float = 10.0):
        self.size, self.init, self.grace = size, init, stop_grace_s
        self.workers: list[Worker] = []
        self.pending: deque[Job] = deque()
        self.lock = threading.Lock()
        self.wake_r, self.wake_w = os.pipe()
        self.closing = False
        self.early_deaths = 0      # workers that died before their first message
        self.broken: str | None = None   # why the dispatcher stopped early (a worker could not start, ...)
        # the dispatcher starts every worker: PR_SET_PDEATHSIG follows the thread that started a child
        self.thread = threading.Thread(target=self._dispatch, name="mlrun-pool", daemon=True)
        self.thread.start()

    def submit(self, overrides: list[str], job_idx: int) -> Future:
        job = Job(job_idx, list(overrides))
        with self.lock:
            if self.closing:
                raise RuntimeError("the worker pool is closed")
            self.pending.append(job)
        os.write(self.wake_w, b"x")
        return job.future

    def close(self) -> None:
        """Stop the workers (SIGTERM, SIGKILL after `stop_grace_s`); jobs not finished fail. Idempotent."""
        with self.lock:
            if self.closing:
                return
            self.closing = True
        os.write(self.wake_w, b"x")
        self.thread.join()

    # ---- the dispatcher thread --------------------------------------------------------------------------------

    def _dispatch(self) -> None:
        try:
            while not self.closing:
                self._refill()
                self._hand_out()
                ready = wait([w.conn for w in self.workers] + [self.wake_r], timeout=WAKE_S)
                for item in ready:
                    if item == self.wake_r:
                        os.read(self.wake_r, 4096)
                    else:
                        self._receive(next(w for w in self.workers if w.conn is item))
        except Exception as e:  # noqa: BLE001 - whatever broke the dispatcher fails the jobs instead of hanging them
            self.broken = str(e)
            log.error("the worker pool stopped: %s", e)
        finally:
            self._stop_all()

    def _refill(self) -> None:
        """Start the missing workers, then send each Hydra's state: a state larger than the socket's buffer waits
        for its worker to read it, and the workers start side by side meanwhile."""
        fresh = [start_worker() for _ in range(self.size - len(self.workers))] if not self.closing else []
        self.workers.extend(fresh)
        for w in fresh:
            try:
                w.conn.send_bytes(self.init)
            except OSError:                  # died at once: its socket reads EOF next, and _died says so
                pass

    def _hand_out(self) -> None:
        for w in self.workers:
            if w.job is None and w.ready:
                with self.lock:
                    job = self.pending.popleft() if self.pending else None
                if job is None:
                    return
                if not job.future.set_running_or_notify_cancel():
                    continue
                w.job = job
                try:
                    w.conn.send((job.idx, job.overrides))
                except OSError:              # the worker is gone: its socket reads EOF next, _died fails the job
                    pass

    def _receive(self, w: Worker) -> None:
        try:
            blob = w.conn.recv_bytes()
        except (EOFError, OSError):
            self._died(w)
            return
        try:
            kind, *body = pickle.loads(blob)
        except Exception as e:  # noqa: BLE001 - a result this process cannot rebuild fails that job, not the pool
            if w.job is not None:
                job, w.job = w.job, None
                job.future.set_result(failed(job, f"job {job.idx}: its result could not be read here "
                                                 f"({type(e).__name__}: {e})"))
            return
        if kind == "ready":
            w.ready = True
        elif kind == "broken":
            raise RuntimeError(f"a pool worker could not start: {body[0]}")
        elif kind == "start" and w.job is not None:
            w.job.job_dir = body[0]
        elif kind == "done" and w.job is not None:
            job, w.job = w.job, None
            job.future.set_result(body[0])

    def _died(self, w: Worker) -> None:
        """A worker's socket closed: reap it, fail its job, let `_refill` start another."""
        self.workers.remove(w)
        w.conn.close()
        code = reap(w.proc, 5.0)
        if w.job is not None:
            w.job.future.set_result(died_return(w.job, w.proc.pid, code))
        elif not w.ready:
            self.early_deaths += 1
            if self.early_deaths >= 3 * self.size:           # every new worker dies: stop instead of looping
                raise RuntimeError(f"{self.early_deaths} pool workers died before they were ready (last exit "
                                   f"status {code}); see the lines above")

    def _stop_all(self) -> None:
        for w in self.workers:
            if w.proc.poll() is None:
                w.proc.terminate()
        for w in self.workers:
            code = reap(w.proc, self.grace)
            if w.job is not None and not w.job.future.done():
                w.job.future.set_result(died_return(w.job, w.proc.pid, code, stopped=True))
            w.conn.close()
        self.workers.clear()
        with self.lock:
            self.closing = True
            left, self.pending = list(self.pending), deque()
        for job in left:
            if job.future.set_running_or_notify_cancel():
                job.future.set_result(died_return(job, None, None, stopped=True, why=self.broken))
        os.close(self.wake_r)
        os.close(self.wake_w)


@contextlib.contextmanager
def sigterm_stops():
    """SIGTERM raises mlrun.errors.Stopped in the main thread while the sweep waits for its jobs (the command then
    exits 143); SIGINT raises KeyboardInterrupt as always. Elsewhere than the main thread: nothing changes."""
    if threading.current_thread() is not threading.main_thread() or \
            signal.getsignal(signal.SIGTERM) is signal.SIG_IGN:
        yield
        return

    def stop(signum, frame):
        raise Stopped(signum, "stopped by SIGTERM; the sweep's workers were stopped")

    saved = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, saved)


def start_worker() -> Worker:
    """A new worker process in its own session, connected by a socket pair."""
    import socket

    mine, theirs = socket.socketpair()
    proc = subprocess.Popen([sys.executable, "-c", WORKER, str(theirs.fileno()), str(os.getpid())],
                            pass_fds=[theirs.fileno()], start_new_session=True, stdin=subprocess.DEVNULL)
    theirs.close()
    conn = Connection(os.dup(mine.fileno()))
    mine.close()
    return Worker(proc, conn)


def reap(proc: subprocess.Popen, grace: float) -> int:
    """Wait `grace` seconds for `proc`, then SIGKILL it; its exit status (negative: the signal)."""
    try:
        return proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait()


def failed(job: Job, line: str):
    """A failed JobReturn for `job`, its error the one-line RunFailed(line)."""
    from hydra.core.utils import JobReturn, JobStatus

    ret = JobReturn(overrides=job.overrides, working_dir=job.job_dir, status=JobStatus.FAILED)
    ret.return_value = RunFailed(line)
    return ret


def died_return(job: Job, pid: int | None, code: int | None, stopped: bool = False, why: str | None = None):
    """The failed JobReturn of a job whose worker died or was stopped; `error.txt` in its folder (when it had one),
    so that the sweep's summary lists it as failed and a rerun of failed jobs picks it up."""
    if why:
        line = f"job {job.idx} did not run: {why}"
    elif stopped:
        line = f"job {job.idx} was stopped with the sweep before it finished"
    else:
        how = f"exit status {code}"
        if code is not None and code < 0:
            how = f"signal {signal.Signals(-code).name}" if -code in signal.valid_signals() else f"signal {-code}"
        line = (f"job {job.idx}: its pool worker (pid {pid}) died ({how}: killed, or out of memory?) while running "
                f"it; the other jobs go on")
    if job.job_dir and Path(job.job_dir).is_dir() and not stopped:
        (Path(job.job_dir) / "error.txt").write_text(line + "\n")
        log.error("%s", line)
    return failed(job, line)


# ---- the worker process ---------------------------------------------------------------------------------------

def worker_main() -> None:
    """The worker: argv = [fd of its socket, pid of the sweep's process]."""
    fd, parent = int(sys.argv[1]), int(sys.argv[2])
    signal.signal(signal.SIGINT, signal.SIG_IGN)          # the sweep's process handles Ctrl-C and stops us
    _die_with_parent()
    if os.getppid() != parent:                              # the parent died before the line above
        return
    conn = Connection(fd)
    try:
        state = pickle.loads(conn.recv_bytes())
        _setup(state)
    except EOFError:
        return
    except Exception as e:  # noqa: BLE001 - said once by the pool, which then stops: every worker would fail alike
        conn.send_bytes(pickle.dumps(("broken", f"{type(e).__name__}: {' '.join(str(e).split())}")))
        return
    conn.send_bytes(pickle.dumps(("ready", os.getpid())))
    while True:
        try:
            idx, overrides = conn.recv()
        except EOFError:                                    # the pool closed our socket
            return
        ret, stopped = run_one(state, idx, overrides, lambda d: conn.send_bytes(pickle.dumps(("start", d))))
        conn.send_bytes(_sendable(ret))
        if stopped:                                         # SIGTERM during the job: the pool is stopping
            return


def _die_with_parent() -> None:
    """SIGTERM to this process when the thread that started it ends (Linux; elsewhere the socket's EOF does it
    between jobs)."""
    if sys.platform.startswith("linux"):
        import ctypes

        try:
            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)   # 1 = PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass


def _setup(state: dict) -> None:
    from hydra.core.singleton import Singleton
    from hydra.core.utils import setup_globals

    setup_globals()
    Singleton.set_state(state["singletons"])
    state["configs"] = JobConfigs(state["context"].config_loader, state["config"])
    for module in state["preload"]:
        importlib.import_module(module)


def run_one(state: dict, idx: int, overrides: list[str], started):
    """One job, as Hydra's launchers run it: the job's config composed from the sweep's, then `run_job`;
    (its JobReturn, whether a stop ended it)."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.core.utils import JobReturn, JobStatus, run_job
    from omegaconf import OmegaConf, open_dict

    try:
        config = state["configs"](list(overrides))       # = load_sweep_config, composed once per base
        with open_dict(config):
            config.hydra.job.id = f"{config.hydra.job.name}_{idx}"
            config.hydra.job.num = idx
        HydraConfig.instance().set_config(config)
        started(str(Path(str(OmegaConf.select(config, "hydra.sweep.dir")))
                    / str(OmegaConf.select(config, "hydra.sweep.subdir"))))
        return run_job(hydra_context=state["context"], config=config, task_function=state["task"],
                       job_dir_key="hydra.sweep.dir", job_subdir_key="hydra.sweep.subdir"), False
    except Exception as e:  # noqa: BLE001 - a job that cannot even be composed fails alone; the worker goes on
        ret = JobReturn(overrides=list(overrides), status=JobStatus.FAILED)
        ret.return_value = e
        return ret, False
    except BaseException as e:                              # a stop (SIGTERM during the job): say so, then go
        ret = JobReturn(overrides=list(overrides), status=JobStatus.FAILED)
        ret.return_value = RuntimeError(f"job {idx} stopped: {e}")
        return ret, True


def _sendable(ret) -> bytes:
    """("done", ret) pickled (cloudpickle where pickle refuses: Hydra's plugin scan re-executes plugin modules, so a
    config's structured-config class may no longer be its module's attribute); a return value or exception that
    cannot travel at all goes as its text, without the job's configs."""
    try:
        return dumps(("done", ret))
    except Exception:  # noqa: BLE001 - anything a user's task returned
        value = ret._return_value
        ret._return_value = (RuntimeError(f"{type(value).__name__}: {value}") if isinstance(value, BaseException)
                             else repr(value))
        ret.cfg = ret.hydra_cfg = None
        return pickle.dumps(("done", ret))
