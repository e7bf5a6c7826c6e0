"""Quasi-hyperbolic momentum (QHM; Ma & Yarats 2019, Eq. 2): a weighted average of the gradient and the momentum
buffer, the buffer itself an exponential average of gradients,

    v' = mu v + (1 - mu) g(theta),   theta' = theta - alpha ((1 - nu) g(theta) + nu v').

nu = 0 is plain SGD and nu = 1 is heavy ball with alpha (1 - mu) for alpha (proofs/rules_qhm.py). Our defaults where
the issue is silent: nu = 0.7 and, for the greedy step, mu = 0.999, QHM's recommended pair (Ma & Yarats, Section 7);
the one-step loss has an alpha^2 mu^2 term (alpha multiplies mu v'), so the greedy step is the greedy alpha at that mu.
"""
import sympy as sp

from shb.ground.errors import InputError
from shb.ground.options import Option
from shb.symbolic import model
from shb.symbolic.optimizers import Optimizer
from shb.symbolic.rules import Rule

nu = sp.Symbol("nu", nonnegative=True)  # the weight of the momentum buffer in the step
DEFAULT_NU, GREEDY_MU = 0.7, 0.999


def qhm_step(state, gradient):
    """v' = mu v + (1 - mu) g, theta' = theta - alpha ((1 - nu) g + nu v')."""
    theta, v = state[model.theta], state[model.v]
    g = gradient(theta)
    v_next = model.mu * v + (1 - model.mu) * g
    return theta - model.alpha * ((1 - nu) * g + nu * v_next), v_next


def extras(problem, T, nu=DEFAULT_NU):
    """nu: a number in [0, 1]."""
    if not 0 <= float(nu) <= 1:
        raise InputError(f"option nu (--nu, the momentum buffer's weight) must lie in [0, 1], got {nu!r}")
    return {"nu": float(nu)}


RULE = Rule("qhm", "Quasi-hyperbolic momentum", "Ma & Yarats 2019, Eq. 2",
            state=(model.theta, model.v), initial=(1, 0), step=qhm_step, extras=(nu,))

OPTIMIZERS = (Optimizer(
    "qhm", "QHM nu=0.7", "quasi-hyperbolic momentum (Ma & Yarats 2019): the step averages g and the momentum buffer",
    RULE, (Option("nu", "float", positive=False, flag="--nu", metavar="NU",
                  help=f"qhm: the weight of the momentum buffer in the step, 0 <= NU <= 1 (default {DEFAULT_NU})"),),
    extras, greedy_mu=GREEDY_MU),)
