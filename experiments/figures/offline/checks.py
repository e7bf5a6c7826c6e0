"""What certifies the offline experiment's numbers: the per-horizon summary and the checks of Figures 5 and 6.

Figure 5 (meta-objective surfaces, SMD): the forward-mode hypergradient matches finite differences; each chain
from `smd_inits` lowered its meta-objective (start vs averaged end point, means over the same eval_seeds fresh
sequences), and each chain started from the surface (at or near its best samples, where a decrease cannot be
expected) ended no worse than its start beyond the evaluation noise (noise.py: the spread over eval_seeds); beta
falls with the horizon (the short-horizon bias of Section 3.2), by BIAS_RATIO between the two shortest; the
surface's best region moves the same way as SMD's beta; where `endpoint_quantile` is set, each horizon's chosen end point lies in that best
fraction of its surface samples (ranked on the surface's own minibatch sequence). Figure 6 (training curves, each
horizon's schedule on curve_seeds sequences): the curves are finite; after curve_steps steps the shortest horizon's
schedule ends highest by more than the noise (above every other horizon's beyond it), and the longest horizon's is
within the noise of the lowest (noise.py: mean +- sample standard deviation over the sequences, bands overlapping).
"""
import numpy as np

from shb.experiments.figures.offline import noise
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
        curves = [state["curves"][str(h)][str(s)] for s in range(config["curve_seeds"])]
        finals, errors = [c[-1][1] for c in curves], [c[-1][2] for c in curves]
        evaluation = state["smd_eval"][str(h)][str(best)]
        _, losses = surface_arrays(state, h)
        on_surface = state["smd_surface"][str(h)][str(best)]
        horizons[str(h)] = {
            "alpha0": alpha0,
            "beta": beta,
            "chosen_chain": best,
            "trajectory": chain_list[best]["trajectory"],
            "last_iterate": chain_list[best]["trajectory"][-1],
            "meta_steps": [len(c["meta_losses"]) for c in chain_list],
            "final_train_loss": smd.saved_loss(noise.mean(finals)),  # mean over the curve_seeds sequences
            "final_train_loss_spread": smd.saved_loss(noise.spread(finals)),  # their sample standard deviation
            "final_train_losses": finals,
            "final_test_error": smd.saved_loss(noise.mean(errors)),
            "final_test_error_spread": smd.saved_loss(noise.spread(errors)),
            "final_test_errors": errors,
            "final_train_loss_steps": config["curve_steps"],
            "meta_objective_start_end": [smd.saved_loss(noise.mean(evaluation[p])) for p in ("start", "end")],
            "meta_objective_start_end_values": evaluation,
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
        for j, runs in sorted(state["smd_eval"][str(h)].items()):
            checks.append(start_end_check(config, h, j, runs))
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


PAPER_CLAIMS = ("short_horizon_bias_beta_", "beta_falls_with_horizon", "shortest_horizon_highest_beyond_noise_",
                "longest_horizon_within_noise_of_lowest_")  # the checks that test the paper's claims (by name prefix)


def findings(checks, claims):
    """(checks, claims, findings): the fit variant's split. Its question is whether the paper's claims hold on data
    the network can fit, so the checks of those claims (PAPER_CLAIMS) are its answer, reported beside its verdict,
    not evidence for its stamp, and no conclusion rests on them; the checks that certify its computation stay
    (hypergradients, SMD's start against end, the surface against SMD, the end points' ranks, finite curves)."""
    found = [c for c in checks if c["name"].startswith(PAPER_CLAIMS)]
    names = {c["name"] for c in found}
    return ([c for c in checks if c["name"] not in names],
            [c for c in claims if not names.intersection(c["supported_by"])], found)


def start_end_check(config, h, j, runs):
    """Chain j of horizon h against its start, on the same eval_seeds sequences: from `smd_inits` its mean J_T must
    fall; from the surface it must not rise beyond the noise (noise.py)."""
    start, end = noise.mean(runs["start"]), noise.mean(runs["end"])
    n = config["eval_seeds"]
    if h not in config["surface_starts"]:
        return check(f"smd_decreased_meta_objective_T{h}_init{j}", end < start,
                     f"J_{h} at SMD start {start:.4f} -> end {end:.4f} (mean of {n} runs, same seeds)",
                     kind=EVIDENCE, values=(start, end))
    worse = noise.above(runs["end"], runs["start"])
    return check(
        f"smd_not_worse_beyond_noise_T{h}_init{j}", not worse,
        f"J_{h} at SMD start {noise.text(runs['start'])} -> end {noise.text(runs['end'])} (mean ± sample standard "
        f"deviation over {n} runs, same seeds; a start from the surface's best region): the end is "
        f"{'worse' if worse else 'not worse'} beyond the noise {noise.noise(runs['end'], runs['start']):.2g} "
        "(the sum of the two spreads)",
        kind=EVIDENCE, values=(start, end, noise.spread(runs["start"]), noise.spread(runs["end"])),
    )


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
    """Figure 6's checks on the final train losses of each horizon's curve_seeds sequences (noise.py)."""
    hs, steps, n = config["horizons"], config["curve_steps"], config["curve_seeds"]
    runs = {h: horizons[str(h)]["final_train_losses"] for h in hs}
    mean = {h: noise.mean(runs[h]) for h in hs}
    longest, shortest = max(hs), min(hs)
    lowest = min(hs, key=lambda h: mean[h])
    stated = ", ".join(f"horizon {h} {noise.text(runs[h])}" for h in hs)
    values = {str(h): [mean[h], noise.spread(runs[h])] for h in hs}
    others = [h for h in hs if h != shortest]
    highest = all(noise.above(runs[shortest], runs[h]) for h in others)
    margins = ", ".join(f"over {h} by {mean[shortest] - mean[h]:.3g} (noise {noise.noise(runs[shortest], runs[h]):.2g})"
                        for h in others)
    near = not noise.above(runs[longest], runs[lowest])
    return [
        check("training_curves_finite", all(np.isfinite(v) for v in mean.values()),
              f"final losses (mean ± sample standard deviation over {n} sequences) {stated}", kind=EVIDENCE,
              values=values),
        check(f"shortest_horizon_highest_beyond_noise_at_{steps}_steps", highest,
              f"train loss at {steps} steps, mean ± sample standard deviation over {n} minibatch sequences: {stated}; "
              f"horizon {shortest}'s {margins} (need every difference over its noise, the sum of the two spreads)",
              kind=EVIDENCE, values=values),
        check(f"longest_horizon_within_noise_of_lowest_at_{steps}_steps", near,
              f"train loss at {steps} steps: horizon {longest}'s {noise.text(runs[longest])}, the lowest mean horizon "
              f"{lowest}'s {noise.text(runs[lowest])}: difference {mean[longest] - mean[lowest]:.3g}, noise "
              f"{noise.noise(runs[longest], runs[lowest]):.2g} (need the difference within the noise, the sum of the "
              "two spreads)", kind=EVIDENCE, values=values),
    ]
