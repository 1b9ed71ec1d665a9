"""End to end through the command (`python -m mlrun`, the same entry as the installed `mlrun`)."""

import csv
import json
import sys
from pathlib import Path

import pytest


def run_dirs(root: Path):
    return sorted(p.parent for p in root.rglob("summary.json"))


def one_error_line(result):
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode != 0
    assert "Traceback" not in result.stderr and len(lines) == 1, result.stderr
    return lines[0]


def test_train_writes_outputs_and_eval_reproduces(cli, tmp_path):
    r = cli("train", "experiment=smoke", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    (run,) = run_dirs(tmp_path / "outputs")
    assert run.name.endswith("_smoke") and run.parent.parent == tmp_path / "outputs"
    for name in ("metrics.csv", "summary.json", "train.log", "checkpoints/best.pt", "checkpoints/last.pt",
                 ".hydra/config.yaml", ".hydra/overrides.yaml"):
        assert (run / name).is_file(), name
    with open(run / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    assert [r["epoch"] for r in rows] == ["1", "2"]
    assert set(rows[0]) == {"epoch", "train_loss", "val_loss", "val_acc", "lr", "epoch_seconds", "samples_per_second"}
    summary = json.loads((run / "summary.json").read_text())
    for key in ("test_acc", "test_loss", "best_epoch", "total_seconds", "n_params", "device", "torch_version",
                "mlrun_version"):
        assert key in summary
    assert "epoch 2/2" in r.stdout                     # one line per epoch when not a terminal
    ev = cli("eval", f"checkpoint={run}/checkpoints/best.pt", "format=json", cwd=tmp_path)
    assert ev.returncode == 0, ev.stderr
    assert json.loads(ev.stdout)["test_acc"] == summary["test_acc"]


def test_two_job_sweep_writes_two_run_dirs(cli, tmp_path):
    r = cli("train", "-m", "optimizer=sgd,adam", "trainer.epochs=1", "device=cpu", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    runs = run_dirs(tmp_path / "outputs" / "multirun")
    assert [p.name for p in runs] == ["0", "1"] and runs[0].parent == runs[1].parent


@pytest.mark.parametrize("args, needle", [
    (["optimizer.lr=0"], "optimizer.lr=0: must be a number > 0"),
    (["trainer.batch_size=0"], "trainer.batch_size=0: must be an integer ≥ 1 or 'full'"),
    (["trainer.batch_size=most"], "trainer.batch_size='most'"),
    (["dataset.split.train=0.9"], "fractions sum to 1.2 > 1"),
    (["model.hidden=[]"], "model.hidden=[]: must be a non-empty list"),
    (["model.hidden=[64,-1]"], "model.hidden=[64, -1]"),
    (["model.activation=swish"], "valid choices are sigmoid, tanh, relu, leaky_relu, elu, maxout"),
    (["loss=focal"], "loss='focal': unknown loss"),
    (["dataset=california_housing", "dataset.path=/nonexistent/housing.csv"], "file not found"),
    (["model=mlpp"], "Available options in 'model': cnn linear logistic mf mlp node pca resnet_euler"),
    (["trainer.epocs=3"], "trainer.epocs=3: unknown key (did you mean trainer.epochs=3?); valid keys of trainer:"),
    (["trainer.epochs=["], "cannot parse overrides"),
])
def test_bad_values_are_one_line_and_leave_no_run_dir(cli, tmp_path, args, needle):
    line = one_error_line(cli("train", *args, cwd=tmp_path))
    assert needle in line
    assert not (tmp_path / "outputs").exists() or not any((tmp_path / "outputs").rglob("*.yaml"))


def test_cuda_without_cuda(cli, tmp_path):
    import torch

    if torch.cuda.is_available():
        pytest.skip("machine has CUDA")
    line = one_error_line(cli("train", "device=cuda", cwd=tmp_path))
    assert "device=cuda: CUDA is not available" in line and "auto, cpu" in line
    assert not any((tmp_path / "outputs").rglob("*.yaml")) if (tmp_path / "outputs").exists() else True


def test_eval_missing_and_corrupt_checkpoint(cli, tmp_path):
    assert "file not found" in one_error_line(cli("eval", "checkpoint=nope.pt", cwd=tmp_path))
    (tmp_path / "bad.pt").write_text("garbage")
    assert "corrupt" in one_error_line(cli("eval", f"checkpoint={tmp_path}/bad.pt", cwd=tmp_path))


def test_help_lists_groups_and_options(cli, tmp_path):
    r = cli("train", "--help", cwd=tmp_path)
    assert r.returncode == 0
    for text in ("dataset: ", "digits", "model: ", "mlp", "optimizer: ", "nesterov", "device: ", "cuda"):
        assert text in r.stdout
    top = cli("--help", cwd=tmp_path)
    assert "train" in top.stdout and "eval" in top.stdout
    assert "unknown command" in one_error_line(cli("fly", cwd=tmp_path))


def test_cfg_job_prints_the_composed_config(cli, tmp_path):
    r = cli("train", "model=logistic", "--cfg", "job", cwd=tmp_path)
    assert r.returncode == 0 and "mlrun.models.Logistic" in r.stdout


def test_user_config_folder_adds_an_experiment(cli, tmp_path):
    (tmp_path / "conf" / "experiment").mkdir(parents=True)
    (tmp_path / "conf" / "experiment" / "mine.yaml").write_text(
        "# @package _global_\nname: mine  # suffix\ntrainer:\n  epochs: 1  # one\ndevice:\n  type: cpu  # here\n")
    r = cli("train", "experiment=mine", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    (run,) = run_dirs(tmp_path / "outputs")
    assert run.name.endswith("_mine")


def test_same_second_runs_get_distinct_dirs(tmp_path):
    from mlrun.runtime.rundir import claim_run_dir

    dirs = {claim_run_dir(str(tmp_path), "x") for _ in range(5)}
    assert len(dirs) == 5 and all(Path(d).is_dir() for d in dirs)


def test_entry_skips_teardown_only_after_a_single_train(monkeypatch):
    """`mlrun train` (not -m) ends in os._exit with main()'s status; other commands and sweeps exit normally."""
    from mlrun import cli

    left, outcome = [], {}
    monkeypatch.setattr(cli, "_leave", left.append)
    monkeypatch.setattr(cli, "main", lambda argv: outcome.get("raise") and (_ for _ in ()).throw(outcome["raise"]))
    for argv, error, expected in ((["train"], None, [0]), (["train", "x=1"], SystemExit(2), [2]),
                                  (["train"], SystemExit("bad"), [1]), (["train"], SystemExit(None), [0])):
        left.clear()
        outcome["raise"] = error
        monkeypatch.setattr(sys, "argv", ["mlrun", *argv])
        cli.entry()
        assert left == expected, (argv, error)
    for argv in (["train", "-m", "a=1,2"], ["eval", "checkpoint=x"]):
        left.clear()
        outcome["raise"] = SystemExit(3)
        monkeypatch.setattr(sys, "argv", ["mlrun", *argv])
        with pytest.raises(SystemExit):
            cli.entry()
        assert left == []


def _complete(line: str) -> str:
    import subprocess
    import sys

    env = {**__import__("os").environ, "COMP_LINE": line, "COMP_POINT": str(len(line))}
    return subprocess.run([sys.executable, "-m", "mlrun", "-sc", "query=bash"], env=env, capture_output=True,
                          text=True, timeout=120).stdout.split()


def test_shell_completion_script_registers_mlrun_and_completes_commands_groups_options_and_keys():
    import subprocess
    import sys

    script = subprocess.run([sys.executable, "-m", "mlrun", "train", "--shell-completion", "install=bash"],
                            capture_output=True, text=True, timeout=120).stdout
    assert script.rstrip().endswith("-F hydra_bash_completion mlrun") and "-sc query=bash" in script
    assert _complete("mlrun tr") == ["train"]
    assert set(_complete("mlrun train model=m")) == {"model=mf", "model=mlp"}
    assert _complete("mlrun train trainer.ep") == ["trainer.epochs="]
    assert _complete("mlrun eval chec") == []


def test_cfg_with_a_sweep_is_one_line(cli, tmp_path):
    r = cli("train", "-m", "seed=1,2", "--cfg", "job", cwd=tmp_path)
    assert r.returncode == 2 and r.stderr.strip() == ("mlrun train: error: --cfg prints one composed config; drop -m "
                                                      "(and give one value per key) to see it")


def test_a_sweep_folder_is_never_reused(cli, tmp_path):
    """`hydra.sweep.dir=sw` twice: the second sweep is refused in one line (exit 2) and job 0's results stay."""
    args = ("train", "-m", "model=logistic", "dataset=iris", "device=cpu", "trainer.epochs=1",
            "optimizer.lr=0.01,0.02", "hydra.sweep.dir=sw")
    assert cli(*args, cwd=tmp_path).returncode == 0
    before = (tmp_path / "sw" / "0" / "summary.json").read_bytes()
    again = cli(*args, cwd=tmp_path)
    assert again.returncode == 2
    assert one_error_line(again) == ("mlrun train: error: hydra.sweep.dir='sw': already holds a sweep (multirun.yaml, "
                                     "sweep_summary.csv); pick a new folder (its results are never overwritten)")
    assert (tmp_path / "sw" / "0" / "summary.json").read_bytes() == before


def test_a_named_run_folder_is_taken_only_when_new_or_empty(cli, tmp_path):
    (tmp_path / "empty").mkdir()
    r = cli("train", "model=logistic", "dataset=iris", "device=cpu", "trainer.epochs=1", "hydra.run.dir=empty",
            cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "empty" / "summary.json").is_file()
    again = cli("train", "model=logistic", "dataset=iris", "hydra.run.dir=empty", cwd=tmp_path)
    assert again.returncode == 2 and "already holds a run; continue it with `mlrun train resume=empty`" in (
        one_error_line(again))
