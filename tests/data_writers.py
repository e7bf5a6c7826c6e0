"""Writers of small data files in the formats the loaders read (IDX, CIFAR-10 pickle batches), for tests.

A sibling module of the tests (tests/ has no __init__.py; pytest puts tests/ on sys.path):
`from data_writers import write_synthetic_split`.
"""
import gzip
import os
import pickle

import numpy as np

from shb.numeric.networks.idx import SPLITS, UBYTE


def write_idx(path, array):
    """Write a uint8 array as IDX (gzip-compressed if path ends in .gz)."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = bytes([0, 0, UBYTE, array.ndim]) + np.asarray(array.shape, dtype=">u4").tobytes()
    data = header + array.tobytes()
    if path.endswith(".gz"):
        data = gzip.compress(data)
    with open(path, "wb") as handle:
        handle.write(data)


def write_synthetic_split(directory, split="train", n=300, shape=(4, 5), n_classes=3, seed=0, gz=True):
    """Write a small learnable IDX split (class-dependent pixel means); returns (images, labels)."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, n_classes, n).astype(np.uint8)
    means = rng.uniform(40, 215, (n_classes, *shape))
    images = np.clip(means[labels] + rng.normal(0, 40, (n, *shape)), 0, 255).astype(np.uint8)
    suffix = ".gz" if gz else ""
    image_stem, label_stem = SPLITS[split]
    os.makedirs(directory, exist_ok=True)
    write_idx(os.path.join(directory, image_stem + suffix), images)
    write_idx(os.path.join(directory, label_stem + suffix), labels)
    return images, labels


def write_batch(path, images_chw, labels):
    """Write one CIFAR-10 batch in the official format: images (N, 3072) uint8 in (C, H, W) order."""
    with open(path, "wb") as handle:
        pickle.dump({b"data": np.asarray(images_chw, dtype=np.uint8), b"labels": [int(x) for x in labels],
                     b"batch_label": b"synthetic"}, handle)
