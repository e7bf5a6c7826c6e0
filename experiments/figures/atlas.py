"""Figure `atlas`: where short-horizon bias lives, over condition number and noise.

The paper concludes (Section 5) that the bias "stems from the combination of stochasticity and ill-conditioning":
on a deterministic quadratic greedy is conjugate gradient and optimal (Section 2.1); on a spherical one greedy is
optimal (Section 2.2.4, Theorem 4); only with both does it fail (Figure 3a). The atlas measures this over a
grid. Each cell is an NQM with d curvatures at the Chebyshev extreme points of [1 / kappa, 1] (the paper preset's
spectrum), sigma2_i = s / h_i (s = 1 is the paper preset's noise), E[theta0] = 10, V[theta0] = 0, and horizon T.
Its regret is L_T(schedule) / L_T(best), best being the lowest final loss of any schedule found for the cell:
greedy (Theorem 2), the K-step lookaheads (numeric/nqm/lookahead.py), and per-step schedules fitted by Adam on
log L(T) (numeric/nqm/fit.py) from three starts (the greedy schedule, the best exponentially decaying schedule
and the best constant (alpha, mu) of the toolkit's grids, numeric/nqm/schedules.py). Learning rates are compared
as effective learning rates alpha / (1 - mu) (Section 3.3), by their geometric mean over the run.
Every cell is computed at once: the NQM code broadcasts over a leading batch of problems.
"""
import time

import matplotlib.pyplot as plt
import numpy as np

from shb.experiments.common import generated_code_check
from shb.experiments.conclusions import claim, conclude, paragraph
from shb.experiments.result import Result
from shb.experiments.verified import EVIDENCE, check, save_verified_figure
from shb.numeric.nqm import fit as nqm_fit
from shb.numeric.nqm import lookahead as nqm_lookahead
from shb.numeric.nqm import lookahead_checks as nqm_lookahead_checks
from shb.numeric.nqm import optimizers as nqm_optimizers
from shb.numeric.nqm import problem as nqm_problem

# ---- configuration ----------------------------------------------------------------------------
PAPER = dict(d=100, T=60, kappas=tuple(10.0 ** np.arange(0, 4.01, 0.5)), noises=(0.0, 1e-3, 1e-2, 1e-1, 1.0),
             horizons=(5,), adam_steps=500, adam_lr=0.01, mean0=10.0, var0=0.0)
QUICK = dict(PAPER)
TINY = dict(PAPER, d=12, T=15, kappas=(1.0, 10.0, 1000.0), noises=(0.0, 0.1, 1.0), adam_steps=30)
CONFIGS = {"tiny": TINY, "quick": QUICK, "paper": PAPER}
HEAVY_BALL = nqm_optimizers.get("heavy-ball")  # the paper's optimizer (Eqs. 1-2), on the rule engine
RELATIVE = 1e-9      # "below greedy" means below greedy's L(T) by more than this, relative ...
FLOOR = 1e-12        # ... plus this times L(0): the rounding floor of the fits' loss (raw moments, ~1e-14 L(0))
# The starts' grids: the toolkit's ranges (numeric/nqm/schedules.py DECAY_GRID_*, FIXED_GRID_*), coarser.
START_ALPHA0 = np.geomspace(0.01, 4.0, 10)
START_MU = np.array([0.0, 0.5, 0.8, 0.9, 0.95])
START_DECAY = np.concatenate([np.geomspace(1e-4, 0.3, 6), [1.0]])
UNBEATEN = "greedy is unbeaten where sigma2 = 0 or kappa = 1"
EXCEEDS_ONE = "greedy's regret exceeds 1 wherever noise and ill-conditioning are both present"
RISES = "greedy's regret rises off both axes (cells where it then falls are listed)"
MINIMA = "every lookahead plan in every cell is a local minimum of its K-step loss"
# -----------------------------------------------------------------------------------------------


