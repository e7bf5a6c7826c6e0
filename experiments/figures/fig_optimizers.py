"""Figure `optimizers`: does Nesterov, preconditioning, a larger batch or iterate averaging shrink short-horizon bias?

On the paper preset (the 1000-D noisy NQM of Figure 3a, T = 250) every update rule of the registry
(symbolic/optimizers/, one row each with its default options) gets the three schedules of Section 2.3: greedy (one-step lookahead, Theorem 2 for the rule), fixed (the best
constant (alpha, mu), Adam on L(T)) and optimized (one (alpha_t, mu_t) per step, Adam on L(T) under the safeguard
L_i(t) <= L_i(0)); and heavy ball on minibatches of B = 1 to 1000 gradient draws (noise variance sigma2 / B). The
greedy regret is greedy L(T) / optimized L(T): the short-horizon bias (Figure 3a's 63.86 / 4.25 for heavy ball).
The optimized fit is a local search, so each regret is a lower bound on the regret against the best schedule.

The rows and their options are the registry's defaults (each rule's module says why): Nesterov's greedy step is the
greedy alpha at mu = 0.9 (its joint step is not derived: the one-step loss is quartic in (alpha, mu));
preconditioned uses p = 1/h (the inverse curvature); ema gamma = 0.1; polyak gamma_t = 1/(t+2). A rule whose
options are swept (SWEEPS) gets one row per value instead, after the others. The quick scale fits from coarser starting grids with fewer Adam steps
than the paper's 500 (CONFIGS), so its optimized losses are higher and its regrets smaller than the paper scale's.

Certified cross-check (Zhang et al. 2019, the NQM with plain SGD): with mu = 0 and a constant alpha,
theta' = (1 - alpha h) theta + alpha h c, so the variance s_k = V[theta_k] follows s' = b s + alpha^2 g2 with
b = (1 - alpha h)^2 and g2 = Var[h c] = h^2 sigma2 (the gradient-noise variance): s_k = s* + b^k (s_0 - s*),
s* = alpha^2 g2 / (1 - b). Each rule that is plain SGD at mu = 0 (its theta update reads theta alone) must follow it
at every step and coordinate, with its effective step alpha_eff = (1 - F_theta,theta) / h and noise g2 = b_theta^2 /
alpha_eff^2 read off its affine update z' = F z + b xi at mu = 0 (alpha p and h^2 sigma2 for the preconditioned
rule, alpha and h^2 sigma2 / B for a minibatch).
"""
import time

import matplotlib.pyplot as plt
import numpy as np

from shb.experiments.common import generated_code_check
from shb.experiments.conclusions import claim, conclude, paragraph
from shb.experiments.result import Result
from shb.experiments.verified import EVIDENCE, INVARIANT, check, evidence, save_verified_figure
from shb.numeric.nqm import montecarlo_power as nqm_montecarlo_power
from shb.numeric.nqm import optimizers as nqm_optimizers
from shb.numeric.nqm import problem as nqm_problem
from shb.numeric.nqm.schedules import DECAY_GRID_ALPHA0, DECAY_GRID_FINAL, DECAY_GRID_MU, FIXED_GRID_ALPHA
from shb.numeric.nqm.schedules import FIXED_GRID_MU

# ---- configuration ----------------------------------------------------------------------------
# Every rule of the registry is a row with its default options, except the swept ones: heavy ball on minibatches of
# `batch_sizes` gradient draws (B = 1 is heavy ball), one row per B.
# Monte-Carlo of each rule's own update on its optimized schedule, on every mc_stride-th coordinate (independent of the
# others; N = mc_runs), and of heavy ball on minibatches of the sizes in mc_batch_sizes on every mc_batch_stride-th
# (the simulation draws B gradients a step: at B = 1000 it would take minutes).
SWEEPS = {"minibatch": ("B", "batch_sizes")}  # optimizer -> (its option, the configuration key of the values)
BATCH_SIZES = (1, 10, 100, 1000)
COARSE = dict(fixed_grid=(FIXED_GRID_ALPHA[::4], FIXED_GRID_MU[::3]),  # 10 x 8 constant starts
              decay_grid=(DECAY_GRID_ALPHA0[::3], DECAY_GRID_MU[[0, 3, 5]], DECAY_GRID_FINAL[::2]))  # 5 x 3 x 5
