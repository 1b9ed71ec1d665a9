"""The data → model contract: tensors for each split plus a small spec that models are built from."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import torch

TASKS = ("regression", "binary", "multiclass", "ratings", "unsupervised", "trajectory")
DEFAULT_LOSS = {"regression": "mse", "binary": "bce", "multiclass": "cross_entropy", "ratings": "mse",
                "unsupervised": "reconstruction", "trajectory": "mse"}
DEFAULT_METRIC = {"regression": "r2", "binary": "acc", "multiclass": "acc", "ratings": "rmse",
                  "unsupervised": "recon_error", "trajectory": "traj_mse"}


@dataclass
class DataSpec:
    input_shape: tuple[int, ...]   # one example's feature shape, e.g. (64,) or (1, 28, 28)
    n_outputs: int                 # model outputs: targets (regression), 1 (binary), classes (multiclass), state size (trajectory)
    task: str                      # regression | binary | multiclass | ratings | unsupervised (labels unused) | trajectory
    name: str = ""                 # dataset option name, e.g. "digits"
    loss: str = ""                 # default loss; "" = from the task
    metric: str = ""               # monitored validation metric; "" = from the task
    classes: list[str] = field(default_factory=list)  # class names (classification), in label order
    # task=ratings (x = (user index, item index), y = rating): sizes of the id maps, train ratings, rating scale
    n_users: int = 0               # users with a train rating (indices 0..n_users-1; -1 = unseen in train)
    n_items: int = 0               # items with a train rating (indices 0..n_items-1; -1 = unseen in train)
    n_train: int = 0               # train ratings (scales the gradient path's penalty, see mlrun.models.mf)
    rating_range: list[float] = field(default_factory=list)   # [lowest, highest] rating in the file
    times: list[float] = field(default_factory=list)  # trajectory: the times of y's samples (x = y0 at times[0])
    features: list[str] = field(default_factory=list)  # names of the D inputs (dataset=table), e.g. "colour=red"
    # dataset=table: the fitted preprocessing as plain data (columns, categories, fill values, scaling, target,
    # classes); `mlrun.datasets.table.apply_transform(transform, frame)` encodes new rows with it
    transform: dict = field(default_factory=dict)
    # dataset=table: a profile of the data as plain data (rows per split, columns by kind, missing cells, categories,
    # the target's classes with counts or its mean/std); summary.json carries it as spec.profile
    profile: dict = field(default_factory=dict)

    def __post_init__(self):
        self.input_shape = tuple(int(d) for d in self.input_shape)
        self.loss = self.loss or DEFAULT_LOSS[self.task]
        self.metric = self.metric or DEFAULT_METRIC[self.task]

    @property
    def n_features(self) -> int:
        n = 1
        for d in self.input_shape:
            n *= d
        return n

    def to_dict(self) -> dict:
        """Plain data for checkpoints and summary.json; `features`/`transform`/`profile` only when set, so the specs
        of the other datasets (and their saved checkpoints) stay as they were."""
        d = asdict(self)
        d["input_shape"] = list(self.input_shape)
        for key in ("features", "transform", "profile"):
            if not d[key]:
                del d[key]
        return d


@dataclass
class Split:
    x: torch.Tensor                # (N, *input_shape) float32 | (N, 2) int64 (user, item) indices (ratings)
    y: torch.Tensor                # (N, targets) float32 | (N,) float32 in {0,1} | (N,) int64 labels | (N,) ratings
                                   # | (N, T, d) states at the spec's times (trajectory)
    y_scale: float = 1.0           # target units per unit of y: a standardized regression target (dataset=table)
                                   # is y = (target − mean) / std, and scoring reports rmse/mae × y_scale

    def __len__(self) -> int:
        return len(self.y)

    def to(self, device) -> "Split":
        return Split(self.x.to(device), self.y.to(device), self.y_scale)

    def head(self, n: int) -> "Split":
        return Split(self.x[:n], self.y[:n], self.y_scale)


@dataclass
class Data:
    train: Split
    val: Split
    test: Split
    spec: DataSpec
    # on-device batch preprocessing run in front of the model, e.g. uint8 images → normalised float, plus
    # augmentation in train mode; no learned parameters (rebuilt from the config, not stored in checkpoints)
    preprocess: torch.nn.Module | None = None

    def to(self, device) -> "Data":
        pre = self.preprocess.to(device) if self.preprocess is not None else None
        return Data(self.train.to(device), self.val.to(device), self.test.to(device), self.spec, pre)