def cells(cfg):
    """The problems of the grid as arrays (kappas, noises, d): h, sigma2, mean0, var0."""
    h = np.stack([nqm_problem.chebyshev_extreme(cfg["d"], 1.0 / kappa, 1.0) for kappa in cfg["kappas"]])
    h = np.broadcast_to(h[:, None], (len(cfg["kappas"]), len(cfg["noises"]), cfg["d"]))
    sigma2 = np.asarray(cfg["noises"])[None, :, None] / h
    return h, sigma2, np.full(h.shape, cfg["mean0"]), np.full(h.shape, cfg["var0"])


def problem_at(arrays, index):
    return nqm_problem.make_problem(*(a[index] for a in arrays))


def grid_starts(arrays, T, fractions=START_DECAY, alpha0s=START_ALPHA0, mus=START_MU):
    """The best exponentially decaying schedule alpha0 f^(t / (T - 1)) (mu constant; f = 1: a constant schedule)
    and the best constant one of every cell, on grids of the toolkit's ranges (numeric/nqm/schedules.py), every
    cell and grid point in one batched rollout per chunk: {name: (alpha, mu)} with arrays (kappas, noises, T)."""
    A, M, F = (x.reshape(-1, 1) for x in np.meshgrid(alpha0s, mus, fractions, indexing="ij"))
    alpha = A * F ** (np.arange(T) / max(T - 1, 1))
    mu = np.broadcast_to(M, alpha.shape)
    lift = lambda a: a[..., None, :]  # (kappas, noises, 1, d): every grid schedule on every cell  # noqa: E731
    lifted = nqm_problem.Problem(*(lift(a) for a in arrays))
    losses = np.concatenate([nqm_fit.final_losses(HEAVY_BALL, lifted, alpha[lo:lo + 256], mu[lo:lo + 256])
                             for lo in range(0, alpha.shape[0], 256)], axis=-1)
    losses = np.where(np.isfinite(losses), losses, np.inf)
    constant = (F == 1.0).ravel()
    out = {}
    for name, allowed in (("decay-grid", np.ones_like(constant)), ("fixed-grid", constant)):
        k = np.argmin(np.where(allowed, losses, np.inf), axis=-1)
        out[name] = (alpha[k], mu[k])
    return out


def final_loss(arrays, index, alpha, mu):
    """L(T) of one cell's schedule from the central moments (Theorem 1): E[theta]^2 + V[theta] is accurate to
    rounding relative to L(T) itself, where the raw second moment of the adjoint loses ~1e-14 L(0)."""
    with np.errstate(over="ignore", invalid="ignore"):
        return float(HEAVY_BALL.rollout(problem_at(arrays, index), alpha, mu)["loss"][-1])


def compute(cfg):
    """Every schedule of every cell: {name: {"alpha", "mu", "final"}} with arrays over (kappas, noises), and the
    CPU seconds of each part."""
    arrays = cells(cfg)
    T, seconds, out = cfg["T"], {}, {}
    shape = arrays[0].shape[:-1]
    t0 = time.process_time()
    greedy = [HEAVY_BALL.greedy(problem_at(arrays, index), T) for index in np.ndindex(shape)]
    out["greedy"] = {key: np.reshape([g[key] for g in greedy], shape + (T,)) for key in ("alpha", "mu")}
    seconds["greedy"] = time.process_time() - t0
    for K in cfg["horizons"]:
        t0 = time.process_time()
        run = nqm_lookahead.lookahead_batch(HEAVY_BALL, nqm_problem.Problem(*arrays), T, K)
        out[f"lookahead K = {K}"] = {"alpha": run["alpha"], "mu": run["mu"]}
        seconds[f"lookahead K = {K}"] = time.process_time() - t0
    t0 = time.process_time()
    initial = {"greedy": (np.maximum(out["greedy"]["alpha"], 1e-12), np.minimum(out["greedy"]["mu"], 0.999)),
               **grid_starts(arrays, T)}
    seconds["starts"] = time.process_time() - t0
    t0 = time.process_time()
    names = list(initial)
    many = lambda a: np.broadcast_to(a, (len(names),) + a.shape).reshape((-1,) + a.shape[-1:])  # noqa: E731
    alpha, mu, _ = nqm_fit.fit(HEAVY_BALL, nqm_problem.Problem(*(many(a) for a in arrays)),
                               np.stack([initial[n][0] for n in names]).reshape(-1, T),
                               np.stack([initial[n][1] for n in names]).reshape(-1, T), cfg["adam_steps"],
                               cfg["adam_lr"])
    for j, name in enumerate(names):
        out[f"fit from {name}"] = {"alpha": alpha.reshape((len(names),) + shape + (T,))[j],
                                   "mu": mu.reshape((len(names),) + shape + (T,))[j]}
    seconds["fits"] = time.process_time() - t0
    for s in out.values():
        s["final"] = np.reshape([final_loss(arrays, i, s["alpha"][i], s["mu"][i]) for i in np.ndindex(shape)], shape)
    initial_loss = 0.5 * np.sum(arrays[0] * (arrays[2] ** 2 + arrays[3]), axis=-1)
    return arrays, out, initial_loss, seconds


