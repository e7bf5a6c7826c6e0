"""CIFAR-10 from its standard python-pickle batches (Krizhevsky, 2009).

A CIFAR-10 directory holds data_batch_1 ... data_batch_5 (training, 10,000 images
each) and test_batch (10,000 images). Each is a pickled dict with b"data", a uint8
array (N, 3072) whose rows are the R, G and B 32x32 planes one after the other,
and b"labels", N integers in 0..9.

SECURITY: unpickling runs arbitrary code that a crafted file can contain. Pickle
is only ever used here on files in a directory the user names with --data-dir;
only point it at trusted files (e.g. the official cifar-10-python.tar.gz, extracted).

Every malformed input is a one-line `InputError` naming the file and the fault.
Images are returned as (N, 32*32*3) uint8 rows in (H, W, C) order, the layout
numeric/networks/cnn.py reads.
"""
import os
import pickle

import numpy as np

from shb.ground.errors import InputError

SIDE, CHANNELS, N_CLASSES = 32, 3, 10
ROW = SIDE * SIDE * CHANNELS
SPLITS = {"train": tuple(f"data_batch_{i}" for i in range(1, 6)), "test": ("test_batch",)}


def resolve_cifar_dir(data_dir):
    """The CIFAR-10 directory: it must be given (there is no embedded copy) and exist."""
    if not data_dir:
        raise InputError("--dataset cifar10 needs --data-dir DIR (the extracted cifar-10-batches-py directory)")
    if not os.path.isdir(data_dir):
        raise InputError(f"CIFAR-10 directory not found: {data_dir}")
    return data_dir


def load_batch(path):
    """(images uint8 (N, 3072) in (H, W, C) order, labels int64 (N,)) of one pickled batch, validated."""
    if not os.path.isfile(path):
        raise InputError(f"CIFAR-10 batch file not found: {path}")
    try:
        with open(path, "rb") as handle:
            batch = pickle.load(handle, encoding="bytes")  # trusted, user-given files only (module docstring)
    except OSError as err:
        raise InputError(f"cannot read CIFAR-10 batch {path}: {err.strerror}") from None
    except Exception as err:  # noqa: BLE001 - any unpickling failure is a bad file
        raise InputError(f"CIFAR-10 batch {path} is not a readable pickle (truncated or corrupt): "
                        f"{type(err).__name__}") from None
    if not isinstance(batch, dict):
        raise InputError(f"CIFAR-10 batch {path} holds a {type(batch).__name__}, expected a dict")
    for key in (b"data", b"labels"):
        if key not in batch:
            raise InputError(f"CIFAR-10 batch {path} has no {key!r} entry")
    data = batch[b"data"]
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8:
        what = data.dtype if isinstance(data, np.ndarray) else type(data).__name__
        raise InputError(f"CIFAR-10 batch {path}: b'data' is {what}, expected a uint8 array")
    if data.ndim != 2 or data.shape[1] != ROW or data.shape[0] == 0:
        raise InputError(f"CIFAR-10 batch {path}: b'data' has shape {data.shape}, expected (N, {ROW}) with N > 0")
    try:
        labels = np.asarray(batch[b"labels"])
    except Exception:  # noqa: BLE001
        raise InputError(f"CIFAR-10 batch {path}: b'labels' is not a list of integers") from None
    if labels.ndim != 1 or labels.shape[0] != data.shape[0]:
        raise InputError(f"CIFAR-10 batch {path}: {labels.shape} labels for {data.shape[0]} images")
    if not np.issubdtype(labels.dtype, np.integer):
        raise InputError(f"CIFAR-10 batch {path}: labels must be integers in 0..{N_CLASSES - 1}, got {labels.dtype}")
    bad = np.flatnonzero((labels < 0) | (labels >= N_CLASSES))
    if bad.size:
        raise InputError(f"CIFAR-10 batch {path}: label {labels[bad[0]]} at index {bad[0]} is outside "
                         f"0..{N_CLASSES - 1}")
    images = data.reshape(-1, CHANNELS, SIDE, SIDE).transpose(0, 2, 3, 1).reshape(-1, ROW)
    return np.ascontiguousarray(images), labels.astype(np.int64)


def load_split(data_dir, split="train"):
    """(images (N, 3072) uint8 in (H, W, C) order, labels (N,)) of the training or test split."""
    where = resolve_cifar_dir(data_dir)
    parts = [load_batch(os.path.join(where, name)) for name in SPLITS[split]]
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])



TRAIN_COUNTS = (5000,) * N_CLASSES  # CIFAR-10's 50,000 training images: 5,000 of each class


def dataset_name(labels, data_dir):
    """'CIFAR-10' when the training labels' class counts are CIFAR-10's, else 'CIFAR-10-format data in DIR'."""
    counts = tuple(int(c) for c in np.bincount(labels, minlength=N_CLASSES))
    return "CIFAR-10" if counts == TRAIN_COUNTS else f"CIFAR-10-format data in {data_dir}"
