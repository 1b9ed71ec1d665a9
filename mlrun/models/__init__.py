"""Model builders: `Model(spec, **options)`. `conf/model/*.yaml` targets these."""

from mlrun.models.cnn import CNN
from mlrun.models.linear import Linear
from mlrun.models.logistic import Logistic
from mlrun.models.mf import MF
from mlrun.models.mlp import MLP
from mlrun.models.node import NeuralODE
from mlrun.models.pca import PCA
from mlrun.models.resnet_euler import ResNetEuler

__all__ = ["CNN", "Linear", "Logistic", "MF", "MLP", "NeuralODE", "PCA", "ResNetEuler"]
