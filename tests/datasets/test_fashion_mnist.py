import numpy as np
import pytest

from mlrun.datasets import fashion_mnist
from mlrun.datasets.idx import write_idx
from mlrun.errors import UserError


def test_classes_and_normalisation_from_the_config(tmp_path):
    rng = np.random.default_rng(0)
    for prefix, n in (("train", 40), ("t10k", 20)):
        write_idx(tmp_path / f"{prefix}-images-idx3-ubyte.gz", rng.integers(0, 256, (n, 28, 28)).astype(np.uint8))
        write_idx(tmp_path / f"{prefix}-labels-idx1-ubyte.gz", np.arange(n, dtype=np.uint8) % 10)
    data = fashion_mnist(str(tmp_path), augment=True, flip=True)
    assert data.spec.name == "fashion_mnist" and data.spec.classes[0] == "T-shirt/top"
    assert data.spec.classes[9] == "Ankle boot" and data.spec.n_outputs == 10
    assert data.preprocess.mean.item() == pytest.approx(0.2860) and data.preprocess.flip


def test_missing_files_point_at_the_source(tmp_path):
    with pytest.raises(UserError, match="missing train-images.*zalandoresearch/fashion-mnist"):
        fashion_mnist(str(tmp_path))


@pytest.mark.parametrize("name", ["mnist", "fashion_mnist"])
def test_the_shared_builder_keeps_each_datasets_keys_and_defaults(name):
    """mnist and fashion_mnist come from one builder (mlrun.datasets._mnist_style): each function's keyword
    defaults are its conf/dataset YAML's values."""
    import inspect

    import mlrun.datasets as datasets
    from omegaconf import OmegaConf

    from mlrun.datasets._images import CARVE
    from mlrun.paths import config_dir

    function = getattr(datasets, name)
    conf = OmegaConf.to_container(OmegaConf.load(config_dir() / "dataset" / f"{name}.yaml"))
    assert conf.pop("_target_") == f"mlrun.datasets.{name}" and function.__name__ == name
    conf.pop("root"), conf.pop("pca_components")                   # root: ${data_root}; PCA: applied by the build
    params = inspect.signature(function).parameters
    assert set(params) - {"root", "seed"} == set(conf)
    for key, value in conf.items():
        default = CARVE if key == "split" else params[key].default      # split=None: image_data's CARVE
        assert (list(default) if isinstance(default, tuple) else default) == value, key
