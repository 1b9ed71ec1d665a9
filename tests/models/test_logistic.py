import json

import pytest
import torch

from tests.helpers import make_cfg
from mlrun.datasets import diabetes, digits
from mlrun.errors import UserError
from mlrun.models import Logistic
from mlrun.fit.run import train

SPLIT = {"train": 0.7, "val": 0.15, "test": 0.15}


def test_digits_within_two_points_of_sklearn(tmp_path):
    from sklearn.linear_model import LogisticRegression

    # Adam at lr 5e-3 (the preset's 1e-3 stops early on the 269-example val split at ~0.94)
    train(make_cfg("model=logistic", "optimizer.lr=0.005", "trainer.epochs=60"), tmp_path)
    ours = json.loads((tmp_path / "summary.json").read_text())["test_acc"]
    data = digits(SPLIT, seed=0)
    sk = LogisticRegression(max_iter=2000).fit(data.train.x.numpy(), data.train.y.numpy())
    theirs = sk.score(data.test.x.numpy(), data.test.y.numpy())
    assert abs(ours - theirs) <= 0.02, (ours, theirs)


def test_binary_has_one_logit_multiclass_has_c(tmp_path):
    from mlrun.datasets import breast_cancer

    assert Logistic(breast_cancer(SPLIT).spec)(torch.zeros(4, 30)).shape == (4, 1)
    assert Logistic(digits(SPLIT).spec)(torch.zeros(4, 64)).shape == (4, 10)


def test_logistic_refuses_regression():
    from mlrun.fit.build import model

    with pytest.raises(UserError, match="model=logistic: learns binary, multiclass datasets; dataset=diabetes is "
                                        "regression"):
        model(make_cfg("model=logistic").model, diabetes(SPLIT).spec)
