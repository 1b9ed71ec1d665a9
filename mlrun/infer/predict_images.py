"""Predictions for image files: `mlrun predict checkpoint=RUN input=<folder or image file>` on an image model.

    mlrun predict checkpoint=<run> input=~/new_pets output=<run>/pets.csv proba=true
    mlrun predict checkpoint=<run> input=cat.jpg output=-

One row per image, in sorted path order: `row`, `path` (as found under the input), `prediction` (+ `p_<class>`
with proba=true). Images are decoded as in training (mlrun.datasets._image_files: PNG/JPEG/BMP/WebP by content,
resized to the model's H×W, grey or RGB to its channels); the model's own normalisation runs in front of it
(mlrun.infer.predict.Predictor). Any image model takes them (dataset=image_folder, mnist, idx, svhn, ...).
A folder is read recursively (hidden files skipped); a file in it that is not a readable image is skipped and
named in one warning; a single input file that is not one is an error.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from mlrun.datasets._image_files import EXTENSIONS, SHOWN, bad_text, decode_all, files_under
from mlrun.errors import UserError

log = logging.getLogger("mlrun")


def wants(spec, input: str) -> bool:  # noqa: A002 - the command's key
    """Images in, one row each: the model takes (C, H, W) images and `input` is a folder or an image file."""
    if len(spec.input_shape) != 3 or spec.task == "ratings" or spec.input_shape[0] not in (1, 3):
        return False
    path = Path(input).expanduser()
    return path.is_dir() or path.suffix.lower() in EXTENSIONS


def image_files(input: str) -> list[Path]:  # noqa: A002 - the command's key
    path = Path(input).expanduser()
    if not path.exists():
        raise UserError(f"input={input!r}: file not found")
    try:
        files = files_under(path) if path.is_dir() else [path]
    except OSError as e:
        raise UserError(f"input={input!r}: cannot read it ({e.strerror or e})") from None
    if not files:
        raise UserError(f"input={input!r}: the folder holds no files; give a folder of PNG/JPEG/BMP/WebP images "
                        f"or one image file")
    return files


def predict(predictor, input: str, proba: bool = False) -> pd.DataFrame:  # noqa: A002 - the command's key
    """One row per readable image under `input`: row, path, prediction (+ p_<class>)."""
    files = image_files(input)
    channels, h, w = predictor.spec.input_shape
    x, ok, bad = decode_all(files, list(range(len(files))), channels, (h, w), f"input={input!r}")
    if bad and len(files) == 1:
        why = bad[0] if bad[0].startswith("not ") else f"not a readable PNG/JPEG/BMP/WebP image ({bad[0]})"
        raise UserError(f"input={input!r}: {why}")
    if bad:
        shown = [f"{files[i]} ({why})" for i, why in sorted(bad.items())[:SHOWN]]
        if len(bad) == len(files):
            raise UserError(f"input={input!r}: none of its {len(files):,} files is a readable PNG/JPEG/BMP/WebP "
                            f"image: {bad_text(shown, len(bad))}")
        log.warning("input=%r: skipped %s of %s files that are not readable PNG/JPEG/BMP/WebP images: %s", input,
                    f"{len(bad):,}", f"{len(files):,}", bad_text(shown, len(bad)))
    frame = predictor.predict(torch.from_numpy(x[ok]), proba, name=f"input={input!r}")
    frame.insert(1, "path", [str(f) for f, good in zip(files, ok) if good])
    return frame.assign(row=np.arange(len(frame)))
