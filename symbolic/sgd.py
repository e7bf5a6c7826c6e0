"""Theorems 3 and 4: SGD without momentum on one coordinate (Appendix A.3).

With mu = 0, A' = E[theta'^2] = (1 - alpha h)^2 A + alpha^2 h^2 sigma2. Minimising
over alpha gives Theorem 3, alpha* = A / (h (A + sigma2)), and the minimum
A' = A sigma2 / (A + sigma2), i.e. 1/A' = 1/A + 1/sigma2. Solving that linear
recurrence for 1/A gives Theorem 4: after k optimal steps
A_min = A sigma2 / (k A + sigma2).
"""
import sympy as sp

from shb.symbolic import model

A = sp.Symbol("A", positive=True)
k = sp.Symbol("k", integer=True, nonnegative=True)


def next_A(alpha=model.alpha):
    """A(theta') for SGD without momentum, from the stochastic update (mu = 0, v = 0)."""
    theta1, _ = model.update(mu=0, alpha=alpha)
    return model.expect(theta1**2, {**model.raw_moments(), (2, 0): A})


def optimal_alpha():
    """Theorem 3 (Eq. 7): the alpha that minimises next_A."""
    (solution,) = sp.solve(sp.diff(next_A(), model.alpha), model.alpha)
    return sp.factor(solution)


def min_next_A():
    """A after one optimal step: next_A at alpha*."""
    return sp.factor(sp.simplify(next_A(optimal_alpha())))


def min_A_after(steps=k):
    """Theorem 4 (Eq. 16): A after `steps` optimal steps, solving the recurrence for 1/A."""
    r = sp.Function("r")
    # 1/A_{k+1} = 1/A_k + 1/sigma2: read the increment off min_next_A rather than typing it.
    increment = sp.simplify(1 / min_next_A() - 1 / A)
    closed = sp.rsolve(r(k + 1) - r(k) - increment, r(k), {r(0): 1 / A})
    return sp.factor(sp.simplify(1 / closed.subs(k, steps)))
