"""Exact resume: a run stopped at any checkpoint (crash, SIGKILL, SIGTERM) and resumed ends with the same
numbers as an uninterrupted run — bitwise on CPU — in the same run folder."""

from __future__ import annotations

import csv
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf

from mlrun.runtime import checkpoints
from mlrun.fit import resume
from mlrun.errors import UserError
from mlrun.config.compose import compose as compose_config
from mlrun.fit.run import train

# dropout (CPU RNG), a cosine schedule (scheduler state), shuffling (generator) and mid-epoch checkpoints
RUN = ["device=cpu", "model.hidden=[16]", "model.dropout=0.2", "trainer.lr_schedule=cosine",
       "trainer.batch_size=128", "trainer.checkpoint_every_steps=4"]
EXACT = ("epoch", "train_loss", "val_loss", "val_acc", "lr")


class Crash(Exception):
    pass


def crash_after(monkeypatch, n: int) -> None:
    """Make the process 'die' right after the n-th checkpoint file is written."""
    real, count = checkpoints.save, [0]

    def save(path, payload):
        real(path, payload)
        count[0] += 1
        if count[0] == n:
            raise Crash(path)

    monkeypatch.setattr(checkpoints, "save", save)


def outcome(run_dir: Path) -> tuple[dict, list]:
    summary = json.loads((run_dir / "summary.json").read_text())
    with open(run_dir / "metrics.csv", newline="") as f:
        rows = [{k: r[k] for k in EXACT} for r in csv.DictReader(f)]
    return {k: v for k, v in summary.items() if k.startswith(("test_", "best_"))}, rows


def resume_in_process(run_dir: Path, overrides=()) -> None:
    _, _, payload = resume.load(str(run_dir))
    cfg = resume.config(payload, run_dir, list(overrides), lambda o: compose_config(o))
    train(cfg, run_dir, resume=payload)


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    from tests.helpers import make_cfg

    run_dir = tmp_path_factory.mktemp("full")
    train(make_cfg(*RUN, "trainer.epochs=3"), run_dir)
    return outcome(run_dir)


# 10 batches per epoch; last.pt every 4 steps, best.pt then last.pt at each epoch end. Crash after write 1 = step 4
# (mid-epoch), 3 = best.pt of epoch 1 before its last.pt, 4 = last.pt of epoch 1, 7 = step 20 taken as a
# mid-epoch checkpoint at batch 10/10 (resume finishes an epoch with no batch left), 9 = last.pt of epoch 2
@pytest.mark.parametrize("n", [1, 3, pytest.param(4, marks=pytest.mark.slow), 7,
                               pytest.param(9, marks=pytest.mark.slow)])
def test_crash_at_any_checkpoint_resumes_bitwise(cfg, tmp_path, monkeypatch, uninterrupted, n):
    run_dir = tmp_path / "run"
    crash_after(monkeypatch, n)
    with pytest.raises(Crash):
        train(cfg(*RUN, "trainer.epochs=3"), run_dir)
    monkeypatch.undo()
    resume_in_process(run_dir)
    assert outcome(run_dir) == uninterrupted


def test_last_pt_carries_the_training_state_and_loads_weights_only(cfg, tmp_path):
    train(cfg(*RUN, "trainer.epochs=1"), tmp_path)
    state = torch.load(tmp_path / "checkpoints" / "last.pt", weights_only=True)
    r = state["resume"]
    assert r["position"]["epoch"] == 1 and r["position"]["step"] == 10 and r["position"]["batch"] == 0
    assert set(r["rng"]) == {"torch", "cuda", "python", "numpy"} and r["scheduler"]["last_epoch"] == 1
    assert r["best"]["record"]["epoch"] == 1 and "optimizer" in state
    assert "resume" not in torch.load(tmp_path / "checkpoints" / "best.pt", weights_only=True)


