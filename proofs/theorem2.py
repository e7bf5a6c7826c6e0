"""Theorem 2 (greedy-optimal learning rate and momentum), Appendix A.2.

Eq. 15 is a quadratic in x = (alpha, mu); per coordinate
L_i(x) = L_i(0) + g_i.x + 1/2 x^T H_i x, so the stationary point of the summed
loss is x* = -H^{-1} g with H = sum_i H_i, g = sum_i g_i (symbolic.greedy).
Checked here, with the minus signs the extracted text lost restored:

univariate (A.2.1)
    alpha* = (A(theta) A(v) - E[theta v]^2) / (h (A(v)(A(theta) + sigma2) - E[theta v]^2)),
    mu*    = -(1 - alpha* h) E[theta v] / A(v) = -E[theta v] sigma2 / D,
    D      = A(theta) A(v) + A(v) sigma2 - E[theta v]^2 = det(H) / h^4;
multivariate (A.2.2), for n = 1..4 explicit coordinates
    alpha* = [sum_i h_i^2 A(theta_i) sum_j h_j A(v_j) - sum_j h_j E_j sum_i h_i^2 E_i]
             / [sum_i h_i^3 (A(theta_i) + sigma2_i) sum_j h_j A(v_j) - (sum_j h_j^2 E_j)^2],
    mu*    = -sum_i h_i (1 - alpha* h_i) E_i / sum_i h_i A(v_i);
the sign of mu*: -mu* E[theta v] = sigma2 E[theta v]^2 / D >= 0 when D > 0, so mu*
has the sign opposite to E[theta v] when sigma2 > 0; with sigma2 = 0, mu* = 0.
"""
import sympy as sp

from shb.proofs import coordinates
from shb.proofs.kernel import Identity, Nonnegative, Positive, Solves, Square, Substitutes
from shb.proofs.notation import eq, tex
from shb.symbolic import greedy, model

THEOREM = "Theorem 2"
CITES = "Theorem 2; Eq. 15; Appendix A.2.1, A.2.2"
STATEMENT = r"""
The greedy-optimal (one-step horizon) learning rate and momentum minimise the loss after one step, Eq. 15
summed over coordinates:
$$\alpha^* = \frac{\sum_i h_i^2 A(\theta_i)\sum_j h_j A(v_j) - \sum_j h_j\mathbb{E}[\theta_j v_j]\sum_i h_i^2\mathbb{E}[\theta_i v_i]}
{\sum_i h_i^3 (A(\theta_i) + \sigma_i^2)\sum_j h_j A(v_j) - \left(\sum_j h_j^2\mathbb{E}[\theta_j v_j]\right)^2},\qquad
\mu^* = -\frac{\sum_i h_i (1 - \alpha^* h_i)\mathbb{E}[\theta_i v_i]}{\sum_i h_i A(v_i)}.$$
In one dimension $\mu^* = -\sigma^2\mathbb{E}[\theta v]/D$ with $D = A(\theta)A(v) + A(v)\sigma^2 - \mathbb{E}[\theta v]^2$:
when $D > 0$ and $\sigma^2 > 0$ the greedy momentum has the sign opposite to $\mathbb{E}[\theta v]$; when $\sigma^2 = 0$ it is 0.
"""

N_MAX = 4
a, m, h, s2 = model.alpha, model.mu, model.h, model.sigma2
At, Av, E = model.A_theta, model.A_v, model.E_theta_v
D = At * Av + Av * s2 - E**2


def univariate_paper():
    """A.2.1's (alpha*, mu*) with the minus sign of mu* restored."""
    alpha_star = (At * Av - E**2) / (h * (Av * (At + s2) - E**2))
    return alpha_star, -(1 - alpha_star * h) * E / Av


def multivariate_paper(n):
    """Theorem 2's printed (alpha*, mu*) over n coordinates, minus signs restored."""
    def S(f):
        return coordinates.sigma(f, n)
    H, A_t, A_v, Ev, S2 = model.h, model.A_theta, model.A_v, model.E_theta_v, model.sigma2
    num = S(lambda c: c[H] ** 2 * c[A_t]) * S(lambda c: c[H] * c[A_v]) \
        - S(lambda c: c[H] * c[Ev]) * S(lambda c: c[H] ** 2 * c[Ev])
    den = S(lambda c: c[H] ** 3 * (c[A_t] + c[S2])) * S(lambda c: c[H] * c[A_v]) \
        - S(lambda c: c[H] ** 2 * c[Ev]) ** 2
    alpha_star = num / den
    mu_star = -S(lambda c: c[H] * (1 - alpha_star * c[H]) * c[Ev]) / S(lambda c: c[H] * c[A_v])
    return alpha_star, mu_star


def steps():
    yield from univariate_steps()
    yield from quadratic_steps()
    for n in range(1, N_MAX + 1):
        yield from multivariate_steps(n)
    yield from sign_steps()


