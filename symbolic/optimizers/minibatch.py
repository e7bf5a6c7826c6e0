"""Heavy ball on a minibatch: the gradient is the mean of B independent draws, i.e. c is the mean of B draws of the
stochastic minimum. Its noise variance sigma2 / B is derived here (`minibatch_noise_variance`), not typed in;
the simulation draws B samples per step (Section 2.2.2; Section 5 on large batches).
"""
import sympy as sp

from shb.ground.errors import InputError
from shb.ground.options import Option
from shb.symbolic import model
from shb.symbolic.optimizers import Optimizer
from shb.symbolic.optimizers.heavy_ball import heavy_ball_step
from shb.symbolic.rules import Rule

B = sp.Symbol("B", positive=True, integer=True)      # minibatch size
draw = sp.Symbol("k", positive=True, integer=True)   # index of a draw within a minibatch
other = sp.Symbol("l", positive=True, integer=True)
DEFAULT_BATCH = 10


def minibatch_noise_variance():
    """Var[(1/B) sum_k c_k] for B independent draws c_k ~ c (one draw: c = sqrt(sigma2) xi).

    E[c_bar] = (1/B) sum_k E[c] and E[c_bar^2] = (1/B^2) (sum_k E[c^2] + sum_{k != l} E[c] E[c]) by
    independence, the pairs k != l being all B^2 pairs less the B diagonal ones. The single draw's moments
    come from the expectation operator; SymPy evaluates the sums.
    """
    c = sp.sqrt(model.sigma2) * model.xi
    one, two = (sp.expand(model.expect(c**k, {(0, 0): sp.Integer(1)})) for k in (1, 2))
    mean = sp.Sum(one, (draw, 1, B)).doit() / B
    all_pairs = sp.Sum(sp.Sum(one * one, (other, 1, B)), (draw, 1, B)).doit()
    square = (sp.Sum(two, (draw, 1, B)).doit() + all_pairs - sp.Sum(one * one, (draw, 1, B)).doit()) / B**2
    return sp.simplify(square - mean**2)


def extras(problem, T, B=DEFAULT_BATCH):
    """B: a positive integer."""
    if isinstance(B, bool) or not float(B).is_integer() or B < 1:
        raise InputError(f"option B (the batch size) must be a positive integer, got {B!r}")
    return {"B": float(B)}


RULE = Rule("minibatch", "Minibatch of B independent gradient draws", "Section 2.2.2; Section 5 (large batches)",
            state=(model.theta, model.v), initial=(1, 0), step=heavy_ball_step, extras=(B,),
            noise_variance=minibatch_noise_variance(), draws=B)

OPTIMIZERS = (Optimizer(
    "minibatch", "minibatch B=10", "heavy ball on the mean of B gradient draws (noise variance sigma2 / B)", RULE,
    (Option("B", "int", minimum=1, flag="--batch-size", metavar="B",
            help=f"minibatch: the batch size B, a positive integer (default {DEFAULT_BATCH})"),),
    extras),)
