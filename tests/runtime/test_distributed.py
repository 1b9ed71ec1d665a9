"""trainer.strategy=ddp: the same global-batch semantics as one process, one run folder, clean failure."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from mlrun.runtime.distributed import Context

RUN = ["device=cpu", "model.hidden=[16]", "trainer.epochs=3", "trainer.batch_size=100"]   # last batch: 56


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rank_grads(rank: int, world: int, port: int, batches, out) -> None:
    """One rank: a DDP step per batch from the same initial weights; rank 0 reports the weights after."""
    import torch.distributed as dist

    from mlrun.fit.loop import make_step

    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world)
    torch.manual_seed(0)
    net = torch.nn.Linear(4, 3)
    ctx = Context(rank, world)
    step = ctx.step(lambda m, loss: make_step(m, loss, torch.optim.SGD(m.parameters(), lr=0.5)), net,
                    torch.nn.functional.cross_entropy)
    total = torch.zeros(())
    for x, y in batches:
        total += step(x, y) * len(y)
    total = ctx.sum(total)
    if rank == 0:                  # plain lists: shared-memory tensors die with this process
        out.put(([p.detach().tolist() for p in net.parameters()], total.item()))
    dist.destroy_process_group()
    out.close()
    out.join_thread()              # the result is in the pipe; then skip the interpreter teardown, where gloo's
    os._exit(0)                    # threads can abort ("terminate called without an active exception")


def test_sharded_ddp_step_equals_one_process_on_the_global_batch():
    """Batches of 8, 5 (uneven shares) and 1 (fewer examples than ranks) on 2 ranks vs one process."""
    import multiprocessing as mp

    from mlrun.fit.loop import make_step

    g = torch.Generator().manual_seed(1)
    batches = [(torch.randn(n, 4, generator=g), torch.randint(0, 3, (n,), generator=g)) for n in (8, 5, 1)]
    torch.manual_seed(0)
    net = torch.nn.Linear(4, 3)
    step = make_step(net, torch.nn.functional.cross_entropy, torch.optim.SGD(net.parameters(), lr=0.5))
    total = sum(step(x, y) * len(y) for x, y in batches)
    ctx = mp.get_context("spawn")          # not fork: a forked torch can hang in gloo/OpenMP
    out, port = ctx.Queue(), _free_port()
    procs = [ctx.Process(target=_rank_grads, args=(r, 2, port, batches, out)) for r in range(2)]
    for p in procs:
        p.start()
    params, ddp_total = out.get(timeout=120)
    for p in procs:
        p.join(timeout=60)
    assert all(p.exitcode == 0 for p in procs)
    for a, b in zip(params, net.parameters()):
        torch.testing.assert_close(torch.tensor(a), b.detach(), rtol=1e-5, atol=1e-6)
    assert ddp_total == pytest.approx(total.item(), rel=1e-5)


def _torchrun(*args: str, cwd: Path, **kw) -> subprocess.Popen:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2",
                             f"--master_port={_free_port()}", "-m", "mlrun", "train", "trainer.strategy=ddp", *args],
                            cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def _test_metrics(run: Path) -> dict:
    summary = json.loads((run / "summary.json").read_text())
    return {k: v for k, v in summary.items() if k.startswith(("test_", "best_"))}


@pytest.mark.slow
def test_two_gloo_processes_match_one_process(tmp_path, cfg):
    from mlrun.fit.run import train

    proc = _torchrun(*RUN, cwd=tmp_path)
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err[-3000:]
    (run,) = (tmp_path / "outputs").glob("*/*")                   # one run folder, not one per rank
    assert sorted(p.name for p in (run / ".hydra").iterdir()) == ["config.yaml", "hydra.yaml", "overrides.yaml"]
    single = tmp_path / "single"
    single.mkdir()
    train(cfg(*RUN), single)
    ddp, one = _test_metrics(run), _test_metrics(single)
    assert ddp.keys() == one.keys() and ddp["best_epoch"] == one["best_epoch"]
    for key in ddp:
        assert ddp[key] == pytest.approx(one[key], rel=1e-4, abs=1e-5), key


@pytest.mark.slow
def test_a_dying_rank_ends_the_whole_job(tmp_path):
    proc = _torchrun("device=cpu", "trainer.epochs=500", "model.hidden=[16]", cwd=tmp_path)
    deadline = time.time() + 300
    while time.time() < deadline and not list((tmp_path / "outputs").glob("*/*/metrics.csv")):
        time.sleep(0.2)
    rank1 = [int(p) for p in subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True, text=True)
             .stdout.split() if b"RANK=1\0" in Path(f"/proc/{p}/environ").read_bytes()]
    assert rank1, "no rank 1 process found"
    os.kill(rank1[0], signal.SIGKILL)
    proc.communicate(timeout=180)                  # a hung job raises TimeoutExpired here
    assert proc.returncode != 0
