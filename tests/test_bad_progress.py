"""Saved progress that cannot be resumed is refused in one line, exit status 2, with nothing changed or created:
progress made from other data, progress saved before shb recorded its data, and files that parse but are wrong
inside (the issue's offline `"surface": "oops"` and extra horizon key, an online run state whose theta or u has the
wrong length).

Each case makes real progress with a tiny run stopped after a few units, spoils it, and reruns the command through
the front end (shb.cli.main, in this process: an exception that escaped it fails the test with its traceback).
Bugs caught: a resume that mixes two data sets (offline: the first data set's numbers labelled with the second;
online: a run that goes on with other data, or an IndexError), a resume of progress nobody can vouch for, and a
traceback (KeyError, TypeError, IndexError, a broadcast error) from a file that is wrong inside.
"""
import json
import os
import shutil

import numpy as np
import pytest

from shb.cli import main
from shb.experiments.figures import offline, online
from shb.experiments.figures.offline.config import PROGRESS_FILE, TINY
from shb.experiments.figures.online import config as online_config
from shb.experiments.figures.online import units as online_units
from shb.numeric.meta import online_smd

from data_writers import write_synthetic_split

OFFLINE = TINY


@pytest.fixture(scope="module")
def saved(tmp_path_factory, data_dir):
    """(offline progress directory, online progress directory, other data directory): tiny runs stopped early."""
    root = tmp_path_factory.mktemp("saved")
    offline.run(str(root / "offline"), config=OFFLINE, data_dir=data_dir, stop_after=12, log=lambda line: None)
    online.run(str(root / "online"), config=online_config.TINY, net="mlp", data_dir=data_dir, stop_after=2)
    other = str(root / "other")  # the same shapes and sizes as data_dir, other pixels
    write_synthetic_split(other, "train", n=300, shape=(8, 8), n_classes=3, seed=10)
    write_synthetic_split(other, "test", n=100, shape=(8, 8), n_classes=3, seed=11)
    return root / "offline", root / "online", other


def refused(argv, root, capsys, words):
    """Run argv in `root`; assert exit 2, one line holding `words`, no traceback, and no file created or changed."""
    before = {p: p.read_bytes() for p in root.rglob("*") if p.is_file()}
    cwd = os.getcwd()
    os.chdir(root)
    try:
        code = main(argv)
    finally:
        os.chdir(cwd)
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if not line.startswith(("offline: ", "online: "))]
    assert code == 2, err
    assert len(lines) == 1 and lines[0].startswith("shb: "), err
    assert all(word in lines[0] for word in words), lines[0]
    assert {p: p.read_bytes() for p in root.rglob("*") if p.is_file()} == before


def offline_case(saved, tmp_path, spoil):
    out = tmp_path / "o"
    shutil.copytree(saved[0], out)
    path = out / PROGRESS_FILE
    state = json.loads(path.read_text())
    spoil(state)
    path.write_text(json.dumps(state))
    return ["offline", "--scale", "tiny", "--out", "o"]


@pytest.mark.slow
@pytest.mark.parametrize("spoil, words", [
    (lambda s: s.update(surface="oops"), ["surface must be an object, got a string"]),
    (lambda s: s["surface"]["losses"].update({"7": {}}), ["surface.losses has the unexpected key '7'"]),
    (lambda s: s["smd"].update({"7": []}), ["smd has the unexpected key '7'"]),
    (lambda s: s["smd"]["5"][0]["trajectory"].append([0.1, 1.0]), ["smd.5[0].trajectory must be a list of"]),
    (lambda s: s["surface"]["losses"]["5"].update({"99": 1.0}), ["surface.losses.5 has the unexpected key '99'"]),
    (lambda s: s["smd"]["5"][0]["adam"].update(v=[-1.0, 0.0]), ["smd.5[0].adam.v[0] must be a number >= 0"]),
    (lambda s: s.pop("inputs"), ["does not record which data", "older shb"]),
], ids=["surface oops", "extra horizon in the surface", "extra horizon in smd", "trajectory too long",
        "sample beyond the count", "negative Adam moment", "saved before fingerprints"])
def test_offline_progress_wrong_inside_is_refused(saved, tmp_path, data_dir, capsys, spoil, words):
    argv = offline_case(saved, tmp_path, spoil)
    refused(argv + ["--data-dir", data_dir], tmp_path, capsys, ["offline_progress.json", *words])


@pytest.mark.slow
def test_offline_progress_from_other_data_is_refused(saved, tmp_path, capsys):
    argv = offline_case(saved, tmp_path, lambda state: None)
    refused(argv + ["--data-dir", saved[2]], tmp_path, capsys,
            ["offline_progress.json", "made from other data", "train.sha256", "test.sha256"])


def online_case(saved, tmp_path, spoil):
    out = tmp_path / "o"
    shutil.copytree(saved[1], out)
    config = json.loads(json.dumps(online_config.TINY))
    run = online_config.run_specs(config)[0]
    path = online_units.progress_path(str(out), "mlp", "fashion-mnist", run.name)
    _, state = online_smd.read_state(path)
    spoil(state)
    online_smd.save_state(path, state, run, config)
    return ["online", "--net", "mlp", "--scale", "tiny", "--out", "o"]


@pytest.mark.slow
@pytest.mark.parametrize("spoil, words", [
    (lambda s: s.update(theta=s["theta"][:-1]), ["theta has shape", "expected ("]),
    (lambda s: s.update(u=np.zeros(3)), ["u has shape (3,), expected (2,)"]),
    (lambda s: s.update(v=s["v"].astype(np.int64)), ["v has dtype int64"]),
    (lambda s: s["log"]["lr"].append(0.1), ["log's lists differ in length"]),
    (lambda s: s.update(t=10 ** 6), ["t must be an integer from 0 to 40"]),
    (lambda s: s.update(rng={"bit_generator": "MT19937"}), ["rng must be the state of numpy's default random"]),
    (lambda s: s.pop("inputs"), ["does not record which data"]),
], ids=["theta too short", "u of three", "integer velocity", "ragged log", "step beyond the run", "not a generator",
        "saved before fingerprints"])
def test_online_progress_wrong_inside_is_refused(saved, tmp_path, data_dir, capsys, spoil, words):
    argv = online_case(saved, tmp_path, spoil)
    refused(argv + ["--data-dir", data_dir], tmp_path, capsys, ["mlp_fashion-mnist_stochastic.npz", *words])


@pytest.mark.slow
def test_online_progress_from_other_data_is_refused(saved, tmp_path, capsys):
    argv = online_case(saved, tmp_path, lambda state: None)
    refused(argv + ["--data-dir", saved[2]], tmp_path, capsys, ["made from other data", "train.sha256"])
