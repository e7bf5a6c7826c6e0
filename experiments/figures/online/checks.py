"""What certifies the online experiment's numbers: hypergradients against finite differences, the logged learning
rate against the one applied, and the paper's claims about stochastic and deterministic lookahead."""
import math

import numpy as np

from shb.experiments.figures.online.config import AUDIT_TOLERANCE, HYPERGRAD_TOLERANCE, LR_RATIO
from shb.experiments.figures.online.report import fmt
from shb.experiments.verified import EVIDENCE, check, relation
from shb.numeric.meta import hypergrad, lookahead
from shb.numeric.meta.reparam import alpha_mu
from shb.numeric.networks import training


def hypergrad_check(problem, sample, eps):
    """The hypergradient a run used at its sampled meta-step (numeric/meta/online_state.py HypergradSample) vs central
    differences and reverse mode (float64)."""
    batches, meta_batch = lookahead.batches_of(problem.train, list(sample.step_idx), sample.meta_idx)
    args = (problem.net, np.asarray(sample.u, dtype=float), sample.theta, sample.v, batches, meta_batch)
    forward = lookahead.lookahead_hypergrad(*args)[1]
    fd = hypergrad.finite_difference_hypergrad(lookahead.lookahead_loss, *args, eps=eps)
    reverse = np.asarray(lookahead.reverse_lookahead_hypergrad(*args))
    used = np.asarray(sample.hypergrad_used)
    return {
        "t": int(sample.t), "u": np.asarray(sample.u).tolist(), "used": used.tolist(), "recomputed": forward.tolist(),
        "finite_difference": fd.tolist(), "reverse": reverse.tolist(), "eps": eps,
        "max_rel_error": float(np.max(hypergrad.relative_errors(used, fd))),
        "max_rel_error_reverse": float(np.max(hypergrad.relative_errors(used, reverse))),
    }


def audit_check(problem, state, log):
    """Recompute the audited step's update from the *logged* lr and mu; max |theta difference|."""
    a = state.audit
    i = log["step"].index(int(a.t))
    lr, mu = log["lr"][i], log["mu"][i]
    X, Y = training.minibatch(problem.train, a.idx)
    _, g = problem.net.loss_and_grad(a.theta_before, X, Y)
    theta, _ = training.sgd_momentum_step(a.theta_before, a.v_before, g, lr, mu)
    return float(np.max(np.abs(theta - a.theta_after))), lr, mu


def lr_at(log, step):
    """The logged lr at the last logged step <= step."""
    steps = np.asarray(log["step"])
    return log["lr"][int(np.searchsorted(steps, step, side="right")) - 1]


def loss_spike(losses):
    """max_i L_i / min_{j<i} L_j over the logged train losses: > 1 when the loss rose above its best (inf if diverged)."""
    best, spike = math.inf, 1.0
    for x in losses:
        if x is None:
            return math.inf
        if best < math.inf:
            spike = max(spike, x / best)
        best = min(best, x)
    return spike


def summary(state, config, run):
    """A run's summary in the panel's JSON, from its final state."""
    log = state.log
    end = config["adapt_steps"] - 1
    alpha_end, mu_end = alpha_mu(state.u)  # u is frozen after adaptation
    finite = [x for x in log["train_loss"] if x is not None]
    return {
        "mode": run.mode, "initial_lr": run.alpha, "initial_mu": run.mu,
        "lr_end_of_adaptation": alpha_end, "mu_end_of_adaptation": mu_end,
        "alpha_eff_end_of_adaptation": alpha_end / (1.0 - mu_end),
        "logged_lr_before_adaptation_end": lr_at(log, end) if log["step"] else None,
        "first_train_loss": log["train_loss"][0] if log["train_loss"] else None,
        "final_train_loss": log["train_loss"][-1] if log["train_loss"] else None,
        "max_train_loss": max(finite) if finite else None,
        "max_loss_over_best_so_far": loss_spike(log["train_loss"]),
        "final_test_error": log["test_error"][-1] if log["test_error"] else None,
        "diverged_at": state.diverged_at,
        "cpu_seconds": state.cpu_seconds,
        "nonfinite_meta_grads": state.nonfinite_meta_grads,
        "clipped_meta_steps": state.clipped_meta_steps,
        "meta_loss_per_burst": state.meta["meta_loss"],
    }


