"""Figure `corrections`: which remedy for short-horizon bias removes how much of it, where, and at what cost.

The remedies proposed since the paper (numeric/nqm/corrections.py: hypergradient traces with forgetting, PES's
expected gradient, the receding horizon, hyperparameters shared over the run), each computed exactly on the NQM,
beside greedy (the paper's bias) and the K-step lookahead of online SMD (the reference). On the paper preset
(heavy ball, T = 250) each remedy's alpha_eff(t) = alpha / (1 - mu) and L(t), its regret L(T) / L(T) of the
optimized schedule, the fraction of greedy's excess regret it removes, (R_greedy - R) / (R_greedy - 1), and its
cost in T-step rollouts. The online remedies' meta step sizes are each the best of META_LRS on this problem (the
table of every value tried is in the report): a remedy at its best. Over an atlas grid (kappa x noise, as
experiments/figures/atlas.py, coarser) the two online remedies with the lowest regret on the paper preset, at those
step sizes, beside greedy and the lookahead; each cell's regret against the lowest final loss found for it (the
remedies, and per-step fits by Adam on log L(T), numeric/nqm/fit.py).

Evidence: every remedy's final loss against Monte-Carlo of its schedule (heavy ball's own stochastic update; the
estimator's standard deviation from the exact moments, the iterates being Gaussian); every trace's and PES's
meta-gradient against central differences of the exact loss under the perturbation it differentiates.
"""
import time

import matplotlib.pyplot as plt
import numpy as np

from shb.experiments.common import generated_code_check
from shb.experiments.figures import atlas
from shb.experiments.result import Result
from shb.experiments.conclusions import claim, conclude, paragraph
from shb.experiments.verified import EVIDENCE, check, relation, save_verified_figure
from shb.numeric.nqm import corrections
from shb.numeric.nqm import fit as nqm_fit
from shb.numeric.nqm import optimizers as nqm_optimizers
from shb.numeric.nqm import problem as nqm_problem
from shb.numeric.nqm.checks import bonferroni_threshold

# ---- configuration ----------------------------------------------------------------------------
META_LRS = corrections.META_LRS  # each online remedy's meta step size: the best of these on the problem
PAPER = dict(preset="paper", T=250, horizon=5, forgets=(0.0, 0.9, 0.99, 1.0), pieces=(1, 4, 16, 250), adam_steps=500,
             adam_lr=0.003, receding=True, mc_runs=200, seed=0, fd_eps=1e-6, fd_tolerance=1e-5,
             atlas=dict(atlas.PAPER, kappas=(1.0, 10.0, 100.0, 1e3, 1e4), noises=(0.0, 0.01, 1.0), horizons=(5,)))
QUICK = dict(PAPER, adam_steps=100, receding=False,
             atlas=dict(PAPER["atlas"], adam_steps=200))
TINY = dict(PAPER, preset=None, T=20, pieces=(1, 4), adam_steps=10, receding=True, mc_runs=50,
            atlas=dict(atlas.TINY, kappas=(1.0, 100.0), noises=(0.0, 1.0), adam_steps=20))
CONFIGS = {"tiny": TINY, "quick": QUICK, "paper": PAPER}
HEAVY_BALL = nqm_optimizers.get("heavy-ball")
FAMILY_ALARM = 1e-3
MONTE_CARLO = "every remedy's final loss agrees with Monte-Carlo of its schedule"
GRADIENTS = "every trace's and PES's meta-gradient matches central differences of the exact loss"
# -----------------------------------------------------------------------------------------------


def problem_of(cfg):
    """The paper preset, or (tiny) a 20-coordinate version of it."""
    if cfg["preset"]:
        return nqm_problem.preset(cfg["preset"])
    h = nqm_problem.chebyshev_extreme(20, 0.005, 1.0)
    return nqm_problem.make_problem(h, 1.0 / h, 10.0, 0.0)


def settings(cfg, lrs):
    return corrections.tuned_settings(lrs, horizon=cfg["horizon"], forgets=cfg["forgets"], pieces=cfg["pieces"],
                                      adam_steps=cfg["adam_steps"], adam_lr=cfg["adam_lr"], receding=cfg["receding"])