PAPER = dict(preset="paper", T=250, batch_sizes=BATCH_SIZES, adam_lr=0.003, fixed_steps=500, optimized_steps=500,
             fixed_grid=(FIXED_GRID_ALPHA, FIXED_GRID_MU), decay_grid=(DECAY_GRID_ALPHA0, DECAY_GRID_MU,
                                                                     DECAY_GRID_FINAL),
             zhang_alpha=0.5, zhang_tolerance=1e-9, mc_runs=1000, mc_steps=(1, 10, 100, 250), mc_stride=10,
             mc_batch_sizes=(10,), mc_batch_stride=20, seed=0)
QUICK = dict(PAPER, fixed_steps=15, optimized_steps=30, **COARSE)
TINY = dict(PAPER, T=20, batch_sizes=(1, 100), fixed_steps=3, optimized_steps=3, mc_runs=300, mc_steps=(1, 20),
            mc_batch_sizes=(100,), **COARSE)
CONFIGS = {"tiny": TINY, "quick": QUICK, "paper": PAPER}
ROUND_OFF = 1e-9  # relative slack of the comparisons between fitted losses (float64 rounding in L(T))
ZHANG = "SGD variance = Zhang et al. 2019's closed form"
NOT_ABOVE_GREEDY = "optimized L(T) <= greedy L(T) where greedy keeps the safeguard"
SAFEGUARD = "optimized schedules keep the safeguard L_i(t) <= L_i(0)"
SAME_AS_HEAVY_BALL = "minibatch B=1 {} = heavy ball's"
MONTE_CARLO = "exact moments agree with Monte-Carlo: {} optimized"
# -----------------------------------------------------------------------------------------------


def entries(cfg):
    """[(label, optimizer name, options)]: every rule of the registry with its defaults, then the swept ones."""
    rows = [(entry.label, name, {}) for name, entry in nqm_optimizers.registry.OPTIMIZERS.items() if name not in SWEEPS]
    return rows + [(f"{option}={value}", name, {option: value}) for name, (option, key) in SWEEPS.items()
                   for value in cfg[key]]


def schedules(problem, cfg, name, options):
    """Greedy, fixed and optimized schedules of one entry ({"alpha", "mu", "loss"} each) and their seconds."""
    opt, T, out, seconds = nqm_optimizers.get(name, **options), cfg["T"], {}, {}
    fits = {"greedy": lambda: opt.greedy(problem, T),
            "fixed": lambda: opt.fixed(problem, T, cfg["fixed_steps"], cfg["adam_lr"], grid=cfg["fixed_grid"]),
            "optimized": lambda: opt.optimized(problem, T, cfg["optimized_steps"], cfg["adam_lr"],
                                               grid=cfg["decay_grid"])}
    for kind, fit in fits.items():
        t0 = time.monotonic()
        with np.errstate(over="ignore", invalid="ignore"):
            out[kind] = fit()
        seconds[kind] = time.monotonic() - t0
    return out, seconds


def zhang_variance(h, g2, alpha, s0, steps):
    """Zhang et al. 2019's V[theta_k], k = 0..steps, of SGD with constant alpha: s* + b^k (s_0 - s*) (module doc)."""
    b = (1 - alpha * h) ** 2
    s_star = alpha**2 * g2 / (1 - b)
    return s_star + b ** np.arange(steps + 1)[:, None] * (s0 - s_star)


def sgd_form(opt, problem):
    """(alpha_eff / alpha, g2) per coordinate of a rule that is plain SGD at mu = 0, read off its affine update
    z' = F z + b xi (symbolic/rule_moments.py) at mu = 0: theta' = (1 - alpha_eff h) theta + ..., b_theta^2 =
    alpha_eff^2 g2; None when its theta update reads more than theta there (not plain SGD)."""
    import sympy as sp

    from shb.symbolic import model
    from shb.symbolic.rule_moments import affine_form

    rule = opt.entry.rule
    F, b = (m.subs(model.mu, 0) for m in affine_form(rule))
    if any(F[0, j] != 0 for j in range(1, F.shape[1])):
        return None
    step = sp.simplify((1 - F[0, 0]) / (model.h * model.alpha))
    noise = sp.simplify(b[0] ** 2 / (step * model.alpha) ** 2)
    args = (model.h, model.sigma2, *rule.extras)
    extras = opt.extras(problem, 1)
    values = [np.asarray(extras[s.name], dtype=float).ravel()[0] if s in rule.per_step else extras[s.name]
              for s in rule.extras]
    return tuple(sp.lambdify(args, e, "numpy")(problem.h, problem.sigma2, *values) * np.ones_like(problem.h)
                 for e in (step, noise))


