"""Eq. 15 and Theorem 2 for any rule: the greedy step, where the one-step loss is a quadratic.

The one-step loss of a rule (rule_moments.one_step_loss) is a polynomial in the schedule (alpha, mu).
Where it is a quadratic in x = (alpha, mu) (heavy ball, a preconditioner, a minibatch, an averaged
iterate), summing over coordinates gives L(x) = L(0) + g.x + 1/2 x^T H x with the same five sums as
Theorem 2 (H_aa, H_am, H_mm, g_a, g_m: Hessian entries and the gradient at the origin), and the greedy
step is x* = -H^{-1} g (symbolic.greedy.greedy_from_sums, the formula shared by every rule).

Where it is not (Nesterov's look-ahead gradient multiplies alpha by mu, so the loss has an alpha^2 mu^2
term), the joint greedy step is the stationary point of a quartic: no closed form is derived. For a
given mu the loss is still a quadratic in alpha alone, so the greedy learning rate at that momentum is
alpha* = -g_a / H_aa (symbolic.greedy.greedy_sgd_from_sums) with the two sums now functions of mu.
"""
import functools
from dataclasses import dataclass

import sympy as sp

from shb.symbolic import greedy, model
from shb.symbolic.rule_moments import one_step_loss
from shb.symbolic.rules import HYPER

JOINT = "joint"        # greedy (alpha, mu) from five sums
ALPHA = "alpha-given-mu"  # greedy alpha at a given mu, from two sums


@dataclass(frozen=True)
class Greedy:
    """The greedy step a rule admits: kind (JOINT or ALPHA), the per-coordinate summands {sum symbol:
    expression}, the solution from the sums, and a sentence on what was derived and why."""

    kind: str
    terms: tuple  # ((sum symbol, per-coordinate expression), ...)
    solution: tuple  # (alpha*,) or (alpha*, mu*) in the sums
    note: str


def degrees(rule):
    """(total degree in (alpha, mu), degree in alpha, degree in mu) of the rule's one-step loss."""
    poly = sp.Poly(one_step_loss(rule), *HYPER)
    return poly.total_degree(), poly.degree(HYPER[0]), poly.degree(HYPER[1])


def cross_coefficient(rule):
    """The coefficient of alpha^2 mu^2 in the one-step loss (zero exactly when no such term exists)."""
    return sp.factor(sp.Poly(one_step_loss(rule), *HYPER).coeff_monomial(HYPER[0] ** 2 * HYPER[1] ** 2))


@functools.lru_cache(maxsize=None)
def greedy_step(rule):
    """The rule's greedy step (see the module docstring); raises ValueError if not even alpha is quadratic."""
    loss = one_step_loss(rule)
    total, in_alpha, _ = degrees(rule)
    a, m = HYPER
    if total <= 2:
        hessian = sp.hessian(loss, HYPER)
        at_zero = {a: 0, m: 0}
        gradient = [sp.expand(sp.diff(loss, x).subs(at_zero)) for x in HYPER]
        values = (hessian[0, 0], hessian[0, 1], hessian[1, 1], *gradient)
        terms = tuple((s, sp.expand(v)) for s, v in zip(greedy.SUMS, values))
        note = ("The one-step loss is a quadratic in (alpha, mu): the greedy step is Theorem 2's "
                "x* = -H^{-1} g from five coordinate sums.")
        return Greedy(JOINT, terms, greedy.greedy_from_sums(), note)
    if in_alpha > 2:
        raise ValueError(f"rule {rule.name}: the one-step loss is not a quadratic in alpha")
    values = (sp.diff(loss, a, 2), sp.diff(loss, a).subs(a, 0))
    terms = tuple((s, sp.expand(v)) for s, v in zip((greedy.H_aa, greedy.g_a), values))
    note = (f"The one-step loss has degree {total} in (alpha, mu) (alpha^2 mu^2 coefficient "
            f"{sp.sstr(cross_coefficient(rule))}): the joint greedy step has no closed form here. Derived: the "
            "greedy alpha at a given mu, alpha* = -g_a / H_aa, a quadratic in alpha alone.")
    return Greedy(ALPHA, terms, (greedy.greedy_sgd_from_sums(),), note)


def given(rule):
    """The schedule entries a greedy step takes as input: () for JOINT, (mu,) for ALPHA."""
    return () if greedy_step(rule).kind == JOINT else (model.mu,)
