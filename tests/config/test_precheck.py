"""mlrun.config.precheck: every override composes before the run starts, or one line says which and why."""

from mlrun.paths import config_dir
from mlrun.config.precheck import check_overrides


def test_good_overrides_and_sweeps_pass():
    assert check_overrides(config_dir(), ["model=mlp", "optimizer=sgd,adam", "trainer.epochs=2"]) is None


def test_a_misspelled_experiment_is_not_skipped_in_silence():
    """`optional experiment` in the defaults list: Hydra would train the default instead."""
    line = check_overrides(config_dir(), ["experiment=smok"])
    assert line.startswith("experiment=smok: no such option (did you mean experiment=smoke?); valid choices are ")
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
    assert line.startswith("trainer.epoch=3: unknown key (did you mean trainer.epochs=3?); valid keys of trainer: ")


def test_typos_of_groups_options_and_keys_get_did_you_mean():
    assert check_overrides(config_dir(), ["model=mpl"]).endswith(
        "Available options in 'model': cnn linear logistic mf mlp node pca resnet_euler (did you mean model=mlp?)")
    assert check_overrides(config_dir(), ["optimzer=sgd"]).startswith(
        "optimzer=sgd: unknown key (did you mean optimizer=sgd?); valid keys of the config: ")
    assert "(did you mean hydra/launcher=joblib?)" in check_overrides(config_dir(), ["hydra/launcher=jobib"])
    assert "did you mean" not in check_overrides(config_dir(), ["model=zzz"])         # nothing close: no guess


def test_hydra_groups_unresolvable_values_and_unquoted_unicode_are_one_line(monkeypatch):
    monkeypatch.delenv("MLRUN_TEST_NOT_SET", raising=False)
    assert check_overrides(config_dir(), ["hydra/launcher=nonexistent"]) == (
        "hydra/launcher=nonexistent: no such option; valid choices are basic, joblib, mlrun_basic, pool, ray, submitit_local, "
        "submitit_slurm")
    assert check_overrides(config_dir(), ["hydra/launcher=basic", "seed=1,2"]) is None
    line = check_overrides(config_dir(), ["output_root=${oc.env:MLRUN_TEST_NOT_SET}"])
    assert line.startswith("output_root=${oc.env:MLRUN_TEST_NOT_SET}: cannot be resolved: ")
    assert "MLRUN_TEST_NOT_SET" in line.partition("resolved")[2] and "${oc.env:NAME,default}" in line
    assert check_overrides(config_dir(), ["output_root=${oc.env:MLRUN_TEST_NOT_SET,outputs}"]) is None
    line = check_overrides(config_dir(), ["dataset.path=uni_é😀/dätä😀.csv"])
    assert line.endswith("""quote it: 'dataset.path="uni_é😀/dätä😀.csv"' (single quotes around the whole """
                         "override in the shell)")
    quoted = 'dataset.path="uni_é😀/dätä😀.csv"'
    assert check_overrides(config_dir(), ["dataset=california_housing", quoted]) is None


BILLION_LAUGHS = "# @package _global_\na: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 9)}]\n" for i in range(8))


def test_yaml_files_that_expand_beyond_the_bound_are_refused_before_loading(tmp_path):
    """9 levels of 9 aliases: 9**9 ≈ 3.9e8 values from 300 bytes; refused by counting, without building them."""
    from mlrun.config.precheck import MAX_YAML_NODES, check_yaml_files

    (tmp_path / "experiment").mkdir()
    (tmp_path / "experiment" / "x.yaml").write_text(BILLION_LAUGHS)
    line = check_overrides(config_dir(), ["experiment=x"], f"file://{tmp_path}")
    assert line == (f"{tmp_path / 'experiment' / 'x.yaml'}: expands to more than {MAX_YAML_NODES:,} values through "
                    f"its aliases (*name repeats the node anchored &name); refused before loading it")
    (tmp_path / "experiment" / "x.yaml").write_text("# @package _global_\nseed: 1\n" + "#" * (1 << 20))
    assert "bytes; a config file may hold at most 1,048,576 bytes" in check_yaml_files(tmp_path)
    (tmp_path / "experiment" / "x.yaml").write_text("# @package _global_\nbase: &b {epochs: 1}\ntrainer: *b\n")
    assert check_yaml_files(tmp_path) is None and check_yaml_files(config_dir()) is None