def zhang_cases(problem, cfg):
    """[(label, exact V[theta_k] of the rule at mu = 0, Zhang's closed form)] for every row whose rule is plain SGD at
    mu = 0 (`sgd_form`)."""
    T, alpha = cfg["T"], cfg["zhang_alpha"]
    alphas, mus = np.full(T, alpha), np.zeros(T)
    out = []
    for label, name, options in entries(cfg):
        opt = nqm_optimizers.get(name, **options)
        form = sgd_form(opt, problem)
        if form is not None:
            exact = opt.rollout(problem, alphas, mus)["var_theta"]
            out.append((label, exact, zhang_variance(problem.h, form[1], alpha * form[0], problem.var0, T)))
    return out


def zhang_check(cases, tolerance):
    """Every case's exact variance equals the closed form to `tolerance` (relative) at every step and coordinate."""
    worst, where, errors = 0.0, "none", []
    for label, exact, closed in cases:
        with np.errstate(divide="ignore", invalid="ignore"):
            error = np.where(exact == closed, 0.0, np.abs(exact - closed) / np.abs(closed))
        errors.append(error)
        error = float(np.max(error)) if np.all(np.isfinite(error)) else np.inf
        if not error <= worst:
            worst, where = error, label
    return check(ZHANG, worst <= tolerance,
                 f"{len(cases)} rules at mu = 0: largest relative difference {worst:.1e} ({where}) over "
                 f"every step and coordinate (must be <= {tolerance:g})", kind=EVIDENCE, values=errors)


def ordering_checks(finals, violations):
    """Two invariants of the fit (they hold by construction, so they are not counted): optimized <= greedy wherever
    the greedy schedule keeps the safeguard (it is then one of the fit's starts, and Adam keeps the best point it
    sees), and every optimized schedule keeps the safeguard (each alpha_t is capped at the exact bound that keeps it).
    finals[k]["greedy_ratio"]: max_t,i L_i(t) / L_i(0) of the greedy schedule. The evidence for the losses they
    compare is `montecarlo_checks`."""
    worse = [f"{k}: {v['optimized']:.4g} > {v['greedy']:.4g}" for k, v in finals.items()
             if v["greedy_ratio"] <= 1 + ROUND_OFF and not v["optimized"] <= v["greedy"] * (1 + ROUND_OFF)]
    admissible = sum(v["greedy_ratio"] <= 1 + ROUND_OFF for v in finals.values())
    broken = [f"{k}: {v:.1e}" for k, v in violations.items() if not v <= ROUND_OFF]
    return [check(NOT_ABOVE_GREEDY, not worse,
                  "; ".join(worse) or f"{admissible} of {len(finals)} optimizers' greedy schedules keep it",
                  kind=INVARIANT, values=finals),
            check(SAFEGUARD, not broken,
                  "; ".join(broken) or f"max_t,i L_i(t)/L_i(0) - 1 <= {ROUND_OFF:g} for all {len(violations)}",
                  kind=INVARIANT, values=violations)]


def montecarlo_checks(problem, cfg, runs):
    """Each rule's optimized schedule: its exact moments (the rule's rollout) against Monte-Carlo of its own update
    (numeric/nqm/montecarlo_power.py), on every cfg["mc_stride"]-th coordinate (the coordinates evolve independently,
    so the exact moments of a subset are those of the whole problem there); heavy ball on minibatches only for
    cfg["mc_batch_sizes"], on every cfg["mc_batch_stride"]-th coordinate. B = 1 is heavy ball's schedule."""
    checks = []
    for seed, (label, name, options) in enumerate(entries(cfg), start=cfg["seed"]):
        if label == "B=1" or (name == "minibatch" and options["B"] not in cfg["mc_batch_sizes"]):
            continue
        stride = cfg["mc_batch_stride"] if name == "minibatch" else cfg["mc_stride"]
        at = np.arange(0, problem.h.size, stride)
        part = nqm_problem.make_problem(problem.h[at], problem.sigma2[at], problem.mean0[at], problem.var0[at])
        steps = [t for t in cfg["mc_steps"] if t <= cfg["T"]]
        c, _ = nqm_montecarlo_power.rule(nqm_optimizers.get(name, **options), part, runs[label]["optimized"],
                                         cfg["mc_runs"], steps, seed)
        checks.append(evidence(dict(c, name=MONTE_CARLO.format(label),
                                    detail=f"{at.size} of {problem.h.size} coordinates (every {stride}th); "
                                           + c["detail"])))
    return checks


def same_schedule_check(name, a, b, tolerance=1e-12):
    """Two routes to one schedule agree: alpha, mu and the loss curve to `tolerance` (relative)."""
    def difference(x, y):
        x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
        return float(np.max(np.abs(x - y) / np.maximum(np.abs(y), 1e-300)))

    differences = [difference(a[k], b[k]) for k in ("alpha", "mu", "loss")]
    worst = max(differences)
    return check(name, worst <= tolerance, f"largest relative difference {worst:.1e} (must be <= {tolerance:g})",
                 kind=EVIDENCE, values=differences)


