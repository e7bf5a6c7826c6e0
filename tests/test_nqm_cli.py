"""`shb nqm ...`: JSON outputs agree with the library, and bad input is one line on stderr with exit status 2."""
import json
import subprocess
import sys

import numpy as np
import pytest

from shb.numeric.nqm.dynamics import rollout
from shb.numeric.nqm.problem import from_json

SHB = [sys.executable, "-m", "shb.cli"]

PROBLEM = {"h": [1.0, 0.2, 0.05], "sigma2": [1.0, 5.0, 0.0], "mean0": [3.0, -2.0, 1.0], "var0": [0.0, 0.5, 0.0]}
SCHEDULE = {"alpha": [0.5, 0.4, 0.3, 0.3], "mu": [0.0, 0.5, 0.6, 0.7]}


def run(args, tmp_path, capsys=None, monkeypatch=None):
    """Run `shb ARGS` in tmp_path: in a subprocess, or in-process through shb.cli.main when capsys is given."""
    if capsys is None:
        return subprocess.run(SHB + args, capture_output=True, text=True, cwd=tmp_path)
    from shb.cli import main
    monkeypatch.chdir(tmp_path)
    capsys.readouterr()
    status = main(args)
    out, err = capsys.readouterr()
    return subprocess.CompletedProcess(args, status, out, err)


@pytest.fixture
def files(tmp_path):
    (tmp_path / "P.json").write_text(json.dumps(PROBLEM))
    (tmp_path / "S.json").write_text(json.dumps(SCHEDULE))
    return tmp_path


def test_dynamics_json(files):
    result = run(["nqm", "dynamics", "--problem", "P.json", "--schedule", "S.json", "--json"], files)
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    exact = rollout(from_json(PROBLEM), SCHEDULE["alpha"], SCHEDULE["mu"])
    for name in ("mean_theta", "mean_v", "var_theta", "var_v", "cov_theta_v", "loss"):
        assert np.allclose(out[name], exact[name], rtol=1e-12), name
    assert np.array(out["mean_theta"]).shape == (5, 3)


def test_schedule_commands_json(files, capsys, monkeypatch):
    for name in ("greedy", "greedy-sgd"):
        result = run(["nqm", name, "--problem", "P.json", "--steps", "6", "--json"], files, capsys, monkeypatch)
        assert result.returncode == 0, result.stderr
        out = json.loads(result.stdout)
        assert len(out["alpha"]) == len(out["mu"]) == 6 and len(out["loss"]) == 7
        assert np.allclose(rollout(from_json(PROBLEM), out["alpha"], out["mu"])["loss"], out["loss"])
        if name == "greedy-sgd":
            assert out["mu"] == [0.0] * 6
    result = run(["nqm", "fixed", "--problem", "P.json", "--steps", "5", "--adam-steps", "3", "--json"], files,
                 capsys, monkeypatch)
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert len(set(out["alpha"])) == 1 and len(set(out["mu"])) == 1
    result = run(["nqm", "optimized", "--problem", "P.json", "--steps", "5", "--adam-steps", "3"], files,
                 capsys, monkeypatch)
    assert result.returncode == 0, result.stderr
    assert "optimized schedule" in result.stdout and "final loss" in result.stdout


@pytest.mark.slow
def test_overflow_is_one_line_not_nan_or_warnings(files):
    """A problem whose squares overflow float64 is refused, naming the field; one whose products overflow during
    the run is said in one line naming the step (exit 1), never a NaN schedule or numpy's warnings."""
    (files / "huge.json").write_text(json.dumps(dict(PROBLEM, mean0=[3e200, -2.0, 1.0])))
    (files / "big.json").write_text(json.dumps(dict(PROBLEM, h=[1e150, 1.0, 0.5], mean0=[1e150, -2.0, 1.0])))
    for name in ("greedy", "greedy-sgd"):
        result = run(["nqm", name, "--problem", "huge.json", "--steps", "3"], files)
        assert result.returncode == 2 and "'mean0'[0]" in result.stderr and "overflows" in result.stderr
        result = run(["nqm", name, "--problem", "big.json", "--steps", "3", "--json"], files)
        assert result.returncode == 1 and result.stdout == "" and len(result.stderr.splitlines()) == 1
        assert "not finite from step" in result.stderr and "Warning" not in result.stderr


