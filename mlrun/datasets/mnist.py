"""MNIST handwritten digits (LeCun, Cortes, Burges): 60,000 train + 10,000 test grey 28×28 images, 10 classes.

    mlrun train dataset=mnist model=cnn model.arch=convnet            # <data_root>/mnist/{train,t10k}-*-ubyte.gz
    mlrun train dataset=mnist model=mlp                               # the MLP flattens 1×28×28 from the spec
    mlrun train dataset=mnist dataset.train_prefix=t10k dataset.test_prefix=null   # carve 8k/1k/1k from t10k
    mlrun train dataset=mnist dataset.download=true                   # fetch through torchvision, md5-checked

The loading is shared with fashion_mnist (mlrun/datasets/_mnist_style.py); this file holds MNIST's constants.
"""

from __future__ import annotations

from mlrun.datasets._mnist_style import MnistStyle, dataset_function

SOURCE = "https://yann.lecun.com/exdb/mnist/ or a mirror such as https://ossci-datasets.s3.amazonaws.com/mnist/"
MNIST = MnistStyle(name="mnist", torchvision="MNIST", source=SOURCE, mean=(0.1307,), std=(0.3081,))

mnist = dataset_function(MNIST, __name__)
