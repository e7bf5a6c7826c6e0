"""The update rules of issue 16, each one `Rule` (symbolic/rules.py): heavy ball and four variants.

With g(x) the stochastic gradient at x (Eq. 3: g(x) = h (x - c), c ~ N(0, sigma2)):

heavy ball      v' = mu v - alpha g(theta),           theta' = theta + v'   (Eqs. 1-2; Sutskever et al. 2013, Eq. 1)
nesterov        v' = mu v - alpha g(theta + mu v),    theta' = theta + v'   (Sutskever et al. 2013, Eqs. 3-4: the
                gradient at the look-ahead point theta + mu v; equivalently theta' = y - alpha g(y) at
                y = theta + mu (theta - theta_prev), Nesterov 1983's form, since v = theta - theta_prev)
preconditioned  v' = mu v - alpha p g(theta),         theta' = theta + v'   (a fixed p > 0 per coordinate: diagonal
                preconditioning, "SGD in a preconditioned space", Section 2.1)
minibatch       heavy ball with g the mean of B gradients, i.e. c the mean of B independent draws; its
                variance sigma2 / B is derived below (`minibatch_noise_variance`), not typed in
averaged        heavy ball, plus theta_avg' = (1 - gamma) theta_avg + gamma theta', theta_avg(0) = theta(0),
                the loss taken at theta_avg: exponential averaging for a constant gamma, Polyak-Ruppert
                averaging (Polyak & Juditsky 1992: theta_avg(t) = mean of theta(0..t)) for gamma_t = 1/(t+2)

proofs/rules_*.py check each against its textbook definition and heavy ball against Theorem 1.
"""
import sympy as sp

from shb.symbolic import model
from shb.symbolic.rules import Rule

p = sp.Symbol("p", positive=True)                    # diagonal preconditioner entry
B = sp.Symbol("B", positive=True, integer=True)      # minibatch size
gamma = sp.Symbol("gamma", nonnegative=True)         # averaging weight of the newest iterate
theta_avg = sp.Symbol("theta_avg", real=True)        # the averaged iterate
draw = sp.Symbol("k", positive=True, integer=True)   # index of a draw within a minibatch
other = sp.Symbol("l", positive=True, integer=True)


def heavy_ball_step(state, gradient, precondition=1):
    """Eqs. 1-2: v' = mu v - alpha P g(theta), theta' = theta + v' (P = 1: heavy ball)."""
    theta, v = state[model.theta], state[model.v]
    v_next = model.mu * v - model.alpha * precondition * gradient(theta)
    return theta + v_next, v_next


def nesterov_step(state, gradient):
    """Sutskever et al. 2013, Eqs. 3-4: v' = mu v - alpha g(theta + mu v), theta' = theta + v'."""
    theta, v = state[model.theta], state[model.v]
    v_next = model.mu * v - model.alpha * gradient(theta + model.mu * v)
    return theta + v_next, v_next


def preconditioned_step(state, gradient):
    """Heavy ball on the preconditioned gradient p g(theta)."""
    return heavy_ball_step(state, gradient, p)


def averaged_step(state, gradient):
    """Heavy ball, then theta_avg' = (1 - gamma) theta_avg + gamma theta'."""
    theta1, v1 = heavy_ball_step(state, gradient)
    return theta1, v1, (1 - gamma) * state[theta_avg] + gamma * theta1


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


HEAVY_BALL = Rule(
    "heavy_ball", "Heavy-ball momentum (SGD with momentum)", "Eqs. 1-2; Theorem 1",
    state=(model.theta, model.v), initial=(1, 0), step=heavy_ball_step)

NESTEROV = Rule(
    "nesterov", "Nesterov momentum (Sutskever et al. 2013's form)", "Sutskever et al. 2013, Eqs. 3-4",
    state=(model.theta, model.v), initial=(1, 0), step=nesterov_step)

PRECONDITIONED = Rule(
    "preconditioned", "Diagonal preconditioning (a fixed p > 0 per coordinate)", "Section 2.1",
    state=(model.theta, model.v), initial=(1, 0), step=preconditioned_step, extras=(p,))

MINIBATCH = Rule(
    "minibatch", "Minibatch of B independent gradient draws", "Section 2.2.2; Section 5 (large batches)",
    state=(model.theta, model.v), initial=(1, 0), step=heavy_ball_step, extras=(B,),
    noise_variance=minibatch_noise_variance(), draws=B)

AVERAGED = Rule(
    "averaged", "Iterate averaging (exponential, or Polyak's running mean)", "Polyak & Juditsky 1992",
    state=(model.theta, model.v, theta_avg), initial=(1, 0, 1), step=averaged_step, extras=(gamma,),
    loss_at=theta_avg, per_step=(gamma,))

RULES = (HEAVY_BALL, NESTEROV, PRECONDITIONED, MINIBATCH, AVERAGED)

