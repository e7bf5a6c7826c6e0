"""Figure `online_trace`: the remedy that is cheap on a network, a hypergradient trace with forgetting, beside online
SMD's stochastic 5-step lookahead and the fixed baseline, on the MLP (issue 30; the NQM's exact comparison of every
remedy is the `corrections` figure).

The trace runs (numeric/meta/trace.py) adapt u = (log alpha_eff, log(1 - mu)) by one Adam step per training step on
the current minibatch loss's derivative with respect to u held over the past, discounted by lambda. Everything else
is the online experiment's (experiments/figures/online): its configuration at the scale, its initial pair, its
adaptation phase and the decay after it; the stochastic-lookahead and fixed runs are the online experiment's own
(the same run and configuration, so their saved progress in OUT/online_progress is shared: after `shb online` they
are not run again). Over the adaptation phase each run's learning rate is set beside the offline long-horizon
schedule's at the same step (OUT/offline.json's longest horizon: alpha0 (1 + t/K)^-beta, Section 3.2), and the
final train losses are compared.

Evidence: each trace run's hypergradient over a window of its own steps (from check_step: its weights, velocity,
pairs and minibatches as the run took them) against central differences of a plain unroll of the taped loss with
u held over the window, discounted by lambda; the audit of a training step from the logged lr and mu.
"""
import json
import os
import time

import matplotlib.pyplot as plt
import numpy as np

from shb.experiments.figures.online import units
from shb.experiments.figures.online.checks import audit_check, lr_at, summary
from shb.experiments.figures.online import config as online_config
from shb.experiments.figures.online.config import (AUDIT_TOLERANCE, CONFIGS, HYPERGRAD_TOLERANCE, panel_configs,
                                                   run_specs)
from shb.experiments.result import Result, incomplete
from shb.experiments.runner import dask_client, run_units
from shb.experiments.conclusions import claim, conclude, paragraph
from shb.experiments.verified import EVIDENCE, check, relation, save_verified_figure
from shb.ground.io import strict
from shb.numeric.meta import trace
from shb.numeric.meta.hypergrad import relative_errors
from shb.numeric.meta.online_smd import RunSpec
from shb.numeric.networks import datasets, training

# ---- configuration ----------------------------------------------------------------------------
FORGETS = (0.9, 0.99)  # the NQM's best two traces on the paper preset (the corrections figure)
NET = "mlp"            # the paper's MLP; --net takes another registered network
TITLE = "Online hypergradient traces on a network"
WINDOW_CHECK = "{}: trace hypergradient vs finite differences over its window"
AUDIT = "{}: logged lr and mu are the ones applied"
__all__ = ["CONFIGS", "config_for", "run"]
# -----------------------------------------------------------------------------------------------


def config_for(scale, net=NET):
    """The online experiment's configuration of `net` at `scale` (one network: "both" is the MLP here)."""
    return online_config.config_for(scale, NET if net == online_config.BOTH else net)


def trace_lr(config):
    """Adam's step size in u for a trace run: the online runs' largest movement of u per training step,
    meta_lr x meta_steps_per_burst / burst_every, as one step per training step (set a priori, not tuned)."""
    return config["meta_lr"] * config["meta_steps_per_burst"] / config["burst_every"]


def specs(config, forgets):
    """The runs: the online experiment's stochastic lookahead and fixed baseline, and a trace per lambda, from the
    stochastic run's initial pair."""
    online = {s.name: s for s in run_specs(config)}
    seed = lambda k: int(np.random.SeedSequence([config["seed"], 200 + k]).generate_state(1)[0])  # noqa: E731
    traces = [RunSpec(f"trace_lambda{f:g}", "trace", online["stochastic"].alpha, online["stochastic"].mu, seed(k),
                      forget=float(f), trace_lr=trace_lr(config)) for k, f in enumerate(forgets)]
    return [online["stochastic"], *traces, online["fixed"]]


def offline_schedule(out_dir):
    """(alpha0, beta, K, horizon) of OUT/offline.json's longest horizon, or None without it."""
    path = os.path.join(out_dir, "offline.json")
    if not os.path.exists(path):
        return None
    with open(path, encoding="utf-8") as handle:
        offline = json.load(handle)
    horizon = max(offline["horizons"], key=int)
    h = offline["horizons"][horizon]
    return h["alpha0"], h["beta"], offline["config"]["k"], int(horizon)


