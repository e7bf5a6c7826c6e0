"""`shb nqm ...`: the noisy quadratic model engine from the command line (Section 2).

    shb nqm dynamics   --problem P.json --schedule S.json [--json]
    shb nqm greedy|greedy-sgd|fixed|optimized (--problem P.json | --preset NAME) --steps T [--json]
                (one subcommand per schedule of numeric/nqm/schedule_registry.py, with its declared options)
    shb nqm montecarlo --problem P.json --schedule S.json --runs N --seed K [--json]

Each takes --optimizer NAME, a rule of the registry (symbolic/optimizers/; heavy-ball by default), and the flags of
the rules' options (built from the registry: --precondition P, --batch-size B, --gamma G, ...); every schedule runs
for every rule.

P.json = {"h": [...], "sigma2": [...], "mean0": [...], "var0": [...]}; S.json = {"alpha": [...], "mu": [...]}.
Bad input is one line on stderr and exit status 2, and so is a request whose estimated memory (or time) does not
fit (shb.ground.limits; --ignore-limits overrides). A result that is not finite (a diverging schedule) is one
line naming the first step where it happens, exit status 1: the JSON output never holds NaN or Infinity.
"""
import sys

from shb.ground.options import Option
from shb.numeric.nqm import optimizers as nqm_optimizers
from shb.numeric.nqm import schedule_registry as nqm_schedule_registry
from shb.numeric.nqm.schedule_registry import HORIZON

RUNS = Option("runs", "int", minimum=2)
SEED = Option("seed", "int", minimum=0)
JSON_BYTES_PER_NUMBER = 120  # a float as a Python object in a list, its strict copy and its JSON text


def register(subparsers):
    parser = subparsers.add_parser("nqm", help="noisy quadratic model: exact dynamics, Monte-Carlo, schedules")
    sub = parser.add_subparsers(dest="nqm_command", required=True)

    p = sub.add_parser("dynamics", help="exact mean/variance dynamics (Theorem 1) of a schedule")
    _problem_args(p, preset=False)
    p.add_argument("--schedule", required=True, metavar="S.json", help='{"alpha": [...], "mu": [...]}')
    _json_arg(p)
    _optimizer_args(p)
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
        _optimizer_args(p)
        p.set_defaults(func=run_schedule, schedule=schedule)

    p = sub.add_parser("corrections", help="every remedy for short-horizon bias over a horizon of --steps T: its "
                       "L(T), regret against the optimized schedule and learning rates (numeric/nqm/corrections.py)")
    _problem_args(p, preset=True)
    p.add_argument(HORIZON.flag, required=True, metavar=HORIZON.metavar, help=HORIZON.help)
    p.add_argument("--receding", action="store_true", help="also the receding horizon (plans to the end: slow)")
    _json_arg(p)
    _optimizer_args(p)
    p.set_defaults(func=run_corrections)

    p = sub.add_parser("montecarlo", help="sample moments of the rule's state at step T over N simulated runs")
    _problem_args(p, preset=False)
    p.add_argument("--schedule", required=True, metavar="S.json", help='{"alpha": [...], "mu": [...]}')
    p.add_argument("--runs", required=True, metavar="N", help="number of independent runs (>= 2)")
    p.add_argument("--seed", default="0", metavar="K", help="seed of numpy's Generator (default 0)")
    _json_arg(p)
    _optimizer_args(p)
    p.set_defaults(func=run_montecarlo)


def _problem_args(parser, preset):
    if preset:
        group = parser.add_mutually_exclusive_group(required=True)
        group.add_argument("--problem", metavar="P.json", help="the problem as JSON")
        group.add_argument("--preset", metavar="NAME", help="a preset problem: paper or paper-deterministic")
    else:
        parser.add_argument("--problem", required=True, metavar="P.json", help="the problem as JSON")


def _optimizer_args(parser):
    parser.add_argument("--optimizer", metavar="NAME", help="the update rule: " + ", ".join(nqm_optimizers.names())
                        + f" (default {nqm_optimizers.DEFAULT})")
    for option in nqm_optimizers.options().values():
        parser.add_argument(option.flag, metavar=option.metavar, dest="rule_" + option.name, help=option.help)


