"""numeric/nqm/schedule_registry.py: `shb nqm` offers exactly its schedules, a new entry becomes a subcommand with its
declared options checked, every entry returns what a direct call of the rule returns, for every rule of the
registry (every schedule runs for every rule), and the cost estimates bound the work.

Catches: a schedule missing from the front end, an option not reaching the function (or its default not the
declared one), a schedule computed for heavy ball whatever --optimizer says (or for the rule without its options),
a cost estimate that ignores the rule (its statistics) or the schedule's options.
"""
import argparse
import json

import numpy as np
import pytest

from shb.cli import build_parser, main
from shb.ground.errors import InputError
from shb.ground.options import Option
from shb.numeric.nqm import optimizers as nqm_optimizers
from shb.numeric.nqm import schedule_registry as registry
from shb.numeric.nqm.problem import make_problem
from shb.numeric.nqm.schedule_registry import HORIZON, SCHEDULES, Schedule

from .reference import NAMES

PROBLEM = make_problem([1.0, 0.2, 0.05], [1.0, 5.0, 0.0], [3.0, -2.0, 1.0], [0.0, 0.5, 0.0])
HEAVY_BALL = nqm_optimizers.get("heavy-ball")


def subcommands(parser, *path):
    """The subcommand names of `shb PATH...`, in the order of its help."""
    for name in path:
        action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        parser = action.choices[name]
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return list(action.choices)


def shb(args, capsys):
    capsys.readouterr()
    status = main(args)
    out, err = capsys.readouterr()
    return status, out, err


def same(a, b):
    """Bitwise equal results: the same keys, and each value the same bytes."""
    return a.keys() == b.keys() and all(np.asarray(a[k]).tobytes() == np.asarray(b[k]).tobytes()
                                        and np.asarray(a[k]).dtype == np.asarray(b[k]).dtype for k in a)


def test_the_cli_offers_exactly_the_registry_schedules():
    assert list(SCHEDULES) == ["greedy", "greedy-sgd", "fixed", "optimized", "lookahead", "trace", "pes", "pieces"]
    assert all(name == s.name for name, s in SCHEDULES.items())
    assert subcommands(build_parser(), "nqm") == ["dynamics", *SCHEDULES, "corrections", "montecarlo"]


# What each schedule must equal: a direct call of the rule's method with the same settings.
FIT = {"adam_steps": 7, "adam_lr": 0.01, "horizon": 3, "deterministic": True}
DIRECT = {"greedy": lambda opt, T, fit: opt.greedy(PROBLEM, T),
          "greedy-sgd": lambda opt, T, fit: opt.greedy(PROBLEM, T, mu=0.0),
          "fixed": lambda opt, T, fit: opt.fixed(PROBLEM, T, **fit),
          "optimized": lambda opt, T, fit: opt.optimized(PROBLEM, T, **fit),
          "lookahead": lambda opt, T, fit: opt.lookahead(PROBLEM, T, fit.get("K", 1), fit.get("deterministic", False))}
DIRECT_OPTIONS = {"fixed": {"steps": 7, "lr": 0.01}, "optimized": {"steps": 7, "lr": 0.01},
                  "lookahead": {"K": 3, "deterministic": True}}


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("schedule_name", list(DIRECT))
def test_every_schedule_runs_for_every_rule_and_equals_a_direct_call(schedule_name, name):
    schedule, opt = SCHEDULES[schedule_name], nqm_optimizers.get(name)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        out = schedule(opt, PROBLEM, 5, schedule.pick(FIT))
        assert same(out, DIRECT[schedule_name](opt, 5, DIRECT_OPTIONS.get(schedule_name, {})))
    assert out["alpha"].shape == out["mu"].shape == (5,) and out["loss"].shape == (6,)
    assert np.all(np.isfinite(out["loss"]))
    np.testing.assert_allclose(out["loss"], opt.loss_curve(PROBLEM, out["alpha"], out["mu"]), rtol=1e-12)


@pytest.mark.parametrize("schedule_name", ["fixed", "optimized"])
def test_the_declared_defaults_are_the_papers(schedule_name):
    schedule = SCHEDULES[schedule_name]
    assert schedule.resolve() == {"adam_steps": 500, "adam_lr": 0.003}
    assert same(schedule(HEAVY_BALL, PROBLEM, 3), DIRECT[schedule_name](HEAVY_BALL, 3, {}))
    assert SCHEDULES["lookahead"].resolve() == {"horizon": 1, "deterministic": False, "to_end": False}


@pytest.mark.parametrize("name", list(SCHEDULES))
def test_each_entry_calls_its_function_with_checked_complete_options(name):
    schedule = SCHEDULES[name]
    options = schedule.pick(FIT)
    assert same(schedule(HEAVY_BALL, PROBLEM, 4, options),
                schedule.function(HEAVY_BALL, PROBLEM, 4, schedule.resolve(options)))
    assert list(schedule.resolve()) == [option.name for option in schedule.options]


