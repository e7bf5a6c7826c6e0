"""Diagonal preconditioning: heavy ball on p g(theta) with a fixed p > 0 per coordinate ("SGD in a preconditioned
space", Section 2.1):

    v' = mu v - alpha p g(theta),   theta' = theta + v'.

Our default where the paper is silent: p = 1/h, the inverse curvature (`--precondition P` sets one p for all).
"""
import numpy as np
import sympy as sp

from shb.ground.errors import InputError
from shb.ground.options import Option
from shb.symbolic import model
from shb.symbolic.optimizers import Optimizer
from shb.symbolic.optimizers.heavy_ball import heavy_ball_step
from shb.symbolic.rules import Rule

p = sp.Symbol("p", positive=True)  # the preconditioner's entry of this coordinate


def preconditioned_step(state, gradient):
    """Heavy ball on the preconditioned gradient p g(theta)."""
    return heavy_ball_step(state, gradient, p)


SMALLEST, LARGEST = 2.0 ** -511, 2.0 ** 511  # p and p^2 (in the moments) stay normal floats


def extras(problem, T, p=None):
    """p: 1/h by default; else a number or one per coordinate in [2^-511, 2^511) (the accepted range: the greedy step
    scales as 1/p, and p^2 must not underflow)."""
    if p is None:
        return {"p": 1.0 / problem.h}
    value = np.asarray(p, dtype=float)
    if value.shape not in ((), problem.h.shape) or not np.all((value >= SMALLEST) & (value < LARGEST)):
        raise InputError(f"option p (--precondition) must lie in [2^-511, 2^511) (about 1.5e-154 to 6.7e153), a number "
                         f"or shape {problem.h.shape}, got {p!r}")
    return {"p": value}


RULE = Rule("preconditioned", "Diagonal preconditioning (a fixed p > 0 per coordinate)", "Section 2.1",
            state=(model.theta, model.v), initial=(1, 0), step=preconditioned_step, extras=(p,))

OPTIMIZERS = (Optimizer(
    "preconditioned", "preconditioned p=1/h", "heavy ball on p * gradient, a fixed p > 0 per coordinate", RULE,
    (Option("p", "float", flag="--precondition", metavar="P",
            help="preconditioned: the preconditioner p > 0 of every coordinate (default 1/h, per coordinate)"),),
    extras),)
