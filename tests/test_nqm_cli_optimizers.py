"""`shb nqm ... --optimizer NAME`: heavy ball's outputs unchanged, the other rules' outputs those of the registry.

The bugs caught: the flag changing heavy ball's output (`--optimizer heavy-ball` differs from no flag, byte for
byte); a rule's command running heavy ball's code, dropping its options (--batch-size, --gamma, --precondition)
or reporting other statistics than numeric/nqm/optimizers.py's rollout, simulation, greedy and fits.
Bad values of the flags are in tests/test_bad_input.py.
"""
import json

import numpy as np
import pytest

from shb.numeric.nqm import optimizers as nqm_optimizers
from shb.numeric.nqm.problem import from_json

from test_nqm_cli import PROBLEM, SCHEDULE, files, run  # noqa: F401 (files is a fixture)

HEAVY_BALL_COMMANDS = [
    ["nqm", "dynamics", "--problem", "P.json", "--schedule", "S.json"],
    ["nqm", "montecarlo", "--problem", "P.json", "--schedule", "S.json", "--runs", "50", "--seed", "3"],
    ["nqm", "greedy", "--problem", "P.json", "--steps", "6"],
    ["nqm", "greedy-sgd", "--problem", "P.json", "--steps", "6"],
    ["nqm", "fixed", "--problem", "P.json", "--steps", "5", "--adam-steps", "3"],
    ["nqm", "optimized", "--problem", "P.json", "--steps", "5", "--adam-steps", "3"],
]
# (command-line name and options, the registry's keyword options)
RULES = [(["--optimizer", "nesterov"], "nesterov", {}),
         (["--optimizer", "preconditioned", "--precondition", "2.5"], "preconditioned", {"p": 2.5}),
         (["--optimizer", "preconditioned"], "preconditioned", {}),
         (["--optimizer", "minibatch", "--batch-size", "4"], "minibatch", {"B": 4}),
         (["--optimizer", "ema", "--gamma", "0.3"], "ema", {"gamma": 0.3}),
         (["--optimizer", "polyak"], "polyak", {})]


def _json(result):
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.mark.parametrize("argv", HEAVY_BALL_COMMANDS, ids=[a[1] for a in HEAVY_BALL_COMMANDS])
@pytest.mark.parametrize("as_json", [True, False], ids=["json", "text"])
def test_heavy_ball_flag_changes_nothing(argv, as_json, files, capsys, monkeypatch):
    argv = argv + (["--json"] if as_json else [])
    plain = run(argv, files, capsys, monkeypatch)
    assert plain.returncode == 0, plain.stderr
    for name in ("heavy-ball", "heavy_ball"):
        flagged = run(argv + ["--optimizer", name], files, capsys, monkeypatch)
        assert (flagged.returncode, flagged.stdout, flagged.stderr) == (0, plain.stdout, plain.stderr), name


@pytest.mark.parametrize("flags, name, options", RULES, ids=[" ".join(r[0][1:]) for r in RULES])
def test_rule_dynamics_json_is_the_registry_rollout(flags, name, options, files, capsys, monkeypatch):
    out = _json(run(["nqm", "dynamics", "--problem", "P.json", "--schedule", "S.json", "--json"] + flags, files,
                    capsys, monkeypatch))
    opt = nqm_optimizers.get(name)
    exact = opt.rollout(from_json(PROBLEM), SCHEDULE["alpha"], SCHEDULE["mu"], **options)
    assert sorted(out) == sorted(list(opt.statistics()) + ["loss"])
    for key in out:
        assert np.array_equal(out[key], exact[key]), key
    # and not heavy ball's numbers (a rule silently run as heavy ball would pass the comparison above only if the
    # registry did the same): on this problem every rule's loss differs from heavy ball's
    heavy = nqm_optimizers.get().rollout(from_json(PROBLEM), SCHEDULE["alpha"], SCHEDULE["mu"])["loss"]
    assert not np.allclose(out["loss"][-1], heavy[-1], rtol=1e-6)


@pytest.mark.parametrize("flags, name, options", RULES[::2], ids=[" ".join(r[0][1:]) for r in RULES[::2]])
def test_rule_montecarlo_json_is_the_registry_simulation(flags, name, options, files, capsys, monkeypatch):
    out = _json(run(["nqm", "montecarlo", "--problem", "P.json", "--schedule", "S.json", "--runs", "40", "--seed",
                     "5", "--json"] + flags, files, capsys, monkeypatch))
    sample = nqm_optimizers.get(name).simulate(from_json(PROBLEM), SCHEDULE["alpha"], SCHEDULE["mu"], 40, 5,
                                               **options)
    assert {"mean_theta", "var_theta", "mean_v", "var_v"} <= set(out)
    for key in out:
        assert np.array_equal(out[key], sample[key][0]), key


@pytest.mark.parametrize("flags, name, options", RULES[3:5], ids=["minibatch", "ema"])
def test_rule_schedules_json_are_the_registry_schedules(flags, name, options, files, capsys, monkeypatch):
    opt, problem = nqm_optimizers.get(name), from_json(PROBLEM)
    expected = {"greedy": opt.greedy(problem, 6, **options), "greedy-sgd": opt.greedy(problem, 6, mu=0.0, **options),
                "fixed": opt.fixed(problem, 6, steps=3, lr=0.01, **options)}
    for command, exact in expected.items():
        argv = ["nqm", command, "--problem", "P.json", "--steps", "6", "--json"] + flags
        argv += ["--adam-steps", "3", "--adam-lr", "0.01"] if command == "fixed" else []
        out = _json(run(argv, files, capsys, monkeypatch))
        for key in ("alpha", "mu", "loss"):
            assert np.array_equal(out[key], exact[key]), (command, key)


def test_nesterov_greedy_sgd_is_its_alpha_at_zero_momentum(files, capsys, monkeypatch):
    out = _json(run(["nqm", "greedy-sgd", "--problem", "P.json", "--steps", "6", "--json", "--optimizer", "nesterov"],
                    files, capsys, monkeypatch))
    exact = nqm_optimizers.get("nesterov").greedy(from_json(PROBLEM), 6, mu=0.0)
    assert out["mu"] == [0.0] * 6 and np.array_equal(out["alpha"], exact["alpha"])
