"""Theorem 3 (optimal learning rate, univariate SGD without momentum): the one-step optimum, Eq. 7.

With mu = 0 (Appendix A.3), A' = E[theta'^2] = (1 - alpha h)^2 A + (alpha h)^2 sigma2,
a convex quadratic in alpha (second derivative 2 h^2 (A + sigma2) > 0). Its unique
minimiser is alpha* = A / (h (A + sigma2)) (Eq. 7), the minimum is
A' = A sigma2 / (A + sigma2), i.e. 1/A' = 1/A + 1/sigma2, and alpha* is the greedy
SGD learning rate -g_a/H_aa of Theorem 2 restricted to mu = 0 (Schaul et al.).
Optimality over the whole horizon is Theorem 4's dynamic programme.
"""
import sympy as sp

from shb.proofs.kernel import Identity, Positive, Solves, Substitutes
from shb.proofs.notation import eq, tex
from shb.symbolic import greedy, model, sgd

THEOREM = "Theorem 3"
CITES = "Theorem 3; Eq. 7; Appendix A.3"
STATEMENT = r"""
For SGD without momentum on a univariate noisy quadratic, the learning rate that minimises the expected loss
after one step is $\alpha^* = A(\theta)/(h(A(\theta) + \sigma^2))$ (Eq. 7), the greedy-optimal rate of
Schaul et al.; by Theorem 4 the sequence of these rates minimises $\mathbb{E}[\mathcal{L}(\theta^{(T)})]$ for every $T$.
"""

a, h, s2, A = model.alpha, model.h, model.sigma2, sgd.A


def eq7():
    return A / (h * (A + s2))


def steps():
    next_A = sgd.next_A()
    recurrence = (1 - a * h) ** 2 * A + (a * h) ** 2 * s2
    yield Identity("A.3: A' without momentum", "A(theta') = (1 - alpha h)^2 A(theta) + (alpha h sigma)^2 for mu = 0.",
                   next_A, recurrence, latex=eq("A(\\theta')", recurrence))
    yield Positive("A' is convex in alpha", "d^2 A'/d alpha^2 = 2 h^2 (A + sigma2) > 0 (h > 0, A > 0, sigma2 >= 0).",
                   sp.diff(next_A, a, 2),
                   latex=eq("\\partial_\\alpha^2 A(\\theta')", sp.factor(sp.diff(next_A, a, 2))) + " > 0")
    yield Solves("Eq. 7: stationary point", "dA'/dalpha = 0 has the unique solution alpha* = A / (h (A + sigma2)).",
                 [sp.diff(next_A, a)], [a], {a: eq7()})
    yield Identity("Eq. 7: engine alpha*", "The engine's optimal_alpha is Eq. 7.", sgd.optimal_alpha(), eq7(),
                   latex=eq("\\alpha^*", eq7()))
    minimum = A * s2 / (A + s2)
    yield Identity("A.3: minimal A'", "A' at alpha* is A sigma2 / (A + sigma2).", next_A.subs(a, eq7()), minimum,
                   latex=eq("A(\\theta')\\big|_{\\alpha^*}", minimum))
    yield Identity("A.3: harmonic form", "1/A' = 1/A + 1/sigma2 at the optimum.", 1 / sgd.min_next_A(), 1 / A + 1 / s2,
                   latex="\\frac{1}{A(\\theta')} = \\frac{1}{A(\\theta)} + \\frac{1}{\\sigma^2}")
    sgd_alpha = sp.sympify(greedy.greedy_sgd_from_sums()).subs(
        {k: v.subs(model.A_theta, A) for k, v in greedy.per_coordinate_terms().items()}, simultaneous=True)
    yield Identity("Eq. 7 is greedy", "Greedy SGD's -g_a/H_aa for one coordinate equals Eq. 7 (agrees with Schaul et al.).",
                   sgd_alpha, eq7(), latex="-\\frac{g_a}{H_{aa}} = " + tex(eq7()))
    yield Substitutes("deterministic: alpha* = 1/h", "With sigma2 = 0, Eq. 7 is alpha* = 1/h (one step to the optimum).",
                      eq7(), {s2: 0}, 1 / h)
