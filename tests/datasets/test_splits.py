import numpy as np
import pytest

from mlrun.datasets.splits import EMPTY, check_fractions, impute_median, scale, split_indices
from mlrun.errors import UserError


def test_split_is_a_seeded_partition_and_stratified():
    y = np.repeat(np.arange(4), [100, 50, 30, 20])
    tr, va, te = split_indices(y, (0.6, 0.2, 0.2), seed=3, stratify=True)
    both = np.concatenate([tr, va, te])
    assert len(both) == len(np.unique(both)) == 200                      # disjoint, everything used
    for part, frac in ((tr, 0.6), (va, 0.2), (te, 0.2)):                 # each class in proportion
        counts = np.bincount(y[part], minlength=4)
        assert np.allclose(counts, frac * np.array([100, 50, 30, 20]), atol=1)
    again = split_indices(y, (0.6, 0.2, 0.2), seed=3, stratify=True)
    assert all(np.array_equal(a, b) for a, b in zip((tr, va, te), again))
    other = split_indices(y, (0.6, 0.2, 0.2), seed=4, stratify=True)
    assert not np.array_equal(tr, other[0])


def test_fractions_below_one_leave_rows_out():
    tr, va, te = split_indices(np.zeros(1000), (0.5, 0.1, 0.1), seed=0, stratify=False)
    assert (len(tr), len(va), len(te)) == (500, 100, 100)


@pytest.mark.parametrize("split, match", [
    ({"train": 0.9, "val": 0.1, "test": 0.1}, "sum to 1.1 > 1"),
    ({"train": 0.0, "val": 0.5, "test": 0.5}, "must be > 0"),
    ({"train": 1.5, "val": 0.0, "test": 0.0}, r"fraction in \[0, 1\]"),
    ({"train": 0.5, "val": 0.5}, "needs numbers train, val, test"),
])
def test_bad_fractions(split, match):
    with pytest.raises(UserError, match=match):
        check_fractions(split)


def test_scaling_uses_train_statistics_only():
    rng = np.random.default_rng(0)
    train, test = rng.normal(5, 3, (200, 3)), rng.normal(-2, 1, (50, 3))
    s_train, s_test = scale(train, test, method="standardize")
    assert np.allclose(s_train.mean(0), 0, atol=1e-12) and np.allclose(s_train.std(0), 1)
    assert np.allclose(s_test, (test - train.mean(0)) / train.std(0))
    m_train, m_test = scale(train, test, method="mean_normalize")
    assert np.allclose(m_test, (test - train.mean(0)) / (train.max(0) - train.min(0)))
    n_train, = scale(train, method="none")
    assert n_train is train
    with pytest.raises(UserError, match="valid choices are none, standardize, mean_normalize"):
        scale(train, method="minmax")


def test_constant_column_is_not_divided_by_zero():
    train = np.array([[1.0, 7.0], [3.0, 7.0]])
    s, = scale(train, method="standardize")
    assert np.isfinite(s).all() and np.allclose(s[:, 1], 0)


def test_impute_with_train_median():
    train = np.array([[1.0], [np.nan], [3.0], [10.0]])
    test = np.array([[np.nan], [5.0]])
    a, b = impute_median(train, test)
    assert a[1, 0] == 3.0 and b[0, 0] == 3.0 and b[1, 0] == 5.0


def test_empty_train_split_is_an_error_naming_the_fraction():
    from mlrun.datasets import digits

    with pytest.raises(UserError, match=r"dataset.split.train=0.0001: leaves 0 of 1,797 rows for the train split") as e:
        digits(split={"train": 0.0001, "val": 0.5, "test": 0.4})
    assert "\n" not in str(e.value)


@pytest.mark.parametrize("empty", ["val", "test"])
def test_empty_val_or_test_split_warns_once(caplog, empty):
    from mlrun.datasets import digits

    split = {"train": 0.7, "val": 0.15, "test": 0.15, empty: 0.0}
    with caplog.at_level("WARNING", "mlrun"):
        data = digits(split=split)
    assert len(getattr(data, empty)) == 0 and len(data.train) > 0
    lines = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert lines == [f"dataset.split.{empty}=0: the {empty} split is empty (0 of 1,797 rows): "
                     f"{EMPTY[empty]}; raise it to get one"]


def test_check_sizes_on_image_carves(caplog):
    from mlrun.datasets._images import image_data

    x = np.zeros((20, 1, 4, 4), dtype=np.uint8)
    y = np.repeat(np.arange(2), 10)
    with caplog.at_level("WARNING", "mlrun"):
        image_data("toy", (x, y), None, split={"train": 0.5, "val": 0.0, "test": 0.5})
    assert "dataset.split.val=0: the val split is empty (0 of 20 rows)" in caplog.text
    with pytest.raises(UserError, match="dataset.val_fraction=0.99: leaves 0 of 2 rows for the train split"):
        image_data("toy", (x[:2], y[9:11]), (x, y), val_fraction=0.99)