def test_resume_extends_a_finished_run_like_a_longer_one(cfg, tmp_path):
    run = ["device=cpu", "model.hidden=[16]", "trainer.batch_size=256"]        # no schedule tied to `epochs`
    (tmp_path / "long").mkdir(), (tmp_path / "short").mkdir()
    train(cfg(*run, "trainer.epochs=3"), tmp_path / "long")
    train(cfg(*run, "trainer.epochs=2"), tmp_path / "short")
    resume_in_process(tmp_path / "short", ["trainer.epochs=3"])
    assert outcome(tmp_path / "short") == outcome(tmp_path / "long")
    assert OmegaConf.load(tmp_path / "short" / "summary.json")["epochs_run"] == 3


def test_resume_refuses_a_changed_model_and_a_checkpoint_without_state(cfg, tmp_path):
    train(cfg("device=cpu", "model.hidden=[8]", "trainer.epochs=1"), tmp_path)
    _, _, payload = resume.load(str(tmp_path))
    compose = lambda o: compose_config(o)   # noqa: E731
    with pytest.raises(UserError, match="model=logistic conflicts"):
        resume.config(payload, tmp_path, ["model=logistic"], compose)
    with pytest.raises(UserError, match="model.hidden=.*conflicts"):
        resume.config(payload, tmp_path, ["model.hidden=[9]"], compose)
    assert resume.config(payload, tmp_path, ["trainer.epochs=7"], compose).trainer.epochs == 7
    with pytest.raises(UserError, match="holds no training state"):
        resume.load(str(tmp_path / "checkpoints" / "best.pt"))


def test_metrics_csv_is_cut_back_to_the_checkpoint(tmp_path):
    f = tmp_path / "metrics.csv"
    f.write_text("epoch,train_loss\n1,0.5\n2,0.4\n3,0.3\n")
    assert resume.reopen_metrics(f, 2) == ["epoch", "train_loss"]
    assert f.read_text().splitlines() == ["epoch,train_loss", "1,0.5", "2,0.4"]


# ---- through the command: SIGKILL at random instants, SIGTERM (clean stop, exit 143)

CLI_RUN = [*RUN, "trainer.epochs=3", "trainer.checkpoint_every_steps=3"]


@pytest.fixture(scope="module")
def cli_uninterrupted(tmp_path_factory):
    from tests.helpers import make_cfg

    run_dir = tmp_path_factory.mktemp("cli_full")
    train(make_cfg(*CLI_RUN), run_dir)
    return outcome(run_dir)


def start(tmp_path: Path) -> tuple[subprocess.Popen, Path]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "mlrun", "train", *CLI_RUN], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        found = list((tmp_path / "outputs").glob("*/*/checkpoints/last.pt"))
        if found:
            return proc, found[0].parent.parent
        time.sleep(0.05)
    proc.kill()
    raise AssertionError(f"no checkpoint appeared: {proc.communicate()}")


def kill_and_resume(tmp_path: Path, delay: float, cli) -> Path:
    proc, run_dir = start(tmp_path)
    time.sleep(delay)
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    r = cli("train", f"resume={run_dir}", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert len(list((tmp_path / "outputs").glob("*/*"))) == 1      # the same run folder, no new one
    return run_dir


def test_sigkill_then_resume_matches_uninterrupted(tmp_path, cli, cli_uninterrupted):
    run_dir = kill_and_resume(tmp_path, 0.3, cli)
    assert outcome(run_dir) == cli_uninterrupted
    assert (run_dir / ".hydra" / "overrides.yaml").read_text().count("checkpoint_every_steps=3") == 1


@pytest.mark.slow
@pytest.mark.parametrize("delay", [round(random.Random(i).uniform(0.0, 3.0), 2) for i in range(4)])
def test_sigkill_at_random_points_then_resume_matches(tmp_path, cli, cli_uninterrupted, delay):
    assert outcome(kill_and_resume(tmp_path, delay, cli)) == cli_uninterrupted


def test_sigterm_checkpoints_exits_143_and_says_how_to_resume(tmp_path, cli_uninterrupted):
    proc, run_dir = start(tmp_path)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=120)
    if proc.returncode == 0:
        pytest.skip("the run finished before the signal arrived")
    assert proc.returncode == 143, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "stopped by SIGTERM" in lines[0] and f"resume={run_dir}" in lines[0], err
    assert "Traceback" not in out + err
    resume_in_process(run_dir)            # (the command's resume= is covered by the SIGKILL tests)
    assert outcome(run_dir) == cli_uninterrupted
