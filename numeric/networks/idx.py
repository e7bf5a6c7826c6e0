"""IDX files (MNIST, Fashion-MNIST) and where to find them.

IDX layout (LeCun et al.): a 4-byte big-endian magic number 0x00 0x00 TT DD,
where TT is the element type (0x08 = unsigned byte for the image and label
files we read) and DD the number of dimensions, then DD big-endian uint32
sizes, then the elements in C order. Images are (n, rows, cols), labels (n,).
Files may be gzip-compressed (.gz) or plain.

Every malformed input is a one-line `InputError` naming the file and the fault.
"""
import gzip
import os
import zlib

import numpy as np

from shb.ground.errors import InputError

DEFAULT_DATA_DIR = "/usr/share/datasets/fashion-mnist"
DATA_ENV = "SHB_DATA"
UBYTE = 0x08
N_CLASSES = 10  # labels of MNIST and Fashion-MNIST lie in 0..9
SPLITS = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
HOW_TO_FIX = "install the Debian package dataset-fashion-mnist, or pass --data-dir DIR / set SHB_DATA=DIR"


def resolve_data_dir(data_dir=None):
    """The data directory: `data_dir`, else $SHB_DATA, else Debian's Fashion-MNIST location."""
    if data_dir:
        where, source = data_dir, "--data-dir"
    elif os.environ.get(DATA_ENV):
        where, source = os.environ[DATA_ENV], DATA_ENV
    else:
        where, source = DEFAULT_DATA_DIR, "default"
    if not os.path.isdir(where):
        raise InputError(f"data directory not found: {where} ({source}); {HOW_TO_FIX}")
    return where


def find_idx_file(data_dir, stem):
    """Path of `stem` or `stem.gz` in data_dir (plain file preferred)."""
    for name in (stem, stem + ".gz"):
        path = os.path.join(data_dir, name)
        if os.path.isfile(path):
            return path
    raise InputError(f"IDX file not found: {os.path.join(data_dir, stem)}[.gz]; {HOW_TO_FIX}")


def read_bytes(path):
    """The file's bytes, gunzipped if it starts with the gzip magic."""
    try:
        with open(path, "rb") as handle:
            raw = handle.read()
    except OSError as err:
        raise InputError(f"cannot read IDX file {path}: {err.strerror}") from None
    if raw[:2] != b"\x1f\x8b":
        return raw
    try:
        return gzip.decompress(raw)
    except (EOFError, OSError, zlib.error) as err:
        raise InputError(f"corrupt or truncated gzip IDX file {path}: {err}") from None


def parse_idx(raw, path, ndim):
    """Decode IDX bytes into a uint8 array of `ndim` dimensions, validating header and length."""
    if len(raw) < 4:
        raise InputError(f"IDX file {path} is truncated: {len(raw)} bytes, no header")
    if raw[0] != 0 or raw[1] != 0:
        raise InputError(f"IDX file {path} has bad magic number 0x{raw[:4].hex()} (expected 0x0000{UBYTE:02x}{ndim:02x})")
    if raw[2] != UBYTE:
        raise InputError(f"IDX file {path} has dtype code 0x{raw[2]:02x}; expected 0x08 (unsigned byte)")
    if raw[3] != ndim:
        raise InputError(f"IDX file {path} has {raw[3]} dimensions; expected {ndim}")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise InputError(f"IDX file {path} is truncated in its header: {len(raw)} bytes < {header}")
    shape = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    expected = header + int(np.prod(shape, dtype=np.int64))
    if len(raw) != expected:
        what = "truncated" if len(raw) < expected else "too long"
        raise InputError(f"IDX file {path} is {what}: {len(raw)} bytes for shape {shape} (expected {expected})")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape)


def load_idx(path, ndim):
    """Read and validate one IDX file (plain or .gz)."""
    return parse_idx(read_bytes(path), path, ndim)


def load_split(data_dir=None, split="train"):
    """(images uint8 (n, rows*cols), labels uint8 (n,)) of one split, validated against each other."""
    images, labels = load_images(data_dir, split)
    return images.reshape(images.shape[0], -1), labels


def load_pair(data_dir=None):
    """((train images, labels), (test images, labels)) as load_split gives them, and the image shape (rows, cols),
    which the two splits must share (rows of different images would not fit one network)."""
    where = resolve_data_dir(data_dir)
    (train, train_labels), (test, test_labels) = (load_images(where, split) for split in ("train", "test"))
    if train.shape[1:] != test.shape[1:]:
        raise InputError(f"the training and test images in {where} differ in shape: {train.shape[1]}x{train.shape[2]} "
                         f"({SPLITS['train'][0]}) vs {test.shape[1]}x{test.shape[2]} ({SPLITS['test'][0]})")
    return ((train.reshape(train.shape[0], -1), train_labels), (test.reshape(test.shape[0], -1), test_labels),
            train.shape[1:])


def load_images(data_dir=None, split="train"):
    """(images uint8 (n, rows, cols), labels uint8 (n,)) of one split, validated against each other."""
    where = resolve_data_dir(data_dir)
    image_path, label_path = (find_idx_file(where, stem) for stem in SPLITS[split])
    images = load_idx(image_path, 3)
    labels = load_idx(label_path, 1)
    bad = np.flatnonzero(labels >= N_CLASSES)
    if bad.size:
        raise InputError(f"{label_path}: label {labels[bad[0]]} at index {bad[0]} is outside 0..{N_CLASSES - 1} "
                         f"(MNIST and Fashion-MNIST have {N_CLASSES} classes)")
    if images.shape[0] != labels.shape[0]:
        raise InputError(
            f"{image_path} has {images.shape[0]} images but {label_path} has {labels.shape[0]} labels"
        )
    if images.shape[0] == 0 or images.shape[1] * images.shape[2] == 0:
        raise InputError(f"IDX file {image_path} is empty: shape {images.shape}")
    return images, labels



# Class counts of the 60,000 training labels identify the two IDX data sets: Fashion-MNIST is balanced, MNIST not
# (LeCun et al.'s train-labels-idx1-ubyte: 5923 zeros, 6742 ones, ...).
KNOWN_TRAIN_COUNTS = {
    "Fashion-MNIST": (6000,) * 10,
    "MNIST": (5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949),
}


def dataset_name(labels, data_dir):
    """'MNIST' or 'Fashion-MNIST' when the training labels' class counts are theirs, else 'IDX data in DIR'."""
    counts = tuple(int(c) for c in np.bincount(labels))
    for name, known in KNOWN_TRAIN_COUNTS.items():
        if counts == known:
            return name
    return f"IDX data in {data_dir}"
