"""mlrun: train classic machine-learning models from Hydra configs.

    mlrun train                                  # MLP on scikit-learn digits
    mlrun train model=logistic dataset=iris optimizer=sgd
    mlrun eval checkpoint=outputs/<run>/checkpoints/best.pt
"""

__version__ = "0.1.0"
