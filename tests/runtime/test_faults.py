"""NaN/Inf handling (trainer.nan_policy) and the step-boundary stop."""

from __future__ import annotations

import csv
import math
import signal

import pytest
import torch

import mlrun.fit.build
from mlrun.runtime import checkpoints
from mlrun.runtime.faults import Boundary, Diverged, Stopped
from mlrun.fit.loop import make_step
from mlrun.fit.run import train

RUN = ["device=cpu", "model.hidden=[16]", "trainer.batch_size=128", "trainer.epochs=3"]   # 10 steps per epoch


def poison(monkeypatch, at_step: int, how: str) -> None:
    """From optimiser step `at_step` on: 'params' sets the weights to NaN after the step; 'batch' feeds a NaN
    input row at that step only."""
    real = mlrun.fit.build.make_step

    def make(*args, **kwargs):
        inner, count = real(*args, **kwargs), [0]
        params = list(args[0].parameters())

        def step(xb, yb):
            count[0] += 1
            if how == "batch" and count[0] == at_step:
                xb = xb.clone()
                xb[0] = math.nan
            loss = inner(xb, yb)
            if how == "params" and count[0] == at_step:
                with torch.no_grad():
                    params[0].fill_(math.nan)
            return loss

        step.skipped = inner.skipped
        return step

    monkeypatch.setattr(mlrun.fit.build, "make_step", make)


def test_nan_stop_names_the_epoch_and_keeps_the_last_good_checkpoint(cfg, tmp_path, monkeypatch):
    poison(monkeypatch, 13, "params")
    with pytest.raises(Diverged, match=r"non-finite loss .* in epoch 2, optimiser steps 11-20.*last good checkpoint is "
                                       r".*last\.pt.*optimizer\.lr.*nan_policy=skip_batch"):
        train(cfg(*RUN), tmp_path)
    last = checkpoints.load(tmp_path / "checkpoints" / "last.pt")
    assert last["epoch"] == 1 and all(torch.isfinite(v).all() for v in last["model"].values())
    assert checkpoints.load(tmp_path / "checkpoints" / "best.pt")["epoch"] == 1


def test_nan_stop_at_a_mid_epoch_checkpoint_narrows_the_step(cfg, tmp_path, monkeypatch):
    poison(monkeypatch, 13, "params")
    with pytest.raises(Diverged, match=r"epoch 2, optimiser steps 13-16 "):
        train(cfg(*RUN, "trainer.checkpoint_every_steps=4"), tmp_path)
    last = checkpoints.load(tmp_path / "checkpoints" / "last.pt")
    assert last["resume"]["position"]["step"] == 12 and all(torch.isfinite(v).all() for v in last["model"].values())


def test_skip_batch_drops_the_bad_batch_and_trains_on(cfg, tmp_path, monkeypatch):
    poison(monkeypatch, 13, "batch")
    train(cfg(*RUN, "trainer.nan_policy=skip_batch"), tmp_path)
    with open(tmp_path / "metrics.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["skipped_batches"] for r in rows] == ["0", "1", "0"]
    assert all(math.isfinite(float(r["train_loss"])) for r in rows)
    best = checkpoints.load(tmp_path / "checkpoints" / "best.pt")["model"]
    assert all(torch.isfinite(v).all() for v in best.values())


def test_skip_nonfinite_step_leaves_sgd_weights_unchanged():
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 1)
    step = make_step(model, torch.nn.functional.mse_loss, torch.optim.SGD(model.parameters(), lr=0.1),
                     skip_nonfinite=True)
    before = [p.detach().clone() for p in model.parameters()]
    x, y = torch.randn(4, 3), torch.randn(4, 1)
    x[1, 2] = math.inf
    assert step(x, y).item() == 0.0 and step.skipped.item() == 1
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))
    x[1, 2] = 0.0
    assert step(x, y).item() > 0 and step.skipped.item() == 1
    assert not torch.equal(before[0], model.weight)


def test_boundary_checkpoints_every_n_steps_and_stops_after_the_signal():
    saved = []
    b = Boundary(every=3, save=lambda batches, total: saved.append(batches))
    b.restart(4)                                   # resumed at step 4: the next periodic checkpoint is step 6
    assert b.next == 6
    b.steps = 6
    b.reached(2, torch.zeros(()))
    assert saved == [2] and b.next == 9
    b.handler(signal.SIGTERM, None)
    assert b.stop
    b.where = "epoch 1 step 3/10"
    with pytest.raises(Stopped, match="stopped by SIGTERM at epoch 1 step 3/10") as e:
        b.reached(3, torch.zeros(()))
    assert e.value.code == 143 and saved == [2, 3]
    with pytest.raises(Stopped, match="second SIGINT"):
        b.handler(signal.SIGINT, None)


def test_diverged_run_exits_3_in_one_line_and_keeps_its_folder(tmp_path, cli):
    r = cli("train", "device=cpu", "model=linear", "dataset=diabetes", "optimizer=sgd", "optimizer.lr=1e12",
            "trainer.epochs=2", cwd=tmp_path)
    assert r.returncode == 3, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "non-finite" in lines[0] and "epoch 1" in lines[0], r.stderr
    (run,) = (tmp_path / "outputs").glob("*/*")
    assert (run / "error.txt").read_text().strip() in lines[0] and (run / "metrics.csv").is_file()


