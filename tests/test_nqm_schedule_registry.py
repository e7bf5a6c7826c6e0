"""The schedule registry (numeric/nqm/schedule_registry.py): `shb nqm` offers exactly its schedules, a new entry
becomes a subcommand with its declared options checked, and every entry returns what a direct call returns."""
import argparse
import json

import numpy as np
import pytest

from shb.cli import build_parser, main
from shb.ground.errors import InputError
from shb.numeric.nqm import schedule_registry as registry
from shb.numeric.nqm import schedules as nqm_schedules
from shb.numeric.nqm.dynamics import rollout
from shb.numeric.nqm.problem import make_problem
from shb.numeric.nqm.schedule_registry import HORIZON, SCHEDULES, Option, Schedule

PROBLEM = make_problem([1.0, 0.2, 0.05], [1.0, 5.0, 0.0], [3.0, -2.0, 1.0], [0.0, 0.5, 0.0])


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
    assert list(SCHEDULES)[:4] == ["greedy", "greedy-sgd", "fixed", "optimized"]
    assert all(name == s.name for name, s in SCHEDULES.items())
    assert subcommands(build_parser(), "nqm") == ["dynamics", *SCHEDULES, "montecarlo"]


# What each paper schedule must equal: a direct call of numeric/nqm/schedules.py with the same settings.
FIT = {"adam_steps": 7, "adam_lr": 0.01}
DIRECT = {"greedy": lambda T, fit: nqm_schedules.greedy(PROBLEM, T),
          "greedy-sgd": lambda T, fit: nqm_schedules.greedy_sgd(PROBLEM, T),
          "fixed": lambda T, fit: nqm_schedules.fixed(PROBLEM, T, **fit),
          "optimized": lambda T, fit: nqm_schedules.optimized(PROBLEM, T, **fit)}


@pytest.mark.parametrize("name", sorted(DIRECT))
def test_each_paper_schedule_equals_a_direct_call(name):
    schedule = SCHEDULES[name]
    out = schedule(PROBLEM, 5, schedule.pick(FIT))
    assert same(out, DIRECT[name](5, {"steps": 7, "lr": 0.01}))
    assert out["alpha"].shape == out["mu"].shape == (5,) and out["loss"].shape == (6,)
    if schedule.options:  # the declared defaults are the paper's: 500 Adam steps at 0.003
        assert schedule.resolve() == {"adam_steps": 500, "adam_lr": 0.003}
        assert same(schedule(PROBLEM, 3), DIRECT[name](3, {}))


@pytest.mark.parametrize("name", list(SCHEDULES))
def test_each_entry_calls_its_function_with_checked_complete_options(name):
    schedule = SCHEDULES[name]
    options = schedule.pick(FIT)
    assert same(schedule(PROBLEM, 4, options), schedule.function(PROBLEM, 4, schedule.resolve(options)))
    assert list(schedule.resolve()) == [option.name for option in schedule.options]


# A test-only schedule with the options `lookahead` will have: an int >= 1 with its own metavar, a switch, and a
# positive float. It returns its options, so the test sees what reached it.
TOY = Schedule("toy", "a test-only schedule over a horizon of --steps T", lambda problem, T, options: {
    "alpha": np.full(T, options["rate"]), "mu": np.zeros(T), "loss": rollout(problem, np.full(T, options["rate"]),
                                                                              np.zeros(T))["loss"],
    "options": options}, (
    Option("horizon", "int", 1, minimum=1, metavar="K", help="steps of lookahead K (default 1)"),
    Option("deterministic", "flag", help="look ahead on the noise-free problem"),
    Option("rate", "float", 0.25, help="the learning rate")))


@pytest.fixture
def toy(tmp_path, monkeypatch):
    """TOY registered for this test only; (tmp_path, the options it received) once it has run."""
    received = []

    def function(problem, T, options):
        received.append(options)
        return TOY.function(problem, T, options)

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
    assert subcommands(build_parser(), "nqm")[-2:] == ["toy", "montecarlo"]
    assert "toy a test-only schedule over a horizon of --steps T" in help_text(["nqm"], capsys)
    text = help_text(["nqm", "toy"], capsys)
    for words in ("--steps T [--horizon K] [--deterministic] [--rate RATE] [--json]",
                  "--horizon K steps of lookahead K (default 1)",
                  "--deterministic look ahead on the noise-free problem", "--rate RATE the learning rate"):
        assert words in text, words

    status, out, err = shb(["nqm", "toy", "--problem", "P.json", "--steps", "3", "--json"], capsys)
    assert status == 0 and err == ""
    assert toy[-1] == {"horizon": 1, "deterministic": False, "rate": 0.25}  # the declared defaults
    assert json.loads(out)["alpha"] == [0.25] * 3
    status, out, err = shb(["nqm", "toy", "--problem", "P.json", "--steps", "2", "--horizon", "4", "--deterministic",
                            "--rate", "0.5"], capsys)
    assert status == 0 and err == ""
    assert toy[-1] == {"horizon": 4, "deterministic": True, "rate": 0.5}
    assert out.startswith("toy schedule, d=2, T=2: final loss ") and "alpha 0.5 -> 0.5" in out


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
        SCHEDULES["greedy"](PROBLEM, 3, {"adam_lr": 0.1})
    assert SCHEDULES["greedy"].pick(FIT) == {} and SCHEDULES["fixed"].pick({**FIT, "horizon": 2}) == FIT
    with pytest.raises(InputError, match="--adam-lr must be a finite number > 0, got -0.1"):
        SCHEDULES["fixed"](PROBLEM, 3, {"adam_lr": -0.1})
    assert registry.SCHEDULES is SCHEDULES


def test_figure_3_takes_its_schedules_from_the_registry(monkeypatch):
    from shb.experiments.figures import fig3_schedules

    cfg = {"T": 4, "adam_steps": {"paper": 3}, "adam_lr": 0.01}
    runs, seconds = fig3_schedules.schedules(PROBLEM, "paper", cfg)
    assert list(runs) == list(seconds) == ["greedy", "fixed", "optimized"]
    for name in runs:
        assert same(runs[name], DIRECT[name](4, {"steps": 3, "lr": 0.01})), name
    # An entry replaced in the registry is what the figure draws.
    marker = {"alpha": np.ones(4), "mu": np.zeros(4), "loss": np.zeros(5)}
    fixed = SCHEDULES["fixed"]
    monkeypatch.setitem(SCHEDULES, "fixed", Schedule("fixed", fixed.help, lambda *args: marker, fixed.options))
    assert fig3_schedules.schedules(PROBLEM, "paper", cfg)[0]["fixed"] is marker


def test_a_registered_schedule_without_a_rule_form_refuses_other_optimizers(toy, capsys):
    # Catches a schedule registered for heavy ball only being run as heavy ball under --optimizer nesterov (the
    # flag silently ignored): the front end must say in one line that it is computed for heavy-ball only.
    status, out, err = shb(["nqm", "toy", "--problem", "P.json", "--steps", "3", "--optimizer", "nesterov"], capsys)
    assert status == 2 and out == "" and len(err.splitlines()) == 1
    assert "toy" in err and "heavy-ball only" in err and "nesterov" in err
