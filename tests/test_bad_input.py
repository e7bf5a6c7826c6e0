"""Every bad input gets one line naming the bad value, the documented exit status, no traceback and nothing left.

Each case runs the real front end (shb.cli.main, in this process: an exception that escaped it would fail the test
with its traceback) in a scratch directory holding the case's files, and asserts: the exit status (2 for bad
input, 1 for a result that is not finite), exactly one line on stderr that starts with "shb: " and names the
bad value, and that no file or directory appeared. The bug each case catches is a class of input the front end
lets through to a traceback, a usage message, a NaN, an endless run or a half-made output directory.
"""
import json
import os
import pickle

import numpy as np
import pytest

from shb.cli import main

from data_writers import write_idx, write_synthetic_split

GOOD_PROBLEM = {"h": [1.0, 0.5], "sigma2": [1.0, 1.0], "mean0": [1.0, -1.0], "var0": [0.0, 0.0]}
GOOD_SCHEDULE = {"alpha": [0.1, 0.1, 0.1], "mu": [0.0, 0.5, 0.5]}


def problem(**fields):
    return json.dumps({**GOOD_PROBLEM, **fields})


def setup_files(root, files):
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if callable(content):
            content(str(path))
        elif isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)


def idx_dir(labels=None, truncate=False, extra_images=0):
    """A writer of a synthetic IDX training split, optionally with bad labels, a cut file or a count mismatch."""
    def write(directory):
        for split, seed in (("train", 0), ("test", 1)):
            images, y = write_synthetic_split(directory, split, n=60, shape=(4, 5), seed=seed, gz=False)
            if split == "train" and labels is not None:
                y = y.copy()
                y[7] = labels
                write_idx(os.path.join(directory, "train-labels-idx1-ubyte"), y)
            if split == "train" and extra_images:
                write_idx(os.path.join(directory, "train-images-idx3-ubyte"),
                          np.concatenate([images, images[:extra_images]]))
        if truncate:
            path = os.path.join(directory, "train-images-idx3-ubyte")
            with open(path, "rb") as handle:
                raw = handle.read()
            with open(path, "wb") as handle:
                handle.write(raw[: len(raw) // 2])
    return write


def idx_pair(n_train=60, n_test=20, train_shape=(4, 5), test_shape=(4, 5), classes=3, test_label=None):
    """A writer of a synthetic IDX data set whose splits may differ in image shape, be small, have one class, or hold
    a test label `test_label` that no training example has."""
    def write(directory):
        write_synthetic_split(directory, "train", n=n_train, shape=train_shape, n_classes=classes, seed=0, gz=False)
        _, y = write_synthetic_split(directory, "test", n=n_test, shape=test_shape, n_classes=classes, seed=1,
                                     gz=False)
        if test_label is not None:
            labels = np.where(np.arange(n_test) == 3, test_label, y)
            write_idx(os.path.join(directory, "t10k-labels-idx1-ubyte"), labels)
    return write


def symlink(target):
    """A writer of a symbolic link to `target` (itself, for a loop)."""
    return lambda path: os.symlink(os.path.basename(path) if target is None else target, path)


LONG = "a" * 300  # longer than a file name may be (255 bytes on Linux)
DEEP = "[" * 2000 + "]" * 2000


def cifar_dir(bad_label):
    def write(directory):
        os.makedirs(directory)
        rng = np.random.default_rng(0)
        for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
            labels = [int(x) for x in rng.integers(0, 10, 4)]
            if name == "data_batch_2":
                labels[1] = bad_label
            with open(os.path.join(directory, name), "wb") as handle:
                pickle.dump({b"data": rng.integers(0, 256, (4, 3072)).astype(np.uint8), b"labels": labels}, handle)
    return write


CASES = [
    # (id, argv, files, status, words the line must hold)
    ("malformed json", ["nqm", "greedy", "--problem", "P.json", "--steps", "3"], {"P.json": "{not json"}, 2,
     ["P.json", "not valid JSON"]),
    ("missing field", ["nqm", "greedy", "--problem", "P.json", "--steps", "3"], {"P.json": '{"h": [1]}'}, 2,
     ["missing field 'sigma2'"]),
    ("wrong length", ["nqm", "greedy", "--problem", "P.json", "--steps", "3"], {"P.json": problem(sigma2=[1.0])}, 2,
     ["'sigma2' has length 1"]),
    ("non-positive h", ["nqm", "greedy", "--problem", "P.json", "--steps", "3"], {"P.json": problem(h=[1.0, 0.0])},
     2, ["'h'[1]", "> 0"]),
    ("NaN token", ["nqm", "greedy", "--problem", "P.json", "--steps", "3"],
     {"P.json": problem().replace("-1.0", "NaN")}, 2, ["NaN", "strict JSON"]),
    ("infinite number", ["nqm", "greedy", "--problem", "P.json", "--steps", "3"],
     {"P.json": problem().replace("-1.0", "1e999")}, 2, ["'mean0'[1]", "not finite"]),
    ("negative variance", ["nqm", "greedy", "--problem", "P.json", "--steps", "3"],
     {"P.json": problem(var0=[0.0, -1.0])}, 2, ["'var0'[1]", ">= 0"]),
    ("square overflows", ["nqm", "greedy", "--problem", "P.json", "--steps", "3"],
     {"P.json": problem(h=[1e300, 1.0])}, 2, ["'h'[0]", "1e+300", "overflows"]),
    ("mean0 overflows", ["nqm", "greedy", "--problem", "P.json", "--steps", "3"],
     {"P.json": problem(mean0=[1e200, 1.0])}, 2, ["'mean0'[0]", "overflows"]),
    ("zero steps", ["nqm", "greedy", "--preset", "paper", "--steps", "0"], {}, 2, ["--steps", "0"]),
    ("steps not a number", ["nqm", "greedy", "--preset", "paper", "--steps", "1e9"], {}, 2, ["--steps", "'1e9'"]),
    ("unknown preset", ["nqm", "greedy", "--preset", "papers", "--steps", "3"], {}, 2, ["'papers'"]),
    ("missing argument", ["nqm", "greedy", "--preset", "paper"], {}, 2, ["--steps", "required"]),
    ("unknown command", ["nqm", "greed"], {}, 2, ["'greed'"]),
    ("bad adam lr", ["nqm", "fixed", "--preset", "paper", "--steps", "3", "--adam-lr", "-1"], {}, 2,
     ["--adam-lr", "'-1'"]),
    ("negative seed", ["nqm", "montecarlo", "--problem", "P.json", "--schedule", "S.json", "--runs", "10", "--seed",
                       "-1"], {"P.json": problem(), "S.json": json.dumps(GOOD_SCHEDULE)}, 2, ["--seed", "-1"]),
    ("seed not an integer", ["nqm", "montecarlo", "--problem", "P.json", "--schedule", "S.json", "--runs", "10",
                             "--seed", "x"], {"P.json": problem(), "S.json": json.dumps(GOOD_SCHEDULE)}, 2,
     ["--seed", "'x'"]),
    ("one run", ["nqm", "montecarlo", "--problem", "P.json", "--schedule", "S.json", "--runs", "1"],
     {"P.json": problem(), "S.json": json.dumps(GOOD_SCHEDULE)}, 2, ["--runs", "1"]),
    ("schedule lengths", ["nqm", "dynamics", "--problem", "P.json", "--schedule", "S.json"],
     {"P.json": problem(), "S.json": json.dumps({"alpha": [0.1, 0.1], "mu": [0.0]})}, 2, ["'mu' has length 1"]),
    ("schedule overflows", ["nqm", "dynamics", "--problem", "P.json", "--schedule", "S.json"],
     {"P.json": problem(), "S.json": json.dumps({"alpha": [1e160], "mu": [0.0]})}, 2, ["'alpha'[0]", "overflows"]),
    ("greedy too long", ["nqm", "greedy", "--preset", "paper", "--steps", "1000000000"], {}, 2,
     ["GiB", "available", "--ignore-limits"]),
    ("optimized too long", ["nqm", "optimized", "--preset", "paper", "--steps", "1000000"], {}, 2, ["GiB"]),
    ("dynamics too long", ["nqm", "dynamics", "--problem", "P.json", "--schedule", "S.json", "--json"],
     {"P.json": json.dumps({"h": [1.0] * 20000, "sigma2": [1.0] * 20000, "mean0": [1.0] * 20000,
                            "var0": [0.0] * 20000}),
      "S.json": json.dumps({"alpha": [0.1] * 20000, "mu": [0.0] * 20000})}, 2, ["GiB"]),
    ("too many runs", ["nqm", "montecarlo", "--problem", "P.json", "--schedule", "S.json", "--runs", "10000000000000"],
     {"P.json": problem(), "S.json": json.dumps(GOOD_SCHEDULE)}, 2, ["hours"]),
    ("diverging dynamics", ["nqm", "dynamics", "--problem", "P.json", "--schedule", "S.json", "--json"],
     {"P.json": problem(), "S.json": json.dumps({"alpha": [50.0] * 200, "mu": [0.0] * 200})}, 1,
     ["not finite from step", "of 200"]),
    ("diverging Monte-Carlo", ["nqm", "montecarlo", "--problem", "P.json", "--schedule", "S.json", "--runs", "20",
                               "--json"],
     {"P.json": problem(), "S.json": json.dumps({"alpha": [50.0] * 200, "mu": [0.0] * 200})}, 1,
     ["not finite", "step 200"]),
    ("trace forgetting above 1", ["nqm", "trace", "--preset", "paper", "--steps", "3", "--forget", "2"], {}, 2,
     ["forget 2.0"]),
    ("trace meta step size negative", ["nqm", "trace", "--preset", "paper", "--steps", "3", "--meta-lr", "-1"], {}, 2,
     ["--meta-lr", "'-1'"]),
    ("zero pieces", ["nqm", "pieces", "--preset", "paper", "--steps", "3", "--pieces", "0"], {}, 2, ["--pieces", "0"]),
    ("corrections too big", ["nqm", "corrections", "--preset", "paper", "--steps", "1000000"], {}, 2,
     ["remedies", "GiB", "--ignore-limits"]),
    ("pes too long", ["nqm", "pes", "--preset", "paper", "--steps", "100000"], {}, 2, ["pes", "hours"]),
    ("lookahead horizon zero", ["nqm", "lookahead", "--preset", "paper", "--steps", "3", "--horizon", "0"], {}, 2,
     ["--horizon", ">= 1", "0"]),
    ("lookahead horizon not an integer", ["nqm", "lookahead", "--preset", "paper", "--steps", "3", "--horizon", "2.5"],
     {}, 2, ["--horizon", "'2.5'"]),
    ("lookahead flag with a value", ["nqm", "lookahead", "--preset", "paper", "--steps", "3", "--deterministic=1"],
     {}, 2, ["--deterministic"]),
    ("lookahead zero steps", ["nqm", "lookahead", "--preset", "paper", "--steps", "0", "--horizon", "5"], {}, 2,
     ["--steps", "0"]),
    ("lookahead too long", ["nqm", "lookahead", "--preset", "paper", "--steps", "2000", "--horizon", "1000000"], {},
     2, ["lookahead", "hours", "--ignore-limits"]),
    ("lookahead too big", ["nqm", "lookahead", "--preset", "paper", "--steps", "20000000", "--horizon", "2"], {}, 2,
     ["lookahead", "GiB"]),
    ("lookahead bad problem", ["nqm", "lookahead", "--problem", "P.json", "--steps", "3", "--horizon", "2"],
     {"P.json": problem(var0=[0.0, -1.0])}, 2, ["'var0'[1]", ">= 0"]),
    ("overflowing lookahead", ["nqm", "lookahead", "--problem", "P.json", "--steps", "5", "--horizon", "3",
                               "--deterministic", "--json"],
     {"P.json": problem(h=[1e150, 1.0], mean0=[1e150, 1.0])}, 1, ["lookahead", "not finite"]),
    ("overflowing greedy", ["nqm", "greedy", "--problem", "P.json", "--steps", "5", "--json"],
     {"P.json": problem(h=[1e150, 1.0], mean0=[1e150, 1.0])}, 1, ["greedy", "not finite"]),
    ("unknown optimizer", ["nqm", "greedy", "--preset", "paper", "--steps", "3", "--optimizer", "adam"], {}, 2,
     ["'adam'", "nesterov"]),
    ("empty optimizer", ["nqm", "greedy", "--preset", "paper", "--steps", "3", "--optimizer", ""], {}, 2,
     ["unknown optimizer ''", "heavy-ball"]),
    ("empty optimizer, montecarlo", ["nqm", "montecarlo", "--problem", "P.json", "--schedule", "S.json", "--runs", "10",
                                     "--optimizer", ""], {"P.json": problem(), "S.json": json.dumps(GOOD_SCHEDULE)}, 2,
     ["unknown optimizer ''"]),
    ("greedy at a tiny curvature", ["nqm", "greedy", "--problem", "P.json", "--steps", "2", "--json"],
     {"P.json": problem(h=[1e-200, 1e-200])}, 1, ["greedy", "not finite"]),  # alpha = 1/2h: its square overflows
    ("option of another optimizer", ["nqm", "fixed", "--preset", "paper", "--steps", "3", "--optimizer", "nesterov",
                                     "--batch-size", "4"], {}, 2, ["--batch-size", "minibatch", "nesterov"]),
    ("heavy ball with an option", ["nqm", "dynamics", "--problem", "P.json", "--schedule", "S.json", "--gamma", "0.5"],
     {"P.json": problem(), "S.json": json.dumps(GOOD_SCHEDULE)}, 2, ["--gamma", "ema", "heavy-ball"]),
    ("batch size zero", ["nqm", "greedy", "--preset", "paper", "--steps", "3", "--optimizer", "minibatch",
                         "--batch-size", "0"], {}, 2, ["--batch-size", "0"]),
    ("batch size fractional", ["nqm", "greedy", "--preset", "paper", "--steps", "3", "--optimizer", "minibatch",
                               "--batch-size", "2.5"], {}, 2, ["--batch-size", "'2.5'"]),
    ("gamma above one", ["nqm", "montecarlo", "--problem", "P.json", "--schedule", "S.json", "--runs", "10",
                         "--optimizer", "ema", "--gamma", "1.5"],
     {"P.json": problem(), "S.json": json.dumps(GOOD_SCHEDULE)}, 2, ["gamma", "1.5", "[2^-511, 1]"]),
    ("negative preconditioner", ["nqm", "greedy-sgd", "--preset", "paper", "--steps", "3", "--optimizer",
                                 "preconditioned", "--precondition", "-1"], {}, 2, ["--precondition", "'-1'"]),
    ("rule dynamics too long", ["nqm", "dynamics", "--problem", "P.json", "--schedule", "S.json", "--json",
                                "--optimizer", "polyak"],
     {"P.json": json.dumps({"h": [1.0] * 20000, "sigma2": [1.0] * 20000, "mean0": [1.0] * 20000,
                            "var0": [0.0] * 20000}),
      "S.json": json.dumps({"alpha": [0.1] * 20000, "mu": [0.0] * 20000})}, 2, ["GiB", "polyak"]),
    ("diverging rule dynamics", ["nqm", "dynamics", "--problem", "P.json", "--schedule", "S.json", "--json",
                                 "--optimizer", "nesterov"],
     {"P.json": problem(), "S.json": json.dumps({"alpha": [50.0] * 200, "mu": [0.0] * 200})}, 1,
     ["not finite from step", "of 200"]),
    ("corrupt IDX", ["hypergrad-check", "--data-dir", "D", "--horizon", "2", "--n-train", "30"],
     {"D": idx_dir(truncate=True)}, 2, ["train-images-idx3-ubyte"]),
    ("label out of range", ["hypergrad-check", "--data-dir", "D", "--horizon", "2", "--n-train", "30"],
     {"D": idx_dir(labels=200)}, 2, ["train-labels-idx1-ubyte", "label 200", "0..9"]),
    ("image/label counts", ["hypergrad-check", "--data-dir", "D", "--horizon", "2", "--n-train", "30"],
     {"D": idx_dir(extra_images=5)}, 2, ["65 images", "60 labels"]),
    ("more examples than exist", ["hypergrad-check", "--data-dir", "D", "--horizon", "2", "--n-train", "10000000"],
     {"D": idx_dir()}, 2, ["10000000", "60"]),
    ("hypergradient horizon too long", ["hypergrad-check", "--data-dir", "D", "--horizon", "100000000"],
     {"D": idx_dir()}, 2, ["GiB"]),
    ("CIFAR label out of range", ["online", "--net", "cnn", "--dataset", "cifar10", "--data-dir", "C", "--scale",
                                  "tiny", "--out", "o"], {"C": cifar_dir(12)}, 2, ["data_batch_2", "label 12"]),
    ("missing data directory", ["online", "--scale", "tiny", "--data-dir", "nowhere", "--out", "o"], {}, 2,
     ["nowhere", "not found"]),
    ("offline unknown scale", ["offline", "--scale", "huge", "--out", "o"], {}, 2, ["'huge'"]),
    ("out names a file", ["figure", "fig1", "--scale", "tiny", "--out", "F"], {"F": "x"}, 2, ["names a file", "F"]),
    ("offline out names a file", ["offline", "--scale", "tiny", "--data-dir", "D", "--out", "F"],
     {"D": idx_dir(), "F": "x"}, 2, ["names a file"]),
    ("out below a file", ["online", "--scale", "tiny", "--data-dir", "D", "--out", "F/sub"],
     {"D": idx_dir(), "F": "x"}, 2, ["below a file"]),
    ("report below a file", ["prove", "--report", "F/proofs.md"], {"F": "x"}, 2, ["--report", "names a file"]),
    ("negative workers", ["offline", "--scale", "tiny", "--workers", "-1", "--out", "o"], {}, 2, ["--workers", "-1"]),
    ("bench repeats", ["bench", "nqm-grad", "--repeats", "0"], {}, 2, ["--repeats"]),
    # JSON inputs: nesting is limited (the parser would recurse into a RecursionError), a key may appear once
    ("problem nested 2000 deep", ["nqm", "greedy", "--problem", "P.json", "--steps", "3"], {"P.json": DEEP}, 2,
     ["P.json", "nested more than 64 levels", "column 65"]),
    ("schedule nested 2000 deep", ["nqm", "dynamics", "--problem", "P.json", "--schedule", "S.json"],
     {"P.json": problem(), "S.json": '{"alpha": ' + DEEP + ', "mu": [0.0]}'}, 2, ["S.json", "nested more than 64"]),
    ("duplicate problem key", ["nqm", "greedy", "--problem", "P.json", "--steps", "3"],
     {"P.json": problem()[:-1] + ', "h": [5.0, 5.0]}'}, 2, ["P.json", "key 'h' appears twice"]),
    ("duplicate schedule key", ["nqm", "dynamics", "--problem", "P.json", "--schedule", "S.json"],
     {"P.json": problem(), "S.json": '{"alpha": [0.1], "mu": [0.0], "mu": [0.5]}'}, 2, ["key 'mu' appears twice"]),
    # bounds and paths proven before any work
    ("a million workers", ["offline", "--scale", "tiny", "--workers", "1000000", "--out", "o"], {}, 2,
     ["--workers", "1000000", "per core"]),
    ("out is a symlink loop", ["figure", "fig1", "--scale", "tiny", "--out", "L"], {"L": symlink(None)}, 2,
     ["--out", "symbolic link loop"]),
    ("out is a dangling link", ["figure", "fig1", "--scale", "tiny", "--out", "L"], {"L": symlink("nowhere")}, 2,
     ["--out", "dangling symbolic link", "nowhere"]),
    ("out below a dangling link", ["offline", "--scale", "tiny", "--data-dir", "D", "--out", "L/sub"],
     {"D": idx_dir(), "L": symlink("nowhere")}, 2, ["--out", "dangling symbolic link"]),
    ("out name too long", ["figure", "fig1", "--scale", "tiny", "--out", f"sub/{LONG}"], {}, 2,
     ["--out cannot be written", LONG]),
    ("empty out", ["online", "--scale", "tiny", "--out", ""], {}, 2, ["--out is empty"]),
    ("trace forgetting above 1", ["online", "--meta", "trace", "--forget", "1.5", "--scale", "tiny", "--out", "o"], {},
     2, ["--forget", "1.5"]),
    ("forgetting without a trace", ["online", "--forget", "0.5", "--scale", "tiny", "--out", "o"], {}, 2,
     ["--forget needs --meta trace"]),
    ("empty report", ["prove", "--report", ""], {}, 2, ["--report is empty"]),
    ("report is a symlink loop", ["prove", "--report", "L"], {"L": symlink(None)}, 2,
     ["--report", "symbolic link loop"]),
    ("report name too long", ["prove", "--report", f"sub/{LONG}.md"], {}, 2, ["--report cannot be written", LONG]),
    ("report names a directory", ["prove", "--report", "sub/"], {}, 2, ["--report names a directory"]),
    ("reproduce without its data", ["reproduce", "--only", "mlp", "--data-dir", "/nonexistent", "--out", "o"], {}, 2,
     ["/nonexistent", "not found"]),
    ("bench nqm-grad too long", ["bench", "nqm-grad", "--steps", "100000000"], {}, 2,
     ["nqm-grad", "100000000 steps", "GiB", "--ignore-limits"]),
    ("bench mlp too long", ["bench", "mlp", "--steps", "1000000000000"], {}, 2, ["bench mlp", "hours"]),
    ("bench cnn too big", ["bench", "cnn", "--batch", "10000000"], {}, 2, ["bench cnn", "--batch 10000000", "GiB"]),
    # data sets checked against each other and against what the configuration reads
    ("offline 28x28 train, 10x10 test", ["offline", "--scale", "tiny", "--data-dir", "D", "--out", "o"],
     {"D": idx_pair(train_shape=(28, 28), test_shape=(10, 10))}, 2, ["differ in shape", "28x28", "10x10"]),
    ("online 28x28 train, 10x10 test", ["online", "--scale", "tiny", "--data-dir", "D", "--out", "o"],
     {"D": idx_pair(train_shape=(28, 28), test_shape=(10, 10))}, 2, ["differ in shape", "28x28", "10x10"]),
    ("offline on 5 examples", ["offline", "--scale", "tiny", "--data-dir", "D", "--out", "o"],
     {"D": idx_pair(n_train=5, n_test=2)}, 2, ["batch_size = 20", "has 5"]),
    ("online on 50 examples", ["online", "--net", "mlp", "--scale", "tiny", "--data-dir", "D", "--out", "o"],
     {"D": idx_pair(n_train=50, n_test=2)}, 2, ["batch_size = 100", "has 50"]),
    ("one class", ["offline", "--scale", "tiny", "--data-dir", "D", "--out", "o"], {"D": idx_pair(classes=1)}, 2,
     ["training labels", "only class 0"]),
    ("test label no training class", ["online", "--net", "mlp", "--scale", "tiny", "--data-dir", "D", "--out", "o"],
     {"D": idx_pair(n_train=200, test_label=7)}, 2, ["test label 7 at index 3", "0..2"]),
]


@pytest.mark.parametrize("argv, files, status, words", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_is_one_line_and_leaves_nothing(argv, files, status, words, tmp_path, monkeypatch, capsys):
    setup_files(tmp_path, files)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SHB_DATA", raising=False)
    before = sorted(str(p) for p in tmp_path.rglob("*"))
    code = main(argv)
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert code == status, captured.err
    assert len(lines) == 1 and lines[0].startswith("shb: "), captured.err
    assert all(word in lines[0] for word in words), lines[0]
    assert "Traceback" not in captured.err and "nan" not in captured.out.lower()
    assert sorted(str(p) for p in tmp_path.rglob("*")) == before  # nothing created, nothing half-written


def test_a_bad_argument_from_the_shell_is_one_line(tmp_path):
    # The same through the installed console script: argparse's usage message is replaced, exit status 2.
    import subprocess
    import sys

    run = subprocess.run([sys.executable, "-m", "shb.cli", "figure", "fig9"], capture_output=True, text=True,
                         cwd=tmp_path)
    assert run.returncode == 2 and len(run.stderr.splitlines()) == 1 and "'fig9'" in run.stderr
