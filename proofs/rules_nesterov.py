"""Nesterov momentum: the form implemented is Sutskever et al. 2013's, and its Theorem 1 on the NQM.

Sutskever, Martens, Dahl & Hinton (ICML 2013), Eqs. 3-4 (the form the paper's Eqs. 1-2 follow for heavy ball):

    v' = mu v - alpha grad f(theta + mu v),    theta' = theta + v'.

Checked here with an abstract gradient g (an undefined SymPy function, so nothing about the NQM is used):
  * the rule is that definition;
  * it is Nesterov's (1983) "gradient step from the extrapolated point": theta' = y - alpha g(y) with
    y = theta + mu (theta - theta_prev), since v = theta - theta_prev is the last step (v' = theta' - theta);
  * in the look-ahead variable phi = theta + mu v (Bengio, Boulanger-Lewandowski & Pascanu 2013; the form of
    common deep-learning libraries), for a constant mu: phi' = phi + mu^2 v - (1 + mu) alpha g(phi), the
    gradient taken at the iterate the library stores;
  * it differs from heavy ball only by the look-ahead correction -alpha (g(theta + mu v) - g(theta)), which
    on the NQM is -alpha h mu v; at mu = 0 both are SGD.
On the NQM, theta' = (1 - alpha h)(theta + mu v) + alpha h sigma xi, so its Theorem 1 reads
E[v'] = mu (1 - alpha h) E[v] - alpha h E[theta],
V[theta'] = (1 - alpha h)^2 (V[theta] + 2 mu Cov + mu^2 V[v]) + (alpha h)^2 sigma2, and the one-step loss
has the term 1/2 h^3 A(v) alpha^2 mu^2: not a quadratic in (alpha, mu) where A(v) > 0, so only the greedy
alpha at a given mu is derived (symbolic/rule_greedy.py).
"""
import sympy as sp

from shb.proofs.kernel import Identity, Positive, Solves, Substitutes
from shb.symbolic import greedy, model, rule_greedy, rule_moments
from shb.symbolic.optimizers.heavy_ball import RULE as HEAVY_BALL
from shb.symbolic.optimizers.nesterov import RULE as NESTEROV

THEOREM = "Rules: Nesterov momentum"
CITES = "Sutskever et al. 2013, Eqs. 3-4; Nesterov 1983; Bengio et al. 2013; Theorem 1 and Eq. 15 analogues"
STATEMENT = r"""
The rule $v' = \mu v - \alpha g(\theta + \mu v)$, $\theta' = \theta + v'$ is Sutskever et al.'s Nesterov
momentum, equals $\theta' = y - \alpha g(y)$ at $y = \theta + \mu(\theta - \theta_{\text{prev}})$, and in the
look-ahead variable $\phi = \theta + \mu v$ reads $\phi' = \phi + \mu^2 v - (1 + \mu)\alpha g(\phi)$. On the NQM
$\theta' = (1 - \alpha h)(\theta + \mu v) + \alpha h \sigma\xi$, and its one-step loss has the term
$\tfrac12 h^3 A(v)\,\alpha^2\mu^2$.
"""

a, m, h, s2 = model.alpha, model.mu, model.h, model.sigma2
theta, v = model.theta, model.v
g = sp.Function("g")  # an abstract (stochastic) gradient oracle


def steps():
    theta1, v1 = NESTEROV.next_state(g)
    v_textbook = m * v - a * g(theta + m * v)
    yield Identity("Sutskever et al. 2013, Eqs. 3-4", "v' = mu v - alpha g(theta + mu v), theta' = theta + v'.",
                   sp.Matrix([theta1, v1]), sp.Matrix([theta + v_textbook, v_textbook]),
                   latex=r"v' = \mu v - \alpha g(\theta + \mu v),\quad \theta' = \theta + v'")
    theta_prev = sp.Symbol("theta_prev", real=True)
    y = theta + m * (theta - theta_prev)
    yield Substitutes("Nesterov 1983 form", "With v = theta - theta_prev: theta' = y - alpha g(y), y = theta + mu (theta - theta_prev).",
                      theta1, {v: theta - theta_prev}, y - a * g(y),
                      latex=r"\theta' = y - \alpha g(y),\ y = \theta + \mu(\theta - \theta_{\text{prev}})")
    yield Identity("velocity is the last step", "v' = theta' - theta.", v1, theta1 - theta, latex=r"v' = \theta' - \theta")
    phi = theta + m * v
    yield Identity("look-ahead form (Bengio et al. 2013)", "phi' = theta' + mu v' = phi + mu^2 v - (1 + mu) alpha g(phi) for a constant mu.",
                   theta1 + m * v1, phi + m**2 * v - (1 + m) * a * g(phi),
                   latex=r"\phi' = \phi + \mu^2 v - (1 + \mu)\alpha g(\phi),\ \phi = \theta + \mu v")
    hb_theta1, _ = HEAVY_BALL.next_state(g)
    yield Identity("look-ahead correction", "theta'_Nesterov - theta'_heavy ball = -alpha (g(theta + mu v) - g(theta)).",
                   theta1 - hb_theta1, -a * (g(theta + m * v) - g(theta)),
                   latex=r"\theta'_{\text{N}} - \theta'_{\text{HB}} = -\alpha\,(g(\theta + \mu v) - g(\theta))")
    nqm_theta1, nqm_v1 = NESTEROV.next_state()
    hb_nqm = HEAVY_BALL.next_state()
    yield Identity("correction on the NQM", "On the NQM the correction is -alpha h mu v.", nqm_theta1 - hb_nqm[0], -a * h * m * v,
                   latex=r"\theta'_{\text{N}} - \theta'_{\text{HB}} = -\alpha h \mu v")
    yield Substitutes("mu = 0 is SGD", "Without momentum Nesterov and heavy ball take the same step.",
                      sp.Matrix([nqm_theta1, nqm_v1]), {m: 0}, sp.Matrix(hb_nqm).subs(m, 0),
                      latex=r"\left.(\theta', v')_{\text{N}}\right|_{\mu=0} = \left.(\theta', v')_{\text{HB}}\right|_{\mu=0}")
    one_line = (1 - a * h) * (theta + m * v) + a * h * sp.sqrt(s2) * model.xi
    yield Identity("one-line update", "theta' = (1 - alpha h)(theta + mu v) + alpha h sigma xi.", nqm_theta1, one_line,
                   latex=r"\theta' = (1 - \alpha h)(\theta + \mu v) + \alpha h\sigma\xi")
    yield from theorem1_steps()
    yield from greedy_steps()