# ---- evidence ----------------------------------------------------------------------------------


def montecarlo_check(problem, results, runs, seed):
    """Each remedy's L(T) against the mean of 1/2 sum h theta_T^2 over `runs` simulated runs of its schedule: z =
    (sample mean - L(T)) / sd, sd^2 = sum (h/2)^2 (2 V^2 + 4 E^2 V) / runs from the exact moments (theta_T is
    Gaussian), Bonferroni over the remedies."""
    worst, where, resolved, zs = 0.0, "", [], {}
    threshold = bonferroni_threshold(len(results), FAMILY_ALARM)
    for k, (name, s) in enumerate(results.items()):
        exact = HEAVY_BALL.rollout(problem, s["alpha"], s["mu"])
        E, V = exact["mean_theta"][-1], exact["var_theta"][-1]
        sample = HEAVY_BALL.simulate(problem, s["alpha"], s["mu"], runs, seed + k)
        m, v = sample["mean_theta"][0], sample["var_theta"][0]
        mean = float(np.sum(0.5 * problem.h * (m ** 2 + v * (runs - 1) / runs)))
        sd = float(np.sqrt(np.sum((0.5 * problem.h) ** 2 * (2 * V ** 2 + 4 * E ** 2 * V)) / runs))
        loss = float(np.sum(0.5 * problem.h * (E ** 2 + V)))
        z = abs(mean - loss) / sd if sd > 0 else (0.0 if abs(mean - loss) <= 1e-9 * loss else np.inf)
        resolved.append((threshold + 2.33) * sd / loss)  # the relative error detected with probability 0.99
        zs[name] = z
        if not z <= worst:
            worst, where = z, name
    return check(MONTE_CARLO, worst <= threshold,
                 f"{len(results)} remedies, {runs} runs each: largest |z| = {worst:.2f} ({where}) "
                 f"{relation(worst <= threshold, '<=')} {threshold:.2f} (Bonferroni, family-wise false alarm "
                 f"{FAMILY_ALARM:g}); detects a relative error in a remedy's L(T) of {min(resolved):.1%} (the "
                 f"best-resolved) to {max(resolved):.1%} (the least) or more with probability 0.99",
                 kind=EVIDENCE, values=zs)


def _log_loss(problem, alpha, mu, steps):
    return float(np.log(HEAVY_BALL.final_loss(problem, alpha[:steps], mu[:steps])))


def _perturbed(s, t, weights, eps, which):
    u = np.stack([np.log(s["alpha"]), np.log(1.0 - s["mu"])])
    u[which, : t + 1] += eps * weights
    return np.exp(u[0]), 1.0 - np.exp(u[1])


