"""Model builders: `Model(spec, **options)`. `conf/model/*.yaml` targets these."""

from mlrun.models.linear import Linear
from mlrun.models.logistic import Logistic
from mlrun.models.mlp import MLP
from mlrun.models.node import NeuralODE
from mlrun.models.resnet_euler import ResNetEuler

__all__ = ["Linear", "Logistic", "MLP", "NeuralODE", "ResNetEuler"]
