"""Iterate averaging: heavy ball, plus an averaged iterate at which the loss is taken,

    theta_avg' = (1 - gamma) theta_avg + gamma theta',   theta_avg(0) = theta(0).

Two optimizers share this update: exponential averaging (a constant gamma; our default 0.1) and Polyak-Ruppert
averaging (Polyak & Juditsky 1992: gamma_t = 1/(t+2), so theta_avg(t) is the mean of theta(0..t)).
"""
import numpy as np
import sympy as sp

from shb.ground.errors import InputError
from shb.ground.options import Option
from shb.symbolic import model
from shb.symbolic.optimizers import Optimizer
from shb.symbolic.optimizers.heavy_ball import heavy_ball_step
from shb.symbolic.rules import Rule

gamma = sp.Symbol("gamma", nonnegative=True)         # averaging weight of the newest iterate
theta_avg = sp.Symbol("theta_avg", real=True)        # the averaged iterate
DEFAULT_EMA_GAMMA = 0.1


def averaged_step(state, gradient):
    """Heavy ball, then theta_avg' = (1 - gamma) theta_avg + gamma theta'."""
    theta1, v1 = heavy_ball_step(state, gradient)
    return theta1, v1, (1 - gamma) * state[theta_avg] + gamma * theta1


SMALLEST = 2.0 ** -511  # gamma^2 (in the moments of the average) stays a normal float


def ema_extras(problem, T, gamma=DEFAULT_EMA_GAMMA):
    """gamma_t = gamma for every step, 2^-511 <= gamma <= 1 (the accepted range: the greedy step scales as 1/gamma,
    and gamma^2 must not underflow)."""
    if not SMALLEST <= float(gamma) <= 1:
        raise InputError(f"option gamma (--gamma, the averaging weight) must lie in [2^-511, 1] (2^-511 is about "
                         f"1.5e-154), got {gamma!r}")
    return {"gamma": np.full(T, float(gamma))}


def polyak_extras(problem, T):
    """gamma_t = 1/(t+2): theta_avg(t) is the running mean of theta(0..t)."""
    return {"gamma": 1.0 / (np.arange(T) + 2.0)}


RULE = Rule("averaged", "Iterate averaging (exponential, or Polyak's running mean)", "Polyak & Juditsky 1992",
            state=(model.theta, model.v, theta_avg), initial=(1, 0, 1), step=averaged_step, extras=(gamma,),
            loss_at=theta_avg, per_step=(gamma,))

OPTIMIZERS = (
    Optimizer("ema", "EMA gamma=0.1",
              "heavy ball, loss at the exponential average of the iterates (weight gamma)", RULE,
              (Option("gamma", "float", flag="--gamma", metavar="G",
                      help=f"ema: the weight of the newest iterate, 0 < G <= 1 (default {DEFAULT_EMA_GAMMA})"),),
              ema_extras),
    Optimizer("polyak", "Polyak", "heavy ball, loss at the running mean of the iterates (Polyak-Ruppert)", RULE,
              extras=polyak_extras),
)
