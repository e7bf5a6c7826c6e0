"""Figure `lookahead`: online meta-optimization computed exactly on the NQM, the twin of Figures 7 and 8.

Section 3.3 runs online SMD with a 5-step lookahead on networks: sampled lookahead (Figure 7) drives the
learning rate far too low; lookahead on one repeated mini-batch, "deterministic" (Figure 8), drives it too high
and training becomes unstable. The paper shows both only from noisy samples of networks. On the NQM both are
exact (numeric/nqm/lookahead.py): at every step the constant (alpha, mu) minimizing the expected loss K steps
ahead of the current moments (Theorem 1), planned with the problem's sigma2 (stochastic) or with sigma2 = 0
(deterministic) and always run under the true sigma2; K = 1 is the greedy schedule (Theorem 2). Against them:
the optimized schedule of Section 2.3 (the schedule registry's `optimized`). Learning rates are compared as
effective learning rates alpha / (1 - mu), the parameterization of the paper's online SMD (Section 3.3):
with momentum, alpha alone is not the step size.
"""
import time

import matplotlib.pyplot as plt
import numpy as np

from shb.experiments.common import generated_code_check, registry_schedule
from shb.experiments.conclusions import claim, conclude, paragraph
from shb.experiments.result import Result
from shb.experiments.verified import EVIDENCE, INVARIANT, check, evidence, save_verified_figure
from shb.numeric.nqm import checks as nqm_checks
from shb.numeric.nqm import horizon as nqm_horizon
from shb.numeric.nqm import independent as nqm_independent
from shb.numeric.nqm import lookahead_checks as nqm_lookahead_checks
from shb.numeric.nqm import montecarlo_power as nqm_montecarlo_power
from shb.numeric.nqm import optimizers as nqm_optimizers
from shb.numeric.nqm import problem as nqm_problem
from shb.numeric.nqm import schedule_registry as nqm_schedule_registry
from shb.numeric.nqm.lookahead import STABLE_MU

# ---- configuration ----------------------------------------------------------------------------
# horizons: the lookahead K; global_steps: steps whose plans are checked against a finer grid (costly at K = 25);
# independent_steps: steps whose K > 1 plans are found again by a second method (numeric/nqm/independent.py, about
# a CPU-second per plan at K = 25); mc: (K, deterministic) of the schedules checked against Monte-Carlo.
PAPER = dict(preset="paper", T=250, horizons=(1, 5, 25), adam_steps=500, adam_lr=0.003,
             global_steps=(0, 1, 3, 12, 30, 60, 100, 130, 180, 249), independent_steps=(0, 12, 60, 130, 249),
             mc=((25, False), (5, True)), mc_runs=4000, mc_steps=(1, 10, 100, 250), seed=0)
QUICK = dict(PAPER, global_steps=(0, 1, 12, 60, 130, 249), independent_steps=(12, 130), mc_runs=1000)
TINY = dict(PAPER, T=30, horizons=(1, 3, 6), adam_steps=100, global_steps=(0, 7, 29), independent_steps=(7,),
            mc=((6, False), (3, True)), mc_runs=300, mc_steps=(1, 10, 30))
CONFIGS = {"tiny": TINY, "quick": QUICK, "paper": PAPER}
HEAVY_BALL = nqm_optimizers.get("heavy-ball")  # the paper's optimizer (Eqs. 1-2), on the rule engine
# -----------------------------------------------------------------------------------------------
MODES = {False: "stochastic", True: "deterministic"}
SHARED = 0.5  # CPU seconds: a schedule that took less came from experiments/common.py's registry_schedule
SAME_VALUE = 1e-9    # relative: the second method's L_K of a plan against horizon.py's, and "not beaten"
REACHED = 1e-6       # relative: the second method's minimum is the plan's
GREEDY = "K = 1 lookahead is the greedy schedule (Theorem 2)"
ONE_STEP = "every K = 1 plan minimises the one-step loss (Eq. 15)"
LOCAL = "every K > 1 plan is a local minimum of its K-step loss (perturbation)"
GLOBAL = "no plan misses a lower minimum on a finer grid"
SECOND = ("K > 1 plans found again by a second method (moment matrices from the update rule, quasi-Newton on finite "
          "differences)")
