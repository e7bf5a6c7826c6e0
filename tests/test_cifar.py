"""CIFAR-10 pickle batches (numeric/networks/cifar.py): layout conversion and one-line errors naming the file."""
import os
import pickle

import numpy as np
import pytest

from shb.numeric.networks import cifar
from shb.ground.errors import InputError

from data_writers import write_batch  # a sibling module: tests/ is on sys.path under pytest

N = 3


def write_tiny_cifar(directory, seed=0):
    """Six batches of N images each; returns {name: (data (N, 3072) uint8, labels)}."""
    rng = np.random.default_rng(seed)
    os.makedirs(directory, exist_ok=True)
    written = {}
    for name in cifar.SPLITS["train"] + cifar.SPLITS["test"]:
        data = rng.integers(0, 256, (N, 3072)).astype(np.uint8)
        labels = rng.integers(0, 10, N)
        write_batch(os.path.join(directory, name), data, labels)
        written[name] = (data, labels)
    return written


def test_loads_splits_in_hwc_order(tmp_path):
    written = write_tiny_cifar(tmp_path)
    images, labels = cifar.load_split(str(tmp_path), "train")
    assert images.shape == (5 * N, 3072) and images.dtype == np.uint8
    raw = np.concatenate([written[name][0] for name in cifar.SPLITS["train"]])
    np.testing.assert_array_equal(labels, np.concatenate([written[name][1] for name in cifar.SPLITS["train"]]))
    rng = np.random.default_rng(1)
    for _ in range(20):  # pixel (row r, column c, channel ch) sits at ch*1024 + r*32 + c in the official rows
        i, r, c, ch = rng.integers(0, 5 * N), rng.integers(0, 32), rng.integers(0, 32), rng.integers(0, 3)
        assert images[i, (r * 32 + c) * 3 + ch] == raw[i, ch * 1024 + r * 32 + c]
    test_images, test_labels = cifar.load_split(str(tmp_path), "test")
    assert test_images.shape == (N, 3072)
    np.testing.assert_array_equal(test_labels, written["test_batch"][1])


def rewrite(path, obj):
    with open(path, "wb") as handle:
        pickle.dump(obj, handle)


@pytest.mark.parametrize("fault, expected", [
    ("missing", "not found"),
    ("truncated", "not a readable pickle"),
    ("garbage", "not a readable pickle"),
    ("not_a_dict", "holds a list"),
    ("no_labels", "no b'labels'"),
    ("float_data", "expected a uint8 array"),
    ("wrong_width", "expected (N, 3072)"),
    ("label_count", "labels for"),
    ("label_range", "label 10 at index 1 is outside 0..9"),
])
def test_bad_batches_give_one_line_errors_naming_the_file(tmp_path, fault, expected):
    write_tiny_cifar(tmp_path)
    path = os.path.join(tmp_path, "data_batch_3")
    data = np.zeros((N, 3072), np.uint8)
    if fault == "missing":
        os.remove(path)
    elif fault == "truncated":
        raw = open(path, "rb").read()
        open(path, "wb").write(raw[: len(raw) // 2])
    elif fault == "garbage":
        open(path, "wb").write(b"this is not a pickle")
    elif fault == "not_a_dict":
        rewrite(path, [1, 2, 3])
    elif fault == "no_labels":
        rewrite(path, {b"data": data})
    elif fault == "float_data":
        rewrite(path, {b"data": data.astype(float), b"labels": [0] * N})
    elif fault == "wrong_width":
        rewrite(path, {b"data": np.zeros((N, 1024), np.uint8), b"labels": [0] * N})
    elif fault == "label_count":
        rewrite(path, {b"data": data, b"labels": [0] * (N + 1)})
    elif fault == "label_range":
        rewrite(path, {b"data": data, b"labels": [0, 10, 1]})
    with pytest.raises(InputError) as err:
        cifar.load_split(str(tmp_path), "train")
    message = str(err.value)
    assert expected in message and path in message and "\n" not in message


def test_directory_must_be_given_and_exist(tmp_path):
    with pytest.raises(InputError, match="needs --data-dir"):
        cifar.load_split(None)
    with pytest.raises(InputError, match="not found"):
        cifar.load_split(str(tmp_path / "nope"))
