"""Any image dataset in IDX format (LeCun's MNIST files), gzipped or raw: `dataset=idx`.

    mlrun train dataset=idx dataset.root=~/data/kmnist model=cnn
    mlrun train dataset=idx dataset.root=~/data/emnist dataset.train_prefix=emnist-balanced-train \
        dataset.test_prefix=emnist-balanced-test
    mlrun train dataset=idx dataset.root=~/data/kmnist dataset.test_prefix=null    # carve train/val/test

A file pair is `<root>/<prefix>-images-idx3-ubyte` and `<root>/<prefix>-labels-idx1-ubyte`, each optionally
`.gz` (and `.idx3-ubyte` with a dot also matches). An IDX file is: two zero bytes, a type byte (0x08 = uint8),
the number of dimensions d, d big-endian uint32 sizes, then the values, big-endian, row-major.
"""

from __future__ import annotations

import gzip
import math
import os
import struct
import zlib
from pathlib import Path

import numpy as np

from mlrun.datasets._checks import memory_limit
from mlrun.datasets._images import image_data, missing_files
from mlrun.datasets.spec import Data
from mlrun.errors import UserError

IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}   # type byte → dtype
KINDS = {"images": 3, "labels": 1}                                                           # file kind → dims


MAX_GZIP_RATIO = 1100    # deflate expands a byte to at most ~1032 (RFC 1951): a larger claim is not a genuine file
SLACK = 64               # bytes inflated past the declared data: enough to see trailing data, never more
CHUNK = 1 << 20          # compressed bytes read per step


