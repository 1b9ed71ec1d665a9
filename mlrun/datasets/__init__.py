"""Dataset builders: each returns `Data` (train/val/test tensors + a `DataSpec`). `conf/dataset/*.yaml` targets these."""

from mlrun.datasets.blobs import blobs
from mlrun.datasets.breast_cancer import breast_cancer
from mlrun.datasets.california_housing import california_housing
from mlrun.datasets.classification import classification
from mlrun.datasets.diabetes import diabetes
from mlrun.datasets.digits import digits
from mlrun.datasets.iris import iris
from mlrun.datasets.regression import regression
from mlrun.datasets.spec import Data, DataSpec, Split
from mlrun.datasets.spiral import spiral

__all__ = ["Data", "DataSpec", "Split", "blobs", "breast_cancer", "california_housing", "classification",
           "diabetes", "digits", "iris", "regression", "spiral"]
