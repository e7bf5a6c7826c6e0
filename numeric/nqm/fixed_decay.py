"""A fixed learning rate followed by an exponential decay tail: Figure 2's dashed curves (Section 2.3).

k steps at alpha, then m steps at alpha r^j, j = 1..m; the schedule dict (numeric/nqm/schedules.py) of such a
schedule, its final fraction r^m optionally chosen by one batched rollout of the rule's dynamics.
"""
import numpy as np

from shb.numeric.nqm.schedules import schedule_result

DECAY_FINAL_FRACTIONS = np.geomspace(1e-4, 1.0, 49)


def fixed_then_decay(alpha, k, m, decay_to):
    """Learning rates: k steps at alpha, then m steps at alpha r^j, j = 1..m, with r = decay_to^(1/m)
    (so the last step runs at decay_to * alpha). alpha may be an array of B values: returns (B, k + m)."""
    alpha = np.asarray(alpha, dtype=float)
    r = decay_to ** (1.0 / m) if m > 0 else 1.0
    tail = r ** np.arange(1, m + 1)
    return np.concatenate([np.broadcast_to(alpha[..., None], alpha.shape + (k,)), alpha[..., None] * tail], axis=-1)


def fixed_then_decay_schedule(opt, problem, alpha, k, m, mu=0.0, decay_to=None, fractions=DECAY_FINAL_FRACTIONS):
    """The schedule dict of `fixed_then_decay` (momentum mu throughout) with the rule `opt`'s loss curve.

    decay_to: the final fraction r^m. If None it is fitted: the value in `fractions` (default 1e-4 .. 1,
    49 values log-spaced; 1 means no decay) minimizing L(k + m), by one batched rollout, i.e. the best
    exponential tail for this (alpha, k). Extras: "r" (the per-step factor) and "decay_to".
    """
    if decay_to is None and m > 0:
        alphas = np.stack([fixed_then_decay(alpha, k, m, f) for f in fractions])
        with np.errstate(over="ignore", invalid="ignore"):
            losses = opt.final_loss(problem, alphas, np.full(alphas.shape, float(mu)))
        losses = np.where(np.isfinite(losses), losses, np.inf)
        decay_to = float(np.asarray(fractions)[int(np.argmin(losses))])
    decay_to = 1.0 if decay_to is None else float(decay_to)
    alpha_t = fixed_then_decay(float(alpha), k, m, decay_to)
    r = decay_to ** (1.0 / m) if m > 0 else 1.0
    return schedule_result(opt, problem, alpha_t, np.full(k + m, float(mu)), r=r, decay_to=decay_to)
