"""mlrun: train classic machine-learning models from Hydra configs.

    mlrun train                                  # MLP on scikit-learn digits
    mlrun train model=logistic dataset=iris optimizer=sgd
    mlrun eval checkpoint=outputs/<run>/checkpoints/best.pt

From Python (mlrun.api): `mlrun.train([...overrides])` → Result(run_dir, summary, metrics, best_val),
`mlrun.load(run_dir).predict(rows)`, errors as `mlrun.UserError`. Imported on first use: `import mlrun` stays cheap
(the command's start-up time).
"""

from mlrun.version import VERSION as __version__
__all__ = ["train", "load", "UserError", "__version__"]


def __getattr__(name: str):
    if name in ("train", "load"):
        from mlrun import api

        return getattr(api, name)
    if name == "UserError":
        from mlrun.errors import UserError

        return UserError
    raise AttributeError(f"module 'mlrun' has no attribute {name!r}")
