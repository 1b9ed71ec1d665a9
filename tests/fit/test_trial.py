"""A search job's trial, reached through the storage: reports each epoch, pruned by the study's pruner."""

from __future__ import annotations

import pytest

optuna = pytest.importorskip("optuna", minversion="4")

from omegaconf import OmegaConf  # noqa: E402

from mlrun.errors import UserError  # noqa: E402
from mlrun.fit.trial import make_pruner, open_trial, storage_url  # noqa: E402


def sweeper(tmp_path, trial_id, **more):
    return OmegaConf.create({"study_name": "s", "storage": f"sqlite:///{tmp_path / 'o.db'}", "trial": trial_id,
                             "pruner": "median", "pruners": {"median": {"n_startup_trials": 2, "n_warmup_steps": 0}}}
                            | more)


def test_a_trial_behind_the_median_is_pruned_and_one_ahead_is_not(tmp_path):
    url = f"sqlite:///{tmp_path / 'o.db'}"
    study = optuna.create_study(study_name="s", storage=url, direction="maximize")
    for value in (0.8, 0.9):                                   # two finished trials: 0.8, 0.9 at every epoch
        t = study.ask()
        for epoch in (1, 2, 3):
            t.report(value, epoch)
        study.tell(t, value)
    good, bad = study.ask(), study.ask()
    job = open_trial(sweeper(tmp_path, good._trial_id))        # what the job does, from its own hydra.sweeper
    assert job.report(0.95, 1) is False and job.report(float("nan"), 2) is False and not job.pruned
    job = open_trial(sweeper(tmp_path, bad._trial_id))
    assert job.report(0.5, 1) is True and job.pruned              # below the median (0.85) at epoch 1
    stored = optuna.load_study(study_name="s", storage=url).trials[3]
    assert stored.intermediate_values == {1: 0.5}


def test_no_trial_without_a_pruner_a_trial_id_or_a_storage(tmp_path):
    assert open_trial(sweeper(tmp_path, None)) is None
    assert open_trial(sweeper(tmp_path, 3, pruner="none")) is None
    assert open_trial(sweeper(tmp_path, 3, storage=None)) is None
    assert open_trial(None) is None


def test_pruners_and_their_keys():
    assert isinstance(make_pruner("asha", {"min_resource": 2}), optuna.pruners.SuccessiveHalvingPruner)
    assert isinstance(make_pruner("hyperband"), optuna.pruners.HyperbandPruner)
    assert isinstance(make_pruner("none"), optuna.pruners.NopPruner)
    with pytest.raises(UserError, match="^hydra.sweeper.pruner='bogus': valid choices are none, median, asha, hyperband$"):
        make_pruner("bogus")
    with pytest.raises(UserError, match=r"^hydra.sweeper.pruners.median: .*warmup.* \(keys given: warmup=1\)$"):
        make_pruner("median", {"warmup": 1})


def test_storage_urls(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert storage_url("sqlite:///o.db") == f"sqlite:///{tmp_path / 'o.db'}"           # made absolute for the jobs
    assert storage_url(f"sqlite:///{tmp_path}/o.db") == f"sqlite:///{tmp_path / 'o.db'}"
    assert storage_url("journal:o.journal") == f"journal:{tmp_path / 'o.journal'}"
    assert storage_url(None) is None and storage_url("null") is None
    for bad, says in [("o.db", "expected sqlite:///"), ("sqlite://o.db", "three slashes"),
                      ("journal:/no/such/dir/o.journal", "the folder /no/such/dir does not exist"),
                      (f"journal:{tmp_path}", "is a folder")]:
        with pytest.raises(UserError, match=says):
            storage_url(bad)


def test_the_journal_storage_holds_a_study_for_many_processes(tmp_path):
    from mlrun.fit.trial import open_storage

    url = storage_url(f"journal:{tmp_path / 'o.journal'}")
    study = optuna.create_study(study_name="j", storage=open_storage(url))
    t = study.ask()
    study.tell(t, 1.5)
    assert optuna.load_study(study_name="j", storage=open_storage(url)).best_value == 1.5
    assert (tmp_path / "o.journal").stat().st_size > 0


def test_optuna_logs_through_the_run_logging_without_colour_codes(caplog):
    import logging

    from mlrun.fit.trial import quiet_optuna

    quiet_optuna()
    root = logging.getLogger("optuna")
    assert root.propagate and not any(type(h.formatter).__module__.startswith("colorlog") for h in root.handlers)
    with caplog.at_level(logging.INFO):
        optuna.create_study(study_name="plain")
    assert "A new study created in memory with name: plain" in caplog.text and "\x1b[" not in caplog.text
