"""Theorem 1 for any rule: the moment recurrences, the loss and the adjoint, derived from the rule's update.

For a rule with state z = (theta, v, ...) (symbolic/rules.py), one step is z' = step(z, gradient). On the
NQM the update is affine in z and in the noise xi, so the first and second moments close:

    E[z'_a]          = E[z'_a]                       (the mean recurrence; Theorem 1's E[theta'], E[v'])
    E[z'_a z'_b]     = E[z'_a z'_b]                  (raw second moments: Appendix A.2's A(theta'), E[theta' v'])
    Cov(z'_a, z'_b)  = E[z'_a z'_b] - E[z'_a] E[z'_b] (central: Theorem 1's V[theta'], Cov(theta', v'))

each the expectation (rules.expect) of the update itself, squared where needed; nothing is typed in.
The excess loss of one coordinate is 1/2 h E[x^2] = 1/2 h A(x) at the rule's loss iterate x (Eq. 6 without
its constant), and after one step 1/2 h E[x'^2] (Eq. 15). For a fixed schedule the raw step
m' = f(m; alpha, mu) is linear in m, so a later loss's adjoint mbar' = dL/dm' pulls back as

    mbar = (df/dm)^T mbar',   dL/dalpha_t += mbar' . df/dalpha,   dL/dmu_t += mbar' . df/dmu

(the general adjoint of symbolic/adjoint.py's raw_step_vjp, for any rule). Derivations are cached per rule.
"""
import functools

import sympy as sp

from shb.symbolic import model
from shb.symbolic.printer import fewest_ops, nested
from shb.symbolic.rules import (HYPER, central_moment_table, covariance_symbols, expect, mean_symbols, pairs,
                                raw_moment_table, raw_symbols)

ADJOINT_PREFIX = "adj_"


@functools.lru_cache(maxsize=None)
def mean_step(rule):
    """E[z'] for each state variable, in the means E[z] (Theorem 1's E[theta'], E[v'] for heavy ball)."""
    return tuple(expect(x, rule, central_moment_table(rule)) for x in rule.next_state())


@functools.lru_cache(maxsize=None)
def raw_step(rule):
    """E[z'_a z'_b] in `pairs` order, in the raw second moments of z (no means needed)."""
    z1 = rule.next_state()
    return tuple(expect(z1[a] * z1[b], rule, raw_moment_table(rule)) for a, b in pairs(rule))


@functools.lru_cache(maxsize=None)
def central_step(rule):
    """(E[z'], Cov(z', z') in `pairs` order) in the means and covariances of z: the rule's Theorem 1."""
    z1 = rule.next_state()
    means = mean_step(rule)
    table = central_moment_table(rule)
    covs = tuple(sp.expand(expect(z1[a] * z1[b], rule, table) - means[a] * means[b]) for a, b in pairs(rule))
    return means + covs


def central_symbols(rule):
    """The statistics `central_step` maps: means, then covariances (model.STATE for heavy ball)."""
    return mean_symbols(rule) + covariance_symbols(rule)


def raw_from_central(rule):
    """{raw moment: E[x y] = Cov(x, y) + E[x] E[y]} (symbolic.model.raw_from_central for heavy ball)."""
    table = central_moment_table(rule)
    raw = raw_moment_table(rule)
    return {raw[k]: table[k] for k in raw if sum(k) == 2}


def initial_central(rule, mean0=sp.Symbol("mean0", real=True), var0=sp.Symbol("var0", nonnegative=True)):
    """Means and covariances at t = 0: z_a = k_a theta_0 with theta_0 ~ N(mean0, var0), k = rule.initial."""
    k = rule.initial
    return tuple(sp.sympify(x) * mean0 for x in k) + tuple(sp.sympify(k[a] * k[b]) * var0 for a, b in pairs(rule))


def loss_index(rule):
    """The position of the loss iterate in the state (and of its A(x) among the raw moments)."""
    return rule.state.index(rule.loss_at)


def loss_component(rule):
    """(1/2 h A(x), its derivative in A(x)) at the loss iterate x: Eq. 6 without its constant, in raw moments."""
    A = raw_symbols(rule)[loss_index(rule)]
    loss = model.h * A / 2
    return loss, sp.diff(loss, A)


