"""Theorem 1 (mean and variance dynamics), derived from the stochastic update (Appendix A.1, Eqs. 10-14).

The engine takes expectations of theta' = theta + v', v' = mu v - alpha (h theta - h sigma xi)
(symbolic.dynamics.theorem1). Each step checks one printed recurrence, with the
minus signs the extracted text lost restored by derivation:

    E[v']      = mu E[v] - alpha h E[theta]                                  (Eq. 10)
    E[theta']  = E[theta] + E[v']                                            (Eq. 11)
    V[v']      = V[mu v - alpha h theta] + (alpha h sigma)^2
               = mu^2 V[v] + (alpha h)^2 V[theta] - 2 mu alpha h Cov + (alpha h sigma)^2   (Eq. 12)
    V[theta']  = V[theta] + V[v'] + 2 (mu Cov - alpha h V[theta])            (Eq. 13)
               = (1 - 2 alpha h) V[theta] + V[v'] + 2 mu Cov                 (Theorem 1)
    Cov'       = Cov(theta, v') + V[v'] = mu Cov - alpha h V[theta] + V[v']  (Eq. 14)

and that the excess loss 1/2 h E[theta'^2] = 1/2 h (E[theta']^2 + V[theta']) is
Eq. 15 once the raw moments A(theta), A(v), E[theta v] are substituted.
"""
import sympy as sp

from shb.proofs.kernel import Identity, Substitutes
from shb.proofs.notation import eq
from shb.symbolic import dynamics, greedy, model

THEOREM = "Theorem 1"
CITES = "Theorem 1; Eqs. 10-14; Eq. 15; Appendix A.1, A.2.1"
STATEMENT = r"""
With $\Sigma_{\theta,v} = \mathrm{Cov}(\theta, v)$, one step of SGD with momentum on the NQM maps the
statistics as
$\mathbb{E}[v'] = \mu\mathbb{E}[v] - \alpha h\mathbb{E}[\theta]$,
$\mathbb{E}[\theta'] = \mathbb{E}[\theta] + \mathbb{E}[v']$,
$\mathbb{V}[v'] = \mu^2\mathbb{V}[v] + (\alpha h)^2\mathbb{V}[\theta] - 2\mu\alpha h\Sigma_{\theta,v} + (\alpha h\sigma)^2$,
$\mathbb{V}[\theta'] = (1 - 2\alpha h)\mathbb{V}[\theta] + \mathbb{V}[v'] + 2\mu\Sigma_{\theta,v}$,
$\Sigma'_{\theta,v} = \mu\Sigma_{\theta,v} - \alpha h\mathbb{V}[\theta] + \mathbb{V}[v']$.
"""

a, m, h, s2 = model.alpha, model.mu, model.h, model.sigma2
Et, Ev, Vt, Vv, C = model.mean_theta, model.mean_v, model.var_theta, model.var_v, model.cov_theta_v


def variance(x):
    """V[x] = E[x^2] - E[x]^2 with the engine's expectation (central statistics)."""
    return sp.expand(model.expect(x**2) - model.expect(x) ** 2)


def covariance(x, y):
    return sp.expand(model.expect(x * y) - model.expect(x) * model.expect(y))


def paper():
    """The printed recurrences of Theorem 1 / Eqs. 10-14, signs restored."""
    mean_v = m * Ev - a * h * Et
    var_v = m**2 * Vv + (a * h) ** 2 * Vt - 2 * m * a * h * C + (a * h) ** 2 * s2
    return {
        "mean_v": mean_v,
        "mean_theta": Et + mean_v,
        "var_v": var_v,
        "var_theta_eq13": Vt + var_v + 2 * (m * C - a * h * Vt),
        "var_theta": (1 - 2 * a * h) * Vt + var_v + 2 * m * C,
        "cov_theta_v": m * C - a * h * Vt + var_v,
    }