def theorem1_steps():
    stats = dict(zip(rule_moments.central_symbols(NESTEROV), rule_moments.central_step(NESTEROV)))
    Et, Ev, Vt, Vv, C = model.STATE
    yield Identity("E[v']", "E[v'] = mu (1 - alpha h) E[v] - alpha h E[theta].", stats[Ev], m * (1 - a * h) * Ev - a * h * Et,
                   latex=r"\mathbb{E}[v'] = \mu(1 - \alpha h)\mathbb{E}[v] - \alpha h\mathbb{E}[\theta]")
    yield Identity("E[theta']", "E[theta'] = (1 - alpha h)(E[theta] + mu E[v]).", stats[Et], (1 - a * h) * (Et + m * Ev),
                   latex=r"\mathbb{E}[\theta'] = (1 - \alpha h)(\mathbb{E}[\theta] + \mu\mathbb{E}[v])")
    var_theta = (1 - a * h) ** 2 * (Vt + 2 * m * C + m**2 * Vv) + (a * h) ** 2 * s2
    yield Identity("V[theta']", "V[theta'] = (1 - alpha h)^2 V[theta + mu v] + (alpha h)^2 sigma2.", stats[Vt], var_theta,
                   latex=r"\mathbb{V}[\theta'] = (1 - \alpha h)^2(\mathbb{V}[\theta] + 2\mu\Sigma_{\theta,v} + \mu^2\mathbb{V}[v]) + (\alpha h)^2\sigma^2")
    deterministic = -a * h * model.theta + m * (1 - a * h) * model.v
    var_v = sp.expand(model.expect(deterministic**2) - model.expect(deterministic) ** 2) + (a * h) ** 2 * s2
    yield Identity("V[v']", "V[v'] = V[-alpha h theta + mu (1 - alpha h) v] + (alpha h sigma)^2.", stats[Vv], var_v,
                   latex=r"\mathbb{V}[v'] = \mathbb{V}[-\alpha h\theta + \mu(1 - \alpha h)v] + (\alpha h\sigma)^2")
    yield Identity("Cov(theta', v')", "Cov(theta', v') = V[theta'] - Cov(theta, theta') (since v' = theta' - theta).",
                   stats[C], stats[Vt] - (1 - a * h) * (Vt + m * C),
                   latex=r"\Sigma_{\theta',v'} = \mathbb{V}[\theta'] - \mathrm{Cov}(\theta, \theta')")


def greedy_steps():
    coefficient = rule_greedy.cross_coefficient(NESTEROV)
    yield Identity("alpha^2 mu^2 term", "The one-step loss's alpha^2 mu^2 coefficient is 1/2 h^3 A(v).", coefficient,
                   h**3 * model.A_v / 2, latex=r"[\alpha^2\mu^2]\,\mathcal{L}_i = \tfrac12 h^3 A(v)")
    yield Positive("not a quadratic in (alpha, mu)", "The coefficient is > 0 wherever A(v) > 0: the loss is quartic jointly.",
                   coefficient, assume={model.A_v: {"positive": True}})
    terms = dict(rule_greedy.greedy_step(NESTEROV).terms)
    loss = rule_moments.one_step_loss(NESTEROV)
    alpha_star = greedy.greedy_sgd_from_sums().subs({greedy.H_aa: terms[greedy.H_aa], greedy.g_a: terms[greedy.g_a]})
    yield Solves("greedy alpha at a given mu", "alpha* = -g_a / H_aa is the stationary point of one coordinate's loss in alpha.",
                 [sp.diff(loss, a)], [a], {a: alpha_star}, latex=r"\partial_\alpha\mathcal{L}_i(\alpha^*, \mu) = 0")
