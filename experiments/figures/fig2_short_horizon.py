"""Figure 2: short-horizon meta-objectives on the 1000-D noisy quadratic (Section 1).

Solid: the expected loss after k steps of SGD at a fixed learning rate alpha, as a function of
alpha, for several k. Dashed: the same k steps followed by `tail` steps whose learning rate decays
exponentially from alpha. The solid curves' minimisers sit at smaller learning rates than the dashed
ones: a short-horizon meta-objective prefers a smaller learning rate than the longer run needs.
All (alpha, k) settings are rolled out as batches (one rollout per k), not one by one.
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

# ---- configuration ----------------------------------------------------------------------------
PAPER = dict(preset="paper", horizons=(30, 100, 300, 1000), tail=50, decay_to=0.01,
             alpha_min=1e-3, alpha_max=4.0, n_alpha=80, mc_runs=2000, seed=2)
QUICK = dict(PAPER, n_alpha=30, mc_runs=1000)
TINY = dict(PAPER, horizons=(10, 30), tail=20, n_alpha=12, mc_runs=300)
CONFIGS = {"tiny": TINY, "quick": QUICK, "paper": PAPER}
BELOW = "every solid minimiser is below its dashed minimiser"
INSIDE = "every minimiser lies inside the swept learning-rate range"
BATCHED = "batched sweep equals a single rollout"
MONTE_CARLO = "exact moments agree with Monte-Carlo"
HEAVY_BALL = nqm_optimizers.get("heavy-ball")  # the paper's optimizer (Eqs. 1-2), on the rule engine
# -----------------------------------------------------------------------------------------------


def sweep(problem, cfg):
    """Loss after k fixed steps (solid) and after k fixed + tail decayed steps (dashed), for every alpha."""
    alphas = np.geomspace(cfg["alpha_min"], cfg["alpha_max"], cfg["n_alpha"])
    solid, dashed = {}, {}
    longest = max(cfg["horizons"])
    fixed = np.repeat(alphas[:, None], longest, axis=1)
    with np.errstate(over="ignore", invalid="ignore"):
        curve = HEAVY_BALL.rollout(problem, fixed, np.zeros_like(fixed))["loss"]
        for k in cfg["horizons"]:
            solid[k] = curve[:, k]
            schedule = nqm_fixed_decay.fixed_then_decay(alphas, k, cfg["tail"], cfg["decay_to"])
            dashed[k] = HEAVY_BALL.rollout(problem, schedule, np.zeros_like(schedule))["loss"][:, -1]
    return alphas, solid, dashed


def argmin_alpha(alphas, losses):
    losses = np.where(np.isfinite(losses), losses, np.inf)
    return float(alphas[int(np.argmin(losses))])


def run(out_dir, cfg, scale="quick"):
    problem = nqm_problem.preset(cfg["preset"])
    alphas, solid, dashed = sweep(problem, cfg)
    best = {k: (argmin_alpha(alphas, solid[k]), argmin_alpha(alphas, dashed[k])) for k in cfg["horizons"]}
    k_mid = sorted(cfg["horizons"])[len(cfg["horizons"]) // 2]
    single = nqm_fixed_decay.fixed_then_decay(np.array([best[k_mid][1]]), k_mid, cfg["tail"], cfg["decay_to"])[0]
    single_loss = HEAVY_BALL.rollout(problem, single, np.zeros_like(single))["loss"][-1]
    mc, _ = nqm_montecarlo_power.loss_iterate(HEAVY_BALL, problem, {"alpha": single, "mu": np.zeros_like(single)},
                                              cfg["mc_runs"], (k_mid, len(single)), cfg["seed"])
    minimisers = [a for pair in best.values() for a in pair]
    checks = [
        generated_code_check(),
        check(BELOW, all(s < d for s, d in best.values()),
              "; ".join(f"k={k}: {s:.3g} {relation(s < d, '<')} {d:.3g}" for k, (s, d) in best.items()),
              kind=EVIDENCE, values=minimisers),
        check(INSIDE, all(alphas[0] < a < alphas[-1] for a in minimisers), f"range [{alphas[0]:.3g}, {alphas[-1]:.3g}]",
              kind=EVIDENCE, values=minimisers),
        check(BATCHED, np.isclose(single_loss, np.min(dashed[k_mid]), rtol=1e-12),
              f"k={k_mid}, alpha={best[k_mid][1]:.4g}: batched {np.min(dashed[k_mid]):.10g}, single {single_loss:.10g}",
              kind=EVIDENCE, values=(single_loss, np.min(dashed[k_mid]))),
        evidence(mc),
    ]
    ratio = min(d / s for s, d in best.values())
    concluded = conclude(claims(best, ratio), checks)
    data = {"alphas": alphas, "solid": {str(k): v for k, v in solid.items()},
            "dashed": {str(k): v for k, v in dashed.items()}, "argmin": {str(k): v for k, v in best.items()}}
    passed = save_verified_figure(plot(alphas, solid, dashed, best, cfg), "fig2", out_dir, data,
                                  {"scale": scale, **cfg}, checks, seed=cfg["seed"], conclusions=concluded)
    rows = [paper_row("Fig. 2: short-horizon minimisers at smaller learning rates", "yes",
                      "yes" if concluded[0]["holds"] else "no", f"shb figure fig2 --scale {scale}",
                      note=f"smallest dashed/solid argmin ratio {ratio:.2g}")]
    return Result("Figure 2: short-horizon meta-objectives (1000-D NQM)", passed, ["fig2"], checks, rows,
                  _report(best, checks, concluded, scale, cfg))


def claims(best, ratio):
    """Figure 2's conclusion (experiments/conclusions.py), from the sweep's minimisers."""
    return [claim("that short horizons prefer smaller learning rates",
                  f"A short-horizon meta-objective prefers a smaller learning rate than the longer run needs: for every "
                  f"k in {sorted(best)} the best fixed rate for k steps alone is at least {ratio:.2g} times below the "
                  "best for the same k steps followed by the decaying tail, both minima inside the swept range.",
                  BELOW, INSIDE, BATCHED, MONTE_CARLO)]


def plot(alphas, solid, dashed, best, cfg):
    fig, ax = plt.subplots(figsize=(7, 5))
    colors = plt.cm.viridis(np.linspace(0, 0.9, len(cfg["horizons"])))
    for color, k in zip(colors, cfg["horizons"]):
        ax.plot(alphas, solid[k], color=color, label=f"k = {k}")
        ax.plot(alphas, dashed[k], color=color, ls="--", label=f"k = {k}, then {cfg['tail']} decay steps")
        for value, ls in zip(best[k], ("-", "--")):
            ax.axvline(value, color=color, ls=ls, lw=0.5, alpha=0.6)
    ax.set_xscale("log")
    ax.set_yscale("log")
    finite = np.concatenate([v[np.isfinite(v)] for v in list(solid.values()) + list(dashed.values())])
    ax.set_ylim(0.5 * finite.min(), 2 * np.percentile(finite, 90))
    ax.set_xlabel("fixed learning rate alpha")
    ax.set_ylabel("expected excess loss")
    ax.set_title("Figure 2: short-horizon meta-objectives (1000-D noisy quadratic)")
    ax.legend(fontsize=7, ncol=2, loc="lower left")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def _report(best, checks, concluded, scale, cfg):
    from shb.experiments.report import checks_table

    lines = ["![fig2](fig2.png)", "",
             f"Command: `shb figure fig2 --scale {scale}`. SGD without momentum on the `paper` preset; the tail decays "
             f"the learning rate geometrically to {cfg['decay_to']} of alpha over {cfg['tail']} steps.", "",
             "| k | argmin alpha, k steps (solid) | argmin alpha, k steps + decay (dashed) |", "|---|---|---|"]
    lines += [f"| {k} | {s:.3g} | {d:.3g} |" for k, (s, d) in best.items()]
    return "\n".join(lines + ["", paragraph(concluded), "", checks_table(checks)])