# ---- summaries ---------------------------------------------------------------------------------


def summaries(arrays, out, initial_loss):
    """Regrets L_T(schedule) / L_T(best) (floored at FLOOR * L(0): losses at rounding level count as equal) and
    the ratios of geometric-mean effective learning rates to the best schedule's, for greedy and the lookaheads."""
    names = list(out)
    finals = np.stack([out[n]["final"] for n in names])
    best = np.argmin(np.where(np.isfinite(finals), finals, np.inf), axis=0)
    floor = FLOOR * initial_loss
    best_loss = np.take_along_axis(finals, best[None], axis=0)[0]
    pick = lambda key: np.take_along_axis(np.stack([out[n][key] for n in names]), best[None, ..., None], axis=0)[0]  # noqa: E731
    best_rate = mean_rate({"alpha": pick("alpha"), "mu": pick("mu")})
    rows = {}
    for name in names:
        if name.startswith("fit"):
            continue
        rows[name] = {"regret": (out[name]["final"] + floor) / (best_loss + floor),
                      "rate_ratio": mean_rate(out[name]) / best_rate}
    return rows, best_loss, [names[k] for k in best.ravel()]


def mean_rate(schedule):
    """Geometric mean over the steps of alpha / (1 - mu) where it is positive (after conjugate gradient reaches
    the optimum, greedy's steps are (0, 0)); NaN where it never is."""
    rate = schedule["alpha"] / (1.0 - schedule["mu"])
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.exp(np.nanmean(np.where(rate > 0, np.log(np.where(rate > 0, rate, 1.0)), np.nan), axis=-1))


# ---- checks ------------------------------------------------------------------------------------


def label(cfg, i, j):
    return f"(kappa {cfg['kappas'][i]:.3g}, s {cfg['noises'][j]:g})"


def greedy_unbeaten(cfg, out, initial_loss):
    """Where sigma2 = 0 (Section 2.1: greedy = conjugate gradient) or kappa = 1 (Section 2.2.4, Theorem 4), no
    schedule found, fits started elsewhere included, ends below greedy's L(T) by more than RELATIVE (relative)
    plus FLOOR * L(0)."""
    greedy = out["greedy"]["final"]
    axes = np.zeros(greedy.shape, dtype=bool)
    axes[:, np.asarray(cfg["noises"]) == 0] = True
    axes[np.asarray(cfg["kappas"]) == 1, :] = True
    worst, where, compared = -np.inf, "", {"greedy": greedy[axes]}
    for name, s in out.items():
        gain = (greedy - s["final"] - FLOOR * initial_loss) / np.maximum(greedy, 1e-300)
        gain = np.where(axes, gain, -np.inf)
        compared[name] = s["final"][axes]
        k = np.unravel_index(np.argmax(gain), gain.shape)
        if gain[k] > worst:
            worst, where = float(gain[k]), f"{name} at {label(cfg, *k)}"
    return check(UNBEATEN, worst <= RELATIVE,
                 f"{int(axes.sum())} cells; every schedule found ({', '.join(out)}): largest (L_T(greedy) - L_T(s) - "
                 f"{FLOOR:g} L(0)) / L_T(greedy) = {worst:.1e} ({where}), must be <= {RELATIVE:g} (as `shb prove`: "
                 "greedy = conjugate gradient for sigma2 = 0, greedy optimal in the spherical case)",
                 kind=EVIDENCE, values=compared)