LOW = "stochastic lookahead's effective learning rates are below the optimized schedule's, at the end too"
HIGH = "deterministic lookahead's are above it, at the end too, with a higher final loss"
MONTE_CARLO = "exact moments agree with Monte-Carlo: K = {} {} lookahead"


def effective_learning_rate(schedule):
    """alpha_t / (1 - mu_t): the step a constant gradient settles to under momentum (Section 3.3's alpha_eff)."""
    return np.asarray(schedule["alpha"]) / (1.0 - np.asarray(schedule["mu"]))


def geometric_mean(x):
    return float(np.exp(np.mean(np.log(x))))


def schedules(problem, cfg):
    """{(K, deterministic): lookahead result} and the optimized schedule, from the schedule registry, with the
    seconds each took."""
    lookahead = nqm_schedule_registry.SCHEDULES["lookahead"]
    runs, seconds = {}, {}
    for K in cfg["horizons"]:
        for deterministic in (False, True):
            t0 = time.process_time()
            runs[K, deterministic] = lookahead(HEAVY_BALL, problem, cfg["T"], {"horizon": K, "deterministic": deterministic})
            seconds[K, deterministic] = time.process_time() - t0
    t0 = time.process_time()  # Figure 3a's schedule when it ran before in this process (shb reproduce)
    best = registry_schedule("optimized", problem, cfg["T"], {"adam_steps": cfg["adam_steps"], "adam_lr": cfg["adam_lr"]})
    seconds["optimized"] = time.process_time() - t0
    return runs, best, seconds


def minimum_checks(problem, runs, cfg):
    """Every plan of a K > 1 lookahead is a minimum of its K-step loss: by perturbation (all steps) and by Newton
    from a finer grid (cfg["global_steps"])."""
    gains, gaps, curvature = [], [], []
    for (K, deterministic), run in runs.items():
        if K == 1:
            continue
        gain, moves = nqm_lookahead_checks.perturbation_gain(HEAVY_BALL, problem, run, K, deterministic)
        steps = [t for t in cfg["global_steps"] if t < cfg["T"]]
        gap = nqm_lookahead_checks.global_gap(HEAVY_BALL, problem, run, K, steps, deterministic)
        name = f"K = {K} {MODES[deterministic]}"
        gains.append((name, float(gain.max())))
        gaps.append((name, float(gap.max())))
        curvature.append((name, float(run["min_eigenvalue"].min() / run["max_eigenvalue"].max())))
    listed = lambda pairs: "; ".join(f"{name} {value:.1e}" for name, value in pairs)  # noqa: E731
    return [
        check(LOCAL, max(g for _, g in gains) <= 1e-10 and min(c for _, c in curvature) > 0,
              f"at each of the {cfg['T']} steps, {moves} perturbations (alpha x (1 +- e), mu +- e, both; e = "
              f"{', '.join(map(str, nqm_lookahead_checks.PERTURBATIONS))}) of the plan: largest relative decrease of L_K "
              f"{listed(gains)} (must be <= 1e-10); smallest Hessian eigenvalue over the largest, > 0 (strict minima): "
              f"{listed(curvature)}", kind=EVIDENCE, values=(gains, curvature)),
        check(GLOBAL, max(g for _, g in gaps) <= 1e-9,
              f"at steps {list(steps)}: Newton from the {nqm_lookahead_checks.CHECK_STARTS} lowest local minima of a "
              f"{nqm_lookahead_checks.CHECK_F.size} x {nqm_lookahead_checks.CHECK_MU.size} grid disjoint from the planner's; "
              f"largest (L_K(plan) - L_K(found)) / L_K(plan): {listed(gaps)} (must be <= 1e-9)",
              kind=EVIDENCE, values=gaps),
    ]


