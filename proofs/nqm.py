"""The noisy quadratic model (Section 2.2.2, Eqs. 1-6): the engine's update is SGD with momentum on Eq. 3.

Stochastic loss (Eq. 3) of one coordinate: Lhat(theta) = 1/2 h (theta - c)^2,
c ~ N(0, sigma2), i.e. c = sqrt(sigma2) xi. Checked here:
  * its gradient is the engine's stochastic gradient h theta - h sqrt(sigma2) xi;
  * the engine's update is Eqs. 1-2 with that gradient;
  * Appendix A.1's one-line form theta' = (1 - alpha h) theta + mu v + alpha h sigma xi;
  * Eqs. 5-6: E[Lhat(theta)] = 1/2 h (E[theta]^2 + V[theta] + sigma2).
"""
import sympy as sp

from shb.proofs.kernel import Identity
from shb.proofs.notation import eq
from shb.symbolic import model

THEOREM = "Noisy quadratic model"
CITES = "Eqs. 1-6; Appendix A.1"
STATEMENT = r"""
Each coordinate sees the stochastic loss $\hat{\mathcal{L}}(\theta) = \tfrac12 h (\theta - c)^2$ with
$c \sim \mathcal{N}(0, \sigma^2)$ (Eq. 3, $\theta^* = 0$), and SGD with momentum (Eqs. 1-2) is
$v' = \mu v - \alpha \nabla\hat{\mathcal{L}}(\theta)$, $\theta' = \theta + v'$. The expected loss is
$\mathbb{E}[\hat{\mathcal{L}}(\theta)] = \tfrac12 h (\mathbb{E}[\theta]^2 + \mathbb{V}[\theta] + \sigma^2)$ (Eqs. 5-6).
"""

c = sp.Symbol("c", real=True)


def stochastic_loss(noise=c):
    """Eq. 3 for one coordinate."""
    return model.h * (model.theta - noise) ** 2 / 2


def steps():
    noise = sp.sqrt(model.sigma2) * model.xi
    gradient = sp.diff(stochastic_loss(), model.theta).subs(c, noise)
    _, v_plain = model.update(alpha=1, mu=0)
    yield Identity(
        "stochastic gradient", "The gradient of Eq. 3 with c = sigma xi is the engine's stochastic gradient.",
        gradient, -v_plain,
        latex=eq("\\partial_\\theta \\hat{\\mathcal{L}}(\\theta)\\big|_{c = \\sigma\\xi}", -v_plain))
    theta1, v1 = model.update()
    yield Identity(
        "update is Eqs. 1-2", "The engine's update is v' = mu v - alpha grad, theta' = theta + v' (Eqs. 1-2).",
        sp.Matrix([theta1, v1]),
        sp.Matrix([model.theta + model.mu * model.v - model.alpha * gradient,
                   model.mu * model.v - model.alpha * gradient]),
        latex="\\theta' = \\theta + \\mu v - \\alpha\\,\\partial_\\theta\\hat{\\mathcal{L}},\\quad v' = \\mu v - \\alpha\\,\\partial_\\theta\\hat{\\mathcal{L}}")
    one_line = (1 - model.alpha * model.h) * model.theta + model.mu * model.v + model.alpha * model.h * noise
    yield Identity(
        "Appendix A.1 one-line update (alpha restored on the noise)",
        "theta' = (1 - alpha h) theta + mu v + alpha h sigma xi: the noise carries the factor alpha.",
        theta1, one_line, latex=eq("\\theta'", one_line))
    expected = model.expect(stochastic_loss(noise))
    eq6 = model.h * (model.mean_theta**2 + model.var_theta + model.sigma2) / 2
    yield Identity(
        "Eqs. 5-6 expected loss", "E[Lhat(theta)] = 1/2 h (E[theta]^2 + V[theta] + sigma2), c independent of theta.",
        expected, eq6, latex=eq("\\mathbb{E}[\\hat{\\mathcal{L}}(\\theta)]", eq6))