def univariate_steps():
    loss = greedy.one_step_loss()
    d_alpha, d_mu = (sp.diff(loss, x) for x in greedy.X)
    printed_alpha = h * (-(1 - a * h) * At * h - m * h * E + a * (h**2) * s2)
    printed_mu = h * (m * Av + (1 - a * h) * E)
    yield Identity("A.2.1: dL/dalpha", "dL/dalpha = h [-(1 - alpha h) A(theta) h - mu h E[theta v] + alpha h^2 sigma2].",
                   d_alpha, printed_alpha, latex=eq("\\partial_\\alpha\\mathcal{L}^{(t+1)}", printed_alpha))
    yield Identity("A.2.1: dL/dmu", "dL/dmu = h [mu A(v) + (1 - alpha h) E[theta v]].",
                   d_mu, printed_mu, latex=eq("\\partial_\\mu\\mathcal{L}^{(t+1)}", printed_mu))
    alpha_star, mu_star = univariate_paper()
    yield Solves("A.2.1: stationary point", "(alpha*, mu*) of A.2.1 is the unique solution of the stationarity conditions.",
                 [d_alpha, d_mu], greedy.X, {a: alpha_star, m: mu_star})
    engine_alpha, engine_mu = greedy.greedy_univariate()
    yield Identity("A.2.1: engine alpha*", "The engine's univariate alpha* equals A.2.1's.", engine_alpha, alpha_star,
                   latex=eq("\\alpha^*", alpha_star))
    yield Identity("A.2.1: engine mu* (minus sign restored)", "The engine's mu* equals -(1 - alpha* h) E[theta v] / A(v).",
                   engine_mu, mu_star, latex="\\mu^* = -\\frac{(1 - \\alpha^* h)\\mathbb{E}[\\theta v]}{A(v)}")
    yield Identity("A.2.1: mu* closed form", "mu* = -E[theta v] sigma2 / D.", engine_mu, -E * s2 / D,
                   latex=eq("\\mu^*", -E * s2 / sp.Symbol("D")))


def quadratic_steps():
    """Eq. 15 is exactly quadratic in (alpha, mu) with the engine's H_i, g_i; x* = -H^{-1} g."""
    loss = greedy.one_step_loss()
    terms = greedy.per_coordinate_terms()
    x = sp.Matrix(greedy.X)
    H = sp.Matrix([[terms[greedy.H_aa], terms[greedy.H_am]], [terms[greedy.H_am], terms[greedy.H_mm]]])
    g = sp.Matrix([terms[greedy.g_a], terms[greedy.g_m]])
    quadratic = loss.subs({a: 0, m: 0}) + (g.T * x)[0] + (x.T * H * x)[0] / 2
    yield Identity("Eq. 15 is quadratic in (alpha, mu)", "L_i(x) = L_i(0) + g_i.x + 1/2 x^T H_i x, exactly.",
                   loss, quadratic, latex="\\mathcal{L}_i(x) = \\mathcal{L}_i(0) + g_i^\\top x + \\tfrac12 x^\\top H_i x,\\quad "
                   + f"H_i = {tex(H)},\\ g_i = {tex(g)}")
    HS = sp.Matrix([[greedy.H_aa, greedy.H_am], [greedy.H_am, greedy.H_mm]])
    gS = sp.Matrix([greedy.g_a, greedy.g_m])
    alpha_s, mu_s = greedy.greedy_from_sums()
    yield Solves("x* = -H^{-1} g", "The engine's (alpha*, mu*) in the five sums solves H x + g = 0.",
                 list(HS * x + gS), greedy.X, {a: alpha_s, m: mu_s})


def multivariate_steps(n):
    alpha_p, mu_p = multivariate_paper(n)
    sums = coordinates.sums(n)
    alpha_e, mu_e = (sp.sympify(e).subs(sums, simultaneous=True) for e in greedy.greedy_from_sums())
    yield Identity(f"A.2.2: alpha* (n = {n})", f"Theorem 2's printed alpha* equals the engine's -H^-1 g for n = {n}.",
                   alpha_p, alpha_e, latex=f"\\alpha^*_{{\\text{{Theorem 2}}}} = [-H^{{-1}}g]_\\alpha,\\quad n = {n}")
    yield Identity(f"A.2.2: mu* (n = {n}, minus sign restored)",
                   f"Theorem 2's mu* with its minus sign equals the engine's -H^-1 g for n = {n}.",
                   mu_p, mu_e, latex=f"\\mu^*_{{\\text{{Theorem 2}}}} = [-H^{{-1}}g]_\\mu,\\quad n = {n}")
    loss = coordinates.summed_loss(n)
    yield Solves(f"A.2.2: stationary point (n = {n})",
                 f"Theorem 2's (alpha*, mu*) solves dL/dalpha = dL/dmu = 0 for the loss summed over n = {n} coordinates.",
                 [sp.diff(loss, x) for x in greedy.X], greedy.X, {a: alpha_p, m: mu_p},
                 latex=f"\\nabla_{{(\\alpha,\\mu)}}\\textstyle\\sum_{{i=1}}^{{{n}}}\\mathcal{{L}}_i(\\alpha^*, \\mu^*) = 0")


def sign_steps():
    _, mu_star = greedy.greedy_univariate()
    hessian, _ = greedy.quadratic_form()
    yield Identity("D = det H / h^4", "D = A(theta) A(v) + A(v) sigma2 - E[theta v]^2 is det H / h^4 (>= 0, Convexity).",
                   hessian.det(), h**4 * D, latex=eq("\\det H", h**4 * D))
    yield Nonnegative("sign of mu*: -mu* E[theta v] >= 0", "Whenever D > 0, mu* E[theta v] <= 0.",
                      -mu_star * E, [Square(s2, E)], hypotheses=[D])
    yield Positive("sign of mu*: strictly opposite to E[theta v]",
                   "Whenever D > 0 and sigma2 > 0, -mu*/E[theta v] > 0: mu* is nonzero with the sign opposite to E[theta v].",
                   -mu_star / E, hypotheses=[D], assume={s2: {"positive": True}})
    alpha_star, _ = greedy.greedy_univariate()
    yield Substitutes("deterministic: mu* = 0", "With sigma2 = 0 the univariate greedy momentum is 0.",
                      mu_star, {s2: 0}, 0)
    yield Substitutes("deterministic: alpha* = 1/h", "With sigma2 = 0 the univariate greedy learning rate is 1/h.",
                      alpha_star, {s2: 0}, 1 / h)
