"""Convexity of the one-step loss (Eq. 15) in x = (alpha, mu): the greedy stationary point is a global minimum.

theta' is affine in x, with w = d theta' / dx = (-(h theta - h sigma xi), v), so
the Hessian of L_i = 1/2 h E[theta'^2] is the Gram matrix H_i = h E[w w^T]:
z^T H_i z = h E[(z.w)^2] >= 0 for every z. A sum of PSD matrices is PSD
(z^T (sum_i H_i) z = sum_i h_i E[(z.w_i)^2]), checked for n = 1..4.
Per coordinate, det H_i = h^4 (A(theta)A(v) - E[theta v]^2) + h^4 sigma2 A(v), and
Cauchy-Schwarz holds as a certificate with an independent copy (theta~, v~):
A(theta)A(v) - E[theta v]^2 = 1/2 E[(theta v~ - theta~ v)^2].
Since L(x) - L(x*) = 1/2 (x - x*)^T H (x - x*), the stationary point x* of
Theorem 2 is the global minimiser whenever det H > 0. When det H = 0, e.g. at
t = 0 where v = 0 (A(v_i) = 0 and so E[theta_i v_i] = 0), the loss does not
depend on mu and the minimiser over alpha is greedy SGD's sum_i h_i^2 A(theta_i) /
sum_i h_i^3 (A(theta_i) + sigma2_i).
"""
import sympy as sp

from shb.proofs import coordinates
from shb.proofs.kernel import Identity, Nonnegative, PositiveSemidefinite, Solves, Square, Substitutes
from shb.proofs.notation import eq, tex
from shb.symbolic import greedy, model

THEOREM = "Convexity of the one-step loss"
CITES = "Eq. 15; Theorem 2; Appendix A.2"
STATEMENT = r"""
The loss after one step (Eq. 15, summed over coordinates) is jointly convex in $(\alpha, \mu)$: its Hessian
$H = \sum_i H_i$, $H_i = h_i\,\mathbb{E}[w_i w_i^\top]$ with $w_i = \partial\theta_i'/\partial(\alpha, \mu)$, is positive
semidefinite: for every $z$ and any number of coordinates, $z^\top H z = \sum_i h_i\,\mathbb{E}[(z^\top w_i)^2] \ge 0$
(a sum of PSD matrices is PSD; the steps check this identity for $n = 1..4$). Hence the stationary point of Theorem 2 is the global one-step minimiser whenever $\det H > 0$.
If $\det H = 0$ (e.g. $t = 0$, where $v = 0$) $\mu$ is not identifiable and the minimiser over $\alpha$ is the
greedy SGD learning rate.
"""

N_MAX = 4
a, m, h, s2 = model.alpha, model.mu, model.h, model.sigma2
At, Av, E = model.A_theta, model.A_v, model.E_theta_v
z = sp.symbols("z_1 z_2", real=True)
theta_bar, v_bar = sp.symbols("theta_bar v_bar", real=True)


def expect_raw(expr):
    """E[.] of a polynomial in (theta, v, xi) with raw second moments (one coordinate)."""
    return model.expect(expr, model.raw_moments())


def _expect_copy(expr):
    """Take E over the copy: rename (theta~, v~) -> (theta, v) after protecting the raw symbols already present."""
    protect = {At: sp.Dummy("At"), Av: sp.Dummy("Av"), E: sp.Dummy("E")}
    shielded = sp.sympify(expr).xreplace(protect)
    moved = shielded.xreplace({theta_bar: model.theta, v_bar: model.v})
    return expect_raw(moved).xreplace({d: s for s, d in protect.items()})


def gram_vector():
    """w = d theta' / d(alpha, mu), from the engine's update."""
    theta1, _ = model.update()
    return [sp.diff(theta1, x) for x in greedy.X]


def steps():
    yield from per_coordinate_steps()
    for n in range(1, N_MAX + 1):
        yield summed_psd_step(n)
    yield from global_minimum_steps()
    yield from degenerate_steps()


def per_coordinate_steps():
    hessian, _ = greedy.quadratic_form()
    w = sp.Matrix(gram_vector())
    gram = (w * w.T).applyfunc(lambda e: h * expect_raw(e))
    yield Identity("Hessian is a Gram matrix", "H_i = h E[w w^T] with w = d theta'/d(alpha, mu).", hessian, gram,
                   latex=f"H_i = h\\,\\mathbb{{E}}[w w^\\top],\\quad w = {tex(w.T)}")
    zw = z[0] * w[0] + z[1] * w[1]
    yield PositiveSemidefinite("H_i is PSD", "z^T H_i z = h E[(z.w)^2] >= 0.", hessian, z,
                               [Square(h, zw, expect_raw)])
    yield Identity("det H_i", "det H_i = h^4 (A(theta)A(v) - E[theta v]^2) + h^4 sigma2 A(v).",
                   hessian.det(), h**4 * (At * Av - E**2) + h**4 * s2 * Av,
                   latex=eq("\\det H_i", h**4 * (At * Av - E**2) + h**4 * s2 * Av))
    lagrange = model.theta * v_bar - theta_bar * model.v
    yield Nonnegative("Cauchy-Schwarz", "A(theta)A(v) - E[theta v]^2 = 1/2 E[(theta v~ - theta~ v)^2] >= 0 "
                      "with (theta~, v~) an independent copy of (theta, v).",
                      At * Av - E**2, [Square(sp.Rational(1, 2), lagrange, _expect_copy_of_pair)])
    yield Nonnegative("det H_i >= 0", "det H_i = h^4/2 E[(theta v~ - theta~ v)^2] + h^4 sigma2 E[v^2] >= 0.",
                      hessian.det(), [Square(h**4 / 2, lagrange, _expect_copy_of_pair),
                                      Square(h**4 * s2, model.v, expect_raw)])


