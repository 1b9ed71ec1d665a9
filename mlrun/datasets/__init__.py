"""Dataset builders: each returns `Data` (train/val/test tensors + a `DataSpec`). `conf/dataset/*.yaml` targets these."""

from mlrun.datasets.blobs import blobs
from mlrun.datasets.breast_cancer import breast_cancer
from mlrun.datasets.california_housing import california_housing
from mlrun.datasets.classification import classification
from mlrun.datasets.diabetes import diabetes
from mlrun.datasets.digits import digits
from mlrun.datasets.fashion_mnist import fashion_mnist
from mlrun.datasets.idx import idx
from mlrun.datasets.image_folder import image_folder
from mlrun.datasets.iris import iris
from mlrun.datasets.mnist import mnist
from mlrun.datasets.movielens_100k import movielens_100k
from mlrun.datasets.movielens_1m import movielens_1m
from mlrun.datasets.ratings_csv import ratings_csv
from mlrun.datasets.regression import regression
from mlrun.datasets.spec import Data, DataSpec, Split
from mlrun.datasets.spiral import spiral
from mlrun.datasets.svhn import svhn
from mlrun.datasets.table import table
from mlrun.datasets.wine import wine
from mlrun.datasets.synthetic_ratings import synthetic_ratings

__all__ = ["blobs", "breast_cancer", "california_housing", "classification", "Data", "DataSpec", "diabetes",
           "digits", "fashion_mnist", "idx", "image_folder", "iris", "mnist", "movielens_100k", "movielens_1m", "ratings_csv",
           "regression", "spiral", "Split", "svhn", "synthetic_ratings", "table", "wine"]
