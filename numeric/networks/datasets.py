"""The data an experiment reads, checked before any work: both splits, their image shape, their labels and sizes,
the data set's name as it really is, and the fingerprint that saved progress records.

Checks (each an InputError in one line naming the data directory):

- the training and test images have one shape (IDX: `idx.load_pair`; CIFAR-10's is fixed by its format);
- the training labels name at least two classes, and every test label is one of the training set's classes
  (0 .. the largest training label): a network has an output for each class it trains on, no more;
- the training set holds at least as many examples as each minibatch the configuration draws (`check_sizes`):
  minibatches are drawn with replacement, so from fewer examples every minibatch would repeat some, and
  the run would not be the sampling of a data set the experiments describe.

Evaluation subsets ("the first N examples") read min(N, examples): the reports say how many were used.
"""
import os
from collections import namedtuple

import numpy as np

from shb.ground.errors import InputError
from shb.ground.fingerprint import digest
from shb.numeric.networks import cifar, idx

# name: as the data really is ('Fashion-MNIST', 'MNIST', 'CIFAR-10' or 'IDX data in DIR', ...); where: the
# directory read; train, test: (images uint8 (n, pixels), labels (n,)); shape: one image's (rows, cols[, channels]).
Splits = namedtuple("Splits", ["name", "where", "train", "test", "shape"])
FORMATS = ("idx", "cifar10")


def load(data_format, data_dir):
    """Both splits of the data in `data_dir` (IDX files, or CIFAR-10's pickle batches), checked (module docstring:
    shapes and labels; sizes against a configuration with `check_sizes`)."""
    if data_format == "cifar10":
        where = cifar.resolve_cifar_dir(data_dir)
        train, test = cifar.load_split(where, "train"), cifar.load_split(where, "test")
        splits = Splits(cifar.dataset_name(train[1], where), where, train, test,
                        (cifar.SIDE, cifar.SIDE, cifar.CHANNELS))
    elif data_format == "idx":
        where = idx.resolve_data_dir(data_dir)
        train, test, shape = idx.load_pair(where)
        splits = Splits(idx.dataset_name(train[1], where), where, train, test, tuple(shape))
    else:
        raise InputError(f"unknown data format {data_format!r}; choose one of: {', '.join(FORMATS)}")
    check_labels(splits)
    return splits


def n_classes(splits):
    """The number of classes: one more than the largest training label."""
    return int(splits.train[1].max()) + 1


def check_labels(splits):
    """InputError unless the training labels have two classes or more and every test label is a training class."""
    train, test = np.asarray(splits.train[1]), np.asarray(splits.test[1])
    if np.unique(train).size < 2:
        raise InputError(f"the training labels in {splits.where} name only class {int(train[0])}: a classifier "
                         "needs two classes or more")
    bad = np.flatnonzero(test >= n_classes(splits))
    if bad.size:
        raise InputError(f"test label {int(test[bad[0]])} at index {bad[0]} in {splits.where} is no class of the "
                         f"training set (its labels are 0..{n_classes(splits) - 1})")


def check_sizes(splits, reads, n_train=None):
    """InputError if the training set (its first n_train examples, if given) holds fewer examples than a minibatch
    the configuration draws; `reads` {what: size}, e.g. {"batch_size": 100, "meta_batch": 1000}."""
    n = train_examples(splits, n_train)
    for what, size in reads.items():
        if size > n:
            raise InputError(f"{what} = {size} needs at least {size} training examples, but {splits.where} has {n}"
                             + (f" (of which n_train = {n_train} are used)" if n_train else ""))


def train_examples(splits, n_train=None):
    """How many training examples a run uses: all, or the first n_train."""
    return min(n_train, len(splits.train[1])) if n_train else len(splits.train[1])


def fingerprint(splits, n_train=None):
    """What saved progress records of the data it was made from: the data set's name, the directory read, the
    examples used of each split, the image shape, the classes and a SHA-256 of the arrays used."""
    n = train_examples(splits, n_train)
    images, labels = splits.train[0][:n], splits.train[1][:n]
    return {"dataset": splits.name, "data_dir": os.path.abspath(splits.where),
            "train": {"examples": int(n), "image_shape": list(splits.shape), "classes": n_classes(splits),
                      "sha256": digest(images, labels)},
            "test": {"examples": int(len(splits.test[1])), "sha256": digest(*splits.test)}}
