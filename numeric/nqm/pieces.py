"""Hyperparameters shared over the horizon (FDS-style, Micaelli & Storkey 2021), on the NQM: n piecewise-constant
(alpha, mu) pieces fitted offline on the exact L(T), for any rule.

Step t uses piece floor(t n / T) (n = 1: the fixed schedule's one pair; n = T: one pair per step). The pieces'
(log alpha, log(1 - mu)) are fitted by Adam on L(T) through the rule's generated adjoint (numeric/nqm/adjoint.py;
the per-step derivatives of a piece summed), from the optimized schedule's start (the better of the greedy schedule
and the best exponentially decaying one of its grid, numeric/nqm/schedules.py) averaged over each piece (in alpha
and mu: a greedy alpha of 0 on a solved coordinate must not drag a piece's log alpha to the clamp), the best
iterate kept; no safeguard: sharing is what is measured, so n = T is the
optimized schedule's fit without it. What sharing buys is read off n.
"""
import numpy as np

from shb.numeric.nqm.schedules import (ADAM_LR, ADAM_STEPS, DECAY_GRID, adam_fit, from_params, schedule_result, start,
                                       to_params)


def piece_of(T, n):
    """The piece of each step, shape (T,): floor(t n / T)."""
    return (np.arange(T) * n) // T


def pieces_schedule(opt, problem, T, n, steps=ADAM_STEPS, lr=ADAM_LR):
    """n piecewise-constant (alpha, mu) pieces over T steps minimizing L(T) (module docstring). Extras: "pieces"
    (n), "history" (L(T) per Adam step), "cost" (rollout steps: the start's grid and two passes per Adam step)."""
    n = int(min(max(n, 1), T))
    index = piece_of(T, n)
    counts = np.bincount(index, minlength=n)
    a0, b0 = to_params(*(np.bincount(index, weights=x, minlength=n) / counts for x in start(opt, problem, T)))

    def objective(x):
        alpha, mu = from_params(x[:n], x[n:])
        return opt.final_loss(problem, alpha[index], mu[index])

    x, _, history = adam_fit(objective, np.concatenate([a0, b0]), steps, lr, desc=f"{n} piece" + ("s" if n > 1 else ""))
    alpha, mu = (np.asarray(v, dtype=float)[index] for v in from_params(x[:n], x[n:]))
    grid = int(np.prod([np.size(g) for g in DECAY_GRID]))  # the start's grid of decaying schedules, a rollout each
    return schedule_result(opt, problem, alpha, mu, pieces=n, history=np.array(history), cost=T * (grid + 2 * steps))