@functools.lru_cache(maxsize=None)
def one_step_loss(rule):
    """Eq. 15 for the rule: 1/2 h E[x'^2] at the loss iterate after one step, in raw moments."""
    x1 = rule.next_state()[loss_index(rule)]
    return sp.expand(model.h * expect(x1**2, rule, raw_moment_table(rule)) / 2)


def adjoint_symbols(rule):
    """adj_<raw moment>: dL/d(raw moment after the step)."""
    return tuple(sp.Symbol(ADJOINT_PREFIX + m.name, real=True) for m in raw_symbols(rule))


@functools.lru_cache(maxsize=None)
def raw_step_vjp(rule):
    """(adjoint of the raw moments before the step, dL/dalpha_t, dL/dmu_t per coordinate): the transposed
    Jacobian of `raw_step` applied to the adjoint after it, in its structured form.

    With z' = F z + b xi (`affine_form`) the raw moments M = E[z z^T] step as M' = F M F^T + b b^T. The adjoint
    as a symmetric matrix Lbar' (adj_A on the diagonal, adj_E / 2 off it) pulls back as Lbar = F^T Lbar' F, and
    dL/dp = tr(Lbar' dM'/dp) = 2 sum_ij (dF/dp)_ij (Lbar' F M)_ij + 2 (Lbar' b) . db/dp for p = alpha, mu:
    written through Y = Lbar' F and w = Lbar' b (shared by every output), then each output in the form with
    the fewest operations (printer.fewest_ops). Checked here against the transposed Jacobian itself."""
    F, b = affine_form(rule)
    raw, adjoint = raw_symbols(rule), adjoint_symbols(rule)
    M, bar = _symmetric(rule, raw, 1), _symmetric(rule, adjoint, sp.Rational(1, 2))
    Y, w = bar * F, bar * b
    pulled_back, YM = F.T * Y, Y * M
    previous = [pulled_back[a, c] * (1 if a == c else 2) for a, c in pairs(rule)]
    grads = [2 * sum(F.diff(p).multiply_elementwise(YM)) + 2 * sum(w.multiply_elementwise(b.diff(p))) for p in HYPER]
    jacobian = sp.Matrix(raw_step(rule)).jacobian(raw + HYPER).T * sp.Matrix(adjoint)
    if any(sp.expand(x - y) != 0 for x, y in zip(previous + grads, jacobian)):
        raise ValueError(f"rule {rule.name}: the structured adjoint is not the transposed Jacobian of raw_step")
    outputs = [fewest_ops([e, nested(e), _collected(e, adjoint)]) for e in previous]
    outputs += [fewest_ops([g, nested(g), _collected(g, raw + (model.sigma2,))]) for g in grads]
    return tuple(outputs[:-2]), outputs[-2], outputs[-1]


def _symmetric(rule, entries, off_diagonal):
    """The symmetric matrix with entries[k] at pairs(rule)[k] (times off_diagonal off the diagonal)."""
    n = len(rule.state)
    matrix = sp.zeros(n, n)
    for (a, c), entry in zip(pairs(rule), entries):
        matrix[a, c] = matrix[c, a] = entry * (1 if a == c else off_diagonal)
    return matrix


def _collected(expr, symbols):
    """expr as a sum over `symbols` with each coefficient in nested form."""
    terms = sp.collect(sp.expand(expr), symbols, evaluate=False)
    return sp.Add(*(k * nested(v) for k, v in terms.items()))


@functools.lru_cache(maxsize=None)
def affine_form(rule):
    """(F, b) with z' = F z + b xi: the update's matrix and noise direction, read off by differentiation.

    Raises ValueError when the update is not affine in (z, xi) (then the second moments would not close).
    """
    z, z1 = sp.Matrix(rule.state), sp.Matrix(rule.next_state())
    F = z1.jacobian(z)
    b = z1.diff(model.xi)
    residual = sp.expand(z1 - F * z - b * model.xi)
    if any(F.has(s) or b.has(s) for s in (*rule.state, model.xi)) or residual != sp.zeros(*residual.shape):
        raise ValueError(f"rule {rule.name}: the update is not affine in the state and the noise")
    return F, b