# A test-only schedule with the options `lookahead` has: an int >= 1 with its own metavar, a switch, and a
# positive float. It returns its options and the rule it ran for, so the test sees what reached it.
TOY = Schedule("toy", "a test-only schedule over a horizon of --steps T", lambda opt, problem, T, options: {
    "alpha": np.full(T, options["rate"]), "mu": np.full(T, 0.5),
    "loss": opt.loss_curve(problem, np.full(T, options["rate"]), np.full(T, 0.5)), "options": options, "opt": opt}, (
    Option("horizon", "int", 1, minimum=1, metavar="K", help="steps of lookahead K (default 1)"),
    Option("deterministic", "flag", help="look ahead on the noise-free problem"),
    Option("rate", "float", 0.25, help="the learning rate")))


@pytest.fixture
def toy(tmp_path, monkeypatch):
    """TOY registered for this test only; the (rule, options) it received once it has run."""
    received = []

    def function(opt, problem, T, options):
        received.append((opt, options))
        return TOY.function(opt, problem, T, options)

    monkeypatch.setitem(SCHEDULES, "toy", Schedule(TOY.name, TOY.help, function, TOY.options))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "P.json").write_text(json.dumps({"h": [1.0, 0.2], "sigma2": [1.0, 0.0], "mean0": [3.0, 1.0],
                                                 "var0": [0.0, 0.0]}))
    return received


def help_text(args, capsys):
    """The help of `shb ARGS --help`, with runs of white space as one space."""
    assert main([*args, "--help"]) == 0
    return " ".join(capsys.readouterr().out.split())


def test_a_registered_schedule_is_a_subcommand_with_its_options(toy, capsys):
    assert subcommands(build_parser(), "nqm")[-3:] == ["toy", "corrections", "montecarlo"]
    assert "toy a test-only schedule over a horizon of --steps T" in help_text(["nqm"], capsys)
    text = help_text(["nqm", "toy"], capsys)
    for words in ("--steps T [--horizon K] [--deterministic] [--rate RATE] [--json]",
                  "--horizon K steps of lookahead K (default 1)",
                  "--deterministic look ahead on the noise-free problem", "--rate RATE the learning rate"):
        assert words in text, words

    status, out, err = shb(["nqm", "toy", "--problem", "P.json", "--steps", "3", "--json"], capsys)
    assert status == 0 and err == ""
    assert toy[-1][1] == {"horizon": 1, "deterministic": False, "rate": 0.25}  # the declared defaults
    assert toy[-1][0].name == "heavy-ball"  # the default rule
    assert json.loads(out)["alpha"] == [0.25] * 3
    status, out, err = shb(["nqm", "toy", "--problem", "P.json", "--steps", "2", "--horizon", "4", "--deterministic",
                            "--rate", "0.5"], capsys)
    assert status == 0 and err == ""
    assert toy[-1][1] == {"horizon": 4, "deterministic": True, "rate": 0.5}
    assert out.startswith("toy schedule of heavy-ball, d=2, T=2: final loss ") and "alpha 0.5 -> 0.5" in out


@pytest.mark.parametrize("flags, name, options", [(["--optimizer", "nesterov"], "nesterov", {}),
                                                  (["--optimizer", "minibatch", "--batch-size", "4"], "minibatch",
                                                   {"B": 4}),
                                                  (["--optimizer", "ema", "--gamma", "0.5"], "ema", {"gamma": 0.5})])
def test_a_registered_schedule_runs_for_the_rule_the_command_names(toy, capsys, flags, name, options):
    # Catches --optimizer (or a rule's option) ignored for a registered schedule: it must receive that rule, with its
    # options bound, and its loss is that rule's.
    status, out, err = shb(["nqm", "toy", "--problem", "P.json", "--steps", "3", "--json", *flags], capsys)
    assert status == 0 and err == ""
    opt = toy[-1][0]
    assert (opt.name, opt.options) == (name, options)
    problem = make_problem([1.0, 0.2], [1.0, 0.0], [3.0, 1.0], [0.0, 0.0])
    expected = nqm_optimizers.get(name, **options).loss_curve(problem, np.full(3, 0.25), np.full(3, 0.5))
    assert np.array_equal(json.loads(out)["loss"], expected)
    assert not np.allclose(expected, HEAVY_BALL.loss_curve(problem, np.full(3, 0.25), np.full(3, 0.5)))


@pytest.mark.parametrize("args, message", [
    (["--horizon", "0"], "--horizon must be >= 1, got 0"),
    (["--horizon", "two"], "--horizon must be an integer, got 'two'"),
    (["--horizon", "1.0"], "--horizon must be an integer, got '1.0'"),
    (["--rate", "0"], "--rate must be a finite number > 0, got '0'"),
    (["--rate", "inf"], "--rate must be a finite number > 0, got 'inf'"),
    (["--rate", "fast"], "--rate must be a number, got 'fast'"),
    (["--rate", "-1", "--horizon", "0"], "--horizon must be >= 1, got 0"),  # in declared order
])
def test_a_registered_schedule_checks_its_declared_options(toy, capsys, args, message):
    status, out, err = shb(["nqm", "toy", "--problem", "P.json", "--steps", "3", *args], capsys)
    assert (status, out, err) == (2, "", f"shb: {message}\n")
    assert toy == []  # never called


