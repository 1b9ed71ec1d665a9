"""mlrun.config.precheck: every override composes before the run starts, or one line says which and why."""

from mlrun.paths import config_dir
from mlrun.config.precheck import check_overrides


def test_good_overrides_and_sweeps_pass():
    assert check_overrides(config_dir(), ["model=mlp", "optimizer=sgd,adam", "trainer.epochs=2"]) is None


def test_a_misspelled_experiment_is_not_skipped_in_silence():
    """`optional experiment` in the defaults list: Hydra would train the default instead."""
    line = check_overrides(config_dir(), ["experiment=smok"])
    assert line.startswith("experiment=smok: no such option; valid choices are ") and "smoke" in line
    assert check_overrides(config_dir(), ["hparams_search=optuan"]).startswith("hparams_search=optuan: no such")
    assert "experiment=smok" in check_overrides(config_dir(), ["experiment=smoke,smok"])


def test_a_user_experiment_without_the_package_header_is_one_line(tmp_path):
    (tmp_path / "experiment").mkdir()
    (tmp_path / "experiment" / "mine.yaml").write_text("trainer:\n  epochs: 1  # one\n")
    (tmp_path / "experiment" / "good.yaml").write_text("# @package _global_\ntrainer:\n  epochs: 1  # one\n")
    line = check_overrides(config_dir(), ["experiment=mine"], f"file://{tmp_path}")
    assert line.startswith("experiment=mine: ") and "must start with the line `# @package _global_`" in line
    assert check_overrides(config_dir(), ["experiment=good"], f"file://{tmp_path}") is None


def test_unknown_key_lists_the_valid_ones():
    line = check_overrides(config_dir(), ["trainer.epoch=3"])
    assert line.startswith("trainer.epoch=3: unknown key; valid keys of trainer: ") and "epochs" in line