def test_montecarlo_json(files, capsys, monkeypatch):
    result = run(["nqm", "montecarlo", "--problem", "P.json", "--schedule", "S.json", "--runs", "4000",
                  "--seed", "3", "--json"], files, capsys, monkeypatch)
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert len(out["mean_theta"]) == len(out["var_theta"]) == 3
    exact = rollout(from_json(PROBLEM), SCHEDULE["alpha"], SCHEDULE["mu"])
    # Coordinate 2 is deterministic (sigma2 = var0 = 0): Monte-Carlo equals the exact value to rounding.
    assert out["mean_theta"][2] == pytest.approx(exact["mean_theta"][-1, 2], rel=1e-12)
    assert out["var_theta"][2] == pytest.approx(0.0, abs=1e-20)
    again = json.loads(run(["nqm", "montecarlo", "--problem", "P.json", "--schedule", "S.json", "--runs", "4000",
                            "--seed", "3", "--json"], files, capsys, monkeypatch).stdout)
    assert again == out


BAD = [
    (["nqm", "dynamics", "--problem", "missing.json", "--schedule", "S.json"], "not found"),
    (["nqm", "dynamics", "--problem", "broken.json", "--schedule", "S.json"], "not valid JSON"),
    (["nqm", "dynamics", "--problem", "negh.json", "--schedule", "S.json"], "'h'[1]"),
    (["nqm", "dynamics", "--problem", "short.json", "--schedule", "S.json"], "'sigma2' has length 2"),
    (["nqm", "dynamics", "--problem", "P.json", "--schedule", "badS.json"], "'mu' has length 1"),
    (["nqm", "dynamics", "--problem", "P.json", "--schedule", "strS.json"], "'alpha'[0]"),
    (["nqm", "greedy", "--problem", "P.json", "--steps", "zero"], "--steps must be an integer"),
    (["nqm", "greedy", "--problem", "P.json", "--steps", "0"], "--steps must be >= 1"),
    (["nqm", "greedy", "--preset", "nope", "--steps", "5"], "unknown preset 'nope'"),
    (["nqm", "fixed", "--problem", "P.json", "--steps", "5", "--adam-lr", "-1"], "--adam-lr"),
    (["nqm", "montecarlo", "--problem", "P.json", "--schedule", "S.json", "--runs", "1"], "--runs must be >= 2"),
    (["nqm", "montecarlo", "--problem", "P.json", "--schedule", "S.json", "--runs", "10", "--seed", "x"], "--seed"),
]


def write_bad_files(files):
    (files / "broken.json").write_text('{"h": [1, 2,')
    (files / "negh.json").write_text(json.dumps(dict(PROBLEM, h=[1.0, -0.2, 0.05])))
    (files / "short.json").write_text(json.dumps(dict(PROBLEM, sigma2=[1.0, 5.0])))
    (files / "badS.json").write_text(json.dumps({"alpha": [0.1, 0.2], "mu": [0.0]}))
    (files / "strS.json").write_text(json.dumps({"alpha": ["0.1"], "mu": [0.0]}))


def check_one_line_error(result, words):
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("shb: "), result.stderr
    assert "Traceback" not in result.stderr
    assert words in lines[0], (words, lines[0])


@pytest.mark.parametrize("args, words", BAD)
def test_bad_input_is_one_line_and_exit_2(files, capsys, monkeypatch, args, words):
    """In-process through shb.cli.main: any exception other than ShbError would propagate and fail the test."""
    write_bad_files(files)
    check_one_line_error(run(args, files, capsys, monkeypatch), words)


@pytest.mark.slow
@pytest.mark.parametrize("args, words", [BAD[1], BAD[2], BAD[4], BAD[7]])
def test_bad_input_in_a_real_process_has_no_traceback(files, args, words):
    write_bad_files(files)
    check_one_line_error(run(args, files), words)
