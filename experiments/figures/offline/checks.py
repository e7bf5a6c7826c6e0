"""What certifies the offline experiment's numbers: the per-horizon summary and the checks of Figures 5 and 6.

Figure 5 (meta-objective surfaces, SMD): the forward-mode hypergradient matches finite differences; each chain
lowered its meta-objective (start vs averaged end point on the same fresh sequences); beta falls with the horizon
(the short-horizon bias of Section 3.2), by BIAS_RATIO between the two shortest; the surface's best region moves
the same way as SMD's beta; where `endpoint_quantile` is set, each horizon's chosen end point lies in that best
fraction of its surface samples (ranked on the surface's own minibatch sequence). Figure 6 (training curves): the
curves are finite, and after curve_steps steps the longest horizon's schedule has the lowest training loss and the
shortest horizon's the highest.
"""
import numpy as np

from shb.experiments.figures.offline.chains import best_region, chosen_schedule
from shb.experiments.figures.offline.config import BIAS_RATIO, HYPERGRAD_TOLERANCE
from shb.experiments.verified import EVIDENCE, check, relation
from shb.numeric.meta import smd


def surface_arrays(state, horizon):
    """(points (n, 2), losses (n,)) of the finished surface samples of one horizon."""
    losses = state["surface"]["losses"][str(horizon)]
    idx = sorted(int(i) for i in losses)
    points = np.array(state["surface"]["points"], dtype=float).reshape(-1, 2)[idx]
    return points, np.array([smd.diverged_as_inf(losses[str(i)]) for i in idx], dtype=float)


def surface_best_beta(state, horizon):
    """Geometric mean beta of the best 10% (at least 3) surface samples: the surface minimum's location."""
    points, losses = surface_arrays(state, horizon)
    return float(np.exp(np.mean(np.log(points[best_region(losses), 1]))))


def summarize(state, config):
    """offline.json's "horizons" entry: chosen schedule, chains, evaluations and training curve per horizon."""
    horizons = {}
    for h in config["horizons"]:
        (alpha0, beta), best = chosen_schedule(state, h)
        chain_list = state["smd"][str(h)]
        curve = state["curves"][str(h)]
        _, losses = surface_arrays(state, h)
        on_surface = state["smd_surface"][str(h)][str(best)]
        horizons[str(h)] = {
            "alpha0": alpha0,
            "beta": beta,
            "chosen_chain": best,
            "trajectory": chain_list[best]["trajectory"],
            "last_iterate": chain_list[best]["trajectory"][-1],
            "meta_steps": [len(c["meta_losses"]) for c in chain_list],
            "final_train_loss": curve[-1][1],
            "final_test_error": curve[-1][2],
            "final_train_loss_steps": config["curve_steps"],
            "meta_objective_start_end": state["smd_eval"][str(h)][str(best)],
            "end_on_surface_sequence": on_surface,
            "surface_fraction_better": float(np.mean(losses < smd.diverged_as_inf(on_surface))),
            "surface_min": smd.saved_loss(np.min(losses)),
            "chains": chain_list,
            "surface_best_beta": surface_best_beta(state, h),
        }
    return horizons


