"""Nesterov momentum in the form of Sutskever et al. 2013 (Eqs. 3-4): the gradient at the look-ahead point,

    v' = mu v - alpha g(theta + mu v),   theta' = theta + v'.

With v = theta - theta_prev this is theta' = y - alpha g(y) at y = theta + mu (theta - theta_prev), Nesterov's (1983)
accelerated gradient step (proofs/rules_nesterov.py). Its one-step loss has an alpha^2 mu^2 term, so its greedy step
is the greedy alpha at a given mu (default 0.9, the "reasonable value" of Section 1), not a joint (alpha, mu).
"""
from shb.symbolic import model
from shb.symbolic.optimizers import Optimizer
from shb.symbolic.rules import Rule

GREEDY_MU = 0.9


def nesterov_step(state, gradient):
    """Sutskever et al. 2013, Eqs. 3-4: v' = mu v - alpha g(theta + mu v), theta' = theta + v'."""
    theta, v = state[model.theta], state[model.v]
    v_next = model.mu * v - model.alpha * gradient(theta + model.mu * v)
    return theta + v_next, v_next


RULE = Rule("nesterov", "Nesterov momentum (Sutskever et al. 2013's form)", "Sutskever et al. 2013, Eqs. 3-4",
            state=(model.theta, model.v), initial=(1, 0), step=nesterov_step)

OPTIMIZERS = (Optimizer("nesterov", "Nesterov",
                        "Nesterov momentum, Sutskever et al. 2013's form (gradient at theta + mu v)", RULE,
                        greedy_mu=GREEDY_MU),)
