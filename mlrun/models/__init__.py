"""Model builders: `Model(spec, **options)`. `conf/model/*.yaml` targets these."""

from mlrun.models.cnn import CNN
from mlrun.models.linear import Linear
from mlrun.models.logistic import Logistic
from mlrun.models.mf import ALS, MF
from mlrun.models.mlp import MLP
from mlrun.models.pca import PCA

__all__ = ["ALS", "CNN", "Linear", "Logistic", "MF", "MLP", "PCA"]
