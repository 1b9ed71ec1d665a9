"""Bad input, tried systematically through the command: each case ends in exactly one stderr line naming the
problem, a non-zero exit, no traceback, and leaves an earlier run's files untouched (checked at the end).

The cases that fail before torch is imported (and a few others) run by default, the rest are marked slow
(`pytest -m "slow or not slow" tests/test_bad_inputs.py` runs all).
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
from pathlib import Path

import pytest
import torch

from tests.helpers import mlrun_cli

EARLIER = ["device=cpu", "trainer.epochs=1", "model.hidden=[8]", "trainer.batch_size=256"]
HOUSING_HEADER = ("longitude,latitude,housing_median_age,total_rooms,total_bedrooms,population,households,"
                  "median_income,median_house_value,ocean_proximity")
HOUSING_ROW = "-122.23,37.88,41.0,880.0,129.0,322.0,126.0,8.3252,452600.0,NEAR BAY"
slow = pytest.mark.slow


class Smuggled:
    """A class instance inside a checkpoint: loading it would run pickled code."""


# (id, command and args with {placeholders}, pattern the single stderr line must contain)
CASES = [
    # unknown names
    ("unknown-group-option", "train model=nope", r"model/nope.*cnn linear logistic mf mlp"),
    ("unknown-key", "train trainer.epoch=3", r"trainer\.epoch=3: unknown key.*epochs"),
    ("unknown-top-level-key", "train seeds=1", r"seeds=1: unknown key"),
    ("cache-not-a-bool", "train -m seed=0,1 cache=no", r"cache='no': valid choices are true, false"),
    ("empty-range-sweep", "train -m trainer.batch_size=range(1,1)", r"range\(1,1\): sweeps no value"),
    ("joblib-zero-jobs", "train -m seed=0,1 hydra/launcher=joblib hydra.launcher.n_jobs=0",
     r"hydra.launcher.n_jobs=0: must be an integer, not 0"),
    ("failure-rate-range", "train -m hparams_search=optuna hydra.sweeper.max_failure_rate=2",
     r"max_failure_rate=2: must be a number in \[0, 1\]"),
    ("sweeper-unknown-key", "train -m hparams_search=optuna hydra.sweeper.n_trial=2",
     r"hydra\.sweeper\.n_trial=2: unknown key \(did you mean hydra\.sweeper\.n_trials=2\?\); valid keys of "
     r"hydra/sweeper=mlrun_optuna: direction, .*n_trials"),
    ("launcher-unknown-key", "train -m seed=0,1 hydra.launcher.n_job=2",
     r"hydra\.launcher\.n_job=2: unknown key; hydra/launcher=mlrun_basic takes no keys"),
    ("unknown-command", "trian", r"unknown command 'trian'"),
    ("unparsable-override", "train model.hidden=[1,", r"cannot parse overrides"),
    # hardening (issue: API/CLI): Hydra's own groups, unresolvable values, unquoted unicode, folders not ours
    ("hydra-launcher-unknown", "train hydra/launcher=nonexistent",
     r"^mlrun train: error: hydra/launcher=nonexistent: no such option; valid choices are basic, joblib"),
    ("env-variable-not-set", "train output_root=${{oc.env:MLRUN_TEST_NOT_SET}}",
     r"output_root=\$\{oc\.env:MLRUN_TEST_NOT_SET\}: cannot be resolved: .*MLRUN_TEST_NOT_SET.* not found"),
    ("unquoted-unicode-value", "train dataset.path=uni_é😀/dätä😀.csv",
     r"dataset\.path=uni_é😀/dätä😀\.csv: .*quote it: 'dataset\.path=\"uni_é😀/dätä😀\.csv\"'"),
    ("run-dir-of-the-users-files", "train hydra.run.dir={tmp}/users_own",
     r"hydra\.run\.dir=.*users_own': not empty and not an mlrun run \(holds summary\.json, train\.log\)"),
    # wrong types
    pytest.param("epochs-not-int", "train trainer.epochs=abc", r"trainer\.epochs='abc': must be an integer",
                 marks=slow),
    pytest.param("lr-not-number", "train optimizer.lr=fast", r"optimizer\.lr='fast': must be a number",
                 marks=slow),
    pytest.param("shuffle-not-bool", "train trainer.shuffle=maybe", r"trainer\.shuffle='maybe': must be true or",
                 marks=slow),
    pytest.param("hidden-not-list", "train model.hidden=abc", r"model\.hidden", marks=slow),
    pytest.param("image-folder-without-path", "train dataset=image_folder", r"dataset\.path=null: required; put each "
                 r"class's images in its own subfolder", marks=slow),
    # sizes beyond this machine's memory: refused before anything is allocated
    pytest.param("model-beyond-memory", "train model.hidden=[100000,100000]",
                 r"model=mlp \(model\.hidden=\[100000, 100000\].*needs at least 160\.1 GB.*available", marks=slow),
    pytest.param("data-beyond-memory", "train dataset=blobs dataset.n_samples=100000000000",
                 r"dataset\.n_samples=100000000000, dataset\.n_features=2: needs at least 6,000\.0 GB", marks=slow),
    # out of range / not a choice
    pytest.param("epochs-zero", "train trainer.epochs=0", r"trainer\.epochs=0: must be an integer ≥ 1",
                 marks=slow),
    pytest.param("lr-negative", "train optimizer.lr=-1", r"optimizer\.lr=-1: must be a number > 0", marks=slow),
    pytest.param("dropout-above-1", "train model.dropout=1.5", r"model\.dropout=1\.5", marks=slow),
    pytest.param("split-above-1", "train dataset.split.train=1.5", r"dataset\.split\.train=1\.5", marks=slow),
    pytest.param("batch-size-zero", "train trainer.batch_size=0", r"trainer\.batch_size=0", marks=slow),
    pytest.param("checkpoint-every-negative", "train trainer.checkpoint_every_steps=-1",
                 r"trainer\.checkpoint_every_steps=-1: must be an integer ≥ 0", marks=slow),
    pytest.param("nan-policy-choice", "train trainer.nan_policy=ignore", r"nan_policy='ignore'.*stop, skip_batch",
                 marks=slow),
    pytest.param("strategy-choice", "train trainer.strategy=horovod", r"strategy='horovod'.*single, ddp",
                 marks=slow),
    pytest.param("precision-choice", "train trainer.precision=fp8", r"precision='fp8'.*fp32, bf16, fp16",
                 marks=slow),
    pytest.param("cuda-missing", "train device=cuda", r"device=cuda: CUDA is not available",
                 marks=[slow, pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is present")]),
    # conflicting choices
    pytest.param("linear-on-classification", "train model=linear dataset=digits", r"model=linear: learns regression datasets; dataset=digits is multiclass",
                 marks=slow),
    pytest.param("cnn-on-tabular", "train model=cnn dataset=diabetes", r"model=cnn: learns binary, multiclass datasets",
                 marks=slow),
    pytest.param("mf-on-digits", "train model=mf dataset=digits", r"model=mf: learns ratings datasets", marks=slow),
    ("als-burn-in-too-long", "train model=mf optimizer=als dataset=synthetic_ratings optimizer.noise=1 "
     "optimizer.burn_in=4 trainer.epochs=4", r"optimizer.burn_in=4: must be < trainer.epochs=4"),
    pytest.param("als-negative-noise", "train model=mf optimizer=als dataset=synthetic_ratings optimizer.noise=-0.5",
                 r"optimizer.noise=-0.5: must be a number ≥ 0", marks=slow),
    ("node-on-ratings", "train model=node dataset=synthetic_ratings",
     r"model=node: learns .*dataset=synthetic_ratings is ratings"),
    pytest.param("logistic-on-regression", "train model=logistic dataset=diabetes", r"model.*logistic.*regression",
                 marks=slow),
    ("resume-with-another-model", "train resume={run} model=logistic",
     r"model=logistic conflicts with the run being resumed"),
    pytest.param("resume-with-another-dataset", "train resume={run} dataset=iris", r"dataset=iris conflicts",
                 marks=slow),
    pytest.param("resume-in-a-sweep", "train -m resume={run} trainer.epochs=2,3", r"cannot be combined with -m",
                 marks=slow),
    # missing and corrupt data
    pytest.param("missing-data-file", "train dataset=california_housing dataset.path={tmp}/nowhere/housing.csv",
                 r"dataset\.path=.*nowhere/housing\.csv.*file not found", marks=slow),
    pytest.param("garbage-csv", "train dataset=california_housing dataset.path={tmp}/garbage.csv",
                 r"garbage\.csv.*(not a readable CSV|missing column)", marks=slow),
    pytest.param("truncated-csv", "train dataset=california_housing dataset.path={tmp}/truncated.csv",
                 r"truncated\.csv.*1 rows lack median_house_value", marks=slow),
    pytest.param("empty-csv", "train dataset=california_housing dataset.path={tmp}/empty.csv",
                 r"empty\.csv.*not a readable CSV", marks=slow),
    pytest.param("missing-column-csv", "train dataset=california_housing dataset.path={tmp}/no_ocean.csv",
                 r"no_ocean\.csv.*missing column\(s\) ocean_proximity", marks=slow),
    pytest.param("bad-csv-row", "train dataset=california_housing dataset.path={tmp}/bad_row.csv",
                 r"bad_row\.csv.*line 4, column total_rooms: non-numeric value 'lots'", marks=slow),
    pytest.param("idx-wrong-magic", "train dataset=mnist dataset.root={tmp}/magic dataset.train_prefix=t10k "
                 "dataset.test_prefix=null", r"t10k-images-idx3-ubyte\.gz: not an IDX file: magic number", marks=slow),
    pytest.param("idx-truncated-gzip", "train dataset=mnist dataset.root={tmp}/cut dataset.train_prefix=t10k "
                 "dataset.test_prefix=null", r"t10k-images-idx3-ubyte\.gz: corrupt or truncated gzip", marks=slow),
    # checkpoints
    ("pickled-code-checkpoint", "train resume={tmp}/smuggle/checkpoints/last.pt", r"refused: it holds pickled"),
    pytest.param("pickled-code-eval", "eval checkpoint={tmp}/smuggle/checkpoints/last.pt",
                 r"refused: it holds pickled", marks=slow),
    pytest.param("corrupt-checkpoint", "train resume={tmp}/corrupt/checkpoints/last.pt",
                 r"corrupt or not a torch checkpoint", marks=slow),
    pytest.param("checkpoint-of-another-model", "train resume={tmp}/foreign",
                 r"holds a checkpoint of another run.*Logistic", marks=slow),
    pytest.param("weights-into-another-model", "eval checkpoint={run}/checkpoints/best.pt model.hidden=[7]",
                 r"weights do not fit", marks=slow),
    pytest.param("resume-best-pt", "train resume={run}/checkpoints/best.pt", r"holds no training state",
                 marks=slow),
    # where outputs go / what resume points at
    ("output-root-in-proc", "train output_root=/proc/mlrun-outputs", r"output_root='/proc/mlrun-outputs'"),
    pytest.param("output-root-under-a-file", "train output_root={tmp}/a_file/outputs",
                 r"output_root=.*a_file/outputs.*(Not a directory|writable)", marks=slow),
    pytest.param("sweep-output-root-in-proc", "train -m output_root=/proc/mlrun-outputs seed=1,2",
                 r"output_root='/proc/mlrun-outputs/multirun': cannot create a run folder there", marks=slow),
    pytest.param("resume-not-a-run", "train resume={tmp}/empty_dir", r"not a run folder", marks=slow),
    pytest.param("resume-missing", "train resume={tmp}/no/such/run", r"no such file or folder", marks=slow),
    # hardening (issue 14): run names and folders, values past their limits, files that load with bad contents
    ("name-escapes-output-root", "train name=../../../../escaped", r"name='../../../../escaped': must be one"),
    pytest.param("name-nested", "train name=a/b", r"name='a/b': must be one folder-name component", marks=slow),
    pytest.param("output-root-null", "train output_root=null", r"output_root='None': must be a folder path",
                 marks=slow),
    pytest.param("seed-too-large", "train seed=1180591620717411303424", r"seed=1180591620717411303424: must be an "
                 r"integer in \[0, 2\*\*63 - 1\]", marks=slow),
    pytest.param("seed-not-int", "train seed=abc", r"seed='abc': must be an integer", marks=slow),
    pytest.param("lr-inf", "train optimizer.lr=inf", r"optimizer\.lr=inf: must be a finite number > 0", marks=slow),
    pytest.param("l2-inf", "train trainer.l2=inf", r"trainer\.l2=inf: must be a finite number ≥ 0", marks=slow),
    pytest.param("run-dir-of-an-existing-run", "train hydra.run.dir={run}", r"already holds a run; continue it with",
                 marks=slow),
    pytest.param("run-dir-in-proc", "train hydra.run.dir=/proc/mlrun-x", r"hydra.run.dir='/proc/mlrun-x': not a "
                 r"writable folder", marks=slow),
    pytest.param("resume-while-running", "train resume={tmp}/busy", r"is in use by pid \d+", marks=slow),
    pytest.param("tampered-overrides", "train resume={tmp}/tampered", r"holds an interpolation", marks=slow),
    pytest.param("bad-position-in-last-pt", "train resume={tmp}/negative",
                 r"not a valid training state \(position.epoch=-5 is not an integer ≥ 0\)", marks=slow),
    pytest.param("batch-beyond-the-epoch", "train resume={tmp}/far", r"position.batch=1000000000 does not fit",
                 marks=slow),
    pytest.param("metrics-not-utf8", "train resume={tmp}/binary_metrics", r"not a readable metrics file",
                 marks=slow),
    pytest.param("code-in-a-stored-config", "eval checkpoint={tmp}/evil/checkpoints/best.pt",
                 r"device.index._target_=.*refused", marks=slow),
    pytest.param("config-as-a-string", "eval checkpoint={tmp}/strcfg/checkpoints/best.pt",
                 r"its config is a str, not a mapping", marks=slow),
]


EXIT_2 = ("hydra-launcher-unknown", "env-variable-not-set", "unquoted-unicode-value", "run-dir-of-the-users-files")


def _case_id(case) -> str:
    return case.values[0] if hasattr(case, "values") else case[0]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """An earlier run, the files the cases point at, and a fingerprint of everything under outputs/."""
    tmp = tmp_path_factory.mktemp("bad_inputs")
    r = mlrun_cli("train", *EARLIER, cwd=tmp)
    assert r.returncode == 0, r.stderr
    (run,) = (tmp / "outputs").glob("*/*")
    row = HOUSING_ROW
    (tmp / "garbage.csv").write_bytes(bytes(range(256)) * 8)
    (tmp / "truncated.csv").write_text(f"{HOUSING_HEADER}\n{row}\n{row}\n-122.25,37.85,52.0,12")
    (tmp / "empty.csv").write_text("")
    (tmp / "no_ocean.csv").write_text(HOUSING_HEADER.rsplit(",", 1)[0] + "\n" + row.rsplit(",", 1)[0] + "\n")
    (tmp / "bad_row.csv").write_text(f"{HOUSING_HEADER}\n{row}\n{row}\n{row.replace('880.0', 'lots')}\n")
    _bad_idx(tmp)
    (tmp / "empty_dir").mkdir()
    (tmp / "users_own").mkdir()                         # a folder of the user's, with names a run would write
    (tmp / "users_own" / "summary.json").write_text('{"mine": 1}')
    (tmp / "users_own" / "train.log").write_text("my notes\n")
    (tmp / "a_file").write_text("not a folder\n")
    smuggle = tmp / "smuggle" / "checkpoints"
    smuggle.mkdir(parents=True)
    torch.save({"model": {}, "config": {}, "spec": {}, "resume": {}, "extra": Smuggled()}, smuggle / "last.pt")
    (tmp / "corrupt" / "checkpoints").mkdir(parents=True)
    (tmp / "corrupt" / "checkpoints" / "last.pt").write_bytes(os.urandom(4096))
    _foreign(run, tmp / "foreign")
    _tampered_copies(run, tmp)
    from mlrun.runtime.rundir import RunLock

    shutil.copytree(run, tmp / "busy")
    lock = RunLock(tmp / "busy").acquire()              # as a run still training there would hold it
    yield {"tmp": tmp, "run": run, "before": _fingerprint(tmp / "outputs")}
    lock.release()
    assert sorted(p.name for p in (tmp / "users_own").iterdir()) == ["summary.json", "train.log"]
    assert (tmp / "users_own" / "summary.json").read_text() == '{"mine": 1}'
    assert not (tmp / "evil_target").exists()           # the interpolation in overrides.yaml was never resolved


def _tampered_copies(run: Path, tmp: Path) -> None:
    """Copies of the earlier run whose files load but carry bad contents."""
    def copy(name: str, file: str, change) -> None:
        shutil.copytree(run, tmp / name)
        payload = torch.load(tmp / name / "checkpoints" / file, weights_only=True)
        change(payload)
        torch.save(payload, tmp / name / "checkpoints" / file)

    copy("negative", "last.pt", lambda p: p["resume"]["position"].update(epoch=-5))
    copy("far", "last.pt", lambda p: p["resume"]["position"].update(batch=10**9))
    copy("evil", "best.pt", lambda p: p["config"]["device"].update(
        index={"_target_": "builtins.open", "file": str(tmp / "evil_target"), "mode": "w"}))
    copy("strcfg", "best.pt", lambda p: p.update(config="device: cpu"))
    shutil.copytree(run, tmp / "binary_metrics")
    (tmp / "binary_metrics" / "metrics.csv").write_bytes(b"epoch,train_loss\n\xff\xfe\x00\x81\n")
    shutil.copytree(run, tmp / "tampered")
    with open(tmp / "tampered" / ".hydra" / "overrides.yaml", "a") as f:
        f.write(f"- name=${{mlrun_run_dir:{tmp / 'evil_target'},x}}\n")


def _bad_idx(tmp: Path) -> None:
    """MNIST-named IDX pairs whose image file has a wrong magic number (magic/) or is a cut-off gzip (cut/)."""
    import gzip

    import numpy as np

    from mlrun.datasets.idx import write_idx

    for name in ("magic", "cut"):
        (tmp / name).mkdir()
        write_idx(tmp / name / "t10k-labels-idx1-ubyte.gz", (np.arange(40) % 10).astype(np.uint8))
    (tmp / "magic" / "t10k-images-idx3-ubyte.gz").write_bytes(gzip.compress(b"\x12\x34\x08\x03" + bytes(64)))
    write_idx(tmp / "cut" / "t10k-images-idx3-ubyte.gz", np.zeros((40, 28, 28), np.uint8))
    whole = (tmp / "cut" / "t10k-images-idx3-ubyte.gz").read_bytes()
    (tmp / "cut" / "t10k-images-idx3-ubyte.gz").write_bytes(whole[: len(whole) // 2])


def _foreign(run: Path, dest: Path) -> None:
    """A copy of the earlier run whose last.pt comes from another model (logistic on the same data)."""
    from mlrun.datasets.spec import DataSpec
    from mlrun.models import Logistic

    shutil.copytree(run, dest)
    payload = torch.load(dest / "checkpoints" / "last.pt", weights_only=True)
    payload["config"]["model"] = {"_target_": "mlrun.models.Logistic"}
    payload["model"] = Logistic(DataSpec(**payload["spec"])).state_dict()
    torch.save(payload, dest / "checkpoints" / "last.pt")


def _fingerprint(root: Path) -> dict:
    return {str(p.relative_to(root)): (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("name,command,pattern", CASES, ids=[_case_id(c) for c in CASES])
def test_bad_input_is_one_line(world, name, command, pattern):
    args = [a.format(tmp=world["tmp"], run=world["run"]) for a in command.split()]
    r = mlrun_cli(*args, cwd=world["tmp"])
    assert r.returncode != 0, r.stdout[-2000:]
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert re.search(r"^mlrun (train|eval)?:? ?error: ", lines[0]) or lines[0].startswith("mlrun: error:"), lines
    assert re.search(pattern, lines[0]), lines[0]
    assert "Traceback" not in r.stdout + r.stderr
    if name in EXIT_2:
        assert r.returncode == 2


def test_earlier_output_untouched_and_no_half_made_runs(world):
    """Runs last (file order): after every case above, outputs/ holds exactly the earlier run, unchanged."""
    assert _fingerprint(world["tmp"] / "outputs") == world["before"]
    assert [p.name for p in (world["tmp"] / "outputs").glob("*/*")] == [world["run"].name]
    assert not list((world["tmp"] / "outputs").glob("multirun/*/*"))
