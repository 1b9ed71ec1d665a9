import pytest

from mlrun.errors import UserError
from mlrun.config.settings import TrainerSettings as Trainer


def test_plan_batching_modes():
    assert Trainer(batch_size="full", epochs=5).plan(100) == (5, 100, True)
    assert Trainer(batch_size=1, epochs=3).plan(100) == (3, 1, True)          # stochastic
    assert Trainer(batch_size=64, epochs=30).plan(10) == (30, 10, True)       # never larger than the split
    assert Trainer(online=True, epochs=9, batch_size=64).plan(100) == (1, 1, False)
    assert Trainer(fast_dev_run=True, epochs=9).plan(100) == (1, 64, True)


@pytest.mark.parametrize("kwargs, match", [
    ({"epochs": 0}, "trainer.epochs=0: must be an integer ≥ 1"),
    ({"batch_size": 0}, "trainer.batch_size=0: must be an integer ≥ 1 or 'full'"),
    ({"batch_size": "half"}, "trainer.batch_size='half'"),
    ({"batch_size": 2.5}, "trainer.batch_size=2.5"),
    ({"lr_schedule": "linear"}, "trainer.lr_schedule='linear': valid choices are none, step, cosine"),
    ({"gamma": 0}, "trainer.gamma=0"),
    ({"l2": -1}, "trainer.l2=-1: must be a number ≥ 0"),
    ({"l2": "abc"}, "trainer.l2='abc'"),
    ({"patience": -2}, "trainer.patience=-2"),
    ({"precision": "fp8"}, "trainer.precision='fp8': valid choices are fp32, bf16, fp16"),
    ({"online": "yes"}, "trainer.online='yes': must be true or false"),
])
def test_bad_values(kwargs, match):
    with pytest.raises(UserError, match=match):
        Trainer(**kwargs)


def test_threads_setting_and_the_sweep_share():
    import os

    import pytest
    import torch

    from mlrun.fit.hydra_run import share_cores
    from mlrun.errors import UserError

    with pytest.raises(UserError, match="trainer.threads=0: must be an integer in"):
        Trainer(threads=0)
    before = torch.get_num_threads()
    try:
        cores = os.cpu_count()
        assert share_cores(2) == max(1, cores // 2) and torch.get_num_threads() == max(1, cores // 2)
        assert share_cores(-1) == 1 and torch.get_num_threads() == 1
        torch.set_num_threads(before)
        assert share_cores(None) == cores and torch.get_num_threads() == before   # basic launcher: one job
    finally:
        torch.set_num_threads(before)