def second_method_check(problem, runs, cfg):
    """At cfg["independent_steps"], every K > 1 plan found again with no code path shared with the planner
    (numeric/nqm/independent.py): its K-step loss from heavy ball's second moments propagated by plain matrices
    written from the update rule equals horizon.py's (the planner's objective, through the generated adjoint, at
    the planner's scaled curvatures h / c, whose loss is L_K / c), and quasi-Newton on finite differences of that
    loss, from a grid of its own, reaches the plan's minimum and nothing lower."""
    worst_value, worst_beaten, worst_reached, lines = 0.0, -np.inf, 0.0, []
    steps = [t for t in cfg["independent_steps"] if t < cfg["T"]]
    for (K, deterministic), run in runs.items():
        if K == 1:
            continue
        moments = nqm_independent.second_moments(problem, run)
        contexts, c = nqm_lookahead_checks.planned(HEAVY_BALL, problem, run, K, deterministic)
        for t in steps:
            ctx = contexts[t]
            loss = lambda a, m: nqm_independent.horizon_loss(moments[t], a, m, problem.h, ctx.sigma2, K)  # noqa: E731
            alpha, mu = run["alpha"][t], run["mu"][t]
            second = float(loss(alpha, mu))
            planner = c * float(nqm_horizon.horizon_loss(ctx.rule, alpha * c, mu, ctx.h, ctx.sigma2, ctx.raw,
                                                         ctx.extras))
            found_alpha, found_mu, found = nqm_independent.search_minimum(loss, np.max(problem.h), STABLE_MU)
            worst_value = max(worst_value, abs(second - planner) / abs(planner))
            worst_beaten = max(worst_beaten, (second - found) / second)
            worst_reached = max(worst_reached, (found - second) / second)
            lines.append(f"K = {K} {MODES[deterministic]}, t = {t}: plan ({alpha:.6g}, {mu:.6g}), found "
                         f"({found_alpha:.6g}, {found_mu:.6g})")
    passed = worst_value <= SAME_VALUE and worst_beaten <= SAME_VALUE and worst_reached <= REACHED
    return check(SECOND, passed,
                 f"at steps {steps} of every K > 1 run: largest |L_K(second method) - L_K(planner)| / L_K = "
                 f"{worst_value:.1e} (must be <= {SAME_VALUE:g}); the second method's lowest L_K below the plan's by at "
                 f"most {max(worst_beaten, 0.0):.1e} (must be <= {SAME_VALUE:g}) and above it by at most "
                 f"{max(worst_reached, 0.0):.1e} (must be <= {REACHED:g}: it reaches the plan's minimum); "
                 + "; ".join(lines), kind=EVIDENCE, values=(worst_value, worst_beaten, worst_reached))


def learning_rate_checks(runs, best):
    """Stochastic lookahead's learning rates are below the optimized schedule's, at the end and in geometric
    mean over the run (between, the two may cross: the detail says where); deterministic lookahead's are above
    it over the run and at the end, and it ends with a higher loss."""
    target = effective_learning_rate(best)
    final, mean = target[-1], geometric_mean(target)
    low, high, lines_low, lines_high = True, True, [], []
    for (K, deterministic), run in runs.items():
        rate = effective_learning_rate(run)
        if deterministic:
            ok = rate[-1] > final and geometric_mean(rate) > mean and run["loss"][-1] > best["loss"][-1]
            high &= ok
            lines_high.append(f"K = {K}: final {rate[-1]:.3g}, mean {geometric_mean(rate):.3g}, "
                              f"L(T) {run['loss'][-1]:.4g}")
        else:
            low &= geometric_mean(rate) < mean and rate[-1] < final
            above = np.flatnonzero(rate > target)
            where = f"above it at {above.size} steps ({above.min()}..{above.max()})" if above.size else "never above it"
            lines_low.append(f"K = {K}: final {rate[-1]:.3g}, mean {geometric_mean(rate):.3g}, {where}")
    reference = f"optimized: final {final:.3g}, geometric mean over the steps {mean:.3g}, L(T) {best['loss'][-1]:.4g}"
    compared = {f"K{K} {MODES[d]}": (effective_learning_rate(r), r["loss"][-1]) for (K, d), r in runs.items()}
    compared["optimized"] = (target, best["loss"][-1])
    return [
        check(LOW, low, f"alpha / (1 - mu), geometric mean and final value must be below; {reference}; "
              + "; ".join(lines_low), kind=EVIDENCE, values=compared),
        check(HIGH, high, f"alpha / (1 - mu), geometric mean and final value must be above; {reference}; "
              + "; ".join(lines_high), kind=EVIDENCE, values=compared),
    ]


