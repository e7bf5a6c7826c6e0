"""The spherical case (Section 2.2.4): equal h_i and sigma2_i reduce the multivariate problem to the univariate one.

With h_i = h and sigma2_i = sigma2 for all n coordinates (checked for n = 1..4):
  * identical initial statistics: Theorem 2's multivariate (alpha*, mu*) are the
    univariate ones and the summed loss is n times the univariate loss;
  * any initial statistics: every quantity is linear in the raw moments, so the
    coordinate-mean raw moments (A-bar(theta), A-bar(v), E-bar[theta v]) evolve by the
    univariate map, greedy SGD's alpha is Eq. 7 at A-bar, and the summed loss is n
    times the univariate loss at the means. The multivariate problem is therefore
    the univariate one, and greedy is optimal for SGD without momentum (Theorem 4).
"""
import sympy as sp

from shb.proofs import coordinates
from shb.proofs.kernel import Substitutes
from shb.symbolic import greedy, model, sgd

THEOREM = "Spherical case"
CITES = "Section 2.2.4; Theorems 2-4; Eq. 15"
STATEMENT = r"""
If the Hessian and the gradient covariance are both spherical ($h_i = h$, $\sigma_i^2 = \sigma^2$), each dimension
evolves by the univariate dynamics: the multivariate greedy $(\alpha^*, \mu^*)$ and losses are the univariate ones
(for the coordinate-mean raw moments), so the greedy schedule is optimal for SGD without momentum.
"""

N_MAX = 4
a, m, h, s2 = model.alpha, model.mu, model.h, model.sigma2
RAW = (model.A_theta, model.A_v, model.E_theta_v)
_TEX = {"alpha*": "\\alpha^*", "mu*": "\\mu^*"}


def spherical(n):
    """h_i -> h, sigma2_i -> sigma2 for i = 1..n."""
    out = {}
    for c in coordinates.all_symbols(n):
        out.update({c[h]: h, c[s2]: s2})
    return out


def identical(n):
    """Spherical and every coordinate starting from the same raw moments."""
    out = spherical(n)
    for c in coordinates.all_symbols(n):
        out.update({c[r]: r for r in RAW})
    return out


def means(n):
    """The coordinate means of the raw moments, in the coordinate symbols."""
    return {r: sp.Add(*[c[r] for c in coordinates.all_symbols(n)]) / n for r in RAW}


def raw_update():
    """The raw second moments after one step (A(theta'), A(v'), E[theta' v']) as functions of the raw moments."""
    theta1, v1 = model.update()
    return sp.Matrix([model.expect(e, model.raw_moments()) for e in (theta1**2, v1**2, theta1 * v1)])


def steps():
    alpha_u, mu_u = greedy.greedy_univariate()
    for n in range(1, N_MAX + 1):
        sums = coordinates.sums(n)
        alpha_n, mu_n = (sp.sympify(e).subs(sums, simultaneous=True) for e in greedy.greedy_from_sums())
        yield Substitutes(f"identical coordinates: alpha* (n = {n})", "Multivariate greedy alpha* = univariate alpha*.",
                          alpha_n, identical(n), alpha_u, latex=f"\\alpha^*_{{n={n}}} = \\alpha^*_{{n=1}}")
        yield Substitutes(f"identical coordinates: mu* (n = {n})", "Multivariate greedy mu* = univariate mu*.",
                          mu_n, identical(n), mu_u, latex=f"\\mu^*_{{n={n}}} = \\mu^*_{{n=1}}")
        yield Substitutes(f"identical coordinates: loss (n = {n})", "The summed one-step loss is n times the univariate loss.",
                          coordinates.summed_loss(n), identical(n), n * greedy.one_step_loss(),
                          latex=f"\\textstyle\\sum_{{i=1}}^{{{n}}}\\mathcal{{L}}_i = {n}\\,\\mathcal{{L}}")
        yield from mean_moment_steps(n, sums)
        bar = means(n)
        for name, multi, uni in (("alpha*", alpha_n, alpha_u), ("mu*", mu_n, mu_u)):
            yield Substitutes(f"greedy {name} at the mean raw moments (n = {n})",
                              f"With momentum too: the spherical multivariate greedy {name} is the univariate one "
                              "at the mean raw moments.",
                              multi, spherical(n), uni.subs(bar, simultaneous=True),
                              latex=f"{_TEX[name]}_{{n={n}}} = {_TEX[name]}_{{n=1}}(\\bar m)")


def mean_moment_steps(n, sums):
    """Arbitrary initial statistics: the coordinate means follow the univariate dynamics."""
    bar = means(n)
    update = raw_update()
    summed = sp.Matrix.zeros(3, 1)
    for i in range(1, n + 1):
        summed += update.applyfunc(lambda e: coordinates.at(e, i))
    yield Substitutes(f"mean raw moments evolve univariately (n = {n})",
                      "sum_i (A(theta_i'), A(v_i'), E[theta_i' v_i']) = n x the univariate update at the mean raw moments.",
                      summed, spherical(n), n * update.subs(bar, simultaneous=True),
                      latex=f"\\textstyle\\sum_{{i=1}}^{{{n}}} F(m_i) = {n}\\,F(\\bar m)")
    yield Substitutes(f"loss at the mean raw moments (n = {n})",
                      "The summed one-step loss is n times the univariate loss at the mean raw moments.",
                      coordinates.summed_loss(n), spherical(n), n * greedy.one_step_loss().subs(bar, simultaneous=True),
                      latex=f"\\textstyle\\sum_{{i=1}}^{{{n}}}\\mathcal{{L}}_i = {n}\\,\\mathcal{{L}}(\\bar m)")
    sgd_alpha = sp.sympify(greedy.greedy_sgd_from_sums()).subs(sums, simultaneous=True)
    eq7_at_mean = sgd.optimal_alpha().subs(sgd.A, bar[model.A_theta])
    yield Substitutes(f"greedy SGD alpha is Eq. 7 at the mean (n = {n})",
                      "Greedy SGD's alpha over n spherical coordinates is Eq. 7 at A-bar(theta).",
                      sgd_alpha, spherical(n), eq7_at_mean,
                      latex=f"-\\frac{{g_a}}{{H_{{aa}}}}\\Big|_{{n={n}}} = \\frac{{\\bar A(\\theta)}}{{h(\\bar A(\\theta) + \\sigma^2)}}")
