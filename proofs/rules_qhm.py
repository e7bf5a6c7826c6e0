"""Quasi-hyperbolic momentum (symbolic/optimizers/qhm.py) reduces to the two optimizers it interpolates.

QHM's update (Ma & Yarats 2019, Eq. 2): v' = mu v + (1 - mu) g(theta), theta' = theta - alpha ((1 - nu) g + nu v').
Checked from the rule's own update, with the NQM's stochastic gradient g(x) = h x - h sqrt(sigma2) xi:

  * nu = 0 is plain SGD: theta' = theta - alpha g(theta), whatever v;
  * nu = 1 is heavy ball with alpha (1 - mu) for alpha: with the buffer scaled as heavy ball's velocity, u = -alpha v,
    one QHM step from (theta, v) and one heavy-ball step with learning rate alpha (1 - mu) from (theta, u) reach the
    same theta', and heavy ball's u' is -alpha v' (for a constant alpha, the map carries over to every step);
  * the same for the moments: at nu = 1 the mean of theta after a step is heavy ball's Theorem 1 at alpha (1 - mu)
    with E[v] replaced by -alpha E[v];
  * the greedy step is the greedy alpha at a given mu: the one-step loss has an alpha^2 mu^2 term, 1/2 h nu^2 times
    E[(h theta - v)^2] + h^2 sigma2, positive for nu > 0 with noise.
"""
import sympy as sp

from shb.proofs.kernel import Identity, Positive
from shb.symbolic import model, rule_greedy, rule_moments
from shb.symbolic.optimizers.heavy_ball import RULE as HEAVY_BALL
from shb.symbolic.optimizers.qhm import RULE as QHM, nu
from shb.symbolic.rules import expect, raw_moment_table

THEOREM = "Rules: quasi-hyperbolic momentum"
CITES = "Ma & Yarats 2019, Eq. 2 and Section 3"
STATEMENT = r"""
With $v' = \mu v + (1 - \mu) g$ and $\theta' = \theta - \alpha((1 - \nu) g + \nu v')$: $\nu = 0$ gives
$\theta' = \theta - \alpha g$ (SGD), and $\nu = 1$ gives heavy ball with learning rate $\alpha (1 - \mu)$ and velocity
$u = -\alpha v$.
"""


def steps():
    a, m = model.alpha, model.mu
    theta1, v1 = QHM.next_state()
    sgd = model.theta - a * (model.h * model.theta - model.h * sp.sqrt(model.sigma2) * model.xi)
    yield Identity("nu = 0 is SGD", "At nu = 0, theta' = theta - alpha g(theta), v not involved.",
                   theta1.subs(nu, 0), sgd, latex=r"\theta'|_{\nu=0} = \theta - \alpha g(\theta)")
    heavy = HEAVY_BALL.next_state()
    u = sp.Symbol("u", real=True)
    as_heavy_ball = {model.v: u, model.alpha: a * (1 - m)}
    hb_theta, hb_u = (x.subs(as_heavy_ball, simultaneous=True).subs(u, -a * model.v) for x in heavy)
    yield Identity("nu = 1 is heavy ball: theta", "At nu = 1, QHM's theta' = heavy ball's with alpha (1 - mu) and "
                   "velocity -alpha v.", theta1.subs(nu, 1), hb_theta,
                   latex=r"\theta'_{\mathrm{QHM}}|_{\nu=1} = \theta'_{\mathrm{HB}}(\alpha(1-\mu), u = -\alpha v)")
    yield Identity("nu = 1 is heavy ball: velocity", "Heavy ball's new velocity is -alpha times QHM's new buffer.",
                   -a * v1, hb_u, latex=r"u' = -\alpha v'")
    means = rule_moments.mean_step(QHM)
    hb_means = rule_moments.mean_step(HEAVY_BALL)
    mean_v = model.mean_v
    yield Identity("nu = 1, moments", "The mean step at nu = 1 is heavy ball's at alpha (1 - mu), E[u] = -alpha E[v].",
                   means[0].subs(nu, 1),
                   hb_means[0].subs({model.alpha: a * (1 - m), mean_v: -a * mean_v}, simultaneous=True),
                   latex=r"\mathbb{E}[\theta']_{\mathrm{QHM},\nu=1} = \mathbb{E}[\theta']_{\mathrm{HB}}")
    coefficient = rule_greedy.cross_coefficient(QHM)
    square = expect((model.h * model.theta - model.v) ** 2, QHM, raw_moment_table(QHM))
    yield Identity("alpha^2 mu^2 term", "The one-step loss's alpha^2 mu^2 coefficient is 1/2 h nu^2 (E[(h theta - v)^2] "
                   "+ h^2 sigma2).", coefficient, model.h * nu**2 * (square + model.h**2 * model.sigma2) / 2,
                   latex=r"[\alpha^2\mu^2]\,\mathcal{L}_i = \tfrac12 h \nu^2 (\mathbb{E}[(h\theta - v)^2] + h^2\sigma^2)")
    yield Positive("not a quadratic in (alpha, mu)", "Its noise part is > 0 for nu > 0 and sigma2 > 0 (the rest is the "
                   "expectation of a square): the greedy step is the greedy alpha at a given mu.",
                   model.h**3 * nu**2 * model.sigma2 / 2, assume={nu: {"positive": True}, model.sigma2: {"positive": True}})
