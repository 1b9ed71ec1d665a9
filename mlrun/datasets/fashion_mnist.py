"""Fashion-MNIST (Xiao, Rasul, Vollgraf 2017): Zalando article images in MNIST's format — 60,000 train +
10,000 test grey 28×28 images, 10 clothing classes.

    mlrun train dataset=fashion_mnist model=cnn                      # <data_root>/fashion_mnist/{train,t10k}-*
    mlrun train experiment=fashion_cnn                               # convnet with crop + flip augmentation
"""

from __future__ import annotations

from mlrun.datasets._images import image_data, mnist_style_items, torchvision_fetcher
from mlrun.datasets.idx import load_idx_splits
from mlrun.datasets.spec import Data
from mlrun.errors import check

SOURCE = "https://github.com/zalandoresearch/fashion-mnist"
CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]


def fashion_mnist(root: str, train_prefix: str = "train", test_prefix: str | None = "t10k",
                  val_fraction: float = 0.1, split: dict | None = None, limit_train: int | None = None,
                  mean=(0.2860,), std=(0.3530,), augment: bool = False, pad: int = 2, flip: bool = False,
                  download: bool = False, seed: int = 0) -> Data:
    """Fashion-MNIST from its four IDX files under `root` (split options as `mlrun.datasets.idx.idx`);
    `download=true` fetches them with torchvision when it imports (md5-checked)."""
    check(isinstance(download, bool), "dataset.download", download, "must be true or false")
    fetch = torchvision_fetcher("FashionMNIST", mnist_style_items, SOURCE) if download else None
    train, test = load_idx_splits(root, train_prefix, test_prefix, fetch, SOURCE)
    return image_data("fashion_mnist", train, test, val_fraction=val_fraction, split=split, limit_train=limit_train,
                      mean=mean, std=std, augment=augment, pad=pad, flip=flip, classes=CLASSES, seed=seed)
