"""Hyperparameters shared over the horizon (FDS-style, Micaelli & Storkey 2021), on the NQM: n piecewise-constant
(alpha, mu) pieces fitted offline on the exact L(T), for any rule.

Step t uses piece floor(t n / T) (n = 1: the fixed schedule's one pair; n = T: one pair per step). The pieces'
(log alpha, log(1 - mu)) are fitted by Adam on L(T) through the rule's generated adjoint (numeric/nqm/adjoint.py;
the per-step derivatives of a piece summed), from the lowest of a few starts (`starts`: the optimized schedule's
start averaged over each piece, two ways, and the fixed schedule's grid-best pair), the best iterate kept; no
safeguard: sharing is what is measured, so n = T is the optimized schedule's fit without it. What sharing buys is
read off n.
"""
import hashlib

import numpy as np

from shb.numeric.nqm.schedules import (ADAM_LR, ADAM_STEPS, DECAY_GRID, FIXED_GRID, _finite, adam_fit, fixed_grid,
                                       from_params, schedule_result, start, to_params)


def piece_of(T, n):
    """The piece of each step, shape (T,): floor(t n / T)."""
    return (np.arange(T) * n) // T


def pieces_schedule(opt, problem, T, n, steps=ADAM_STEPS, lr=ADAM_LR):
    """n piecewise-constant (alpha, mu) pieces over T steps minimizing L(T) (module docstring). Extras: "pieces"
    (n), "history" (L(T) per Adam step), "cost" (rollout steps: the start's grid and two passes per Adam step)."""
    n = int(min(max(n, 1), T))
    index = piece_of(T, n)

    def objective(x):
        alpha, mu = from_params(x[:n], x[n:])
        return opt.final_loss(problem, alpha[index], mu[index])

    x0 = min(starts(opt, problem, T, n), key=lambda x: float(_finite(objective(x))))
    x, _, history = adam_fit(objective, x0, steps, lr, desc=f"{n} piece" + ("s" if n > 1 else ""))
    alpha, mu = (np.asarray(v, dtype=float)[index] for v in from_params(x[:n], x[n:]))
    grids = sum(int(np.prod([np.size(g) for g in grid])) for grid in (DECAY_GRID, FIXED_GRID))  # a rollout each
    return schedule_result(opt, problem, alpha, mu, pieces=n, history=np.array(history), cost=T * (grids + 2 * steps))


def starts(opt, problem, T, n):
    """The fit's candidate starts, (log alpha, log(1 - mu)) of the n pieces: the optimized schedule's start averaged
    over each piece in (log alpha, log(1 - mu)) and in (alpha, mu) (a greedy alpha of 0 on a solved coordinate drags
    the first to the clamp), and the best constant pair of the fixed schedule's grid in every piece (so n pieces
    start no worse than one pair)."""
    index = piece_of(T, n)
    counts = np.bincount(index, minlength=n)
    mean = lambda x: np.bincount(index, weights=x, minlength=n) / counts  # noqa: E731
    (alpha, mu), constant = shared_starts(opt, problem, T)
    return [np.concatenate([mean(a) for a in to_params(alpha, mu)]),
            np.concatenate(to_params(mean(alpha), mean(mu))),
            np.concatenate(to_params(np.full(n, constant[0]), np.full(n, constant[1])))]


_LAST = {}  # the last problem's shared starts: every n of one table shares them


def shared_starts(opt, problem, T):
    """(the optimized schedule's start, the fixed grid's best pair) for (opt, problem, T), computed once for every n
    of the same problem (each is a batched grid of rollouts); copies, so a caller cannot change what is kept."""
    key = (opt.name, tuple(sorted(opt.options.items())), T,
           hashlib.sha256(b"".join(np.ascontiguousarray(x, dtype=float).tobytes() for x in problem)).hexdigest())
    if key not in _LAST:
        _LAST.clear()
        _LAST[key] = (start(opt, problem, T), fixed_grid(opt, problem, T))
    (alpha, mu), constant = _LAST[key]
    return (alpha.copy(), mu.copy()), constant

