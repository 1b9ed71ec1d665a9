"""Concurrent runs never share a run folder: the claim is an atomic mkdir."""

from __future__ import annotations

import multiprocessing
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

import mlrun.rundir
from mlrun.rundir import claim_run_dir

SAME_SECOND = datetime(2026, 1, 31, 12, 0, 0)


class _Frozen(datetime):
    @classmethod
    def now(cls, tz=None):
        return SAME_SECOND


def test_threads_claiming_in_the_same_second_get_distinct_folders(tmp_path, monkeypatch):
    monkeypatch.setattr(mlrun.rundir, "datetime", _Frozen)
    start = threading.Barrier(8)

    def claim(_):
        start.wait()
        return claim_run_dir(str(tmp_path), "job")

    with ThreadPoolExecutor(8) as pool:
        dirs = list(pool.map(claim, range(8)))
    assert len(set(dirs)) == 8
    assert sorted(p.name for p in (tmp_path / "2026-01-31").iterdir()) == sorted(
        ["12-00-00_job"] + [f"12-00-00_job-{i}" for i in range(1, 8)])


def _claim_in_process(root, barrier, out):
    mlrun.rundir.datetime = _Frozen          # forked: patched in the child only
    barrier.wait()
    out.put(claim_run_dir(root, None))


def test_processes_claiming_in_the_same_second_get_distinct_folders(tmp_path):
    ctx = multiprocessing.get_context("fork")
    barrier, out = ctx.Barrier(4), ctx.Queue()
    procs = [ctx.Process(target=_claim_in_process, args=(str(tmp_path), barrier, out)) for _ in range(4)]
    for p in procs:
        p.start()
    dirs = [out.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(timeout=60)
    assert len(set(dirs)) == 4 and all(p.exitcode == 0 for p in procs)
