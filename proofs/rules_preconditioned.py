"""Diagonal preconditioning: SGD in a preconditioned space (Section 2.1), checked on the NQM.

The rule v' = mu v - alpha p g(theta), theta' = theta + v' with a fixed p > 0 per coordinate:
  * is heavy ball with alpha -> alpha p, update and Theorem 1 alike;
  * in the coordinates phi = theta / sqrt(p), u = v / sqrt(p) it is heavy ball on an NQM with curvature
    p h and noise variance sigma2 / p, and the excess loss is unchanged: 1/2 h theta^2 = 1/2 (p h) phi^2.
    This is the paper's "performing SGD in a preconditioned space" (Section 2.1): the stochastic loss
    1/2 h (theta - c)^2 is 1/2 (p h)(phi - c / sqrt(p))^2 and c / sqrt(p) has variance sigma2 / p;
  * with the paper's noise sigma2 = s / h and the inverse-curvature preconditioner p = 1/h the transformed
    problem has curvature 1 and noise variance s in every coordinate: the spherical case of Section 2.2.4,
    where the greedy schedule is optimal (no short-horizon bias).
"""
import sympy as sp

from shb.proofs.kernel import Identity, Substitutes
from shb.symbolic import dynamics, model, rule_moments
from shb.symbolic.optimizers.preconditioned import RULE as PRECONDITIONED, p

THEOREM = "Rules: preconditioning"
CITES = "Section 2.1 (SGD in a preconditioned space); Section 2.2.4 (spherical case); Theorem 1"
STATEMENT = r"""
Preconditioned heavy ball $v' = \mu v - \alpha p\, g(\theta)$ is heavy ball with $\alpha p$; in
$\phi = \theta/\sqrt{p}$ it is heavy ball on the NQM with curvature $p h$ and noise variance $\sigma^2/p$ at
the same loss, and with $\sigma^2 = s/h$, $p = 1/h$ that NQM is spherical.
"""

a, m, h, s2 = model.alpha, model.mu, model.h, model.sigma2


def steps():
    theta1, v1 = PRECONDITIONED.next_state()
    yield Substitutes("heavy ball with alpha p", "The update is heavy ball's with alpha -> alpha p.",
                      sp.Matrix(model.update()), {a: a * p}, sp.Matrix([theta1, v1]),
                      latex=r"\left.(\theta', v')_{\text{HB}}\right|_{\alpha \to \alpha p} = (\theta', v')_{\text{pre}}")
    th1 = dynamics.theorem1()
    yield Substitutes("Theorem 1 with alpha p", "The means and covariances step is Theorem 1 with alpha -> alpha p.",
                      sp.Matrix([th1[k] for k in ("mean_theta", "mean_v", "var_theta", "var_v", "cov_theta_v")]),
                      {a: a * p}, sp.Matrix(rule_moments.central_step(PRECONDITIONED)),
                      latex=r"\text{Theorem 1}\big|_{\alpha \to \alpha p}")
    phi, u = sp.symbols("phi u", real=True)
    root = sp.sqrt(p)
    in_phi = {model.theta: root * phi, model.v: root * u}
    transformed = sp.Matrix([theta1, v1]).subs(in_phi, simultaneous=True) / root
    nqm_phi = sp.Matrix(model.update(theta=phi, v=u)).subs({h: p * h, s2: s2 / p}, simultaneous=True)
    yield Identity("SGD in a preconditioned space", "(theta', v') / sqrt(p) at theta = sqrt(p) phi, v = sqrt(p) u is heavy ball on "
                   "(phi, u) with curvature p h and noise variance sigma2 / p.", transformed, nqm_phi,
                   latex=r"\phi' = \phi + u',\ u' = \mu u - \alpha\,(p h)\big(\phi - \sqrt{\sigma^2/p}\,\xi\big)")
    c = sp.Symbol("c", real=True)
    yield Identity("the stochastic loss is unchanged", "1/2 h (theta - c)^2 = 1/2 (p h)(phi - c / sqrt(p))^2 at theta = sqrt(p) phi.",
                   (h * (model.theta - c) ** 2 / 2).subs(model.theta, root * phi), p * h * (phi - c / root) ** 2 / 2,
                   latex=r"\tfrac12 h(\theta - c)^2 = \tfrac12 (p h)(\phi - c/\sqrt{p})^2")
    yield Identity("its noise variance", "c / sqrt(p) with c = sigma xi has variance sigma2 / p.",
                   model.expect((sp.sqrt(s2) * model.xi / root) ** 2), s2 / p, latex=r"\mathbb{V}[c/\sqrt{p}] = \sigma^2/p")
    s = sp.Symbol("s", positive=True)
    yield Substitutes("inverse curvature makes the NQM spherical",
                      "With sigma2 = s / h and p = 1/h: curvature p h = 1 and noise variance sigma2 / p = s in every coordinate.",
                      sp.Matrix([p * h, s2 / p]), {p: 1 / h, s2: s / h}, sp.Matrix([1, s]),
                      latex=r"\left.(p h,\ \sigma^2/p)\right|_{p = 1/h,\ \sigma^2 = s/h} = (1,\ s)")