def read_idx(path: str | Path) -> np.ndarray:
    """The array stored in one IDX file (gzip detected from its first bytes), in native byte order.

    The header's dimensions are checked before any data is read or inflated: their product must not overflow
    64 bits, must fit a quarter of this machine's memory, and a gzip file must be able to hold it (deflate expands
    at most ~1032×; a small .gz that declares gigabytes is refused). Data is then inflated into the declared size
    and at most SLACK bytes more. Any problem (wrong magic number, header or data shorter or longer than the
    dimensions say, corrupt gzip) raises one UserError line naming the file.
    """
    file = Path(path)
    try:
        with open(file, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            gz = f.read(2) == b"\x1f\x8b"
            f.seek(0)
            return _read_idx(f, file, size, _Inflate(f, file) if gz else _Plain(f))
    except OSError as e:
        raise UserError(f"{file}: cannot read ({e.strerror or type(e).__name__})") from None


def _read_idx(f, file: Path, size: int, stream) -> np.ndarray:
    raw = stream.read(4)
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in IDX_TYPES or raw[3] == 0:
        raise UserError(f"{file}: not an IDX file: magic number 0x{raw[:4].hex() or '(empty)'}; expected "
                        f"0x0000TTDD with type TT in {', '.join(f'{t:02x}' for t in IDX_TYPES)} and DD ≥ 1 dims")
    ndim, header = raw[3], 4 + 4 * raw[3]
    sizes = stream.read(4 * ndim)
    if len(sizes) < 4 * ndim:
        found = 4 + len(sizes)
        raise UserError(f"{file}: truncated IDX header: {ndim} dimensions need {header} bytes, the file has {found}")
    dims = struct.unpack(f">{ndim}I", sizes)
    dtype = np.dtype(IDX_TYPES[raw[2]])
    shape = "×".join(map(str, dims))
    count = math.prod(dims)                               # Python ints: no silent wrap-around
    expected = count * dtype.itemsize
    if expected >= 1 << 63:
        raise UserError(f"{file}: dimensions {shape} overflow 64 bits ({expected:.3g} bytes); not a genuine IDX file")
    if isinstance(stream, _Inflate) and expected > size * MAX_GZIP_RATIO:
        raise UserError(f"{file}: dimensions {shape} declare {expected:,} data bytes, but a {size:,}-byte gzip file "
                        f"inflates to at most {size * MAX_GZIP_RATIO:,}; refused before inflating (not a genuine file)")
    if isinstance(stream, _Plain) and size - header != expected:
        what = "truncated" if size - header < expected else "trailing bytes after the data"
        raise UserError(f"{file}: {what}: dimensions {shape} need {expected:,} data bytes, found {size - header:,}")
    if expected > memory_limit():
        raise UserError(f"{file}: dimensions {shape} declare {expected / 1e9:.1f} GB of data, more than a quarter of "
                        f"this machine's memory; refused")
    data = np.empty(count, dtype)
    found = stream.readinto(memoryview(data.view(np.uint8).reshape(-1)))
    if found < expected:
        raise UserError(f"{file}: truncated: dimensions {shape} need {expected:,} data bytes, found {found:,}")
    if stream.read(SLACK):
        raise UserError(f"{file}: trailing bytes after the data: dimensions {shape} need {expected:,} data bytes, "
                        f"found more")
    return data.reshape(dims).astype(dtype.newbyteorder("="), copy=False)


class _Plain:
    """An uncompressed file: reads go straight into the destination."""

    def __init__(self, f):
        self.f = f

    def read(self, n: int) -> bytes:
        return self.f.read(n)

    def readinto(self, out: memoryview) -> int:
        n = 0
        while n < len(out):
            got = self.f.readinto(out[n:])
            if not got:
                break
            n += got
        return n


class _Inflate:
    """gzip member(s) inflated on demand, never more output than asked for (zlib's max_length)."""

    def __init__(self, f, file: Path):
        self.f, self.file = f, file
        self.d = zlib.decompressobj(wbits=31)            # 31: gzip header and trailer

    def read(self, n: int) -> bytes:
        out = bytearray(n)
        return bytes(out[:self.readinto(memoryview(out))])

    def readinto(self, out: memoryview) -> int:
        n = 0
        try:
            while n < len(out):
                if self.d.eof:                            # a member ended: another member, or the end
                    chunk = self.d.unused_data or self.f.read(CHUNK)
                    if len(chunk) < 2:
                        chunk += self.f.read(CHUNK)
                    if chunk[:2] != b"\x1f\x8b":
                        while chunk:                       # gzip allows zero bytes of padding at the end
                            if chunk.strip(b"\x00"):
                                raise UserError(f"{self.file}: corrupt gzip (bytes after the last gzip member)")
                            chunk = self.f.read(CHUNK)
                        return n
                    self.d = zlib.decompressobj(wbits=31)
                elif self.d.unconsumed_tail:              # input held back by the output limit (at eof it
                    chunk = self.d.unconsumed_tail        # may linger there too: eof is checked first)
                else:
                    chunk = self.f.read(CHUNK)
                    if not chunk:
                        raise UserError(f"{self.file}: corrupt or truncated gzip (the stream ends inside a member)")
                piece = self.d.decompress(chunk, len(out) - n)
                out[n:n + len(piece)] = piece
                n += len(piece)
        except zlib.error as e:
            raise UserError(f"{self.file}: corrupt or truncated gzip ({e})") from None
        return n


def write_idx(path: str | Path, array) -> Path:
    """Write `array` as an IDX file, gzipped when the name ends in .gz: the inverse of `read_idx`
    (e.g. to convert a dataset for `dataset=idx`, or to make test files)."""
    a = np.asarray(array)
    codes = {(np.dtype(t).kind, np.dtype(t).itemsize): code for code, t in IDX_TYPES.items()}
    if (a.dtype.kind, a.dtype.itemsize) not in codes or a.ndim < 1:
        raise ValueError(f"IDX stores uint8, int8, int16, int32, float32, float64 arrays of ≥ 1 dims, not {a.dtype}")
    raw = bytes([0, 0, codes[a.dtype.kind, a.dtype.itemsize], a.ndim]) + struct.pack(f">{a.ndim}I", *a.shape)
    raw += a.astype(a.dtype.newbyteorder(">")).tobytes()
    path = Path(path)
    path.write_bytes(gzip.compress(raw) if path.suffix == ".gz" else raw)
    return path


def find_idx(root: Path, prefix: str, kind: str) -> Path | None:
    """`<root>/<prefix>-<kind>-idx<d>-ubyte[.gz]` (or `.idx<d>-ubyte`), the first that exists."""
    d = KINDS[kind]
    for name in (f"{prefix}-{kind}-idx{d}-ubyte", f"{prefix}-{kind}.idx{d}-ubyte"):
        for suffix in (".gz", ""):
            if (root / (name + suffix)).is_file():
                return root / (name + suffix)
    return None


def idx_file_names(prefix: str) -> list[str]:
    return [f"{prefix}-{kind}-idx{d}-ubyte.gz" for kind, d in KINDS.items()]


def read_pair(root: Path, prefix: str) -> tuple[np.ndarray, np.ndarray]:
    """uint8 images (N, 1, H, W) and int64 labels (N,) from one IDX file pair; one line per problem."""
    images_file, labels_file = find_idx(root, prefix, "images"), find_idx(root, prefix, "labels")
    images, labels = read_idx(images_file), read_idx(labels_file)
    if images.ndim != 3 or images.dtype != np.uint8:
        raise UserError(f"{images_file}: expected uint8 images of 3 dimensions (N, rows, cols), found "
                        f"{images.dtype} {'×'.join(map(str, images.shape))}")
    if labels.ndim != 1 or labels.dtype.kind not in "iu" or (len(labels) and labels.min() < 0):
        raise UserError(f"{labels_file}: expected 1-D non-negative integer labels, found {labels.dtype} "
                        f"{'×'.join(map(str, labels.shape))}")
    if len(images) != len(labels):
        raise UserError(f"{images_file}: {len(images):,} images but {labels_file.name} has {len(labels):,} labels")
    return images[:, None], labels.astype(np.int64)    # (N, H, W) → (N, 1, H, W)


def load_idx_splits(root: str | Path, train_prefix: str, test_prefix: str | None, download=None, source: str = ""):
    """Read the train pair and (unless `test_prefix` is null) the test pair under `root`.

    Missing files: call `download(root, missing)` when given, else fail in one line naming the files and where to put them.
    """
    root = Path(str(root)).expanduser()
    prefixes = [train_prefix] + ([test_prefix] if test_prefix is not None else [])
    for p in prefixes:
        if not isinstance(p, str) or not p:
            raise UserError(f"dataset.train_prefix/test_prefix={p!r}: must be a file-name prefix such as train or t10k")

    def absent() -> list[str]:
        return [f"{p}-{k}-idx{d}-ubyte[.gz]" for p in prefixes for k, d in KINDS.items() if not find_idx(root, p, k)]

    if absent() and download is not None:
        download(root, absent())
    if absent():
        hint = ""
        if test_prefix and find_idx(root, test_prefix, "images") and not find_idx(root, train_prefix, "images"):
            hint = (f"; only the {test_prefix} pair is there: carve train/val/test from it with "
                    f"dataset.train_prefix={test_prefix} dataset.test_prefix=null")
        raise UserError(missing_files(root, absent(), source) + hint)
    train = read_pair(root, train_prefix)
    test = read_pair(root, test_prefix) if test_prefix is not None else None
    return train, test


def idx(root: str, train_prefix: str = "train", test_prefix: str | None = "t10k", val_fraction: float = 0.1,
        split: dict | None = None, limit_train: int | None = None, mean: list | None = None,
        std: list | None = None, augment: bool = False, pad: int = 2, flip: bool = False, classes: list | None = None,
        seed: int = 0) -> Data:
    """Any IDX file pair(s) under `root` as a multiclass image dataset (classes = largest label + 1).

    With a test pair, `val_fraction` of the train pair is held out for validation (seeded, stratified); with
    `test_prefix=null` the one pair is carved into `split` fractions. Images stay uint8; `mean`/`std` (null =
    measured on the train split) and augmentation are applied per batch on the device (see `ImagePreprocess`).
    """
    train, test = load_idx_splits(root, train_prefix, test_prefix)
    return image_data("idx", train, test, val_fraction=val_fraction, split=split, limit_train=limit_train, mean=mean,
                      std=std, augment=augment, pad=pad, flip=flip, classes=classes, seed=seed)
