"""The options of `dataset=table` as one checked value: built once from the config (conf/dataset/table.yaml's keys),
then passed whole to the steps that read, split, fit and encode the table."""

from __future__ import annotations

from dataclasses import dataclass, fields

from mlrun.datasets.splits import SCALINGS
from mlrun.errors import UserError, check, choose, number

TASKS = ("auto", "regression", "binary", "multiclass")
TARGET_SCALINGS = ("standardize", "none")       # a regression target: learnt as (y − mean) / std of train, or raw


@dataclass(frozen=True)
class TableOptions:
    """Every key of conf/dataset/table.yaml (docs/own_data.md describes them), plus the run's seed."""

    path: str | None = None                 # the table file (train, or train + val + test)
    target: str | int | None = None         # the column to predict: a name or a 0-based index
    split: dict | None = None               # {train, val, test} fractions of path's rows; None = 0.7/0.15/0.15
    test_path: str | None = None            # a separate test file with the same columns
    val_path: str | None = None             # a separate validation file with the same columns
    sep: str | None = None                  # CSV separator; None = sniffed
    header: bool = True                     # the first CSV line names the columns
    encoding: str = "utf-8-sig"             # CSV text encoding
    na_values: list | None = None           # extra cell texts meaning missing
    features: list | None = None            # input columns; None = all but target, drop and a row-number column
    drop: list | None = None                # columns left out
    categorical: list | None = None         # one-hot columns; None = every non-numeric column
    max_categories: int = 50                # one-hot inputs per categorical column (≥ 2)
    missing_indicators: bool = False        # a 0/1 input <col>:missing per column with missing train values
    dropna: bool = False                    # leave out rows with a missing feature instead of imputing
    task: str = "auto"                      # auto | regression | binary | multiclass
    max_classes: int = 20                   # most classes a classification target may have
    scaling: str = "standardize"            # numeric inputs: none | standardize | mean_normalize
    target_scaling: str = "standardize"     # regression target: standardize | none
    drop_row_number: bool = True            # leave out a row-number column (unnamed header, or id/index/row)
    max_columns: int = 20_000               # files with more columns are refused before parsing
    seed: int = 0                           # the split's seed

    @classmethod
    def from_config(cls, **config) -> "TableOptions":
        """The options of a `dataset=table` config (unknown keys → one line naming the valid ones), checked."""
        valid = [f.name for f in fields(cls)]
        unknown = sorted(set(config) - set(valid))
        if unknown:
            raise UserError(f"dataset.{unknown[0]}: not a dataset=table key; valid keys: {', '.join(valid)}")
        options = cls(**config)
        options.check()
        return options

    def check(self) -> None:
        """One UserError line for the first bad option (files and columns are checked when read)."""
        if self.path is None or str(self.path) == "":
            raise UserError("dataset.path=null: no table file given; put its path on the command line, e.g. "
                            "dataset.path=data/wine.csv (CSV, TSV, .gz/.bz2/.zip CSV, Parquet, Feather)")
        number("dataset.max_categories", self.max_categories, 2, integer=True)
        number("dataset.max_classes", self.max_classes, 2, integer=True)
        number("dataset.max_columns", self.max_columns, 2, integer=True)
        choose({t: t for t in TASKS}, "dataset.task", self.task)
        choose({s: s for s in SCALINGS}, "dataset.scaling", self.scaling)
        choose({s: s for s in TARGET_SCALINGS}, "dataset.target_scaling", self.target_scaling)
        for key in ("missing_indicators", "dropna", "drop_row_number"):
            value = getattr(self, key)
            check(isinstance(value, bool), f"dataset.{key}", value, "must be true or false")
        for key in ("features", "drop", "categorical"):
            value = getattr(self, key)
            check(value is None or isinstance(value, (list, tuple)), f"dataset.{key}", value,
                  "must be null or a list of column names or 0-based indices, e.g. [id,date]")

    @property
    def name(self) -> str:
        """How messages name the training file."""
        return f"dataset.path={str(self.path)!r}"

    def reader(self) -> dict:
        """read_table's keyword options (the same for every file of the run)."""
        return {"sep": self.sep, "header": self.header, "encoding": self.encoding, "na_values": self.na_values,
                "max_columns": self.max_columns}
