"""`shb nqm ...` (shb/cli/commands/nqm.py): the JSON outputs are the library's (numeric/nqm/optimizers.py) for every
rule of the registry, --optimizer heavy-ball changes nothing, and bad input is one line on stderr, exit status 2.

The bugs caught: a command's output that is not the library's result (a statistic dropped or of another step, a
schedule computed with other settings); the flag changing heavy ball's output (`--optimizer heavy-ball` differs from
no flag, byte for byte); a rule's command running heavy ball's code, dropping its options (--batch-size, --gamma,
--precondition) or reporting other statistics than the rule's rollout and simulation (every state variable, an
average's too); an overflow or a bad value ending in a traceback, a usage message, a NaN or numpy's warnings.
More bad values of the flags: tests/test_bad_input.py.
"""
import json
import subprocess
import sys

import numpy as np
import pytest

from shb.numeric.nqm import generated as gen
from shb.numeric.nqm import optimizers as nqm_optimizers
from shb.numeric.nqm.problem import from_json

SHB = [sys.executable, "-m", "shb.cli"]

PROBLEM = {"h": [1.0, 0.2, 0.05], "sigma2": [1.0, 5.0, 0.0], "mean0": [3.0, -2.0, 1.0], "var0": [0.0, 0.5, 0.0]}
SCHEDULE = {"alpha": [0.5, 0.4, 0.3, 0.3], "mu": [0.0, 0.5, 0.6, 0.7]}
HEAVY_BALL = nqm_optimizers.get("heavy-ball")


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


def _json(result):
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_dynamics_json(files):
    out = _json(run(["nqm", "dynamics", "--problem", "P.json", "--schedule", "S.json", "--json"], files))
    exact = HEAVY_BALL.rollout(from_json(PROBLEM), SCHEDULE["alpha"], SCHEDULE["mu"])
    for name in ("mean_theta", "mean_v", "var_theta", "var_v", "cov_theta_v", "loss"):
        assert np.allclose(out[name], exact[name], rtol=1e-12), name
    assert np.array(out["mean_theta"]).shape == (5, 3)


def test_schedule_commands_json(files, capsys, monkeypatch):
    for name in ("greedy", "greedy-sgd"):
        out = _json(run(["nqm", name, "--problem", "P.json", "--steps", "6", "--json"], files, capsys, monkeypatch))
        assert len(out["alpha"]) == len(out["mu"]) == 6 and len(out["loss"]) == 7
        assert np.allclose(HEAVY_BALL.rollout(from_json(PROBLEM), out["alpha"], out["mu"])["loss"], out["loss"])
        if name == "greedy-sgd":
            assert out["mu"] == [0.0] * 6
    out = _json(run(["nqm", "fixed", "--problem", "P.json", "--steps", "5", "--adam-steps", "3", "--json"], files,
                    capsys, monkeypatch))
    assert len(set(out["alpha"])) == 1 and len(set(out["mu"])) == 1
    result = run(["nqm", "optimized", "--problem", "P.json", "--steps", "5", "--adam-steps", "3"], files,
                 capsys, monkeypatch)
    assert result.returncode == 0, result.stderr
    assert "optimized schedule of heavy-ball" in result.stdout and "final loss" in result.stdout


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
    argv = ["nqm", "montecarlo", "--problem", "P.json", "--schedule", "S.json", "--runs", "4000", "--seed", "3",
            "--json"]
    out = _json(run(argv, files, capsys, monkeypatch))
    assert sorted(out) == ["mean_theta", "mean_v", "var_theta", "var_v"]
    assert all(len(value) == 3 for value in out.values())
    exact = HEAVY_BALL.rollout(from_json(PROBLEM), SCHEDULE["alpha"], SCHEDULE["mu"])
    # Coordinate 2 is deterministic (sigma2 = var0 = 0): Monte-Carlo equals the exact value to rounding.
    for x in ("theta", "v"):
        assert out[f"mean_{x}"][2] == pytest.approx(exact[f"mean_{x}"][-1, 2], rel=1e-12)
        assert out[f"var_{x}"][2] == pytest.approx(0.0, abs=1e-20)
    assert _json(run(argv, files, capsys, monkeypatch)) == out


