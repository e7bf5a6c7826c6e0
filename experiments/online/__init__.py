"""Online meta-optimization: Figures 7 and 8 (Section 3.3).

While a network trains with SGD momentum, online SMD (numeric/online_smd.py) adapts
u = (log alpha_eff, log(1 - mu)) with Adam, every `burst_every` training steps running
`meta_steps_per_burst` meta-steps, each an exact forward-mode hypergradient of the
training loss after a T = 5 step lookahead from the current weights and velocity.
After `adapt_steps` adaptation stops and alpha decays exponentially to 1e-4 at the
last step (all runs, the fixed baseline too). Runs:

- "fixed": the hand-tuned fixed alpha = 0.1, mu = 0.9 (the public code's MNIST choice);
- "stochastic" (+ "stochastic_lrX" from other initial learning rates): stochastic lookahead (Figure 7);
- "deterministic": one minibatch for the whole lookahead and its loss (Figure 8).

The burst shape and the other settings by scale are in config.py.

The CNN at quick scale (`shb online --net cnn`, 200 steps on the embedded Fashion-MNIST, a
few minutes on 2 cores) shows that the CNN trains (check `cnn_trains_fixed_baseline`) and that
its hypergradients are exact; 100 adaptation steps are too few for the learning-rate checks.

Every run is resumable: its state (weights, velocity, u, Adam state, RNG state, log) is
saved atomically to OUT/online_progress/<net>_<dataset>_<run>.npz every `save_every` steps.
Runs are independent: the shared runner (experiments/runner.py) spreads their segments over a
Dask local cluster of `workers` processes (or the cluster at --scheduler ADDRESS).

    config.py   configurations by scale and network, the runs
    units.py    data, problem, and the runs as chains of resumable segments
    checks.py   hypergradient, audit and claim checks
    figures.py  Figures 7 and 8
    report.py   the REPORT.md section and the paper-vs-toolkit rows
"""

import json
import os
import time

import numpy as np

from shb.experiments.online.checks import hypergrad_check, make_checks, summary
from shb.experiments.online.config import CONFIGS, TITLE, config_for, run_specs
from shb.experiments.online.figures import figure
from shb.experiments.online.report import paper_rows, report
from shb.experiments.online.units import Work, build_problem
from shb.experiments.result import Result, incomplete
from shb.experiments.runner import dask_client, run_units
from shb.experiments.verified import check, save_verified_figure
from shb.ground.errors import InputError
from shb.ground.io import atomic_write_json, strict

__all__ = ["CONFIGS", "config_for", "run"]


def run(out_dir, config, scale="quick", net="mlp", dataset="fashion-mnist", data_dir=None, scheduler=None,
        workers=None, stop_after=None):
    """Run (or resume) the online experiment; write online.json and Figures 7 and 8 (fig7, fig8) into out_dir.

    Returns an experiments.result.Result; with `stop_after` segments finished in this call it returns early
    with complete=False (to test resuming).
    """
    start = time.monotonic()
    config = json.loads(json.dumps(config))
    problem = build_problem(config, net, dataset, data_dir)  # bad input fails here, before any work
    try:
        os.makedirs(os.path.join(out_dir, "online_progress"), exist_ok=True)
    except OSError as err:
        raise InputError(f"cannot create output directory {out_dir}: {err.strerror}") from None
    specs = run_specs(config)
    theta0 = problem.net.init(np.random.default_rng(config["init_seed"]))
    work = Work(out_dir, config, net, dataset, data_dir, specs, theta0)
    with dask_client(scheduler, config["workers"] if workers is None else workers) as client:
        if not run_units(work, client, stop_after, desc="online"):
            return incomplete(TITLE)

    states = work.states
    runs = {name: strict(s["log"]) for name, s in states.items()}  # a diverged point is None
    summaries = {spec.name: strict(summary(states[spec.name], config, spec)) for spec in specs}
    hchecks = {name: hypergrad_check(problem, states[name], config["check_eps"])
               for name in ("stochastic", "deterministic") if states[name]["hypergrad_sample"] is not None}
    checks7, checks8 = make_checks(problem, states, summaries, hchecks, config, net)
    for name in ("stochastic", "deterministic"):
        if name not in hchecks:
            (checks7 if name == "stochastic" else checks8).append(check(
                f"hypergrad_used_vs_finite_differences_{name}", False, "no meta-step sampled (run too short?)"))
    stochastic_names = [s.name for s in specs if s.mode == "stochastic"]
    initial = {s.name: s.alpha for s in specs}
    fig, data7 = figure(runs, stochastic_names, f"Figure 7: online SMD, stochastic lookahead "
                        f"T={config['lookahead']} ({net}, {dataset})", config, initial)
    ok7 = save_verified_figure(fig, "fig7", out_dir, data7, config, checks7, config["seed"])
    fig, data8 = figure(runs, ["deterministic"], f"Figure 8: online SMD, deterministic lookahead "
                        f"T={config['lookahead']} ({net}, {dataset})", config, initial)
    ok8 = save_verified_figure(fig, "fig8", out_dir, data8, config, checks8, config["seed"])

    checks = checks7 + checks8
    command = f"shb online --net {net} --dataset {dataset} --scale {scale} --out DIR" + (
        " --data-dir D" if data_dir else "")
    seconds = time.monotonic() - start
    atomic_write_json(os.path.join(out_dir, "online.json"), {
        "scale": scale, "net": net, "dataset": dataset, "config": config, "runs": runs, "summary": summaries,
        "hypergrad_check": hchecks, "checks": checks, "all_checks_passed": ok7 and ok8, "seconds": seconds,
    })
    return Result(TITLE, ok7 and ok8, ["fig7", "fig8"], checks, paper_rows(summaries, command),
                  report(scale, net, dataset, config, summaries, checks, seconds, command))
