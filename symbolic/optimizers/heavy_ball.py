"""Heavy-ball momentum, the paper's optimizer (Eqs. 1-2; Sutskever et al. 2013, Eq. 1):

    v' = mu v - alpha g(theta),   theta' = theta + v',

with g(x) = h (x - c), c ~ N(0, sigma2), the NQM's stochastic gradient (Eq. 3). proofs/rules_heavy_ball.py checks
the engine's derivation from this update against Theorem 1 (symbolic/dynamics.py).
"""
from shb.symbolic import model
from shb.symbolic.optimizers import Optimizer
from shb.symbolic.rules import Rule


def heavy_ball_step(state, gradient, precondition=1):
    """Eqs. 1-2: v' = mu v - alpha P g(theta), theta' = theta + v' (P = 1: heavy ball)."""
    theta, v = state[model.theta], state[model.v]
    v_next = model.mu * v - model.alpha * precondition * gradient(theta)
    return theta + v_next, v_next


RULE = Rule("heavy_ball", "Heavy-ball momentum (SGD with momentum)", "Eqs. 1-2; Theorem 1",
            state=(model.theta, model.v), initial=(1, 0), step=heavy_ball_step)

OPTIMIZERS = (Optimizer("heavy-ball", "heavy ball", "SGD with momentum (Eqs. 1-2), the paper's optimizer", RULE),)