def _expect_copy_of_pair(expr):
    return _expect_copy(expect_raw(expr))


def summed_psd_step(n):
    """z^T (sum_i H_i) z = sum_i h_i E[(z.w_i)^2] for n explicit coordinates."""
    sums = coordinates.sums(n)
    H = sp.Matrix([[sums[greedy.H_aa], sums[greedy.H_am]], [sums[greedy.H_am], sums[greedy.H_mm]]])
    w = gram_vector()
    zw = z[0] * w[0] + z[1] * w[1]
    certificate = [Square(coordinates.symbols(i)[h], zw, _coordinate_expect(i), label=f"_{{{i}}}")
                   for i in range(1, n + 1)]
    return PositiveSemidefinite(f"sum of H_i is PSD (n = {n})",
                                f"The Hessian of the loss summed over n = {n} coordinates is PSD: a sum of Gram matrices.",
                                H, z, certificate,
                                latex=f"H = \\textstyle\\sum_{{i=1}}^{{{n}}} H_i \\succeq 0,\\quad z^\\top H z = "
                                "\\sum_i h_i\\,\\mathbb{E}[(z^\\top w_i)^2]")


def _coordinate_expect(i):
    """E_i[.] over coordinate i; the coefficients h, sigma2 in the polynomial become h_i, sigma2_i."""
    return lambda expr: coordinates.at(expect_raw(expr), i)


def global_minimum_steps():
    """L(x) - L(x*) = 1/2 (x - x*)^T H (x - x*) in the five sums of Theorem 2."""
    HS = sp.Matrix([[greedy.H_aa, greedy.H_am], [greedy.H_am, greedy.H_mm]])
    gS = sp.Matrix([greedy.g_a, greedy.g_m])
    x = sp.Matrix(greedy.X)
    star = sp.Matrix(greedy.greedy_from_sums())
    L = lambda y: (gS.T * y)[0] + (y.T * HS * y)[0] / 2  # noqa: E731  (L(0) cancels)
    gap = (x - star)
    yield Identity("L(x) - L(x*) = 1/2 (x - x*)^T H (x - x*)",
                   "For the quadratic loss, the excess over the stationary point is the Hessian form of the offset, "
                   "so with H PSD x* is a global minimiser (unique when det H > 0).",
                   L(x) - L(star), (gap.T * HS * gap)[0] / 2,
                   latex="\\mathcal{L}(x) - \\mathcal{L}(x^*) = \\tfrac12 (x - x^*)^\\top H (x - x^*)")


def degenerate_steps():
    yield Substitutes("Cauchy-Schwarz at A(v) = 0", "With A(v) = 0 the Cauchy-Schwarz quantity is -E[theta v]^2, "
                      "so E[theta v]^2 <= 0 forces E[theta v] = 0.", At * Av - E**2, {Av: 0}, -E**2)
    for n in range(1, N_MAX + 1):
        yield from start_of_training_steps(n)
    c = sp.Symbol("c", real=True)
    hessian, _ = greedy.quadratic_form()
    yield Substitutes("det H_i = 0 when sigma2 = 0 and theta = c v",
                      "A second degenerate case: deterministic and theta proportional to v (A(theta) = c^2 A(v), "
                      "E[theta v] = c A(v)): alpha and mu trade off along a line.",
                      hessian.det(), {s2: 0, At: c**2 * Av, E: c * Av}, 0)


def start_of_training_steps(n):
    """t = 0 (v = 0): det H = 0, the loss is flat in mu, alpha* is greedy SGD's."""
    at_rest = {}
    for c in coordinates.all_symbols(n):
        at_rest.update({c[Av]: 0, c[E]: 0})
    sums = coordinates.sums(n)
    H = sp.Matrix([[sums[greedy.H_aa], sums[greedy.H_am]], [sums[greedy.H_am], sums[greedy.H_mm]]])
    yield Substitutes(f"t = 0: det H = 0 (n = {n})", "With v = 0, det H = 0: the stationary point is not unique.",
                      H.det(), at_rest, 0,
                      latex=f"\\det H\\big|_{{A(v_i) = \\mathbb{{E}}[\\theta_i v_i] = 0,\\ i \\le {n}}} = 0")
    loss = coordinates.summed_loss(n).subs(at_rest, simultaneous=True)
    yield Identity(f"t = 0: loss flat in mu (n = {n})", "With v = 0 the one-step loss does not depend on mu.",
                   sp.diff(loss, m), 0, latex=f"\\partial_\\mu \\textstyle\\sum_{{i=1}}^{{{n}}}\\mathcal{{L}}_i = 0")
    sgd_alpha = sp.sympify(greedy.greedy_sgd_from_sums()).subs(sums, simultaneous=True).subs(at_rest)
    yield Solves(f"t = 0: alpha* is greedy SGD's (n = {n})",
                 "The minimiser over alpha is sum_i h_i^2 A(theta_i) / sum_i h_i^3 (A(theta_i) + sigma2_i).",
                 [sp.diff(loss, a)], [a], {a: sgd_alpha},
                 latex=f"\\partial_\\alpha\\textstyle\\sum_{{i=1}}^{{{n}}}\\mathcal{{L}}_i = 0 \\Longleftarrow "
                 f"\\alpha = {tex(sgd_alpha)}")