def greedy_check(problem, runs, cfg):
    """K = 1 lookahead reproduces the greedy schedule of the registry (`shb nqm greedy`) to 1e-12, relative: an
    invariant (ties go to the greedy start by design, numeric/nqm/lookahead.py), so the evidence for the K = 1 plans
    is `ONE_STEP`, the one-step loss at perturbations of each plan."""
    greedy = nqm_schedule_registry.SCHEDULES["greedy"](HEAVY_BALL, problem, cfg["T"])
    one = runs[1, False]
    differences = [np.abs(one[k] - greedy[k]) / np.maximum(np.abs(greedy[k]), 1e-300) for k in ("alpha", "mu", "loss")]
    worst = max(float(np.max(d)) for d in differences)
    return check(GREEDY, worst <= 1e-12,
                 f"largest relative difference of alpha, mu, L(t) from `shb nqm greedy`: {worst:.1e} (<= 1e-12)",
                 kind=INVARIANT, values=differences)


def figure_checks(problem, runs, best, cfg):
    checks = [generated_code_check(), greedy_check(problem, runs, cfg)]
    if (1, False) in runs:
        one_step = nqm_checks.greedy_is_one_step_minimiser(HEAVY_BALL, problem, runs[1, False])
        checks.append(evidence(dict(one_step, name=ONE_STEP)))
    checks += minimum_checks(problem, runs, cfg)
    checks.append(second_method_check(problem, runs, cfg))
    checks += learning_rate_checks(runs, best)
    for seed, (K, deterministic) in enumerate(cfg["mc"], start=cfg["seed"]):
        c, _ = nqm_montecarlo_power.loss_iterate(HEAVY_BALL, problem, runs[K, deterministic], cfg["mc_runs"],
                                                 cfg["mc_steps"], seed)
        checks.append(evidence(dict(c, name=MONTE_CARLO.format(K, MODES[deterministic]))))
    return checks


def plot(runs, best, cfg):
    fig, axes = plt.subplots(2, 2, figsize=(11, 8))
    fig.suptitle(f"K-step lookahead on the {cfg['preset']} NQM, exact: stochastic (solid) and deterministic "
                 "(dashed) planning vs the optimized schedule")
    steps = np.arange(cfg["T"] + 1)
    shades = {K: plt.cm.viridis(0.15 + 0.65 * i / max(len(cfg["horizons"]) - 1, 1))
              for i, K in enumerate(cfg["horizons"])}
    lines = [((K, d), run, dict(color=shades[K], ls="--" if d else "-", lw=1.4),
              f"K = {K}{' (greedy)' if K == 1 and not d else ''}, {MODES[d]}") for (K, d), run in runs.items()]
    lines.append(("optimized", best, dict(color="tab:red", lw=2), "optimized (Section 2.3)"))
    for _, run, style, label in lines:
        axes[0, 0].plot(steps, run["loss"], label=f"{label}: {run['loss'][-1]:.3g}", **style)
        axes[0, 1].plot(steps[:-1], effective_learning_rate(run), label=label, **style)
        axes[1, 0].plot(steps[:-1], run["alpha"], label=label, **style)
        axes[1, 1].plot(steps[:-1], run["mu"], label=label, **style)
    labels = [("expected excess loss L(t)", "log"), ("effective learning rate alpha_t / (1 - mu_t)", "log"),
              ("learning rate alpha_t", "log"), ("momentum mu_t", "linear")]
    for ax, (ylabel, yscale) in zip(axes.flat, labels):
        ax.set_xlabel("step t")
        ax.set_ylabel(ylabel)
        ax.set_yscale(yscale)
        ax.grid(alpha=0.3)
    axes[0, 0].legend(fontsize=6.5)
    fig.tight_layout()
    return fig


def run(out_dir, cfg, scale="quick"):
    problem = nqm_problem.preset(cfg["preset"])
    runs, best, seconds = schedules(problem, cfg)
    checks = figure_checks(problem, runs, best, cfg)
    concluded = conclude(claims(runs, best, cfg), checks)
    data = {f"K{K}_{MODES[d]}": {"alpha": r["alpha"], "mu": r["mu"], "loss": r["loss"]} for (K, d), r in runs.items()}
    data["optimized"] = {"alpha": best["alpha"], "mu": best["mu"], "loss": best["loss"]}
    passed = save_verified_figure(plot(runs, best, cfg), "lookahead", out_dir, data, {"scale": scale, **cfg}, checks,
                                  seed=cfg["seed"], conclusions=concluded)
    return Result("Lookahead: online meta-optimization on the NQM, exactly (twin of Figures 7 and 8)", passed,
                  ["lookahead"], checks, [], _report(runs, best, seconds, checks, concluded, cfg, scale))