@pytest.mark.slow
@pytest.mark.parametrize("sig, delay", [(signal.SIGTERM, 0.05), (signal.SIGINT, 0.5), (signal.SIGTERM, 0.9),
                                        (signal.SIGTERM, 1.3), (signal.SIGINT, 1.6), (signal.SIGTERM, 2.2)])
def test_a_signal_at_any_instant_of_start_up_is_one_line_and_leaves_nothing(tmp_path, sig, delay):
    """Measured before: SIGTERM at ~1 s → exit -15 and a folder left; SIGINT at 0.5 s → a traceback; at ~1.3 s →
    exit 2 blaming the dataset. Now: 128 + signal with one line, or (signal after training ended) exit 0."""
    import subprocess
    import sys
    import time

    proc = subprocess.Popen([sys.executable, "-m", "mlrun", "train", "device=cpu", "trainer.epochs=1",
                             "model.hidden=[8]"], cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True)
    time.sleep(delay)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=120)
    assert "Traceback" not in err and "cannot build" not in err, err
    if proc.returncode == 0:                          # it had finished: a complete run
        (run,) = (tmp_path / "outputs").glob("*/*")
        assert (run / "summary.json").is_file()
        return
    if proc.returncode == -sig:                       # before Python ran mlrun's first line (a busy machine at
        assert err == "" and not (tmp_path / "outputs").exists()   # 0.05 s): the default action, nothing written
        return
    assert proc.returncode == 128 + sig, err
    assert len(err.strip().splitlines()) == 1 and "stopped by SIG" in err, err
    runs = list((tmp_path / "outputs").glob("*/*")) if (tmp_path / "outputs").exists() else []
    assert all((r / "checkpoints" / "last.pt").is_file() for r in runs), runs     # only resumable ones stay


def test_a_run_folder_deleted_mid_run_is_not_recreated(cfg, tmp_path, monkeypatch):
    """Before: the folder came back without .hydra/ or train.log and metrics.csv lost its header, exit 0. Now the
    next write fails (the command turns the OSError into one line, exit 1) and nothing is re-created."""
    import shutil

    from mlrun.runtime import outputs

    real = outputs.MetricsCSV.append

    def append(self, record):
        if record["epoch"] == 2:
            shutil.rmtree(tmp_path / "run")
        return real(self, record)

    monkeypatch.setattr(outputs.MetricsCSV, "append", append)
    with pytest.raises(OSError):
        train(cfg(*RUN), tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_a_signal_inside_an_import_is_raised_once_the_import_is_done(tmp_path):
    """SIGTERM while `import torch` ran its C++ init aborted the process (exit -6): a Stopped raised inside an
    import now waits until the import is over (the signal is sent again), then stops the command as usual."""
    import subprocess
    import sys

    (tmp_path / "slow_module.py").write_text(
        "import os, signal, time\nos.kill(os.getpid(), signal.SIGTERM)\ntime.sleep(0.3)\nprint('import done')\n")
    script = ("import sys, time; sys.path.insert(0, sys.argv[1])\n"
              "from mlrun.cli import _install_early_handlers\n"
              "from mlrun.errors import Stopped\n"
              "_install_early_handlers()\n"
              "try:\n    import slow_module\n    time.sleep(5)\n    print('not stopped')\n"
              "except Stopped as e:\n    print('stopped:', e, e.code)\n")
    out = subprocess.run([sys.executable, "-c", script, str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == ["import done", "stopped: stopped by SIGTERM before training started 143"]


def _cleanup_fails_as_the_stop_unwinds(*args, **kwargs):
    """Hydra's config reader, hit by SIGTERM inside `open()`: its `finally: f.close()` runs before `f` exists, and
    the UnboundLocalError replaces the Stopped (the CI run that found it: exit 2, "cannot access local variable")."""
    try:
        raise Stopped(signal.SIGTERM, "stopped by SIGTERM before training started")
    finally:
        f.close()  # noqa: F821 - unbound on purpose


@pytest.mark.parametrize("stage", ["check_overrides", "run_hydra"])
def test_a_stop_masked_by_a_failing_cleanup_is_still_the_stop(tmp_path, monkeypatch, capsys, stage):
    """Before the composition (precheck) and once the run folder is claimed (Hydra's run): exit 143, the stop's one
    line, no folder left; `Stopped.received` is what fail() and mlrun.api read."""
    import mlrun.api
    import mlrun.cli

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(Stopped, "received", None)
    monkeypatch.setattr(mlrun.api, stage, _cleanup_fails_as_the_stop_unwinds)
    with pytest.raises(SystemExit) as exit_:
        mlrun.cli.main(["train", "device=cpu", "trainer.epochs=1"])
    err = capsys.readouterr().err
    assert exit_.value.code == 143 and err.count("\n") == 1, err
    assert "stopped by SIGTERM before training started; nothing was saved" in err and "local variable" not in err
    assert not list(tmp_path.glob("outputs/*/*")), "the claimed run folder is removed"


def test_a_stop_of_an_earlier_run_does_not_rename_a_later_error(tmp_path, monkeypatch):
    """In a notebook, a run stopped earlier must not turn the next run's own error into 'stopped by ...'."""
    import mlrun.api
    from mlrun.errors import UserError

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(Stopped, "received", Stopped(signal.SIGINT, "stopped by SIGINT at epoch 2"))
    with pytest.raises(UserError, match="model/nope"):
        mlrun.api.run(["device=cpu", "model=nope"])