def same_as_heavy_ball(problem, cfg, heavy_ball):
    """Minibatch B = 1 (the same rule as heavy ball) without refitting: its own greedy schedule, and heavy ball's
    fixed and optimized schedules rolled out by the minibatch rule; `consistency_checks` certifies the identity."""
    opt = nqm_optimizers.get("minibatch", B=1)
    out = {"greedy": opt.greedy(problem, cfg["T"])}
    for kind in ("fixed", "optimized"):
        s = heavy_ball[kind]
        out[kind] = {**s, "loss": opt.loss_curve(problem, s["alpha"], s["mu"])}
    return out


def consistency_checks(problem, cfg, runs):
    """Two rules derived apart agree where they must: minibatch B = 1 (its own update, noise variance sigma2 / B
    derived draw by draw, its own generated code) is heavy ball (its greedy schedule, and its losses on heavy ball's
    fitted schedules)."""
    checks = []
    if "B=1" in runs:
        for kind in ("greedy", "fixed", "optimized"):
            checks.append(same_schedule_check(SAME_AS_HEAVY_BALL.format(kind), runs["B=1"][kind],
                                              runs["heavy ball"][kind], 1e-9))
    return checks


def plot(labels, finals, batch_sizes, zhang):
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.6))
    fig.suptitle("Short-horizon bias by optimizer on the paper's noisy NQM (T = 250): greedy vs fixed vs optimized")
    rules = [k for k in labels if not k.startswith("B=")]
    x, width = np.arange(len(rules)), 0.27
    for j, (kind, color) in enumerate((("greedy", "tab:blue"), ("fixed", "tab:green"), ("optimized", "tab:red"))):
        axes[0].bar(x + (j - 1) * width, [finals[k][kind] for k in rules], width, color=color, label=kind)
    for i, k in enumerate(rules):
        axes[0].text(i, finals[k]["greedy"] * 1.15, f"x{finals[k]['regret']:.3g}", ha="center", fontsize=7)
    axes[0].set_xticks(x, rules, rotation=20, fontsize=7)
    axes[0].set(yscale="log", ylabel="final loss L(T)", title="rules (label: greedy regret)")
    batch = [f"B={B}" for B in batch_sizes]
    for kind, color in (("greedy", "tab:blue"), ("fixed", "tab:green"), ("optimized", "tab:red")):
        axes[1].plot(batch_sizes, [finals[k][kind] for k in batch], "o-", color=color, label=kind)
    twin = axes[1].twinx()
    twin.plot(batch_sizes, [finals[k]["regret"] for k in batch], "k--s", label="greedy regret")
    twin.set_ylabel("greedy regret (greedy / optimized)")
    twin.legend(loc="lower left", fontsize=7)
    axes[1].set(xscale="log", yscale="log", xlabel="batch size B", ylabel="final loss L(T)",
                title="heavy ball, noise sigma2 / B")
    for label, exact, closed in zhang[:1] + zhang[-1:]:
        for i in (0, exact.shape[1] // 2, exact.shape[1] - 1):
            axes[2].plot(exact[:, i], lw=2, alpha=0.5, label=f"{label}, exact, coordinate {i}")
            axes[2].plot(closed[:, i], "k:", lw=1)
    axes[2].set(yscale="log", xlabel="step k", ylabel="V[theta_k]",
                title="SGD (mu = 0): exact vs Zhang et al. 2019 (dotted)")
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.legend(fontsize=6)
    fig.tight_layout()
    return fig


def run(out_dir, cfg, scale="quick"):
    problem = nqm_problem.preset(cfg["preset"])
    runs, seconds = {}, {}
    for label, name, options in entries(cfg):
        if options == {"B": 1}:
            t0 = time.monotonic()
            runs[label] = same_as_heavy_ball(problem, cfg, runs["heavy ball"])
            seconds[label] = {"all": time.monotonic() - t0}
        else:
            runs[label], seconds[label] = schedules(problem, cfg, name, options)
    finals = {k: {kind: float(s["loss"][-1]) for kind, s in r.items()} for k, r in runs.items()}
    for (label, name, options), value in zip(entries(cfg), finals.values()):
        value["regret"] = value["greedy"] / value["optimized"]
        greedy = runs[label]["greedy"]
        value["greedy_ratio"] = float(nqm_optimizers.get(name, **options).max_component_ratio(problem, greedy["alpha"],
                                                                                               greedy["mu"]))
    violations = {k: float(r["optimized"]["violation"]) for k, r in runs.items() if k != "B=1"}
    zhang = zhang_cases(problem, cfg)
    checks = [generated_code_check(), zhang_check(zhang, cfg["zhang_tolerance"])]
    checks += ordering_checks(finals, violations) + consistency_checks(problem, cfg, runs)
    checks += montecarlo_checks(problem, cfg, runs)
    concluded = conclude(claims(finals, cfg, checks), checks)
    data = {"final_loss": finals, "schedules": {k: {kind: {"alpha": s["alpha"], "mu": s["mu"]} for kind, s in r.items()}
                                                for k, r in runs.items()}}
    config = {"scale": scale, **{k: v for k, v in cfg.items() if not k.endswith("_grid")},
              "entries": [[label, name, options] for label, name, options in entries(cfg)],
              **{k: [np.asarray(g).tolist() for g in v] for k, v in cfg.items() if k.endswith("_grid")}}
    passed = save_verified_figure(plot(list(runs), finals, cfg["batch_sizes"], zhang), "optimizers", out_dir, data,
                                  config, checks, seed=cfg["seed"], conclusions=concluded)
    return Result("Optimizers: short-horizon bias beyond heavy ball", passed, ["optimizers"], checks, [],
                  _report(finals, seconds, checks, concluded, scale, cfg))


def claims(finals, cfg, checks):
    """The figure's conclusions (experiments/conclusions.py), from the final losses."""
    keeps = [k for k, v in finals.items() if v["greedy_ratio"] <= 1 + ROUND_OFF]
    regrets = ", ".join(f"{k} {v['regret']:.3g}" for k, v in finals.items())
    monte_carlo = [c["name"] for c in checks if c["name"].startswith(nqm_montecarlo_power.NAME)]
    same = [c["name"] for c in checks if c["name"].startswith("minibatch B=1")]
    return [
        claim("the greedy regrets of the rules",
              f"Greedy regret (greedy L(T) / optimized L(T), a lower bound: the fit is local): {regrets}. The losses "
              "are the rules' exact moments, which agree with Monte-Carlo of each rule's own update and, for plain "
              "SGD, with Zhang et al.'s closed form.", ZHANG, *monte_carlo),
        claim("that minibatch B = 1 is heavy ball",
              "Minibatch B = 1 (its own update and generated code) is heavy ball: greedy, fixed and optimized alike.",
              *same),
        claim("that the optimized schedules end no higher than greedy where greedy keeps the safeguard, and keep it",
              f"Every optimized schedule keeps the safeguard and ends no higher than greedy where greedy keeps it "
              f"({len(keeps)} of {len(finals)}); where greedy breaks it the optimized schedule is held to it and greedy "
              "is not, so the regret there can be below 1.", NOT_ABOVE_GREEDY, SAFEGUARD),
    ]


def _report(finals, seconds, checks, concluded, scale, cfg):
    from shb.experiments.report import checks_table

    lines = ["![optimizers](optimizers.png)", "",
             f"Command: `shb figure optimizers --scale {scale}` (regenerates these numbers). Problem: preset "
             f"`{cfg['preset']}`, T = {cfg['T']}; fits: fixed {cfg['fixed_steps']} and optimized "
             f"{cfg['optimized_steps']} Adam steps at learning rate {cfg['adam_lr']}"
             + (" from coarse starting grids (quick scale; the paper scale runs 500 steps from the full grids)"
                if scale != "paper" else "") + ". Greedy regret = greedy L(T) / optimized L(T), a lower bound on "
             "the regret against the best schedule. Nesterov's greedy is the greedy alpha at mu = 0.9.", "",
             "| optimizer | greedy L(T) | fixed L(T) | optimized L(T) | greedy regret | greedy keeps the safeguard "
             "| time to compute |", "|---|---|---|---|---|---|---|"]
    def keeps(ratio):
        return "yes" if ratio <= 1 + ROUND_OFF else f"no (max L_i(t)/L_i(0) = {ratio:.3g})"

    lines += [f"| {k} | {v['greedy']:.4g} | {v['fixed']:.4g} | {v['optimized']:.4g} | {v['regret']:.3g} | "
              f"{keeps(v['greedy_ratio'])} | {sum(seconds[k].values()):.1f} s |" for k, v in finals.items()]
    lines += ["", "B=1 is heavy ball: its fixed and optimized schedules are heavy ball's, rolled out by the minibatch "
              "rule.", "", paragraph(concluded)]
    return "\n".join(lines + ["", checks_table(checks)])
