"""Theorem 1: the mean and variance dynamics of SGD with momentum on the NQM.

Taking expectations of the update in `model.update` (Appendix A.1):

    E[theta'], E[v'] are the expectations of theta', v';
    V[x'] = E[x'^2] - E[x']^2,  Cov(theta', v') = E[theta' v'] - E[theta'] E[v'].
"""
import sympy as sp

from shb.symbolic import model


def theorem1():
    """The five next-step statistics (Theorem 1), as expressions in model.STATE, alpha, mu, h, sigma2."""
    theta1, v1 = model.update()
    mean_theta1 = model.expect(theta1)
    mean_v1 = model.expect(v1)
    return {
        "mean_theta": mean_theta1,
        "mean_v": mean_v1,
        "var_theta": sp.expand(model.expect(theta1**2) - mean_theta1**2),
        "var_v": sp.expand(model.expect(v1**2) - mean_v1**2),
        "cov_theta_v": sp.expand(model.expect(theta1 * v1) - mean_theta1 * mean_v1),
    }


def excess_loss_component(mean_theta=model.mean_theta, var_theta=model.var_theta):
    """Eq. 6 without its constant: 1/2 h (E[theta]^2 + V[theta])."""
    return model.h * (mean_theta**2 + var_theta) / 2


def raw_loss_component():
    """(1/2 h A(theta), its derivative in A(theta)): Eq. 6 with V[theta] = A(theta) - E[theta]^2."""
    loss = sp.expand(excess_loss_component().subs(model.var_theta, model.A_theta - model.mean_theta**2))
    if loss.has(model.mean_theta):
        raise ValueError(f"the excess loss is not a function of A(theta) alone: {loss}")
    return loss, sp.diff(loss, model.A_theta)