def interior(cfg):
    return np.asarray(cfg["kappas"])[:, None] > 1, np.asarray(cfg["noises"])[None, :] > 0


def greedy_regret_checks(cfg, regret):
    """The greedy regret exceeds 1 where noise and ill-conditioning meet; it rises off both axes; every pair of
    neighbouring cells where it falls moving away from an axis is listed (it is not monotone)."""
    ill, noisy = interior(cfg)
    inside = ill & noisy
    low = np.unravel_index(np.argmin(np.where(inside, regret, np.inf)), regret.shape)
    exceeds = check(EXCEEDS_ONE, np.all(regret[inside] > 1 + EXCEEDS),
                    f"{int(inside.sum())} cells with sigma2 > 0 and kappa > 1: smallest regret {regret[low]:.4g} at "
                    f"{label(cfg, *low)} (must exceed 1 + {EXCEEDS:g}: beyond the fits' resolution)",
                    kind=EVIDENCE, values=regret[inside])
    first_kappa, first_noise = int(np.argmax(ill[:, 0])), int(np.argmax(noisy[0]))
    off_kappa = regret[first_kappa, 1:] > regret[0, 1:] * (1 + EXCEEDS)       # kappa = 1 -> the next kappa
    off_noise = regret[1:, first_noise] > regret[1:, 0] * (1 + EXCEEDS)       # sigma2 = 0 -> the next noise
    falls = [f"{label(cfg, i, j)} -> {label(cfg, i + 1, j)}: {regret[i, j]:.3g} -> {regret[i + 1, j]:.3g}"
             for i in range(regret.shape[0] - 1) for j in range(regret.shape[1])
             if inside[i, j] and regret[i + 1, j] < regret[i, j] * (1 - EXCEEDS)]
    falls += [f"{label(cfg, i, j)} -> {label(cfg, i, j + 1)}: {regret[i, j]:.3g} -> {regret[i, j + 1]:.3g}"
              for i in range(regret.shape[0]) for j in range(regret.shape[1] - 1)
              if inside[i, j] and regret[i, j + 1] < regret[i, j] * (1 - EXCEEDS)]
    rises = check(RISES, off_kappa.all() and off_noise.all(),
                  f"every noise level: kappa 1 -> {cfg['kappas'][first_kappa]:.3g} raises it; every kappa: sigma2 0 -> "
                  f"s = {cfg['noises'][first_noise]:g} raises it. It does NOT grow monotonically: it falls by more than "
                  f"{EXCEEDS:.0%} between {len(falls)} pairs of neighbouring interior cells, moving away from the axes: "
                  + "; ".join(falls), kind=EVIDENCE, values=regret)
    return [exceeds, rises], falls


def lookahead_minima(cfg, arrays, out):
    """Every plan of every K > 1 lookahead, in every cell, is a local minimum of its K-step loss (perturbation)."""
    worst, where, moves, gains = -np.inf, "", 0, []
    for K in cfg["horizons"]:
        s = out[f"lookahead K = {K}"]
        for index in np.ndindex(s["final"].shape):
            gain, moves = nqm_lookahead_checks.perturbation_gain(HEAVY_BALL, problem_at(arrays, index),
                                                          {"alpha": s["alpha"][index], "mu": s["mu"][index]}, K)
            gains.append(gain)  # a NaN fails the check through `values`
            if gain.max() > worst:
                worst, where = float(gain.max()), f"K = {K} at {label(cfg, *index)}, step {int(np.argmax(gain))}"
    return check(MINIMA, worst <= 1e-10,
                 f"{moves} perturbations of each plan (alpha x (1 +- e), mu +- e, both; e = "
                 f"{', '.join(map(str, nqm_lookahead_checks.PERTURBATIONS))}): largest relative decrease of L_K {worst:.1e} "
                 f"({where}), must be <= 1e-10", kind=EVIDENCE, values=gains)


