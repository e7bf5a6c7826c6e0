"""Remedies for short-horizon bias proposed since the paper, on the NQM exactly, for any update rule: the table that
`shb nqm corrections` and the corrections figure (experiments/figures/corrections.py) run.

Online meta-optimizers (they choose (alpha_t, mu_t) as training runs, from the expected dynamics, no sampling):

    greedy                 Theorem 2: the one-step lookahead (the paper's short-horizon bias)
    lookahead K            the K-step lookahead of online SMD, solved exactly (numeric/nqm/lookahead.py): the reference
    trace lambda           a forward-mode hypergradient trace with forgetting lambda (numeric/nqm/trace.py; lambda = 0
                           is hypergradient descent)
    PES                    persistent evolution strategies' expected gradient, the full unroll from step 0 with the
                           current hyperparameters (numeric/nqm/pes.py)
    receding horizon       at each step the constant pair minimizing the exact L(T) to the end, one step taken
                           (lookahead with K = T - t)

and offline, what sharing buys: n piecewise-constant pairs fitted on L(T) (numeric/nqm/pieces.py; FDS-style), for
n in `pieces`. The online ones start from the same pair, the rule's greedy first step, and adapt
u = (log alpha, log(1 - mu)) by gradient steps of their meta step size on the log loss. Every result is a schedule
dict with its "cost": the moment steps it took, in units of one T-step rollout (the lookahead's and the receding
horizon's from their measured CPU time over a rollout's, their Newton work having no fixed count).
"""
import time
from collections import namedtuple

import numpy as np

from shb.numeric.nqm import pes, pieces, trace

# The settings of the remedies where the literature gives none (the corrections figure's configuration names the
# values it uses; each meta step size is the best of a grid on the paper preset, experiments/figures/corrections.py).
DEFAULTS = dict(horizon=5, forgets=(0.0, 0.9, 0.99, 1.0), trace_lr={"0.0": 0.03, "0.9": 0.01, "0.99": 0.03,
                                                                   "1.0": 0.01},
                pes_lr=0.3, pieces=(1, 4, 16), adam_steps=500, adam_lr=0.003, receding=True)

Remedy = namedtuple("Remedy", ["name", "kind", "compute"])  # kind: "online" or "offline"


def start(opt, problem):
    """The online remedies' first pair: the rule's greedy first step."""
    g = opt.greedy(problem, 1)
    return float(g["alpha"][0]), float(g["mu"][0])


def _rollout_seconds(opt, problem, T):
    alpha, mu = np.full(T, 0.1), np.zeros(T)
    t0 = time.process_time()
    opt.rollout(problem, alpha, mu)
    return max(time.process_time() - t0, 1e-6)


def remedies(settings=None):
    """[Remedy]: the table of remedies with `settings` (DEFAULTS where not given), in the figure's order."""
    s = {**DEFAULTS, **(settings or {})}
    out = [Remedy("greedy", "online", lambda opt, problem, T, a0: {**opt.greedy(problem, T), "cost": 2 * T}),
           Remedy(f"lookahead K={s['horizon']}", "online",
                  lambda opt, problem, T, a0: opt.lookahead(problem, T, s["horizon"]))]
    for forget in s["forgets"]:
        lr = s["trace_lr"][str(float(forget))]
        out.append(Remedy(f"trace lambda={forget:g}", "online", lambda opt, problem, T, a0, forget=forget, lr=lr: (
            trace.trace_schedule(opt, problem, T, forget, lr, *a0))))
    out.append(Remedy("PES (expected)", "online",
                      lambda opt, problem, T, a0: pes.pes_schedule(opt, problem, T, s["pes_lr"], *a0)))
    if s["receding"]:
        out.append(Remedy("receding horizon", "online", lambda opt, problem, T, a0: opt.lookahead(problem, T, to_end=True)))
    for n in s["pieces"]:
        out.append(Remedy(f"{n} pieces" if n > 1 else "1 piece (fixed)", "offline",
                          lambda opt, problem, T, a0, n=n: pieces.pieces_schedule(opt, problem, T, n, s["adam_steps"],
                                                                                  s["adam_lr"])))
    return out


