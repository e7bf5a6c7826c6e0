"""`shb nqm ...`: the noisy quadratic model engine from the command line (Section 2).

    shb nqm dynamics   --problem P.json --schedule S.json [--json]
    shb nqm greedy|greedy-sgd|fixed|optimized (--problem P.json | --preset NAME) --steps T [--json]
                (one subcommand per schedule of numeric/nqm_schedule_registry.py, with its declared options)
    shb nqm montecarlo --problem P.json --schedule S.json --runs N --seed K [--json]

P.json = {"h": [...], "sigma2": [...], "mean0": [...], "var0": [...]}; S.json = {"alpha": [...], "mu": [...]}.
Bad input is one line on stderr and exit status 2.
"""
import sys

from shb.numeric import nqm_schedule_registry
from shb.numeric.nqm_schedule_registry import HORIZON, Option

RUNS = Option("runs", "int", minimum=2)
SEED = Option("seed", "int", minimum=0)


def register(subparsers):
    parser = subparsers.add_parser("nqm", help="noisy quadratic model: exact dynamics, Monte-Carlo, schedules")
    sub = parser.add_subparsers(dest="nqm_command", required=True)

    p = sub.add_parser("dynamics", help="exact mean/variance dynamics (Theorem 1) of a schedule")
    _problem_args(p, preset=False)
    p.add_argument("--schedule", required=True, metavar="S.json", help='{"alpha": [...], "mu": [...]}')
    _json_arg(p)
    p.set_defaults(func=run_dynamics)

    for schedule in nqm_schedule_registry.SCHEDULES.values():
        p = sub.add_parser(schedule.name, help=schedule.help)
        _problem_args(p, preset=True)
        p.add_argument(HORIZON.flag, required=True, metavar=HORIZON.metavar, help=HORIZON.help)
        for option in schedule.options:  # not given: None, and the registry fills in the declared default
            if option.kind == "flag":
                p.add_argument(option.flag, action="store_true", default=None, dest=_dest(option), help=option.help)
            else:
                p.add_argument(option.flag, metavar=option.metavar, dest=_dest(option), help=option.help)
        _json_arg(p)
        p.set_defaults(func=run_schedule, schedule=schedule)

    p = sub.add_parser("montecarlo", help="sample moments of theta at step T over N simulated runs")
    _problem_args(p, preset=False)
    p.add_argument("--schedule", required=True, metavar="S.json", help='{"alpha": [...], "mu": [...]}')
    p.add_argument("--runs", required=True, metavar="N", help="number of independent runs (>= 2)")
    p.add_argument("--seed", default="0", metavar="K", help="seed of numpy's Generator (default 0)")
    _json_arg(p)
    p.set_defaults(func=run_montecarlo)


def _problem_args(parser, preset):
    if preset:
        group = parser.add_mutually_exclusive_group(required=True)
        group.add_argument("--problem", metavar="P.json", help="the problem as JSON")
        group.add_argument("--preset", metavar="NAME", help="a preset problem: paper or paper-deterministic")
    else:
        parser.add_argument("--problem", required=True, metavar="P.json", help="the problem as JSON")


def _json_arg(parser):
    parser.add_argument("--json", action="store_true", help="print one JSON object on stdout")


def _dest(option):
    """The argparse attribute of a schedule's option (prefixed: no clash with --problem, --steps, --json)."""
    return "option_" + option.name


def _load_problem(args):
    from shb.numeric import nqm_problem
    from shb.ground.io import read_json

    if getattr(args, "preset", None):
        return nqm_problem.preset(args.preset)
    return nqm_problem.from_json(read_json(args.problem, "problem file"))


def _load_schedule(path):
    from shb.numeric import nqm_problem
    from shb.ground.io import read_json

    return nqm_problem.schedule_from_json(read_json(path, "schedule file"))


def _emit(args, obj, summary):
    from shb.ground.io import to_json

    if args.json:
        sys.stdout.write(to_json(obj) + "\n")
    else:
        print(summary)
    return 0


def run_dynamics(args):
    from shb.numeric.nqm_dynamics import STATS, rollout

    problem = _load_problem(args)
    alpha, mu = _load_schedule(args.schedule)
    with _quiet_numpy():
        out = rollout(problem, alpha, mu)
    obj = {name: out[name] for name in STATS}
    obj["loss"] = out["loss"]
    T = alpha.size
    summary = (f"exact dynamics, d={problem.h.size}, T={T}: loss {out['loss'][0]:.6g} -> {out['loss'][-1]:.6g} "
               f"(excess loss 1/2 sum h (E^2 + V), Theorem 1)")
    return _emit(args, obj, summary)


def run_schedule(args):
    schedule = args.schedule
    problem = _load_problem(args)
    T = HORIZON.parse(args.steps)
    options = {option.name: getattr(args, _dest(option)) for option in schedule.options}
    with _quiet_numpy():
        out = schedule(problem, T, options)
    obj = {"alpha": out["alpha"], "mu": out["mu"], "loss": out["loss"]}
    summary = (f"{schedule.name} schedule, d={problem.h.size}, T={T}: final loss {out['loss'][-1]:.6g} "
               f"(initial {out['loss'][0]:.6g}); alpha {out['alpha'][0]:.4g} -> {out['alpha'][-1]:.4g}, "
               f"mu {out['mu'][0]:.4g} -> {out['mu'][-1]:.4g}")
    return _emit(args, obj, summary)


def run_montecarlo(args):
    from shb.numeric.nqm_montecarlo import simulate

    problem = _load_problem(args)
    alpha, mu = _load_schedule(args.schedule)
    runs = RUNS.parse(args.runs)
    seed = SEED.parse(args.seed)
    with _quiet_numpy():
        out = simulate(problem, alpha, mu, runs, seed)
    obj = {"mean_theta": out["mean_theta"][0], "var_theta": out["var_theta"][0]}
    summary = (f"Monte-Carlo, {runs} runs, seed {seed}, d={problem.h.size}, step T={alpha.size}: "
               f"mean of E[theta] over coordinates {obj['mean_theta'].mean():.6g}, "
               f"mean of V[theta] {obj['var_theta'].mean():.6g}")
    return _emit(args, obj, summary)


def _quiet_numpy():
    """Overflow in a diverging schedule gives inf/nan in the output, not warnings on stderr."""
    import numpy as np

    return np.errstate(over="ignore", invalid="ignore")
