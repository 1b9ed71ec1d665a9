"""One builder for the datasets in MNIST's format (mnist, fashion_mnist): four IDX files under `root`, 28×28 grey
images, 10 classes. A dataset is its constants (`MnistStyle`); `dataset_function` turns them into the function that
conf/dataset/<name>.yaml targets, with the same keys and defaults as that YAML.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from mlrun.datasets._images import image_data, mnist_style_items, torchvision_fetcher
from mlrun.datasets.idx import load_idx_splits
from mlrun.datasets.spec import Data
from mlrun.errors import check


@dataclass(frozen=True)
class MnistStyle:
    name: str                      # the dataset option, e.g. "fashion_mnist" (also spec.name)
    torchvision: str               # torchvision's class that downloads it, e.g. "FashionMNIST"
    source: str                    # where the files come from, named when they are missing
    mean: tuple[float, ...]        # per-channel mean on the [0, 1] pixel scale of the train set
    std: tuple[float, ...]         # per-channel std on the [0, 1] pixel scale
    classes: tuple[str, ...] | None = None   # class names in label order; None = "0".."9"


def dataset_function(style: MnistStyle, module: str) -> Callable[..., Data]:
    """The dataset function for `style` (named style.name, living in `module` for messages and docs)."""

    def load(root: str, train_prefix: str = "train", test_prefix: str | None = "t10k", val_fraction: float = 0.1,
             split: dict | None = None, limit_train: int | None = None, mean=style.mean, std=style.std,
             augment: bool = False, pad: int = 2, flip: bool = False, download: bool = False, seed: int = 0) -> Data:
        check(isinstance(download, bool), "dataset.download", download, "must be true or false")
        fetch = torchvision_fetcher(style.torchvision, mnist_style_items, style.source) if download else None
        train, test = load_idx_splits(root, train_prefix, test_prefix, fetch, style.source)
        return image_data(style.name, train, test, val_fraction=val_fraction, split=split, limit_train=limit_train,
                          mean=mean, std=std, augment=augment, pad=pad, flip=flip,
                          classes=list(style.classes) if style.classes else None, seed=seed)

    load.__name__ = load.__qualname__ = style.name
    load.__module__ = module
    load.__doc__ = (f"{style.name} from its four IDX files under `root` (split options as `mlrun.datasets.idx.idx`)."
                    f"\n\n`download=true` fetches missing files with torchvision's {style.torchvision} when it imports"
                    f" (md5-checked); otherwise one line says which files to put where ({style.source}).")
    return load
