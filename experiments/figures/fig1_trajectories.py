"""Figure 1: on a 2-D noisy quadratic, an aggressive learning rate followed by decay beats a
conservative one, by making progress along the low-curvature direction (Section 1).

Blue: a small fixed learning rate for T steps. Red: a larger fixed learning rate for the first k
steps, then (yellow) exponential decay for the remaining T - k. Left: one sampled trajectory of
each on the contours of the expected loss; right: the exact expected loss (Theorem 1) per step,
which shows the short-horizon trap: at step k the conservative schedule is ahead.
"""
import matplotlib.pyplot as plt
import numpy as np

from shb.experiments.common import generated_code_check, paper_row
from shb.experiments.conclusions import claim, conclude, paragraph
from shb.experiments.result import Result
from shb.experiments.verified import EVIDENCE, check, evidence, relation, save_verified_figure
from shb.numeric.nqm import fixed_decay as nqm_fixed_decay
from shb.numeric.nqm import montecarlo_power as nqm_montecarlo_power
from shb.numeric.nqm import optimizers as nqm_optimizers
from shb.numeric.nqm import problem as nqm_problem

# ---- configuration (our choice: the paper does not give Figure 1's numbers) -------------------
# mc_runs: 40,000 runs of the two coordinates (a fraction of a CPU-second) resolve a 3.2% error in every variance
# with probability 0.99 (the check's detail; at the 4000 runs before, 11%).
PAPER = dict(h=[0.02, 1.0], sigma2=[0.5, 4.0], mean0=[-10.0, 3.0], T=150, k=100,
             alpha_small=0.1, alpha_large=0.8, decay_to=0.01, mc_runs=40000, seed=1)
QUICK = dict(PAPER)
TINY = dict(PAPER, T=60, k=40, mc_runs=1000)
AHEAD = "at step k the conservative rate is ahead (short-horizon view)"
ENDS_LOWER = "after the decay the aggressive schedule ends lower"
MONTE_CARLO = "exact moments agree with Monte-Carlo: {}"
CONFIGS = {"tiny": TINY, "quick": QUICK, "paper": PAPER}
HEAVY_BALL = nqm_optimizers.get("heavy-ball")  # the paper's optimizer (Eqs. 1-2), on the rule engine
# -----------------------------------------------------------------------------------------------


def schedules(cfg):
    """(conservative, aggressive-then-decay) as {"alpha", "mu"} with mu = 0 (plain SGD)."""
    T, k = cfg["T"], cfg["k"]
    small = np.full(T, cfg["alpha_small"])
    large = nqm_fixed_decay.fixed_then_decay(cfg["alpha_large"], k, T - k, cfg["decay_to"])
    zero = np.zeros(T)
    return {"small": {"alpha": small, "mu": zero}, "decay": {"alpha": large, "mu": zero}}


def run(out_dir, cfg, scale="quick"):
    problem = nqm_problem.make_problem(cfg["h"], cfg["sigma2"], cfg["mean0"], 0.0)
    runs = schedules(cfg)
    for s in runs.values():
        s["loss"] = HEAVY_BALL.rollout(problem, s["alpha"], s["mu"])["loss"]
        s["path"] = HEAVY_BALL.sample_paths(problem, s["alpha"], s["mu"], runs=1, seed=cfg["seed"])[0]
    k = cfg["k"]
    small, decay = runs["small"]["loss"], runs["decay"]["loss"]
    checks = [
        generated_code_check(),
        check(AHEAD, small[k] < decay[k],
              f"L(k={k}): small {small[k]:.4g} {relation(small[k] < decay[k], '<')} large {decay[k]:.4g}",
              kind=EVIDENCE, values=(small[k], decay[k])),
        check(ENDS_LOWER, decay[-1] < small[-1],
              f"L(T={cfg['T']}): decayed {decay[-1]:.4g} {relation(decay[-1] < small[-1], '<')} small {small[-1]:.4g}",
              kind=EVIDENCE, values=(decay[-1], small[-1])),
    ]
    for name, s in runs.items():
        c, _ = nqm_montecarlo_power.loss_iterate(HEAVY_BALL, problem, s, cfg["mc_runs"], (k, cfg["T"]), cfg["seed"])
        checks.append(evidence(dict(c, name=MONTE_CARLO.format(name))))
    concluded = conclude(claims(small, decay, cfg), checks)
    fig = plot(problem, runs, cfg)
    data = {name: {"alpha": s["alpha"], "loss": s["loss"], "sampled_path": s["path"]} for name, s in runs.items()}
    passed = save_verified_figure(fig, "fig1", out_dir, data, {"scale": scale, **cfg}, checks, seed=cfg["seed"],
                                  conclusions=concluded)
    rows = [paper_row("Fig. 1: aggressive-then-decay ends below the conservative rate", "yes",
                      "yes" if decay[-1] < small[-1] else "no", f"shb figure fig1 --scale {scale}")]
    return Result("Figure 1: aggressive learning rate with decay vs conservative (2-D NQM)", passed, ["fig1"], checks,
                  rows, _report(checks, concluded, scale, cfg))


