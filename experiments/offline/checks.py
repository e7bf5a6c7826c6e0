"""What certifies the offline experiment's numbers: the per-horizon summary and the checks of Figures 5 and 6."""
import numpy as np

from shb.experiments.offline.config import BIAS_RATIO, HYPERGRAD_TOLERANCE, PAPER_BETA_RATIO
from shb.experiments.offline.units import chosen_schedule
from shb.experiments.verified import check
from shb.numeric import smd


def surface_arrays(state, horizon):
    """(points (n, 2), losses (n,)) of the finished surface samples of one horizon."""
    losses = state["surface"]["losses"][str(horizon)]
    idx = sorted(int(i) for i in losses)
    points = np.array(state["surface"]["points"])[idx]
    return points, np.array([losses[str(i)] for i in idx], dtype=float)


def surface_best_beta(state, horizon):
    """Geometric mean beta of the best 10% (at least 3) surface samples: the surface minimum's location."""
    points, losses = surface_arrays(state, horizon)
    best = np.argsort(losses)[: max(3, len(losses) // 10)]
    return float(np.exp(np.mean(np.log(points[best, 1]))))


def summarize(state, config):
    """offline.json's "horizons" entry: chosen schedule, trajectory and losses per horizon."""
    longest = max(config["horizons"])
    horizons = {}
    for h in config["horizons"]:
        (alpha0, beta), best = chosen_schedule(state, h)
        curve = state["curves"][str(h)]
        horizons[str(h)] = {
            "alpha0": alpha0,
            "beta": beta,
            "trajectory": state["smd"][str(h)][best]["trajectory"],
            "last_iterate": state["smd"][str(h)][best]["trajectory"][-1],
            "final_train_loss": curve[-1][1],
            "final_train_loss_steps": longest,
            "meta_objective_start_end": state["smd_eval"][str(h)][str(best)],
            "chains": state["smd"][str(h)],
            "surface_best_beta": surface_best_beta(state, h),
        }
    return horizons


def figure5_checks(state, config, horizons):
    hc = state["hypergrad_check"]
    checks = [check(
        "hypergrad_forward_vs_finite_differences",
        hc["max_rel_error"] < HYPERGRAD_TOLERANCE,
        f"max rel error {hc['max_rel_error']:.2e} < {HYPERGRAD_TOLERANCE:g} (float64, T={hc['horizon']}, "
        f"at SMD start alpha0={hc['at']['alpha0']:g}, beta={hc['at']['beta']:g}; reverse mode {hc['max_rel_error_reverse']:.1e})",
    )]
    for h in config["horizons"]:
        for j, pair in sorted(state["smd_eval"][str(h)].items()):
            start, end = map(smd.diverged_as_inf, pair)
            checks.append(check(
                f"smd_decreased_meta_objective_T{h}_init{j}", end < start,
                f"J_{h} at SMD start {start:.4f} -> end {end:.4f} (mean of {config['eval_seeds']} runs, same seeds)",
            ))
    hs = config["horizons"]
    beta = {h: horizons[str(h)]["beta"] for h in hs}
    h0, h1 = hs[0], hs[1]
    checks.append(check(
        f"short_horizon_bias_beta_T{h0}_vs_T{h1}", beta[h0] >= BIAS_RATIO * beta[h1],
        f"beta(T={h0}) = {beta[h0]:.4g} vs beta(T={h1}) = {beta[h1]:.4g}: ratio {beta[h0] / beta[h1]:.3g} "
        f"(need >= {BIAS_RATIO:g})",
    ))
    if 100 in beta and 20000 in beta:
        checks.append(check(
            "paper_claim_beta_ratio_100_vs_20k", beta[100] >= PAPER_BETA_RATIO * beta[20000],
            f"beta(T=100)/beta(T=20k) = {beta[100] / beta[20000]:.3g} (paper: over {PAPER_BETA_RATIO:g})",
        ))
    for short, long in zip(hs[:-1], hs[1:]):
        smd_dir = np.sign(np.log(beta[short] / beta[long]))
        surf = {h: horizons[str(h)]["surface_best_beta"] for h in (short, long)}
        surf_dir = np.sign(np.log(surf[short] / surf[long]))
        checks.append(check(
            f"surface_agrees_with_smd_T{short}_vs_T{long}", smd_dir == surf_dir and smd_dir != 0,
            f"SMD beta {beta[short]:.3g} vs {beta[long]:.3g}; surface best-10% beta {surf[short]:.3g} vs {surf[long]:.3g}",
        ))
    return checks


def figure6_checks(config, horizons):
    hs, longest = config["horizons"], max(config["horizons"])
    final = {h: smd.diverged_as_inf(horizons[str(h)]["final_train_loss"]) for h in hs}
    return [
        check("training_curves_finite", all(np.isfinite(v) for v in final.values()),
              "final losses " + ", ".join(f"T={h}: {final[h]:.4g}" for h in hs)),
        check(f"longest_horizon_wins_at_{longest}_steps", final[longest] < final[min(hs)],
              f"loss at {longest} steps: horizon {longest} schedule {final[longest]:.4g} < "
              f"horizon {min(hs)} schedule {final[min(hs)]:.4g}"),
    ]
