"""Online SMD's hyperparameters in the paper's reparameterization (Section 3.3).

    u = (log alpha_eff, log(1 - mu)),   alpha_eff = alpha / (1 - mu),
    alpha = exp(u_0 + u_1),   mu = 1 - exp(u_1),
    d alpha / d u = (alpha, alpha),   d mu / d u = (0, -(1 - mu)).

Adam takes its meta-steps in u (numeric/meta/online_smd.py); the lookahead's tangents are carried with respect to u
(numeric/meta/lookahead.py).
"""
import numpy as np

HYPERS = ("log_alpha_eff", "log_one_minus_mu")


def alpha_mu(u):
    """(alpha, mu) from u = (log alpha_eff, log(1 - mu))."""
    return float(np.exp(u[0] + u[1])), float(1.0 - np.exp(u[1]))


def hypers(alpha, mu):
    """u = (log alpha_eff, log(1 - mu)) from (alpha, mu); alpha > 0, 0 <= mu < 1."""
    return np.array([np.log(alpha / (1.0 - mu)), np.log(1.0 - mu)])


def d_alpha_mu(u):
    """(d alpha / d u, d mu / d u) = ((alpha, alpha), (0, -(1 - mu)))."""
    alpha, mu = alpha_mu(u)
    return np.array([alpha, alpha]), np.array([0.0, -(1.0 - mu)])