def run(opt, problem, T, settings=None, reference=None):
    """{remedy name: schedule dict with "cost" in T-step rollouts and "seconds" (CPU)}, and the optimized schedule
    under "optimized" (the reference; `reference` if given), for the rule `opt` on `problem` over T steps."""
    rollout = _rollout_seconds(opt, problem, T)
    a0 = start(opt, problem)
    out = {}
    for remedy in remedies(settings):
        t0 = time.process_time()
        with np.errstate(over="ignore", invalid="ignore"):
            result = remedy.compute(opt, problem, T, a0)
        seconds = time.process_time() - t0
        cost = result.get("cost")
        result["cost"] = seconds / rollout if cost is None else cost / T
        result["seconds"] = seconds
        out[remedy.name] = result
    if reference is None:
        t0 = time.process_time()
        reference = opt.optimized(problem, T)
        reference["seconds"] = time.process_time() - t0
        reference["cost"] = reference["seconds"] / rollout
    out["optimized"] = reference
    return out


META_LRS = (0.003, 0.01, 0.03, 0.1, 0.3, 1.0)  # the grid of each online remedy's meta step size


def tune(opt, problem, T, forgets=DEFAULTS["forgets"], grid=META_LRS):
    """{online remedy with a meta step size: {lr: L(T)}} over `grid`, and the best lr of each: each remedy at its
    best on this problem (the trace at each forgetting in `forgets`, and PES)."""
    a0, table = start(opt, problem), {}
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        for forget in forgets:
            table[f"trace lambda={forget:g}"] = {
                lr: float(trace.trace_schedule(opt, problem, T, forget, lr, *a0)["loss"][-1]) for lr in grid}
        table["PES (expected)"] = {lr: float(pes.pes_schedule(opt, problem, T, lr, *a0)["loss"][-1]) for lr in grid}
    best = {name: min(values, key=lambda lr: values[lr] if np.isfinite(values[lr]) else np.inf)
            for name, values in table.items()}
    return table, best


def tuned_settings(best, **settings):
    """The remedies' settings with the meta step sizes of `tune`."""
    forgets = settings.get("forgets", DEFAULTS["forgets"])
    return {**settings, "trace_lr": {str(float(f)): best[f"trace lambda={f:g}"] for f in forgets},
            "pes_lr": best["PES (expected)"]}


def regret(results):
    """{name: L(T) / L(T) of the optimized schedule}; None for every name when that is 0 (the problem solved
    exactly, as a deterministic one can be: no ratio to take)."""
    best = float(results["optimized"]["loss"][-1])
    return {name: float(r["loss"][-1]) / best if best > 0 else None for name, r in results.items()}


def removed(regrets):
    """{name: the fraction of greedy's excess regret it removes, (R_greedy - R) / (R_greedy - 1)}; None for every
    name when greedy has no excess regret to remove (R_greedy - 1 <= 1e-9)."""
    if regrets["greedy"] is None or regrets["greedy"] - 1.0 <= 1e-9:
        return {name: None for name in regrets}
    excess = regrets["greedy"] - 1.0
    return {name: (regrets["greedy"] - r) / excess for name, r in regrets.items()}


def share(fraction):
    """A fraction of `removed` as text: a percentage, or n/a where greedy had nothing to remove."""
    return "n/a" if fraction is None else f"{fraction:.0%}"


def ratio(regret):
    """A regret as text: 3 significant digits, or n/a where the optimized schedule solved the problem exactly."""
    return "n/a" if regret is None else f"{regret:.3g}"


def pieces_for(T, pieces=DEFAULTS["pieces"]):
    """The piece counts run over T steps: those of `pieces` below T, and T (one pair per step)."""
    return tuple(sorted({n for n in pieces if n < T} | {T}))