def window_check(problem, state, run, config):
    """The trace's hypergradient over the run's recorded window against central differences (float64)."""
    w = state.trace_window
    name = WINDOW_CHECK.format(run.name)
    if w is None or w.filled < len(w.us) + 1:
        return check(name, False, "no complete window recorded (run too short?)", kind=EVIDENCE, values=())
    batches = [training.minibatch(problem.train, idx) for idx in w.idx[:-1]]
    loss_batch = training.minibatch(problem.train, w.idx[-1])
    args = (problem.net, w.us, w.theta, w.v, batches, loss_batch, run.forget)
    exact = trace.window_trace(*args)
    fd = trace.window_difference(*args, config["check_eps"])
    error = float(np.max(relative_errors(exact, fd)))
    holds = error <= HYPERGRAD_TOLERANCE
    return check(name, holds,
                 f"{len(w.us)} steps from step {w.t}, lambda {run.forget:g}: trace {exact.tolist()}, central "
                 f"differences (eps {config['check_eps']:g}) {fd.tolist()}, largest relative error {error:.1e} "
                 f"{relation(holds, '<=')} {HYPERGRAD_TOLERANCE:g}", kind=EVIDENCE,
                 values={"trace": exact, "finite_difference": fd})


def run(out_dir, config, scale="quick", net=NET, forgets=FORGETS, dataset=None, data_dir=None, scheduler=None,
        workers=None):
    start = time.monotonic()
    net = NET if net == online_config.BOTH else net
    config = panel_configs(config, net)[net]
    dataset = dataset or units.networks.dataset(net, scale)
    splits = units.read_data(dataset, data_dir)
    problem = units.build_problem(config, net, dataset, data_dir, splits)
    os.makedirs(os.path.join(out_dir, "online_progress"), exist_ok=True)
    runs = specs(config, forgets)
    panel = units.Panel(net, dataset, data_dir, config, runs,
                        problem.net.init(np.random.default_rng(config["init_seed"])), datasets.fingerprint(splits))
    work = units.Work(out_dir, [panel])
    with dask_client(scheduler, config["workers"] if workers is None else workers) as client:
        if not run_units(work, client, None, desc="online traces"):
            return incomplete(TITLE)
    states = work.panel_states(net)
    summaries = {r.name: strict(summary(states[r.name], config, r)) for r in runs}
    checks = [window_check(problem, states[r.name], r, config) for r in runs if r.mode == "trace"]
    for r in runs:
        if states[r.name].audit is None:
            checks.append(check(AUDIT.format(r.name), False, f"step {config['audit_step']} was never run (diverged "
                                f"at {states[r.name].diverged_at})", kind=EVIDENCE, values=()))
            continue
        difference, lr, mu = audit_check(problem, states[r.name], states[r.name].log)
        holds = difference <= AUDIT_TOLERANCE
        checks.append(check(AUDIT.format(r.name), holds, f"step {states[r.name].audit.t} recomputed from the logged "
                            f"lr {lr:.4g} and mu {mu:.4g}: max |theta difference| {difference:.1e} "
                            f"{relation(holds, '<=')} {AUDIT_TOLERANCE:g}", kind=EVIDENCE, values=[difference]))
    offline = offline_schedule(out_dir)
    rows, claims = comparison(states, summaries, runs, config, offline)
    concluded = conclude(claims, checks)
    figure = plot(states, runs, config, offline)
    data = {"runs": {r.name: strict(states[r.name].log) for r in runs}, "summaries": summaries,
            "offline_schedule": None if offline is None else dict(zip(("alpha0", "beta", "k", "horizon"), offline)),
            "forgets": list(forgets), "trace_lr": trace_lr(config)}
    passed = save_verified_figure(figure, "online_trace", out_dir, data, {"scale": scale, **config}, checks,
                                  config["seed"], conclusions=concluded)
    text = report(rows, concluded, checks, net, scale, splits, time.monotonic() - start)
    return Result(TITLE, passed, ["online_trace"], checks, [], text)


def offline_alpha(offline, step):
    alpha0, beta, k, _ = offline
    return training.inverse_time_decay(alpha0, beta, step, k)


