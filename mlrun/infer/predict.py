"""Predictions on new rows from a saved run: `mlrun predict` and `mlrun.load(...).predict(...)`.

    p = Predictor.load("outputs/<run>")            # best.pt of a run folder, or a .pt file
    p.predict(frame)                               # DataFrame: row, prediction (+ p_<class> with proba=True)
    predict_file("outputs/<run>", "new.csv", "predictions.csv", proba=True)
    predict_file("outputs/<run>", "new.csv", keep=("id",))   # → outputs/<run>/predictions/new.csv: row, id, ...

How rows become model inputs depends on what the run learned from:
- a table file (`dataset=table`) or a built-in table (digits, iris, California housing, ...): the checkpoint's spec
  carries the fitted preprocessing (`spec.transform`: columns, categories, fill values, scaling) and the rows are
  encoded with it — the training data is not needed;
- images (an IDX file of N×H×W or N×C×H×W uint8, or a folder / file of PNG/JPEG/BMP/WebP: mlrun.infer.predict_images,
  a row per image with its path): the dataset's own normalisation runs in front of the model (the
  dataset is rebuilt from the stored config to get it: its files must be where the config says);
- ratings (`user,item` pairs, raw ids as in the ratings file): the id maps come from the rebuilt dataset; an id
  not seen in training gets the model's cold-start prediction (μ + known biases).
Every prediction is batched on the device with no per-row Python; nothing is written unless all rows succeed.

The checkpoint is untrusted input: mlrun.infer.validate checks every stored value before anything is built. The
output is written atomically (a temporary beside it, then a rename; temporaries of killed runs are removed on the
next write) and is never one of the inputs (the same path, a symlink or a hard link is refused). In CSV output, a
text cell that a spreadsheet would run as a formula (starting with = + - @, a tab or a carriage return, e.g. a
class named `=HYPERLINK(...)`) is written with a leading single quote; numbers such as -1 are kept; Parquet keeps
the names as they are.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from mlrun.fit import build
from mlrun.infer import predict_images, stored
from mlrun.datasets.idx import read_idx
from mlrun.datasets.ratings.pairs import pair_index, read_pairs
from mlrun.datasets.splits import unstandardize_target
from mlrun.datasets.table import apply_transform, read_table
from mlrun.errors import UserError
from mlrun.infer.validate import Opened, open_checkpoint
from mlrun.runtime.outputs import spreadsheet_safe, temporary

OUTPUTS = (".csv", ".parquet")
log = logging.getLogger("mlrun")


class Predictor:
    """A saved model, ready to predict: rebuilt through mlrun.fit.build's registry allowlist, on `device`, from a
    checkpoint that passed mlrun.infer.validate (schema, settings, memory pre-check)."""

    def __init__(self, opened: Opened, overrides: list[str] = (), key: str = "checkpoint"):
        payload = opened.payload
        self.spec, self.key = opened.spec, key
        self.transform = self.spec.transform
        if self.transform:                         # the preprocessing travels in the checkpoint: no data needed
            self.cfg, self.device = opened.cfg, opened.device
            self.model, _ = build.model(self.cfg.model, self.spec)
            stored.load_weights(self.model, payload["model"], self.cfg.model._target_, key)
            self.net, self.source = self.model.to(self.device), None
        else:                                      # images and ratings: the dataset's preprocessing / id maps
            self.cfg, parts = stored.rebuild(payload, list(overrides), key=key)
            self.device, self.model, self.source = parts.device, parts.model, parts.source
            self.net = build.network(parts.model, parts.data)
        self.model.eval()
        self.batch_size = opened.trainer.eval_batch_size      # checked by TrainerSettings: an integer ≥ 1

    @classmethod
    def load(cls, path: str | Path, overrides: list[str] = ()) -> "Predictor":
        key = f"checkpoint={str(path)!r}"
        return cls(open_checkpoint(path, list(overrides)), overrides, key=key)

    # ---- rows → model inputs
    def encode(self, rows, name: str = "rows") -> torch.Tensor:
        """Model inputs for `rows`: a DataFrame of raw rows, or an array/tensor already shaped like the inputs."""
        if self.transform.get("kind") == "array":
            return self._features(rows, name)
        if isinstance(rows, pd.DataFrame):
            if self.spec.task == "ratings":
                return self._pairs(rows, name)
            if not self.transform:
                raise UserError(f"{name}: this model learned from dataset={self.spec.name}, whose inputs are not "
                                f"table columns; pass an array of shape (N, {', '.join(map(str, self.spec.input_shape))})")
            return apply_transform(self.transform, rows, name)
        x = rows if isinstance(rows, torch.Tensor) else torch.as_tensor(numeric(rows, name))
        shape = tuple(self.spec.input_shape)
        if x.ndim >= 2 and tuple(x.shape[1:]) != shape and x.shape[1:].numel() == int(np.prod(shape)):
            x = x.reshape(len(x), *shape)          # e.g. N×28×28 images for a 1×28×28 spec
        if tuple(x.shape[1:]) != shape:
            raise UserError(f"{name}: inputs of shape {tuple(x.shape)}; this model takes (N, "
                            f"{', '.join(map(str, shape))})")
        return x if self.spec.task == "ratings" else x if x.dtype == torch.uint8 else x.float()

    def _features(self, rows, name: str) -> torch.Tensor:
        """Raw feature rows of a built-in table (N, D) → the training preprocessing: NaN → train median, then
        (x − shift) / scale with the train statistics (mlrun.datasets.splits.array_transform)."""
        t = self.transform
        if isinstance(rows, pd.DataFrame):
            frame = self._feature_columns(rows, name)
            try:
                x = frame.to_numpy(dtype=np.float64)
            except (TypeError, ValueError) as e:
                raise UserError(f"{name}: every column must be numeric ({str(e).splitlines()[0]})") from None
        else:
            x = numeric(rows.cpu() if isinstance(rows, torch.Tensor) else rows, name, np.float64)
            x = x.reshape(len(x), -1) if x.ndim > 1 else x.reshape(1, -1)
        if x.ndim != 2 or x.shape[1] != t["width"]:
            raise UserError(f"{name}: rows of {x.shape[-1]} values; dataset={self.spec.name} has {t['width']} "
                            f"features per row")
        if not np.isfinite(x[~np.isnan(x)]).all():
            raise UserError(f"{name}: holds an infinite value; features must be finite (NaN = missing)")
        if t["fill"] is not None:
            x = np.where(np.isnan(x), np.asarray(t["fill"]), x)
        elif np.isnan(x).any():
            x = np.nan_to_num(x)                   # train had no gaps: nothing learned to fill them with
        if t["shift"] is not None:
            x = (x - np.asarray(t["shift"])) / np.asarray(t["scale"])
        return torch.as_tensor(x.astype(np.float32))

    def _feature_columns(self, rows: pd.DataFrame, name: str) -> pd.DataFrame:
        """A built-in table's features in `rows`: by name when every one is there (any order, other columns such
        as the target ignored); some of them only → one line naming the missing ones; none → by position: silently
        for positional names (0, 1, ...: a headerless file, an array's frame), else with a warning naming both."""
        features, columns = [str(f) for f in self.spec.features], [str(c) for c in rows.columns]
        rows = rows.set_axis(columns, axis=1)
        named = [f for f in features if f in columns]
        if features and len(named) == len(features):
            return rows[features]
        if named:
            missing = [f for f in features if f not in columns]
            raise UserError(f"{name}: missing column(s) {', '.join(map(repr, missing[:10]))} of dataset="
                            f"{self.spec.name}; the rows have {', '.join(map(repr, columns[:20]))}")
        if features and columns != [str(i) for i in range(len(columns))]:
            log.warning("%s: no column is named as dataset=%s's features (%s); the %d columns are taken in that "
                        "order", name, self.spec.name, ", ".join(features[:6]) + (", ..." if len(features) > 6 else ""),
                        len(columns))
        return rows

    def _pairs(self, rows: pd.DataFrame, name: str) -> torch.Tensor:
        """(N, 2) int64 (user index, item index) for raw ids (text); −1 where an id was not in training."""
        return pair_index(rows, self.source.user_ids, self.source.item_ids, name)

    # ---- model inputs → predictions
    @torch.no_grad()
    def outputs(self, x: torch.Tensor) -> torch.Tensor:
        """Raw model outputs, batched on the device (logits for classification)."""
        chunks = [self.net(x[i:i + self.batch_size].to(self.device, non_blocking=True)).float().cpu()
                  for i in range(0, len(x), self.batch_size)]
        return torch.cat(chunks) if chunks else torch.empty(0, max(self.spec.n_outputs, 1))

    def predict(self, rows, proba: bool = False, name: str = "rows") -> pd.DataFrame:
        """One row per input row, in order: `row`, `prediction` (class name, value or rating), and `p_<class>`
        per class with `proba` (classification only)."""
        out = self.outputs(self.encode(rows, name))
        task, classes = self.spec.task, list(self.spec.classes) or [str(i) for i in range(self.spec.n_outputs)]
        frame = pd.DataFrame({"row": np.arange(len(out))})
        if task in ("binary", "multiclass"):
            probs = torch.sigmoid(out[:, :1]) if task == "binary" else torch.softmax(out, 1)
            if task == "binary":
                probs = torch.cat([1 - probs, probs], 1)
                classes = classes if len(classes) == 2 else ["0", "1"]
            frame["prediction"] = np.asarray(classes, dtype=object)[probs.argmax(1).numpy()]
            if proba:
                for j, c in enumerate(classes):
                    frame[f"p_{c}"] = probs[:, j].numpy()
        elif task in ("regression", "ratings"):
            if proba:
                raise UserError(f"proba=true: dataset={self.spec.name} is {task}; probabilities are for classes")
            values = out.reshape(len(out), -1)
            target = self.transform.get("target")
            if isinstance(target, dict):               # dataset=table: back from the standardized target
                values = unstandardize_target(target, values)
            if values.shape[1] == 1:
                frame["prediction"] = values[:, 0].numpy()
            else:
                for j in range(values.shape[1]):
                    frame[f"prediction_{j}"] = values[:, j].numpy()
        else:
            raise UserError(f"mlrun predict: a {task} model (dataset={self.spec.name}) has no per-row prediction")
        return frame


def numeric(rows, name: str, dtype=None) -> np.ndarray:
    """`rows` (a list of rows, an array) as a numeric array, or one line saying what they are instead."""
    if isinstance(rows, (str, bytes, dict)) or rows is None:
        raise UserError(f"{name}: expected rows of numbers (a list of rows, an array, a tensor) or a DataFrame, not "
                        f"{type(rows).__name__} {rows!r:.60}")
    try:
        x = np.asarray(rows, dtype=dtype)
    except (TypeError, ValueError) as e:
        raise UserError(f"{name}: every value must be a number ({str(e).splitlines()[0]})") from None
    if x.dtype.kind not in "biuf":                 # strings, objects, complex
        raise UserError(f"{name}: every value must be a number; got {x.dtype.name} values such as "
                        f"{x.reshape(-1)[:1].tolist()}")
    return x


def read_rows(predictor: Predictor, path: str) -> pd.DataFrame | np.ndarray:
    """The input file: IDX images for an image model, else a table (CSV/TSV, compressed, Parquet, Feather)."""
    file = Path(path).expanduser()
    if not file.is_file():
        raise UserError(f"input={path!r}: file not found")
    if len(predictor.spec.input_shape) == 3 and predictor.spec.task != "ratings":
        return read_idx(file)
    if predictor.spec.task == "ratings":
        return read_pairs(file, "input", predictor.source.user_ids)
    header = "auto" if predictor.transform.get("kind") == "array" else True    # built-in tables: all numbers
    return read_table(str(file), None, header, "utf-8-sig", None, key="input")


def write_rows(frame: pd.DataFrame, output: str, inputs: tuple[str, ...] = (), overwrite: bool = False) -> str:
    """CSV or Parquet by extension, atomically (temporary file + rename); `-` = CSV on stdout. `inputs`: files this
    command reads, which the output must not be (the same path, a symlink or a hard link to it is refused). CSV cells
    that a spreadsheet would run as a formula are written with a leading single quote (spreadsheet_safe)."""
    if output == "-":
        csv_safe(frame).to_csv(sys.stdout, index=False)
        return "stdout"
    out = Path(output).expanduser()
    if out.suffix.lower() not in OUTPUTS:
        raise UserError(f"output={output!r}: valid choices are a .csv or .parquet file, or - for stdout")
    refuse_overwriting(output, inputs, overwrite)
    tmp = temporary(out)                           # also removes `.<name>.tmp<pid>` left by a killed predict
    try:
        if out.suffix.lower() == ".parquet":
            try:
                frame.to_parquet(tmp, index=False)
            except ImportError:
                raise UserError("output=*.parquet needs pyarrow: pip install 'mlrun-classic[table]'") from None
        else:
            csv_safe(frame).to_csv(tmp, index=False)
        os.replace(tmp, out)
    except OSError as e:
        raise UserError(f"output={output!r}: cannot write it ({e.strerror or e})") from None
    finally:
        tmp.unlink(missing_ok=True)
    return str(out)


def csv_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with text cells escaped against formula injection (class names such as `=HYPERLINK(...)`,
    `@SUM(1+1)`, `+cmd`, or a leading tab/CR get a leading '); numbers and the column names mlrun makes are kept."""
    text = [c for c in frame.columns if frame[c].dtype == object or isinstance(frame[c].dtype, pd.StringDtype)]
    if not text:
        return frame
    return frame.assign(**{c: frame[c].map(spreadsheet_safe) for c in text})


OUR_FOLDERS = ("predictions", "export")      # the subfolders of a run folder that predict and export write into


def refuse_overwriting(output: str, inputs: tuple[str, ...], overwrite: bool = False) -> None:
    """One line when `output` would replace a file that is not an earlier output:
    - one of `inputs`: the same resolved path (relative paths, `..`, symlinks) or the same file under another name
      (a hard link: the same device and inode);
    - an existing file inside a run folder (a folder with summary.json or checkpoints/) other than in its
      predictions/ and export/ subfolders, or anything in its checkpoints/: a run's checkpoints, metrics and
      summary are never outputs, overwrite or not;
    - any other existing file or link, unless `overwrite` (a user's data file named by mistake is never replaced
      silently); earlier outputs in a run's predictions/ or export/ folder are replaced."""
    out = Path(output).expanduser()
    for name in inputs:
        source = Path(name).expanduser()
        same = out.resolve() == source.resolve()
        try:
            same = same or os.path.samefile(out, source)
        except OSError:                            # the output does not exist yet: no other name for the input
            pass
        if same:
            raise UserError(f"output={output!r}: is the input file {name!r}; predictions would replace the rows "
                            f"they come from; write them to another file")
    where = _run_folder_part(out.resolve().parent)
    if where is not None and where[1] not in OUR_FOLDERS and (out.exists() or out.is_symlink()
                                                               or where[1] == "checkpoints"):
        raise UserError(f"output={output!r}: is inside the run folder {str(where[0])!r}; a run's own files are not "
                        f"outputs; write to {str(where[0] / OUR_FOLDERS[0])!r} or outside the run")
    if (out.exists() or out.is_symlink()) and not overwrite and where is None:
        raise UserError(f"output={output!r}: the file exists; pass overwrite=true to replace it, or name a new file")


def _run_folder_part(folder: Path) -> tuple[Path, str] | None:
    """(the run folder above `folder`, the name of its child on the way down: "" for the run folder itself), or
    None when no folder from `folder` up is a run folder (summary.json or checkpoints/ in it)."""
    child = ""
    for p in (folder, *folder.parents):
        if (p / "summary.json").is_file() or (p / "checkpoints").is_dir():
            return p, child
        child = p.name
    return None


def predict_file(checkpoint: str, input: str, output: str | None = None, proba: bool = False,  # noqa: A002
                 overrides: list[str] = (), keep: tuple[str, ...] = (), overwrite: bool = False) -> tuple[int, str]:
    """(rows predicted, where they went) for `mlrun predict checkpoint=... input=... [output=...] [keep=...]`.
    output None: <run folder>/predictions/<input name>.csv (default_output); `-`: stdout. keep: input columns copied
    into the output after `row` (ids to join on). overwrite: replace an existing file (refuse_overwriting)."""
    output = default_output(checkpoint, input) if output is None else output
    if output != "-" and Path(output).suffix.lower() not in OUTPUTS:
        raise UserError(f"output={output!r}: valid choices are a .csv or .parquet file, or - for stdout")
    if output != "-":
        refuse_overwriting(output, (input, checkpoint), overwrite)
    predictor = Predictor.load(checkpoint, overrides)
    if predict_images.wants(predictor.spec, input):    # a folder or an image file: one row per image, with its path
        if keep:
            raise UserError(f"keep={','.join(keep)}: input={input!r} is images; the output's `path` column names "
                            f"each one")
        frame = predict_images.predict(predictor, input, proba)
    else:
        rows = read_rows(predictor, input)
        kept = kept_columns(rows, keep, f"input={input!r}")
        frame = predictor.predict(rows, proba, name=f"input={input!r}")
        if kept is not None:
            frame = pd.concat([frame[["row"]], kept, frame.drop(columns="row")], axis=1)
    if output != "-":
        Path(output).expanduser().parent.mkdir(parents=True, exist_ok=True)
    return len(frame), write_rows(frame, output, (input, checkpoint), overwrite)


def default_output(checkpoint: str, input: str) -> str:  # noqa: A002 - the command's key
    """<run folder>/predictions/<input name without its suffixes>.csv: a run folder `checkpoint`, or the run folder
    of `<run>/checkpoints/<file>.pt`, or the folder of any other .pt file. Never the current folder by default."""
    path = Path(checkpoint).expanduser()
    run = path if path.is_dir() else path.parent.parent if path.parent.name == "checkpoints" else path.parent
    stem = Path(input).name
    while Path(stem).suffix.lower() in (".csv", ".tsv", ".txt", ".gz", ".bz2", ".zip", ".xz", ".parquet", ".feather",
                                        ".idx", ".ubyte", ".idx3-ubyte"):
        stem = Path(stem).stem
    return str(run / "predictions" / f"{stem or 'predictions'}.csv")


def kept_columns(rows, keep: tuple[str, ...], name: str) -> pd.DataFrame | None:
    """The input columns `keep` names, as a frame indexed 0..N-1 (None when keep is empty); an unknown column, a
    name the output already uses (row, prediction, p_<class>) or a file without columns (images) is one line."""
    if not keep:
        return None
    if not isinstance(rows, pd.DataFrame):
        raise UserError(f"keep={','.join(keep)}: {name} is an image file; it has no columns to keep")
    have = [str(c) for c in rows.columns]
    for column in keep:
        if column == "row" or column == "prediction" or column.startswith(("p_", "prediction_")):
            raise UserError(f"keep={column!r}: the output already has a column of that name; rename it in the input")
        if column not in have:
            raise UserError(f"keep={column!r}: not a column of {name}; valid choices are {', '.join(have[:30])}"
                            f"{', ...' if len(have) > 30 else ''}")
    if len(set(keep)) != len(keep):
        raise UserError(f"keep={','.join(keep)}: a column repeats")
    frame = rows.rename(columns=str)[list(keep)].reset_index(drop=True)
    return frame