def gradient_check(problem, results, cfg):
    """Each trace's meta-gradient at steps 1, T/2, T-1 against central differences of log L_{t+1} with the past's
    u_s moved by eps lambda^(t-s) (the perturbation the trace differentiates), and PES's against those of
    log L_{t+1} with u held at u_t from the start."""
    worst, where, eps, T = 0.0, "", cfg["fd_eps"], cfg["T"]
    for name, s in results.items():
        if not (name.startswith("trace") or name.startswith("PES")):
            continue
        forget = float(name.split("=")[1]) if name.startswith("trace") else None
        for t in sorted({1, T // 2, T - 1}):
            for which in (0, 1):
                if forget is not None:
                    weights = forget ** np.arange(t, -1, -1.0) if forget else (np.arange(t + 1) == t).astype(float)
                    plus, minus = (_perturbed(s, t, weights, sign * eps, which) for sign in (1, -1))
                else:
                    u = np.array([np.log(s["alpha"][t]), np.log(1.0 - s["mu"][t])])
                    plus, minus = ((np.full(t + 1, np.exp(u[0] + sign * eps * (which == 0))),
                                    np.full(t + 1, 1.0 - np.exp(u[1] + sign * eps * (which == 1)))) for sign in (1, -1))
                fd = (_log_loss(problem, *plus, t + 1) - _log_loss(problem, *minus, t + 1)) / (2 * eps)
                exact = s["meta_gradient"][t][which]
                error = abs(exact - fd) / max(abs(fd), 1e-3)
                if not error <= worst:
                    worst, where = error, f"{name}, step {t}, {'log alpha' if which == 0 else 'log(1 - mu)'}"
    holds = worst <= cfg["fd_tolerance"]
    return check(GRADIENTS, holds,
                 f"steps 1, T/2, T-1, both meta-parameters, eps {eps:g}: largest relative error {worst:.1e} ({where}) "
                 f"{relation(holds, '<=')} {cfg['fd_tolerance']:g} (relative to max(|finite difference|, 1e-3))",
                 kind=EVIDENCE, values={"largest relative error": worst})


# ---- the atlas panel ---------------------------------------------------------------------------


def atlas_regrets(cfg, lrs, names):
    """{name: regret (kappas, noises)} over the atlas grid for greedy, the lookahead and the online remedies `names`
    at their paper-preset step sizes; the regret against the lowest final loss found for the cell."""
    acfg, T = cfg["atlas"], cfg["atlas"]["T"]
    arrays = atlas.cells(acfg)
    shape = arrays[0].shape[:-1]
    finals = {name: np.empty(shape) for name in ["greedy", f"lookahead K={cfg['horizon']}", *names]}
    table = {r.name: r for r in corrections.remedies({**settings(cfg, lrs), "receding": "receding horizon" in names,
                                                      "pieces": ()})}
    schedules = {name: [] for name in finals}
    for index in np.ndindex(shape):
        problem = atlas.problem_at(arrays, index)
        a0 = corrections.start(HEAVY_BALL, problem)
        for name in finals:
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                s = table[name].compute(HEAVY_BALL, problem, T, a0)
            finals[name][index] = s["loss"][-1]
            schedules[name].append((s["alpha"], s["mu"]))
    starts = [np.stack([a for a, _ in schedules[name]]) for name in ("greedy",)]
    mus = [np.stack([m for _, m in schedules[name]]) for name in ("greedy",)]
    alpha, mu, fitted = nqm_fit.fit(HEAVY_BALL, nqm_problem.Problem(*(a.reshape(-1, a.shape[-1]) for a in arrays)),
                                    np.maximum(starts[0], 1e-12), np.minimum(mus[0], 0.999), acfg["adam_steps"],
                                    acfg["adam_lr"])
    stacked = np.stack([np.where(np.isfinite(f), f, np.inf) for f in finals.values()])
    best = np.minimum(stacked.min(axis=0), fitted.reshape(shape))
    initial = 0.5 * np.sum(arrays[0] * (arrays[2] ** 2 + arrays[3]), axis=-1)
    floor = atlas.FLOOR * initial
    return {name: (f + floor) / (best + floor) for name, f in finals.items()}


# ---- figure and report -------------------------------------------------------------------------


def plot(results, regrets, removed, grid, cfg):
    fig = plt.figure(figsize=(18, 9))
    top = [plt.subplot2grid((2, 4), (0, 0)), plt.subplot2grid((2, 4), (0, 1)), plt.subplot2grid((2, 4), (0, 2), colspan=2)]
    bottom = [plt.subplot2grid((2, 4), (1, j)) for j in range(4)]
    fig.suptitle("Correcting short-horizon bias, computed exactly on the NQM (heavy ball, paper preset, "
                 f"T = {cfg['T']})")
    for name, s in results.items():
        style = "k-" if name == "optimized" else ("--" if "piece" in name else "-")
        rate = s["alpha"] / (1.0 - s["mu"])
        top[0].plot(np.where(rate > 0, rate, np.nan), style, lw=1.2, label=name)
        top[1].plot(s["loss"], style, lw=1.2, label=name)
    top[0].set(yscale="log", xlabel="step t", ylabel="alpha / (1 - mu)", title="effective learning rate")
    top[1].set(yscale="log", xlabel="step t", ylabel="L(t)", title="expected loss")
    top[0].legend(fontsize=6)
    names = [n for n in results if n != "optimized"]
    top[2].barh(names, [regrets[n] for n in names], color=["tab:red" if n == "greedy" else "tab:blue"
                                                                 for n in names])
    for i, n in enumerate(names):
        top[2].text(regrets[n], i, f" {corrections.share(removed[n])} removed, {results[n]['cost']:.3g} rollouts", fontsize=6,
                        va="center")
    top[2].set(xscale="log", xlabel="regret L(T) / L(T) optimized", title="regret and cost")
    top[2].tick_params(axis="y", labelsize=7)
    acfg = cfg["atlas"]
    logs = {name: np.log10(np.where(np.isfinite(r), r, np.nan)) for name, r in grid.items()}
    top_value = max([1.0] + [float(np.nanmax(v)) for v in logs.values() if np.isfinite(v).any()])
    for ax, (name, r) in zip(bottom, logs.items()):
        # one colour scale for every panel, so the panels compare; a cell that diverged is marked, not left blank
        image = ax.imshow(r.T, origin="lower", aspect="auto", cmap="magma", vmin=0.0, vmax=top_value)
        for i, j in zip(*np.nonzero(~np.isfinite(r))):
            ax.text(i, j, "diverged", ha="center", va="center", fontsize=7, color="tab:red")
        ax.set_xticks(range(len(acfg["kappas"])), [f"{k:g}" for k in acfg["kappas"]], fontsize=7)
        ax.set_yticks(range(len(acfg["noises"])), [f"{s:g}" for s in acfg["noises"]], fontsize=7)
        ax.set(xlabel="condition number kappa", ylabel="noise s", title=f"log10 regret: {name}")
        fig.colorbar(image, ax=ax)
    fig.tight_layout()
    return fig


def claims(regrets, removed, grid, cfg):
    """The report's conclusions (experiments/conclusions.py), written from the numbers whatever they are: those on
    the paper preset rest on the Monte-Carlo check of every remedy's final loss (and the traces' on their
    meta-gradients' check); those on the atlas grid rest on no independent check, and are marked so."""
    online = [n for n in regrets if n not in ("greedy", "optimized") and "piece" not in n]
    best = min(online, key=lambda n: regrets[n])
    share = corrections.share
    worse = [n for n in online if regrets[n] >= regrets["greedy"]]
    out = [claim("which online remedy removes most of the bias on the paper preset",
                 f"On the paper preset the online remedy with the lowest regret is {best}: regret "
                 f"{regrets[best]:.3g} against greedy's {regrets['greedy']:.3g}, {share(removed[best])} of greedy's "
                 "excess regret removed. " + ("Every online remedy ends below greedy." if not worse else
                                              "Not below greedy: " + ", ".join(worse) + "."),
                 MONTE_CARLO, *([GRADIENTS] if best.startswith(("trace", "PES")) else []))]
    pieces = sorted((n for n in regrets if "piece" in n), key=lambda n: int(n.split()[0]))
    if pieces:
        out.append(claim("what sharing hyperparameters over the run costs",
                         "Shared hyperparameters fitted offline: " + "; ".join(
                             f"{n}: regret {regrets[n]:.3g}" for n in pieces) + ".", MONTE_CARLO))
    remedies = [n for n in grid if n not in ("greedy",) and not n.startswith("lookahead")]
    kappas, noises = cfg["atlas"]["kappas"], cfg["atlas"]["noises"]
    cell = lambda i, j: f"(kappa {kappas[i]:g}, s {noises[j]:g})"  # noqa: E731
    excess = grid["greedy"] - 1.0
    nowhere = [cell(i, j) for i, j in np.ndindex(excess.shape)
               if excess[i, j] > 0.01 and all((grid["greedy"][i, j] - grid[n][i, j]) / excess[i, j] < 0.5
                                               for n in remedies)]
    diverged = {n: [cell(i, j) for i, j in np.ndindex(grid[n].shape) if not np.isfinite(grid[n][i, j])] for n in grid}
    above = {n: [cell(i, j) for i, j in np.ndindex(grid[n].shape)
                 if np.isfinite(grid[n][i, j]) and grid[n][i, j] > 2.0 * grid["greedy"][i, j]] for n in remedies}
    atlas = [f"On the atlas grid ({', '.join(remedies)}, at the meta step sizes tuned on the paper preset): " + (
        "in every cell where greedy's regret exceeds 1.01 one of them removes at least half of it." if not nowhere
        else "no remedy removes half of greedy's excess regret at " + ", ".join(nowhere) + ".")]
    atlas += [f"{n} diverged at {', '.join(cells)}." for n, cells in diverged.items() if cells]
    atlas += [f"{n} ends above twice greedy's regret at {', '.join(cells)}." for n, cells in above.items() if cells]
    out.append(claim("where on the atlas grid the remedies help", " ".join(atlas)))
    return out


def report(results, regrets, removed, table, lrs, concluded, checks, cfg, scale):
    from shb.experiments.report import checks_table

    rows = ["| remedy | kind | L(T) | regret | greedy's excess regret removed | final alpha / (1 - mu) | cost (T-step "
            "rollouts) |", "|---|---|---|---|---|---|---|"]
    for name, s in results.items():
        kind = "offline" if "piece" in name or name == "optimized" else "online"
        rows.append(f"| {name} | {kind} | {s['loss'][-1]:.4g} | {regrets[name]:.3g} | {corrections.share(removed[name])} | "
                    f"{s['alpha'][-1] / (1 - s['mu'][-1]):.3g} | {s.get('cost', np.nan):.3g} |")
    tuning = ["| remedy | " + " | ".join(f"{lr:g}" for lr in META_LRS) + " | chosen |",
              "|---|" + "---|" * (len(META_LRS) + 1)]
    tuning += [f"| {name} | " + " | ".join(f"{values[lr]:.4g}" for lr in META_LRS) + f" | {lrs[name]:g} |"
               for name, values in table.items()]
    return "\n".join([
        "![corrections](corrections.png)", "",
        f"Command: `shb figure corrections --scale {scale}` (regenerates every number here); `shb nqm corrections "
        f"--preset paper --steps {cfg['T']}` prints the table. Heavy ball on "
        + (f"the `{cfg['preset']}` preset" if cfg["preset"] else "a 20-coordinate version of the paper preset") +
        "; the online remedies start from greedy's first step and adapt (log alpha, log(1 - mu)) by gradient steps "
        "on the log loss.", "",
        *rows, "", "Meta step size of each online remedy: L(T) at each value tried (the best is chosen; "
        "regret is against the optimized schedule, which keeps the paper's safeguard; the remedies do not):", "",
        *tuning, "", paragraph(concluded), "", checks_table(checks)])


def run(out_dir, cfg, scale="quick"):
    problem = problem_of(cfg)
    t0 = time.process_time()
    table, lrs = corrections.tune(HEAVY_BALL, problem, cfg["T"], cfg["forgets"])
    results = corrections.run(HEAVY_BALL, problem, cfg["T"], settings(cfg, lrs))
    regrets = corrections.regret(results)
    removed = corrections.removed(regrets)
    online = [n for n in results if n not in ("greedy", "optimized") and "piece" not in n
              and not n.startswith("lookahead")]
    two = sorted(online, key=lambda n: regrets[n])[:2]
    grid = atlas_regrets(cfg, lrs, two)
    checks = [generated_code_check(), montecarlo_check(problem, results, cfg["mc_runs"], cfg["seed"]),
              gradient_check(problem, results, cfg)]
    concluded = conclude(claims(regrets, removed, grid, cfg), checks)
    data = {"remedies": {n: {"alpha": s["alpha"], "mu": s["mu"], "loss": s["loss"], "cost": s.get("cost")}
                         for n, s in results.items()},
            "regret": regrets, "removed": removed, "meta_lr": lrs, "tuning": {n: {str(k): v for k, v in t.items()}
                                                                             for n, t in table.items()},
            "atlas_regret": {n: r for n, r in grid.items()}, "seconds": time.process_time() - t0}
    passed = save_verified_figure(plot(results, regrets, removed, grid, cfg), "corrections", out_dir, data,
                                  {"scale": scale, **cfg}, checks, cfg["seed"], conclusions=concluded)
    return Result("Corrections: remedies for short-horizon bias, computed exactly", passed, ["corrections"], checks,
                  [], report(results, regrets, removed, table, lrs, concluded, checks, cfg, scale))
