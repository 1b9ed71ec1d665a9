"""Fashion-MNIST (Xiao, Rasul, Vollgraf 2017): Zalando article images in MNIST's format — 60,000 train +
10,000 test grey 28×28 images, 10 clothing classes.

    mlrun train dataset=fashion_mnist model=cnn                      # <data_root>/fashion_mnist/{train,t10k}-*
    mlrun train experiment=fashion_cnn                               # convnet with crop + flip augmentation

The loading is shared with mnist (mlrun/datasets/_mnist_style.py); this file holds Fashion-MNIST's constants.
"""

from __future__ import annotations

from mlrun.datasets._mnist_style import MnistStyle, dataset_function

SOURCE = "https://github.com/zalandoresearch/fashion-mnist"
CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
FASHION_MNIST = MnistStyle(name="fashion_mnist", torchvision="FashionMNIST", source=SOURCE, mean=(0.2860,),
                           std=(0.3530,), classes=CLASSES)

fashion_mnist = dataset_function(FASHION_MNIST, __name__)