# (command-line name and options, the registry's keyword options)
RULES = [(["--optimizer", "nesterov"], "nesterov", {}),
         (["--optimizer", "preconditioned", "--precondition", "2.5"], "preconditioned", {"p": 2.5}),
         (["--optimizer", "preconditioned"], "preconditioned", {}),
         (["--optimizer", "minibatch", "--batch-size", "4"], "minibatch", {"B": 4}),
         (["--optimizer", "ema", "--gamma", "0.3"], "ema", {"gamma": 0.3}),
         (["--optimizer", "polyak"], "polyak", {})]
IDS = [" ".join(r[0][1:]) for r in RULES]
HEAVY_BALL_COMMANDS = [
    ["nqm", "dynamics", "--problem", "P.json", "--schedule", "S.json"],
    ["nqm", "montecarlo", "--problem", "P.json", "--schedule", "S.json", "--runs", "50", "--seed", "3"],
    ["nqm", "greedy", "--problem", "P.json", "--steps", "6"],
    ["nqm", "greedy-sgd", "--problem", "P.json", "--steps", "6"],
    ["nqm", "fixed", "--problem", "P.json", "--steps", "5", "--adam-steps", "3"],
    ["nqm", "optimized", "--problem", "P.json", "--steps", "5", "--adam-steps", "3"],
    ["nqm", "lookahead", "--problem", "P.json", "--steps", "5", "--horizon", "2"],
]


@pytest.mark.parametrize("argv", HEAVY_BALL_COMMANDS, ids=[a[1] for a in HEAVY_BALL_COMMANDS])
@pytest.mark.parametrize("as_json", [True, False], ids=["json", "text"])
def test_heavy_ball_flag_changes_nothing(argv, as_json, files, capsys, monkeypatch):
    argv = argv + (["--json"] if as_json else [])
    plain = run(argv, files, capsys, monkeypatch)
    assert plain.returncode == 0, plain.stderr
    for name in ("heavy-ball", "heavy_ball"):
        flagged = run(argv + ["--optimizer", name], files, capsys, monkeypatch)
        assert (flagged.returncode, flagged.stdout, flagged.stderr) == (0, plain.stdout, plain.stderr), name


@pytest.mark.parametrize("flags, name, options", RULES, ids=IDS)
def test_rule_dynamics_json_is_the_registry_rollout(flags, name, options, files, capsys, monkeypatch):
    out = _json(run(["nqm", "dynamics", "--problem", "P.json", "--schedule", "S.json", "--json"] + flags, files,
                    capsys, monkeypatch))
    opt = nqm_optimizers.get(name, **options)
    exact = opt.rollout(from_json(PROBLEM), SCHEDULE["alpha"], SCHEDULE["mu"])
    assert sorted(out) == sorted(list(opt.statistics()) + ["loss"])
    for key in out:
        assert np.array_equal(out[key], exact[key]), key
    # and not heavy ball's numbers (a rule silently run as heavy ball would pass the comparison above only if the
    # registry did the same): on this problem every rule's loss differs from heavy ball's
    heavy = HEAVY_BALL.rollout(from_json(PROBLEM), SCHEDULE["alpha"], SCHEDULE["mu"])["loss"]
    assert not np.allclose(out["loss"][-1], heavy[-1], rtol=1e-6)


@pytest.mark.parametrize("flags, name, options", RULES, ids=IDS)
def test_rule_montecarlo_json_is_the_registry_simulation_of_every_state_variable(flags, name, options, files, capsys,
                                                                                 monkeypatch):
    out = _json(run(["nqm", "montecarlo", "--problem", "P.json", "--schedule", "S.json", "--runs", "40", "--seed",
                     "5", "--json"] + flags, files, capsys, monkeypatch))
    opt = nqm_optimizers.get(name, **options)
    sample = opt.simulate(from_json(PROBLEM), SCHEDULE["alpha"], SCHEDULE["mu"], 40, 5)
    state = gen.RULES[opt.rule]["state"]
    assert sorted(out) == sorted(f"{m}_{x}" for x in state for m in ("mean", "var"))
    for key in out:
        assert np.array_equal(out[key], sample[key][0]), key


