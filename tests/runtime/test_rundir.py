"""Concurrent runs never share a run folder: the claim is an atomic mkdir."""

from __future__ import annotations

import multiprocessing
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

import mlrun.runtime.rundir
from mlrun.runtime.rundir import claim_run_dir

SAME_SECOND = datetime(2026, 1, 31, 12, 0, 0)


class _Frozen(datetime):
    @classmethod
    def now(cls, tz=None):
        return SAME_SECOND


def test_threads_claiming_in_the_same_second_get_distinct_folders(tmp_path, monkeypatch):
    monkeypatch.setattr(mlrun.runtime.rundir, "datetime", _Frozen)
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
    mlrun.runtime.rundir.datetime = _Frozen          # forked: patched in the child only
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


def test_names_are_one_path_component():
    import pytest

    from mlrun.errors import UserError
    from mlrun.runtime.rundir import check_name

    for good in ("smoke", "lr=0.1,bs=64", "exp_1.2", "José", None):
        check_name(good)
    for bad in ("../../x", "a/b", "a\\b", "..", ".", "it's", 'say "hi"', "two words", "", "x" * 101):
        with pytest.raises(UserError, match="must be one folder-name component"):
            check_name(bad)


def test_a_run_folder_has_one_owner(tmp_path):
    """The lock holder's pid is named; the lock goes with its process (kill -9 included)."""
    import os
    import signal
    import subprocess
    import sys
    import time

    import pytest

    from mlrun.errors import UserError
    from mlrun.runtime.rundir import RunLock, probe_lock

    with RunLock(tmp_path):
        with pytest.raises(UserError, match=f"is in use by pid {os.getpid()}"):
            probe_lock(tmp_path)
    probe_lock(tmp_path)                                   # released
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time; from mlrun.runtime.rundir import RunLock; "
                               f"lock = RunLock({str(tmp_path)!r}).acquire(); print('held', flush=True); time.sleep(60)"],
                              stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    with pytest.raises(UserError, match=f"pid {holder.pid}"):
        probe_lock(tmp_path)
    holder.send_signal(signal.SIGKILL)
    holder.wait(timeout=30)
    deadline = time.monotonic() + 30
    while True:                                            # the kernel drops the lock with the process
        try:
            probe_lock(tmp_path)
            break
        except UserError:
            assert time.monotonic() < deadline
            time.sleep(0.05)


def test_stale_temporaries_are_removed(tmp_path):
    from mlrun.runtime.rundir import remove_stale_temporaries

    (tmp_path / "checkpoints").mkdir()
    for name in (".last.pt.tmp123", ".best.pt.tmp9", "last.pt"):
        (tmp_path / "checkpoints" / name).write_bytes(b"x")
    (tmp_path / ".summary.json.tmp7").write_text("{")
    remove_stale_temporaries(tmp_path)
    assert [p.name for p in (tmp_path / "checkpoints").iterdir()] == ["last.pt"]
    assert not (tmp_path / ".summary.json.tmp7").exists()


def test_a_named_folder_is_used_only_when_new_or_empty(tmp_path):
    """hydra.run.dir / hydra.sweep.dir: a run, a sweep, the user's own files (or `/`) are refused, writing nothing."""
    import os

    import pytest

    from mlrun.errors import UserError
    from mlrun.runtime.rundir import check_unused

    check_unused(tmp_path / "new", "hydra.run.dir")
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / ".lock").write_text("")          # left by a claim that did not go on
    check_unused(tmp_path / "empty", "hydra.run.dir")
    cases = {"run": (["metrics.csv", ".hydra"], False, "already holds a run; continue it with `mlrun train resume="),
             "sweep": (["multirun.yaml", "0"], True, r"already holds a sweep \(multirun.yaml\); pick a new folder"),
             "run_as_sweep": (["checkpoints"], True, r"already holds a sweep \(checkpoints\)"),
             "mine": (["summary.json", "train.log"], False, r"not empty and not an mlrun run \(holds summary.json, "
                                                            r"train.log\); pick a new or empty folder")}
    for name, (entries, sweep, message) in cases.items():
        folder = tmp_path / name
        folder.mkdir()
        for entry in entries:
            (folder / entry).write_text("x")
        with pytest.raises(UserError, match=message):
            check_unused(folder, "hydra.sweep.dir" if sweep else "hydra.run.dir", sweep=sweep)
    listing = sorted(os.listdir("/"))
    with pytest.raises(UserError, match=r"hydra.run.dir='/': not empty and not an mlrun run"):
        check_unused("/", "hydra.run.dir")
    assert sorted(os.listdir("/")) == listing
    (tmp_path / "a_file").write_text("x")
    with pytest.raises(UserError, match="not a folder"):
        check_unused(tmp_path / "a_file", "hydra.run.dir")
