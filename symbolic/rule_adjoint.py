"""The rank-one adjoint of any rule's T-step loss: one backward pass over the schedule, one forward pass.

A rule's update is affine in its state z and the noise xi, z' = F z + b xi (rule_moments.affine_form), so the raw
second moment M = E[z z^T] follows

    M' = F M F^T + N,     N = b b^T                      (E[xi] = 0, E[xi^2] = 1, xi independent of z).

The loss of one coordinate is 1/2 h e^T M_T e, e the unit vector of the rule's loss iterate, so the adjoint of
every M_t is rank one, 1/2 h w_t w_t^T, with the "direction"

    w_T = e,   w_t = F_t^T w_{t+1}                                       (backward; the schedule alone),

and the gradient needs M_t only through the "probe" r_t = M_t w_t, which follows

    r_0 = M_0 w_0,   r_{t+1} = F_t r_t + N_t w_{t+1}                     (forward),

with L = 1/2 h r_T[e]. Per coordinate, for p in (alpha, mu) at step t (M_{t+1} depends on p_t through F_t and N_t,
w_{t+1} does not):

    dL/dp_t = h w_{t+1}^T (dF_t/dp) r_t + 1/2 h w_{t+1}^T (dN_t/dp) w_{t+1}.

With the same directions the loss K steps ahead of given moments M under a constant pair (the lookahead's
meta-objective, numeric/nqm/horizon.py) is L_K = 1/2 h (w_K^T M w_K + sum_{j<K} w_j^T N w_j), w_0 = e,
w_{j+1} = F^T w_j: `noise_form` is w^T N w. For heavy ball this is symbolic/adjoint.py's rank-one form (there
written through b = (1, 1) and s = b . w, n = (alpha h)^2 sigma2); proofs/rules_engine.py checks every rule's
against its general adjoint (rule_moments.raw_step_vjp).
"""
import functools

import sympy as sp

from shb.symbolic import model
from shb.symbolic.printer import nested
from shb.symbolic.rule_moments import affine_form
from shb.symbolic.rules import HYPER


def direction_symbols(rule):
    """w_<state>: the direction w_{t+1}, one entry per state variable."""
    return tuple(sp.Symbol(f"w_{s.name}", real=True) for s in rule.state)


def probe_symbols(rule):
    """r_<state>: the probe r_t = M_t w_t."""
    return tuple(sp.Symbol(f"r_{s.name}", real=True) for s in rule.state)


@functools.lru_cache(maxsize=None)
def noise_weight(rule, direction=None):
    """s = b . w, the noise's share of the direction w (default w_{t+1}), factored: b holds the square root of the
    noise variance, and it appears only squared (in s^2 and in products of two such sums), where it cancels."""
    _, b = affine_form(rule)
    w = sp.Matrix(direction_symbols(rule) if direction is None else direction)
    return sp.factor((b.T * w)[0])


@functools.lru_cache(maxsize=None)
def direction_step(rule):
    """w_t = F_t^T w_{t+1}, in w_{t+1}."""
    F, _ = affine_form(rule)
    return tuple(nested(x) for x in F.T * sp.Matrix(direction_symbols(rule)))


@functools.lru_cache(maxsize=None)
def noise_form(rule):
    """w^T N w = (b . w)^2 at w = w_{t+1}."""
    return nested(noise_weight(rule) ** 2)


@functools.lru_cache(maxsize=None)
def probe_step(rule):
    """r_{t+1} = F_t r_t + N_t w_{t+1} = F_t r_t + b (b . w_{t+1}), in r_t and w_{t+1}."""
    F, b = affine_form(rule)
    s = noise_weight(rule)
    return tuple(nested(x + b_i * s) for x, b_i in zip(F * sp.Matrix(probe_symbols(rule)), b))


@functools.lru_cache(maxsize=None)
def probe_gradient(rule):
    """Per coordinate (dL/dalpha_t, dL/dmu_t) = h (w_{t+1}^T dF/dp r_t + (b . w_{t+1}) (db/dp . w_{t+1})), the
    second term being 1/2 w^T dN/dp w for N = b b^T."""
    F, b = affine_form(rule)
    w, r = sp.Matrix(direction_symbols(rule)), sp.Matrix(probe_symbols(rule))
    return tuple(nested(model.h * ((w.T * F.diff(p) * r)[0] + noise_weight(rule) * (b.diff(p).T * w)[0]))
                 for p in HYPER)


SCALE = sp.Symbol("c", positive=True)


@functools.lru_cache(maxsize=None)
def state_scaling(rule):
    """Exponents e of the state's scaling under alpha -> alpha c, h -> h / c: with D = diag(c^e), the update of the
    scaled problem maps D z to D z' (F(alpha c, h/c) D = D F and b(alpha c, h/c) = D b), the loss iterate and the
    state's start (z(0) = k theta(0)) unscaled. Heavy ball: (0, 0) (its velocity is a displacement); QHM: (0, -1) (its
    buffer averages gradients, h theta). So the greedy and lookahead schedules of the problem with curvatures h / c are
    the original's with alpha c (the loss scales by 1 / c). ValueError if no exponents in {-1, 0, 1} do it."""
    import itertools

    F, b = affine_form(rule)
    scaled = {model.alpha: model.alpha * SCALE, model.h: model.h / SCALE}
    F_c, b_c = F.subs(scaled, simultaneous=True), b.subs(scaled, simultaneous=True)
    fixed = {rule.state.index(rule.loss_at)} | {i for i, k in enumerate(rule.initial) if k}
    free = [i for i in range(len(rule.state)) if i not in fixed]
    for choice in itertools.product((0, -1, 1), repeat=len(free)):
        e = [0] * len(rule.state)
        for i, x in zip(free, choice):
            e[i] = x
        D = sp.diag(*(SCALE**x for x in e))
        if (F_c * D - D * F).applyfunc(sp.simplify) == sp.zeros(*F.shape) and \
                (b_c - D * b).applyfunc(sp.simplify) == sp.zeros(*b.shape):
            return tuple(e)
    raise ValueError(f"rule {rule.name}: no scaling of the state makes alpha -> alpha c, h -> h / c exact")


@functools.lru_cache(maxsize=None)
def stability_limit(rule):
    """The learning rate at which the mean dynamics of (theta, v) lose stability through an eigenvalue -1: the root in
    alpha of det(F_2 + I) = 1 + tr F_2 + det F_2 = 0, F_2 the (theta, v) block of F (heavy ball: alpha h = 2 (1 + mu),
    the edge of the lookahead's grid of starts, numeric/nqm/lookahead.py). ValueError unless it is one root."""
    F, _ = affine_form(rule)
    block = F[:2, :2]
    roots = sp.solve(sp.expand(1 + block.trace() + block.det()), model.alpha)
    if len(roots) != 1:
        raise ValueError(f"rule {rule.name}: det(F + I) = 0 has {len(roots)} roots in alpha, not one")
    return sp.factor(roots[0])