def make_checks(problem, states, summaries, hchecks, config, net_name):
    fixed, sto, det = summaries["fixed"], summaries["stochastic"], summaries["deterministic"]
    checks7, checks8 = [], []
    for name, hc in hchecks.items():
        target = checks7 if name == "stochastic" else checks8
        target.append(check(
            f"hypergrad_used_vs_finite_differences_{name}", hc["max_rel_error"] < HYPERGRAD_TOLERANCE,
            f"max rel error {hc['max_rel_error']:.2e} {relation(hc['max_rel_error'] < HYPERGRAD_TOLERANCE, '<')} "
            f"{HYPERGRAD_TOLERANCE:g} (float64, central differences, "
            f"eps {hc['eps']:g}, {name} lookahead at step {hc['t']}; reverse mode {hc['max_rel_error_reverse']:.1e})",
            kind=EVIDENCE, values={key: hc[key] for key in ("max_rel_error", "used", "finite_difference", "reverse")}))
    for name, target in (("fixed", checks7), ("stochastic", checks7), ("deterministic", checks8)):
        if states[name].audit is None:
            target.append(check(f"logged_lr_is_applied_{name}", False,
                                f"step {config['audit_step']} was never run (diverged at {states[name].diverged_at})",
                                kind=EVIDENCE, values=()))
            continue
        err, lr, mu = audit_check(problem, states[name], states[name].log)
        target.append(check(
            f"logged_lr_is_applied_{name}", err <= AUDIT_TOLERANCE,
            f"step {config['audit_step']} recomputed from logged lr={lr:.4g}, mu={mu:.4g}: "
            f"max |theta difference| {err:.1e} {relation(err <= AUDIT_TOLERANCE, '<=')} {AUDIT_TOLERANCE:g}",
            kind=EVIDENCE, values=(err, lr, mu)))
    drop = sto["initial_lr"] / sto["lr_end_of_adaptation"]
    drop_eff = sto["initial_lr"] / (1 - sto["initial_mu"]) / sto["alpha_eff_end_of_adaptation"]
    checks7.append(check(
        "stochastic_lr_falls_3x", drop >= LR_RATIO,
        f"stochastic lookahead: lr alpha {sto['initial_lr']:.4g} at step 0 -> {sto['lr_end_of_adaptation']:.4g} at "
        f"the end of adaptation (step {config['adapt_steps']}): fell {drop:.3g}x (need >= {LR_RATIO:g}x); "
        f"alpha_eff fell {drop_eff:.3g}x", kind=EVIDENCE, values=(drop, drop_eff)))
    gap = det["lr_end_of_adaptation"] / sto["lr_end_of_adaptation"]
    gap_eff = det["alpha_eff_end_of_adaptation"] / sto["alpha_eff_end_of_adaptation"]
    checks8.append(check(
        "stochastic_lr_3x_below_deterministic", gap >= LR_RATIO,
        f"end of adaptation: deterministic lr alpha {det['lr_end_of_adaptation']:.4g} / stochastic "
        f"{sto['lr_end_of_adaptation']:.4g} = {gap:.3g} (need >= {LR_RATIO:g}); alpha_eff ratio {gap_eff:.3g}",
        kind=EVIDENCE, values=(gap, gap_eff)))
    trains = fixed["final_train_loss"] is not None and fixed["final_train_loss"] < fixed["first_train_loss"]
    checks7.append(check(
        f"{net_name}_trains_fixed_baseline", trains,
        f"fixed alpha={config['fixed_lr']:g}, mu={config['mu0']:g}: train loss {fixed['first_train_loss']:.4g} "
        f"at step 0 -> {fmt(fixed['final_train_loss'])} at step {config['steps']}", kind=EVIDENCE,
        values=(fixed["first_train_loss"], fixed["final_train_loss"])))
    return checks7, checks8