def _optimizer(args):
    """The registry's update rule named by --optimizer (heavy-ball when not given), with its options bound."""
    name = nqm_optimizers.DEFAULT if args.optimizer is None else args.optimizer
    if name not in nqm_optimizers.names() and name.replace("_", "-") in nqm_optimizers.names():
        name = name.replace("_", "-")
    every = nqm_optimizers.options()
    options = nqm_optimizers.parse_options(name, {key: getattr(args, "rule_" + key) for key in every})
    return nqm_optimizers.get(name, **options)


def _json_arg(parser):
    parser.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    parser.add_argument("--ignore-limits", action="store_true", help="run even when the estimated memory exceeds "
                        "what is available, or the estimated time a day")


def _check_size(args, n_bytes, seconds, what):
    """Refuse, before any work, what the machine cannot hold (or would take more than a day to compute)."""
    from shb.ground import limits, progress

    if args.json:
        n_bytes += JSON_BYTES_PER_NUMBER * _output_numbers(args)
    if not args.ignore_limits:
        limits.check_memory(n_bytes, what)
        limits.check_time(seconds, what)
    if seconds >= progress.LONG:  # say what is coming before it starts; its progress follows on stderr
        print(f"shb: {what}: about {progress.duration(seconds)} of work (estimated)", file=sys.stderr, flush=True)


def _finite(values, what, T):
    """NotFiniteError naming the first step t (axis 0 of `values`) where a value is not finite."""
    import numpy as np

    from shb.ground.errors import NotFiniteError

    finite = np.isfinite(np.asarray(values, dtype=float).reshape(len(values), -1)).all(axis=1)
    if not finite.all():
        t = int(np.argmin(finite))
        raise NotFiniteError(f"{what} is not finite from step {t} of {T} on: the schedule diverges on this problem "
                             "(or its numbers overflow float64)")


def _dest(option):
    """The argparse attribute of a schedule's option (prefixed: no clash with --problem, --steps, --json)."""
    return "option_" + option.name


def _load_problem(args):
    from shb.numeric.nqm import problem as nqm_problem
    from shb.ground.io import read_json

    if getattr(args, "preset", None):
        return nqm_problem.preset(args.preset)
    return nqm_problem.from_json(read_json(args.problem, "problem file"))


def _load_schedule(path):
    from shb.numeric.nqm import problem as nqm_problem
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
    from shb.numeric.nqm.dynamics import rollout_bytes

    opt = _optimizer(args)
    problem = _load_problem(args)
    alpha, mu = _load_schedule(args.schedule)
    T, d = alpha.size, problem.h.size
    stats = opt.statistics()
    args.output_numbers = (len(stats) * d + 1) * (T + 1)
    _check_size(args, rollout_bytes(d, T, rule=opt.rule), 0.0,
                f"the exact dynamics of {opt.name} over {T} steps in {d} coordinates")
    with _quiet_numpy():
        out = opt.rollout(problem, alpha, mu)
    _finite(out["loss"], "the expected loss", T)
    obj = {name: out[name] for name in stats}
    obj["loss"] = out["loss"]
    summary = (f"exact dynamics of {opt.name}, d={d}, T={T}: loss {out['loss'][0]:.6g} -> {out['loss'][-1]:.6g} "
               f"(excess loss 1/2 sum h A(x) at the loss iterate x, the rule's Theorem 1)")
    return _emit(args, obj, summary)


def run_schedule(args):
    schedule = args.schedule
    opt = _optimizer(args)
    problem = _load_problem(args)
    T = HORIZON.parse(args.steps)
    options = schedule.resolve({option.name: getattr(args, _dest(option)) for option in schedule.options})
    opt.extras(problem, T)  # a bad option value is refused before the size check and the work
    args.output_numbers = 3 * T + 1
    n_bytes, seconds = schedule.estimate(opt, problem.h.size, T, options)
    _check_size(args, n_bytes, seconds, f"the {schedule.name} schedule of {opt.name} over {T} steps in "
                f"{problem.h.size} coordinates")
    with _quiet_numpy():
        out = schedule(opt, problem, T, options)
    _finite(out["loss"], f"the {schedule.name} schedule's expected loss", T)
    _finite(list(zip(out["alpha"], out["mu"])), f"the {schedule.name} schedule", T)
    obj = {"alpha": out["alpha"], "mu": out["mu"], "loss": out["loss"]}
    summary = (f"{schedule.name} schedule of {opt.name}, d={problem.h.size}, T={T}: final loss "
               f"{out['loss'][-1]:.6g} (initial {out['loss'][0]:.6g}); alpha {out['alpha'][0]:.4g} -> "
               f"{out['alpha'][-1]:.4g}, mu {out['mu'][0]:.4g} -> {out['mu'][-1]:.4g}")
    return _emit(args, obj, summary)