@pytest.mark.parametrize("flags, name, options", RULES, ids=IDS)
def test_rule_schedules_json_are_the_registry_schedules(flags, name, options, files, capsys, monkeypatch):
    opt, problem = nqm_optimizers.get(name, **options), from_json(PROBLEM)
    expected = {"greedy": opt.greedy(problem, 6), "greedy-sgd": opt.greedy(problem, 6, mu=0.0),
                "fixed": opt.fixed(problem, 6, steps=3, lr=0.01)}
    for command, exact in expected.items():
        argv = ["nqm", command, "--problem", "P.json", "--steps", "6", "--json"] + flags
        argv += ["--adam-steps", "3", "--adam-lr", "0.01"] if command == "fixed" else []
        out = _json(run(argv, files, capsys, monkeypatch))
        for key in ("alpha", "mu", "loss"):
            assert np.array_equal(out[key], exact[key]), (command, key)


def test_nesterovs_greedy_is_its_alpha_at_its_momentum_and_greedy_sgd_at_zero(files, capsys, monkeypatch):
    nesterov, problem = nqm_optimizers.get("nesterov"), from_json(PROBLEM)
    for command, mu in (("greedy", 0.9), ("greedy-sgd", 0.0)):
        out = _json(run(["nqm", command, "--problem", "P.json", "--steps", "6", "--json", "--optimizer", "nesterov"],
                        files, capsys, monkeypatch))
        exact = nesterov.greedy(problem, 6, mu=mu)
        assert out["mu"] == [mu] * 6 and np.array_equal(out["alpha"], exact["alpha"])


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
    (["nqm", "greedy", "--problem", "P.json", "--steps", "3", "--optimizer", ""], "unknown optimizer ''"),
    (["nqm", "dynamics", "--problem", "P.json", "--schedule", "S.json", "--optimizer", ""], "unknown optimizer ''"),
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
@pytest.mark.parametrize("args, words", [BAD[1], BAD[2], BAD[4], BAD[7], BAD[12]])
def test_bad_input_in_a_real_process_has_no_traceback(files, args, words):
    write_bad_files(files)
    check_one_line_error(run(args, files), words)


def test_corrections_prints_every_remedys_final_loss_regret_and_learning_rates(files, capsys, monkeypatch):
    # The table is the library's (numeric/nqm/corrections.py): each remedy's L(T) is its schedule's rollout, the
    # regret its ratio to the optimized schedule's, and the pieces run up to T (one pair per step).
    out = _json(run(["nqm", "corrections", "--problem", "P.json", "--steps", "6", "--json"], files, capsys, monkeypatch))
    for name in ("greedy", "lookahead K=5", "trace lambda=0", "trace lambda=0.99", "PES (expected)", "1 piece (fixed)",
                 "4 pieces", "6 pieces", "optimized"):
        assert name in out, name
    assert "16 pieces" not in out
    best = out["optimized"]["final_loss"]
    for name, o in out.items():
        assert o["regret"] == pytest.approx(o["final_loss"] / best, rel=1e-12)
        assert len(o["alpha_eff"]) == 6
    greedy = HEAVY_BALL.greedy(from_json(PROBLEM), 6)
    assert out["greedy"]["final_loss"] == pytest.approx(greedy["loss"][-1], rel=1e-12)
    assert np.allclose(out["greedy"]["alpha_eff"], greedy["alpha"] / (1 - greedy["mu"]), rtol=1e-12)
    text = run(["nqm", "corrections", "--problem", "P.json", "--steps", "6"], files, capsys, monkeypatch).stdout
    assert all(word in text for word in ("trace lambda=0.9 ", "L(T)", "regret", "alpha_eff", "removed"))


def test_corrections_on_a_solved_problem_has_no_ratio_to_print(tmp_path, capsys, monkeypatch):
    # One deterministic coordinate with h = 1: greedy's alpha = 1 solves it exactly, so L(T) of the optimized
    # schedule is 0 and no regret is defined: null in strict JSON, n/a in text, not a division by zero.
    (tmp_path / "P.json").write_text(json.dumps({"h": [1.0], "sigma2": [0.0], "mean0": [1.0], "var0": [0.0]}))
    result = run(["nqm", "corrections", "--problem", "P.json", "--steps", "3", "--json"], tmp_path, capsys,
                 monkeypatch)
    out = json.loads(result.stdout, parse_constant=lambda c: pytest.fail(f"non-strict JSON {c}"))
    assert out["optimized"]["final_loss"] == 0.0
    assert all(o["regret"] is None and o["removed"] is None for o in out.values())