def claims(runs, best, cfg):
    """The figure's conclusions (experiments/conclusions.py), from its schedules; `cfg` names the checks they rest on."""
    final = lambda d: ", ".join(f"{runs[K, d]['loss'][-1]:.4g}" for K in cfg["horizons"])  # noqa: E731
    rate = lambda d: ", ".join(f"{effective_learning_rate(runs[K, d])[-1]:.3g}" for K in cfg["horizons"])  # noqa: E731
    monte_carlo = {d: [MONTE_CARLO.format(K, MODES[d]) for K, dd in cfg["mc"] if dd == d] for d in (False, True)}
    exact = [ONE_STEP, LOCAL, GLOBAL, SECOND] if any(K > 1 for K, _ in runs) else [ONE_STEP]
    reference = (f"the optimized schedule ends at L(T) = {best['loss'][-1]:.4g} with effective learning rate "
                 f"{effective_learning_rate(best)[-1]:.3g}")
    horizons = ", ".join(map(str, cfg["horizons"]))
    return [
        claim("that every plan is a minimum of its K-step loss",
              "Each plan is a certified minimum of its exact K-step loss, not a few noisy hypergradient steps.", *exact),
        claim("that stochastic lookahead picks learning rates too small (Figure 7)",
              f"Stochastic lookahead (Figure 7's sampled lookahead) keeps the effective learning rate below the optimized "
              f"schedule's, over the run and at the end: for K = {horizons} it ends at L(T) = {final(False)} with "
              f"effective learning rates {rate(False)}, while {reference}.", LOW, *monte_carlo[False]),
        claim("that deterministic lookahead picks learning rates too large (Figure 8)",
              f"Deterministic lookahead (Figure 8's repeated mini-batch) keeps it above, and ends higher: for K = "
              f"{horizons} at L(T) = {final(True)} with effective learning rates {rate(True)}.", HIGH,
              *monte_carlo[True]),
        claim("that both failure modes belong to the meta-objective itself",
              "Since every plan here is the exact minimum of the exact expected K-step loss, both failure modes of "
              "online SMD are properties of the meta-objective itself, not of sampling or of incomplete "
              "meta-optimization.", LOW, HIGH, *exact),
    ]


def _report(runs, best, seconds, checks, concluded, cfg, scale):
    from shb.experiments.report import checks_table

    rows = [("optimized (Section 2.3)", best, seconds["optimized"])]
    rows += [(f"K = {K} {MODES[d]}" + (" (= greedy)" if K == 1 and not d else ""), r, seconds[K, d])
             for (K, d), r in runs.items()]
    lines = [
        "![lookahead](lookahead.png)", "",
        f"Command: `shb figure lookahead --scale {scale}` (one schedule: `shb nqm lookahead --preset {cfg['preset']} "
        f"--steps {cfg['T']} --horizon K [--deterministic]`). At every step the constant (alpha, mu) minimizing the "
        "expected loss K steps ahead of the current moments (Theorem 1), planned with the problem's sigma2 "
        "(stochastic, Figure 7's sampled lookahead) or with sigma2 = 0 (deterministic, Figure 8's repeated "
        "mini-batch), always run under the true sigma2.", "",
        paragraph(concluded), "",
        "| schedule | L(T) | final alpha | final mu | final alpha / (1 - mu) | geometric mean of alpha / (1 - mu) | CPU time |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, r, sec in rows:
        rate = effective_learning_rate(r)
        cpu = f"{sec:.1f} s" if sec >= SHARED else "shared: computed earlier in this process (Figure 3a)"
        lines.append(f"| {name} | {r['loss'][-1]:.4g} | {r['alpha'][-1]:.3g} | {r['mu'][-1]:.3g} | {rate[-1]:.3g} | "
                     f"{geometric_mean(rate):.3g} | {cpu} |")
    return "\n".join(lines + ["", checks_table(checks)])