def steps():
    stats = dynamics.theorem1()
    printed = paper()
    theta1, v1 = model.update()
    yield Identity("Eq. 10: E[v']", "The mean velocity recurrence.", stats["mean_v"], printed["mean_v"],
                   latex=eq("\\mathbb{E}[v']", printed["mean_v"]))
    yield Identity("Eq. 11: E[theta']", "E[theta'] = E[theta] + E[v'].", stats["mean_theta"], printed["mean_theta"],
                   latex="\\mathbb{E}[\\theta'] = \\mathbb{E}[\\theta] + \\mathbb{E}[v']")
    noiseless = m * model.v - a * h * model.theta
    yield Identity("Eq. 12, first line", "V[v'] = V[mu v - alpha h theta] + (alpha h sigma)^2: the noise is independent.",
                   stats["var_v"], variance(noiseless) + (a * h) ** 2 * s2,
                   latex="\\mathbb{V}[v'] = \\mathbb{V}[\\mu v - \\alpha h\\theta] + (\\alpha h\\sigma)^2")
    yield Identity("Eq. 12: V[v']", "The velocity variance recurrence.", stats["var_v"], printed["var_v"],
                   latex=eq("\\mathbb{V}[v']", printed["var_v"]))
    yield Identity("Eq. 13: V[theta']", "V[theta'] = V[theta] + V[v'] + 2 (mu Cov - alpha h V[theta]).",
                   stats["var_theta"], printed["var_theta_eq13"],
                   latex="\\mathbb{V}[\\theta'] = \\mathbb{V}[\\theta] + \\mathbb{V}[v'] + 2(\\mu\\Sigma_{\\theta,v} - \\alpha h\\mathbb{V}[\\theta])")
    yield Identity("Theorem 1: V[theta']", "V[theta'] = (1 - 2 alpha h) V[theta] + V[v'] + 2 mu Cov.",
                   stats["var_theta"], printed["var_theta"],
                   latex="\\mathbb{V}[\\theta'] = (1 - 2\\alpha h)\\mathbb{V}[\\theta] + \\mathbb{V}[v'] + 2\\mu\\Sigma_{\\theta,v}")
    yield Identity("Eq. 14, first lines", "Cov(theta', v') = Cov(theta, v') + V[v'].",
                   stats["cov_theta_v"], covariance(model.theta, v1) + stats["var_v"],
                   latex="\\Sigma_{\\theta',v'} = \\mathrm{Cov}(\\theta, v') + \\mathbb{V}[v']")
    yield Identity("Eq. 14: Cov(theta', v')", "Cov' = mu Cov - alpha h V[theta] + V[v'].",
                   stats["cov_theta_v"], printed["cov_theta_v"],
                   latex="\\Sigma_{\\theta',v'} = \\mu\\Sigma_{\\theta,v} - \\alpha h\\mathbb{V}[\\theta] + \\mathbb{V}[v']")
    yield from loss_steps(stats, theta1)


def loss_steps(stats, theta1):
    """Appendix A.2.1: from Eq. 6 at step t+1 to Eq. 15."""
    excess = dynamics.excess_loss_component(stats["mean_theta"], stats["var_theta"])
    yield Identity("excess loss is 1/2 h E[theta'^2]", "1/2 h (E[theta']^2 + V[theta']) = 1/2 h E[theta'^2].",
                   excess, h * model.expect(theta1**2) / 2,
                   latex="\\tfrac12 h(\\mathbb{E}[\\theta']^2 + \\mathbb{V}[\\theta']) = \\tfrac12 h\\,\\mathbb{E}[\\theta'^2]")
    regrouped = h / 2 * (((1 - a * h) * Et + m * Ev) ** 2 + (1 - a * h) ** 2 * Vt + m**2 * Vv
                         + 2 * m * (1 - a * h) * C + (a * h) ** 2 * s2)
    yield Identity("Appendix A.2.1 regrouped loss", "The loss after one step, grouped into mean and variance parts.",
                   excess, regrouped, latex=eq("\\mathcal{L}^{(t+1)}", regrouped))
    yield Substitutes("Eq. 15 from raw moments",
                      "Eq. 15 with A(theta) = E[theta]^2 + V[theta], A(v) = E[v]^2 + V[v], "
                      "E[theta v] = E[theta]E[v] + Cov equals the excess loss after one step.",
                      greedy.one_step_loss(), model.raw_from_central(), excess)