EXCEEDS = 1e-2       # regrets within 1% of each other are not told apart (the fits' resolution)


# ---- figure and report -------------------------------------------------------------------------


def heatmap(ax, values, cfg, title, norm, cmap, fmt):
    image = ax.imshow(values, origin="lower", aspect="auto", norm=norm, cmap=cmap)
    ax.set_xticks(range(len(cfg["noises"])), [f"{s:g}" for s in cfg["noises"]], fontsize=7)
    ax.set_yticks(range(len(cfg["kappas"])), [f"{k:.3g}" for k in cfg["kappas"]], fontsize=7)
    ax.set_xlabel("noise s (sigma2_i = s / h_i; s = 1: the paper preset)", fontsize=8)
    ax.set_ylabel("condition number kappa", fontsize=8)
    ax.set_title(title, fontsize=9)
    for (i, j), v in np.ndenumerate(values):
        ax.text(j, i, "" if not np.isfinite(v) else format(v, fmt), ha="center", va="center", fontsize=5.5)
    return image


def plot(cfg, rows):
    from matplotlib.colors import LogNorm

    fig, axes = plt.subplots(len(rows), 2, figsize=(12, 3.6 * len(rows)), squeeze=False)
    fig.suptitle(f"Where short-horizon bias lives: regret L_T / L_T(best) and learning-rate ratio, d = {cfg['d']}, "
                 f"T = {cfg['T']}")
    top = max(float(np.nanmax(r["regret"])) for r in rows.values())
    spread = max(float(np.nanmax(np.abs(np.log10(r["rate_ratio"])))) for r in rows.values())
    for (name, r), (left, right) in zip(rows.items(), axes):
        fig.colorbar(heatmap(left, r["regret"], cfg, f"{name}: regret L_T / L_T(best)",
                             LogNorm(1.0, max(top, 1.01)), "magma_r", ".3g"), ax=left)
        fig.colorbar(heatmap(right, r["rate_ratio"], cfg, f"{name}: effective learning rate / best schedule's "
                             "(geometric means)", LogNorm(10 ** -spread, 10 ** spread), "RdBu", ".2g"), ax=right)
    fig.tight_layout()
    return fig


def run(out_dir, cfg, scale="quick"):
    arrays, out, initial_loss, seconds = compute(cfg)
    rows, best_loss, best_name = summaries(arrays, out, initial_loss)
    regret_checks, falls = greedy_regret_checks(cfg, rows["greedy"]["regret"])
    checks = [generated_code_check(), greedy_unbeaten(cfg, out, initial_loss), *regret_checks,
              lookahead_minima(cfg, arrays, out)]
    concluded = conclude(claims(cfg, rows, falls), checks)
    data = {"kappas": list(cfg["kappas"]), "noises": list(cfg["noises"]), "best_final_loss": best_loss,
            "best_schedule": best_name, "initial_loss": initial_loss,
            **{f"{name} final loss": s["final"] for name, s in out.items()},
            **{f"{name} {key}": value for name, r in rows.items() for key, value in r.items()}}
    passed = save_verified_figure(plot(cfg, rows), "atlas", out_dir, data, {"scale": scale, **cfg}, checks,
                                  conclusions=concluded)
    return Result("Atlas: where short-horizon bias lives (condition number x noise)", passed, ["atlas"], checks, [],
                  _report(cfg, rows, seconds, checks, concluded, scale))


