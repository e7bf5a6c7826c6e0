"""The data an experiment reads (numeric/networks/datasets.py) and what saved progress records of it
(shb/ground/fingerprint.py), and the structure checks of saved progress (shb/ground/schema.py).

Bugs caught: a fingerprint blind to the content (one pixel changed), to the examples used (n_train), or tied to the
directory (the same data moved), differences that name the wrong place, a label check that lets a test class the
network has no output for through, and structure checks that accept what they should refuse.
"""
import os
import shutil

import numpy as np
import pytest

from shb.ground import schema
from shb.ground.errors import InputError
from shb.ground.fingerprint import differences, digest, summary
from shb.numeric.networks import cifar, datasets

from data_writers import write_idx, write_synthetic_split


@pytest.fixture
def data(tmp_path):
    directory = str(tmp_path / "d")
    write_synthetic_split(directory, "train", n=50, shape=(4, 5), n_classes=3, seed=0)
    write_synthetic_split(directory, "test", n=20, shape=(4, 5), n_classes=3, seed=1)
    return directory


def test_a_fingerprint_follows_the_content_and_the_examples_used_not_the_directory(data, tmp_path):
    splits = datasets.load("idx", data)
    record = datasets.fingerprint(splits)
    assert record["train"]["examples"] == 50 and record["test"]["examples"] == 20
    assert record["train"]["image_shape"] == [4, 5] and record["train"]["classes"] == 3
    moved = str(tmp_path / "moved")
    shutil.copytree(data, moved)
    assert differences(record, datasets.fingerprint(datasets.load("idx", moved)), ignore=("data_dir", "dataset")) == []
    assert differences(record, datasets.fingerprint(splits, n_train=30))[0].startswith("train.examples: saved 50")
    images, labels = splits.train
    changed = images.copy()
    changed[17, 3] ^= 1  # one pixel, one bit
    write_idx(os.path.join(moved, "train-images-idx3-ubyte.gz"), changed.reshape(50, 4, 5))
    found = differences(record, datasets.fingerprint(datasets.load("idx", moved)), ignore=("data_dir", "dataset"))
    assert [line.split(":")[0] for line in found] == ["train.sha256"]


def test_digest_covers_dtype_shape_and_order():
    a = np.arange(6, dtype=np.uint8).reshape(2, 3)
    assert digest(a) == digest(np.asfortranarray(a))  # the same array, however laid out in memory
    assert len({digest(a), digest(a.reshape(3, 2)), digest(a.astype(np.int64)), digest(a[::-1])}) == 4
    assert digest(a, a[0]) != digest(a[0], a)


def test_differences_name_each_place_and_the_summary_counts_the_rest():
    saved = {"a": 1, "b": {"c": "x" * 64, "d": [1, 2]}, "data_dir": "/one"}
    now = {"a": 1, "b": {"c": "y" * 64, "d": [1, 3]}, "e": 2, "data_dir": "/two"}
    found = differences(saved, now, ignore=("data_dir",))
    assert found == ["b.c: saved xxxxxxxxxxxxxxxxx..., now yyyyyyyyyyyyyyyyy...", "b.d: saved [1, 2], now [1, 3]",
                     "e: not recorded, now 2"]
    assert summary(found + ["f: x", "g: y"]).endswith("; and 2 more") and differences(saved, saved) == []


def test_labels_must_name_two_classes_and_test_labels_must_be_training_classes(tmp_path):
    directory = str(tmp_path / "d")
    write_synthetic_split(directory, "train", n=30, shape=(2, 2), n_classes=3, seed=0)
    _, test = write_synthetic_split(directory, "test", n=10, shape=(2, 2), n_classes=3, seed=1)
    datasets.load("idx", directory)
    write_idx(os.path.join(directory, "t10k-labels-idx1-ubyte.gz"), np.where(np.arange(10) == 4, 3, test))
    with pytest.raises(InputError, match=r"test label 3 at index 4 .* labels are 0\.\.2\)"):
        datasets.load("idx", directory)
    write_synthetic_split(directory, "train", n=30, shape=(2, 2), n_classes=1, seed=0)
    with pytest.raises(InputError, match="name only class 0"):
        datasets.load("idx", directory)


def test_sizes_are_checked_against_the_examples_used(data):
    splits = datasets.load("idx", data)
    datasets.check_sizes(splits, {"batch_size": 50})
    with pytest.raises(InputError, match="meta_batch = 51 needs at least 51 training examples, but .* has 50"):
        datasets.check_sizes(splits, {"batch_size": 50, "meta_batch": 51})
    with pytest.raises(InputError, match="has 20 \\(of which n_train = 20 are used\\)"):
        datasets.check_sizes(splits, {"batch_size": 21}, n_train=20)


def test_cifar_is_named_by_its_class_counts():
    labels = np.repeat(np.arange(10), 5000)
    assert cifar.dataset_name(labels, "C") == "CIFAR-10"
    assert cifar.dataset_name(labels[1:], "C") == "CIFAR-10-format data in C"


@pytest.mark.parametrize("check, value, message", [
    (lambda v: schema.obj(v, "x", ("a", "b")), {"a": 1}, "x has no key 'b'"),
    (lambda v: schema.obj(v, "x", ("a",)), {"a": 1, "z": 2}, "x has the unexpected key 'z'"),
    (lambda v: schema.number(v, "x"), float("nan"), "x must be a finite number, got the number nan"),
    (lambda v: schema.number(v, "x"), True, "x must be a finite number, got the boolean true"),
    (lambda v: schema.number(v, "x", positive=True), 0.0, "x must be a number > 0"),
    (lambda v: schema.integer(v, "x", 0, 3), 4, "x must be an integer from 0 to 3, got the number 4"),
    (lambda v: schema.integer(v, "x"), 1.0, "x must be an integer from 0 up, got the number 1.0"),
    (lambda v: schema.numbers(v, "x", 2), [1, None], r"x\[1\] must be a finite number, got null"),
    (lambda v: schema.listing(v, "x", most=1), [1, 2], "x must be a list of at most 1, got a list of 2"),
    (lambda v: schema.keys_within(v, "x", {"a"}), "oops", "x must be an object, got a string"),
])
def test_schema_checks_refuse_in_one_line_naming_the_place(check, value, message):
    with pytest.raises(schema.Invalid, match=message):
        check(value)