def claims(small, decay, cfg):
    """Figure 1's conclusion (experiments/conclusions.py), from its exact losses."""
    k, T = cfg["k"], cfg["T"]
    supports = (AHEAD, ENDS_LOWER, MONTE_CARLO.format("small"), MONTE_CARLO.format("decay"))
    return [claim("the short-horizon trap of Figure 1",
                  f"The short-horizon trap: judged at step k = {k} the conservative rate is ahead (L = {small[k]:.4g} "
                  f"against {decay[k]:.4g}), yet after the decay the aggressive schedule ends {small[-1] / decay[-1]:.3g} "
                  f"times lower at T = {T} ({decay[-1]:.4g} against {small[-1]:.4g}); the exact losses agree with "
                  "Monte-Carlo runs of the stochastic update.", *supports)]


def plot(problem, runs, cfg):
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.5))
    x = np.linspace(-11, 2, 200)
    y = np.linspace(-5, 5, 200)
    X, Y = np.meshgrid(x, y)
    loss = 0.5 * (problem.h[0] * X**2 + problem.h[1] * Y**2)
    left.contour(X, Y, loss, levels=np.geomspace(0.02, 3, 10), colors="gray", linewidths=0.6)
    k = cfg["k"]
    small, decay = runs["small"]["path"], runs["decay"]["path"]
    left.plot(small[:, 0], small[:, 1], color="tab:blue", lw=0.8, label=f"fixed alpha = {cfg['alpha_small']}")
    left.plot(decay[: k + 1, 0], decay[: k + 1, 1], color="tab:red", lw=0.8, label=f"fixed alpha = {cfg['alpha_large']}")
    left.plot(decay[k:, 0], decay[k:, 1], color="gold", lw=1.2, label="then exponential decay")
    left.plot([0], [0], "k*", ms=10, label="optimum")
    left.set_xlabel("theta_1 (low curvature, h = %g)" % problem.h[0])
    left.set_ylabel("theta_2 (high curvature, h = %g)" % problem.h[1])
    left.set_title("one sampled trajectory on the loss contours")
    left.legend(fontsize=7, loc="upper right")
    steps = np.arange(cfg["T"] + 1)
    right.plot(steps, runs["small"]["loss"], color="tab:blue", label="conservative")
    right.plot(steps[: k + 1], runs["decay"]["loss"][: k + 1], color="tab:red", label="aggressive")
    right.plot(steps[k:], runs["decay"]["loss"][k:], color="gold", label="decay")
    right.axvline(k, color="gray", ls=":", lw=0.8)
    right.set_yscale("log")
    right.set_xlabel("step t")
    right.set_ylabel("expected excess loss (exact, Theorem 1)")
    right.set_title("expected loss")
    right.legend(fontsize=7)
    fig.suptitle("Figure 1: 2-D noisy quadratic")
    fig.tight_layout()
    return fig


def _report(checks, concluded, scale, cfg):
    from shb.experiments.report import checks_table

    return "\n".join([
        "![fig1](fig1.png)", "",
        f"Command: `shb figure fig1 --scale {scale}`. Our 2-D problem: h = {cfg['h']}, sigma2 = {cfg['sigma2']}, "
        f"E[theta0] = {cfg['mean0']}; SGD without momentum; alpha = {cfg['alpha_small']} for {cfg['T']} steps "
        f"vs alpha = {cfg['alpha_large']} for {cfg['k']} steps then decay to {cfg['decay_to']} of it.", "",
        paragraph(concluded), "", checks_table(checks)])