def figure5_checks(state, config, horizons):
    hc = state["hypergrad_check"]
    checks = [check(
        "hypergrad_forward_vs_finite_differences",
        hc["max_rel_error"] < HYPERGRAD_TOLERANCE,
        f"max rel error {hc['max_rel_error']:.2e} {relation(hc['max_rel_error'] < HYPERGRAD_TOLERANCE, '<')} "
        f"{HYPERGRAD_TOLERANCE:g} (float64, T={hc['horizon']}, "
        f"at SMD start alpha0={hc['at']['alpha0']:g}, beta={hc['at']['beta']:g}; reverse mode {hc['max_rel_error_reverse']:.1e})",
        kind=EVIDENCE, values={key: hc[key] for key in ("max_rel_error", "forward", "finite_difference", "reverse")},
    )]
    for h in config["horizons"]:
        for j, pair in sorted(state["smd_eval"][str(h)].items()):
            start, end = map(smd.diverged_as_inf, pair)
            checks.append(check(
                f"smd_decreased_meta_objective_T{h}_init{j}", end < start,
                f"J_{h} at SMD start {start:.4f} -> end {end:.4f} (mean of {config['eval_seeds']} runs, same seeds)",
                kind=EVIDENCE, values=(start, end),
            ))
    hs = config["horizons"]
    beta = {h: horizons[str(h)]["beta"] for h in hs}
    h0, h1 = hs[0], hs[1]
    checks.append(check(
        f"short_horizon_bias_beta_T{h0}_vs_T{h1}", beta[h0] >= BIAS_RATIO * beta[h1],
        f"beta(T={h0}) = {beta[h0]:.4g} vs beta(T={h1}) = {beta[h1]:.4g}: ratio {beta[h0] / beta[h1]:.3g} "
        f"(need >= {BIAS_RATIO:g})", kind=EVIDENCE, values=beta,
    ))
    checks.append(check(
        "beta_falls_with_horizon", all(beta[a] > beta[b] for a, b in zip(hs[:-1], hs[1:])),
        " > ".join(f"beta(T={h}) = {beta[h]:.4g}" for h in hs) + " (need each strictly greater than the next)",
        kind=EVIDENCE, values=beta,
    ))
    for short, long in zip(hs[:-1], hs[1:]):
        smd_dir = np.sign(np.log(beta[short] / beta[long]))
        surf = {h: horizons[str(h)]["surface_best_beta"] for h in (short, long)}
        surf_dir = np.sign(np.log(surf[short] / surf[long]))
        checks.append(check(
            f"surface_agrees_with_smd_T{short}_vs_T{long}", smd_dir == surf_dir and smd_dir != 0,
            f"SMD beta {beta[short]:.3g} vs {beta[long]:.3g}; surface best-10% beta {surf[short]:.3g} vs {surf[long]:.3g}",
            kind=EVIDENCE, values=(beta[short], beta[long], surf[short], surf[long]),
        ))
    if config.get("endpoint_quantile"):
        checks += endpoint_checks(state, config, horizons)
    return checks


def endpoint_checks(state, config, horizons):
    """Each horizon's chosen end point, run on the surface's sequence, is in the best `endpoint_quantile` of it."""
    q, checks = config["endpoint_quantile"], []
    for h in config["horizons"]:
        _, losses = surface_arrays(state, h)
        r = horizons[str(h)]
        end = smd.diverged_as_inf(r["end_on_surface_sequence"])
        threshold = float(np.quantile(losses, q))
        checks.append(check(
            f"smd_end_in_best_{100 * q:g}pct_of_surface_T{h}", end <= threshold,
            f"J_{h} at SMD's end point {end:.4f} on the surface's sequence; "
            f"{100 * r['surface_fraction_better']:.1f}% of {len(losses)} samples are lower; the best "
            f"{100 * q:g}% are <= {threshold:.4f}", kind=EVIDENCE, values=(end, threshold),
        ))
    return checks


def figure6_checks(config, horizons):
    hs, steps = config["horizons"], config["curve_steps"]
    final = {h: smd.diverged_as_inf(horizons[str(h)]["final_train_loss"]) for h in hs}
    longest, shortest = max(hs), min(hs)
    others = [h for h in hs if h not in (longest, shortest)]
    ordered = all(final[longest] < final[h] < final[shortest] for h in others) and final[longest] < final[shortest]
    return [
        check("training_curves_finite", all(np.isfinite(v) for v in final.values()),
              "final losses " + ", ".join(f"T={h}: {final[h]:.4g}" for h in hs), kind=EVIDENCE, values=final),
        check(f"longest_horizon_lowest_shortest_highest_at_{steps}_steps", ordered,
              f"train loss at {steps} steps: " + ", ".join(f"horizon {h} schedule {final[h]:.4g}" for h in hs)
              + f" (need horizon {longest}'s lowest and horizon {shortest}'s highest)", kind=EVIDENCE, values=final),
    ]