def test_a_switch_takes_no_value(toy, capsys):
    assert main(["nqm", "toy", "--problem", "P.json", "--steps", "3", "--deterministic", "yes"]) == 2
    err = capsys.readouterr().err
    assert "unrecognized arguments: yes" in err and len(err.splitlines()) == 1


def test_option_parse_rules():
    steps = Option("adam_steps", "int", 500, minimum=0)
    assert (steps.flag, steps.metavar) == ("--adam-steps", "ADAM_STEPS")
    assert steps.parse("12") == 12 and steps.parse(0) == 0 and steps.parse(np.int64(3)) == 3
    for bad, message in (("-1", "--adam-steps must be >= 0, got -1"), (1.5, "--adam-steps must be an integer, got 1.5"),
                         (True, "--adam-steps must be an integer, got True"), (None, "must be an integer, got None")):
        with pytest.raises(InputError, match=message.replace("+", r"\+")):
            steps.parse(bad)
    assert HORIZON.flag == "--steps" and HORIZON.parse("1") == 1
    with pytest.raises(InputError, match="--steps must be >= 1, got 0"):
        HORIZON.parse(0)
    shift = Option("shift", "float", 0.0, positive=False)
    assert shift.parse("-2.5") == -2.5
    with pytest.raises(InputError, match="--shift must be a finite number, got 'nan'"):
        shift.parse("nan")
    switch = Option("deterministic", "flag")
    assert switch.default is False and switch.parse(True) is True
    with pytest.raises(InputError, match="--deterministic is a switch"):
        switch.parse("yes")
    for kwargs in ({"kind": "str"}, {"kind": "float", "minimum": 1}, {"kind": "flag", "default": True}):
        with pytest.raises(ValueError):
            Option("x", **kwargs)
    with pytest.raises(ValueError, match="share a name"):
        Schedule("twice", "", TOY.function, (Option("rate", "float"), Option("rate", "int")))


def test_a_schedule_rejects_an_option_it_does_not_declare():
    with pytest.raises(InputError, match="the greedy schedule has no option 'adam_lr'"):
        SCHEDULES["greedy"](HEAVY_BALL, PROBLEM, 3, {"adam_lr": 0.1})
    assert SCHEDULES["greedy"].pick(FIT) == {} and SCHEDULES["fixed"].pick({**FIT, "horizon": 2}) == {
        "adam_steps": 7, "adam_lr": 0.01}
    with pytest.raises(InputError, match="--adam-lr must be a finite number > 0, got -0.1"):
        SCHEDULES["fixed"](HEAVY_BALL, PROBLEM, 3, {"adam_lr": -0.1})
    assert registry.SCHEDULES is SCHEDULES


def test_figure_3_takes_its_schedules_from_the_registry(monkeypatch):
    from shb.experiments.figures import fig3_schedules

    cfg = {"T": 4, "adam_steps": {"paper": 3}, "adam_lr": 0.01}
    runs, seconds = fig3_schedules.schedules(PROBLEM, "paper", cfg)
    assert list(runs) == list(seconds) == ["greedy", "fixed", "optimized"]
    for name in runs:
        assert same(runs[name], DIRECT[name](HEAVY_BALL, 4, {"steps": 3, "lr": 0.01} if name != "greedy" else {})), name
    # An entry replaced in the registry is what the figure draws.
    marker = {"alpha": np.ones(4), "mu": np.zeros(4), "loss": np.zeros(5)}
    fixed = SCHEDULES["fixed"]
    monkeypatch.setitem(SCHEDULES, "fixed", Schedule("fixed", fixed.help, lambda *args: marker, fixed.options))
    assert fig3_schedules.schedules(PROBLEM, "paper", cfg)[0]["fixed"] is marker


@pytest.mark.parametrize("name", list(SCHEDULES))
def test_every_cost_estimate_grows_with_the_rules_state_and_the_work(name):
    # Catches an estimate that ignores the rule (an average's nine statistics cost more memory than heavy ball's
    # five), the coordinates or the horizon, or (lookahead) K.
    schedule = SCHEDULES[name]
    options = schedule.resolve()
    heavy = schedule.estimate(HEAVY_BALL, 100, 50, options)
    average = schedule.estimate(nqm_optimizers.get("polyak"), 100, 50, options)
    assert average[0] > heavy[0] > 0
    assert schedule.estimate(HEAVY_BALL, 200, 50, options)[0] > heavy[0]
    assert schedule.estimate(HEAVY_BALL, 100, 100, options)[1] > heavy[1] > 0
    if name == "lookahead":
        assert schedule.estimate(HEAVY_BALL, 100, 50, dict(options, horizon=5))[1] > heavy[1]