def run_corrections(args):
    from shb.numeric.nqm import corrections

    opt = _optimizer(args)
    problem = _load_problem(args)
    T = HORIZON.parse(args.steps)
    opt.extras(problem, T)
    d, schedules = problem.h.size, nqm_schedule_registry.SCHEDULES
    work = [schedules["lookahead"].estimate(opt, d, T, {"horizon": corrections.DEFAULTS["horizon"]}),
            schedules["pes"].estimate(opt, d, T, {}),
            *(schedules["pieces"].estimate(opt, d, T, {"adam_steps": corrections.DEFAULTS["adam_steps"]})
              for _ in corrections.pieces_for(T))]
    if args.receding:
        work.append(schedules["lookahead"].estimate(opt, d, T, {"horizon": 1, "to_end": True}))
    args.output_numbers = 16 * (2 * T + 6)
    _check_size(args, max(b for b, _ in work), sum(s for _, s in work),
                f"the remedies of {opt.name} over {T} steps in {d} coordinates")
    with _quiet_numpy():
        _, best = corrections.tune(opt, problem, T)
        results = corrections.run(opt, problem, T, corrections.tuned_settings(best, receding=args.receding,
                                                                                pieces=corrections.pieces_for(T)))
    regrets = corrections.regret(results)
    removed = corrections.removed(regrets)
    obj = {name: {"final_loss": s["loss"][-1], "regret": regrets[name], "removed": removed[name],
                  "alpha_eff": s["alpha"] / (1.0 - s["mu"]), "cost": s["cost"]} for name, s in results.items()}
    _finite([o["final_loss"] for o in obj.values()], "a remedy's final loss", T)
    lines = [f"remedies of {opt.name}, d={d}, T={T} (regret: L(T) / L(T) of the optimized schedule; removed: the "
             "fraction of greedy's excess regret)"]
    lines += [f"  {name:26s} L(T) {o['final_loss']:<10.4g} regret {corrections.ratio(o['regret']):8s} removed {corrections.share(o['removed']):>5s}  "
              f"alpha_eff {o['alpha_eff'][0]:.3g} -> {o['alpha_eff'][-1]:.3g}" for name, o in obj.items()]
    return _emit(args, obj, "\n".join(lines))


def run_montecarlo(args):
    import numpy as np

    from shb.ground.errors import NotFiniteError
    from shb.numeric.nqm.montecarlo import draws, simulate_cost

    opt = _optimizer(args)
    problem = _load_problem(args)
    alpha, mu = _load_schedule(args.schedule)
    runs = RUNS.parse(args.runs)
    seed = SEED.parse(args.seed)
    T, d = alpha.size, problem.h.size
    extras = opt.extras(problem, T)
    names = [name[len("mean_"):] for name in opt.statistics() if name.startswith("mean_")]
    keys = [k for name in names for k in ("mean_" + name, "var_" + name)]
    args.output_numbers = len(keys) * d
    _check_size(args, *simulate_cost(d, T, runs, state=len(names), n_draws=draws(opt.rule, extras)),
                f"Monte-Carlo of {opt.name}, {runs} runs of {T} steps in {d} coordinates")
    with _quiet_numpy():
        out = opt.simulate(problem, alpha, mu, runs, seed)
    if not all(np.isfinite(out[k]).all() for k in keys):
        raise NotFiniteError(f"the Monte-Carlo moments at step {T} are not finite: the schedule diverges on this "
                             "problem")
    obj = {k: out[k][0] for k in keys}
    summary = (f"Monte-Carlo of {opt.name}, {runs} runs, seed {seed}, d={problem.h.size}, step T={alpha.size}: "
               f"mean of E[theta] over coordinates {obj['mean_theta'].mean():.6g}, "
               f"mean of V[theta] {obj['var_theta'].mean():.6g}")
    return _emit(args, obj, summary)


def _output_numbers(args):
    return getattr(args, "output_numbers", 0)


def _quiet_numpy():
    """Overflow in a diverging schedule gives inf/nan, said once in one line (`_finite`), not numpy's warnings."""
    import numpy as np

    return np.errstate(over="ignore", invalid="ignore", divide="ignore")
