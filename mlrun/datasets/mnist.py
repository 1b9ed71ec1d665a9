"""MNIST handwritten digits (LeCun, Cortes, Burges): 60,000 train + 10,000 test grey 28×28 images, 10 classes.

    mlrun train dataset=mnist model=cnn model.arch=convnet            # <data_root>/mnist/{train,t10k}-*-ubyte.gz
    mlrun train dataset=mnist model=mlp                               # the MLP flattens 1×28×28 from the spec
    mlrun train dataset=mnist dataset.train_prefix=t10k dataset.test_prefix=null   # carve 8k/1k/1k from t10k
    mlrun train dataset=mnist dataset.download=true                   # fetch through torchvision, md5-checked
"""

from __future__ import annotations

from mlrun.datasets._images import image_data, mnist_style_items, torchvision_fetcher
from mlrun.datasets.idx import load_idx_splits
from mlrun.datasets.spec import Data
from mlrun.errors import check

SOURCE = "https://yann.lecun.com/exdb/mnist/ or a mirror such as https://ossci-datasets.s3.amazonaws.com/mnist/"


def mnist(root: str, train_prefix: str = "train", test_prefix: str | None = "t10k", val_fraction: float = 0.1,
          split: dict | None = None, limit_train: int | None = None, mean=(0.1307,), std=(0.3081,),
          augment: bool = False, pad: int = 2, flip: bool = False, download: bool = False, seed: int = 0) -> Data:
    """MNIST from its four IDX files under `root` (see `mlrun.datasets.idx.idx` for the split options).

    `download=true` fetches missing files with torchvision when it imports (md5-checked); otherwise one line
    says which files to put where.
    """
    check(isinstance(download, bool), "dataset.download", download, "must be true or false")
    fetch = torchvision_fetcher("MNIST", mnist_style_items, SOURCE) if download else None
    train, test = load_idx_splits(root, train_prefix, test_prefix, fetch, SOURCE)
    return image_data("mnist", train, test, val_fraction=val_fraction, split=split, limit_train=limit_train,
                      mean=mean, std=std, augment=augment, pad=pad, flip=flip, seed=seed)