def claims(cfg, rows, falls):
    """The atlas's conclusions (experiments/conclusions.py), from the regrets and learning-rate ratios."""
    greedy = rows["greedy"]
    ill, noisy = interior(cfg)
    inside = ill & noisy
    peak = np.unravel_index(np.nanargmax(greedy["regret"]), greedy["regret"].shape)
    small = inside & (greedy["rate_ratio"] < 1)
    peaks = ("for each noise level s > 0, at kappa " + ", ".join(
        f"{cfg['kappas'][int(np.nanargmax(greedy['regret'][:, j]))]:.3g} (s = {s:g})"
        for j, s in enumerate(cfg["noises"]) if s > 0) + "; for each kappa > 1, at noise s = " + ", ".join(
        f"{cfg['noises'][int(np.nanargmax(greedy['regret'][i]))]:g} (kappa {k:.3g})"
        for i, k in enumerate(cfg["kappas"]) if k > 1))
    return [
        claim("that greedy is the best schedule on the axes (sigma2 = 0, kappa = 1)",
              "On both axes (sigma2 = 0: conjugate gradient; kappa = 1: spherical) greedy is the best schedule found, "
              "as Section 2.1 and Theorem 4 say.", UNBEATEN),
        claim("that greedy falls short wherever noise and ill-conditioning meet",
              f"Wherever noise and ill-conditioning meet, greedy is not the best: regret {np.nanmin(greedy['regret'][inside]):.3g} "
              f"to {np.nanmax(greedy['regret']):.4g}, largest at {label(cfg, *peak)}.", EXCEEDS_ONE),
        claim("that the regret rises off both axes but not monotonically",
              f"The regret rises off both axes, then peaks: {peaks}. So it does not grow monotonically along the axes: "
              f"between {len(falls)} pairs of neighbouring interior cells it falls by more than {EXCEEDS:.0%} moving "
              "away from the axes (listed in the checks).", RISES),
        claim("why the regret falls far from the axes",
              "With T fixed, no schedule moves the lowest curvatures of a very ill-conditioned cell, so every "
              "schedule keeps their loss and the ratio shrinks; with much noise the best schedule is itself "
              "noise-limited."),
        claim("that greedy's learning rates are too small",
              f"Greedy's effective learning rate is below the best schedule's in {int(small.sum())} of the "
              f"{int(inside.sum())} interior cells (geometric means over the run): the short-horizon bias of Section "
              "2.3 in learning-rate form."),
    ]


def _report(cfg, rows, seconds, checks, concluded, scale):
    from shb.experiments.report import checks_table

    ill, noisy = interior(cfg)
    inside = ill & noisy
    lines = [
        "![atlas](atlas.png)", "",
        f"Command: `shb figure atlas --scale {scale}`. Grid: kappa in {{{', '.join(f'{k:.3g}' for k in cfg['kappas'])}}} "
        f"x noise s in {{{', '.join(f'{s:g}' for s in cfg['noises'])}}}; each cell an NQM with d = {cfg['d']} "
        f"curvatures at the Chebyshev extreme points of [1 / kappa, 1], sigma2_i = s / h_i (s = 1 is the paper "
        f"preset's noise), E[theta0] = {cfg['mean0']:g}, V[theta0] = {cfg['var0']:g}, horizon T = {cfg['T']}. Best: "
        "the lowest L_T among greedy, the lookaheads and per-step schedules fitted by Adam on log L_T "
        f"({cfg['adam_steps']} steps, learning rate {cfg['adam_lr']:g}) from the greedy schedule, the best "
        "exponentially decaying and the best constant schedule of a grid. Regrets are floored at "
        f"{FLOOR:g} L(0) (losses at rounding level count as equal). CPU time: "
        + ", ".join(f"{k} {v:.1f} s" for k, v in seconds.items()) + ".", "",
        paragraph(concluded), "",
    ]
    if len(rows) > 1:
        lines += ["| schedule | regret, median over interior cells | largest regret | effective learning rate / "
                  "best, median over interior cells |", "|---|---|---|---|"]
        lines += [f"| {name} | {np.nanmedian(r['regret'][inside]):.3g} | {np.nanmax(r['regret']):.4g} | "
                  f"{np.nanmedian(r['rate_ratio'][inside]):.3g} |" for name, r in rows.items()]
        lines.append("")
    return "\n".join(lines + [checks_table(checks)])