def comparison(states, summaries, runs, config, offline):
    """The table's rows, and the conclusions written from the numbers (experiments/conclusions.py): the learning rate
    at mid-adaptation and at its end beside the offline long-horizon schedule's, the final train loss, which run ends
    lowest. Each rests on the audits of the runs it names (their logged numbers are the ones applied) and, for a
    trace, on its hypergradient's check."""
    marks = (config["adapt_steps"] // 2, config["adapt_steps"] - 1)
    rows = []
    for r in runs:
        log, s = states[r.name].log, summaries[r.name]
        lrs = [lr_at(log, m) for m in marks]
        ratio = [lr / offline_alpha(offline, m) for lr, m in zip(lrs, marks)] if offline else [None, None]
        rows.append((r.name, lrs, ratio, s["final_train_loss"], s["final_test_error"], s["diverged_at"]))
    support = lambda r: [AUDIT.format(r.name)] + ([WINDOW_CHECK.format(r.name)] if r.mode == "trace" else [])  # noqa
    finite = [(r, row) for r, row in zip(runs, rows) if row[3] is not None and row[5] is None]
    claims = []
    if finite:
        best = min(finite, key=lambda pair: pair[1][3])[1]
        claims.append(claim("which run ends with the lowest train loss",
                            f"The lowest final train loss is {best[0]}'s ({best[3]:.4g}); " + ", ".join(
                                f"{row[0]} {row[3]:.4g}" for _, row in finite if row is not best) + ".",
                            *[name for r, _ in finite for name in support(r)]))
    claims += [claim(f"where {row[0]} diverged", f"{row[0]} diverged at step {row[5]}.", AUDIT.format(r.name))
               for r, row in zip(runs, rows) if row[5] is not None]
    if offline:
        claims += [claim(f"how {row[0]}'s learning rate compares with the offline long-horizon schedule's",
                         f"At the end of adaptation (step {marks[1]}) {row[0]}'s learning rate is {row[2][1]:.3g} "
                         f"times the offline long-horizon schedule's ({'above' if row[2][1] > 1 else 'below'} it).",
                         *support(r))
                   for r, row in zip(runs, rows) if r.mode != "fixed" and row[2][1] is not None]
    else:
        claims.append(claim("the offline schedule beside these", "No offline.json in the output folder: run "
                            "`shb offline` there first for the offline long-horizon schedule beside these."))
    return rows, claims


def plot(states, runs, config, offline):
    fig, (ax_lr, ax_loss) = plt.subplots(1, 2, figsize=(12, 4.5))
    for r in runs:
        log = states[r.name].log
        ax_lr.plot(log["step"], log["lr"], label=r.name)
        losses = [np.nan if x is None else x for x in log["train_loss"]]
        ax_loss.plot(log["step"], losses, label=r.name)
    if offline:
        steps = np.arange(config["steps"])
        ax_lr.plot(steps, offline_alpha(offline, steps), "k--", lw=1, label=f"offline, horizon {offline[3]}")
    ax_lr.axvline(config["adapt_steps"], color="grey", lw=0.5)
    ax_lr.set(yscale="log", xlabel="training step", ylabel="learning rate alpha", title="learning rate")
    ax_loss.set(yscale="log", xlabel="training step", ylabel="train loss", title="train loss")
    ax_lr.legend(fontsize=7)
    fig.suptitle("Online hypergradient traces with forgetting vs stochastic 5-step lookahead (MLP)")
    fig.tight_layout()
    return fig


def report(rows, concluded, checks, net, scale, splits, seconds):
    from shb.experiments.report import checks_table

    name = splits.name if hasattr(splits, "name") else "the embedded Fashion-MNIST"
    table = ["| run | lr mid-adaptation | lr end of adaptation | over offline's (mid, end) | final train loss | "
             "final test error |", "|---|---|---|---|---|---|"]
    for run_name, lrs, ratio, loss, error, _ in rows:
        over = "n/a" if ratio[0] is None else f"{ratio[0]:.3g}, {ratio[1]:.3g}"
        table.append(f"| {run_name} | {lrs[0]:.4g} | {lrs[1]:.4g} | {over} | "
                     f"{'diverged' if loss is None else f'{loss:.4g}'} | {error:.4g} |")
    return "\n".join([
        "![online_trace](online_trace.png)", "",
        f"Command: `shb online --meta trace --net {net} --scale {scale} --out DIR` (after `shb offline` into the same "
        f"DIR for the offline schedule); data: {name}. {seconds:.0f} s.", "",
        *table, "", paragraph(concluded), "", checks_table(checks)])
