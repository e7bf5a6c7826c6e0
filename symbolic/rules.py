"""An update rule as data: an optimizer's stochastic update on the NQM, and the expectation it is judged by.

A `Rule` is written once, as SymPy expressions: `step(state, gradient)` maps the state (a dict from the
rule's state symbols, theta first, to expressions) to the next state, calling `gradient(x)` for the
stochastic gradient at a point x. On the noisy quadratic model (Section 2.2.2, Eq. 3) one coordinate's
stochastic gradient is

    gradient(x) = h (x - c),   c ~ N(0, n) drawn afresh each step, independent of the state,

with n = sigma2 for one noise draw per step (the paper's model, symbolic/model.py) or the rule's own
`noise_variance` (sigma2 / B for a minibatch of B draws: derived in symbolic/optimizers/minibatch.py, not typed in).
For the moments c is written sqrt(n) xi with xi ~ N(0, 1); for simulation it stays the sample c.
The scheduled hyperparameters are (alpha, mu) for every rule (the paper's alpha_t, mu_t); a rule's
`extras` are further inputs that are given, not fitted (a preconditioner p, a batch size B, an averaging
weight gamma). The excess loss (Eq. 6 without its constant) is taken at the rule's `loss_at` iterate:
1/2 h E[x^2] for x = theta, or the averaged iterate.

Everything derived from a rule (symbolic/rule_moments.py, symbolic/rule_greedy.py) uses `expect` below:
E of a polynomial in the state and independent standard normals xi_k, given the state's moments of order
<= 2, by linearity and independence (E[xi] = 0, E[xi^2] = 1, E[xi^3] = 0, E[xi^4] = 3).
"""
from dataclasses import dataclass

import sympy as sp

from shb.symbolic import model

HYPER = (model.alpha, model.mu)  # the schedule: alpha_t, mu_t
NORMAL_MOMENTS = {0: sp.Integer(1), 1: sp.Integer(0), 2: sp.Integer(1), 3: sp.Integer(0), 4: sp.Integer(3)}


@dataclass(frozen=True)
class Rule:
    """One optimizer's stochastic update on one NQM coordinate.

    name: the prefix of its generated functions (a Python identifier); title, cites: for the documents;
    state: the state symbols, theta first; initial: each state variable at t = 0 as a multiple of theta_0
    (theta_0 ~ N(mean0, var0)); step(state, gradient): the next state; extras: given inputs beyond
    (alpha, mu, h, sigma2); loss_at: the iterate whose excess loss is the objective; noise_variance: the
    variance n of the gradient's stochastic minimum c; draws: how many noise draws one gradient averages
    (a symbol or 1; the simulation draws that many); per_step: the extras given once per step (the others
    once per coordinate or once for all).
    """

    name: str
    title: str
    cites: str
    state: tuple
    initial: tuple
    step: object
    extras: tuple = ()
    loss_at: sp.Symbol = model.theta
    noise_variance: sp.Expr = model.sigma2
    draws: object = 1
    per_step: tuple = ()

    def next_state(self, gradient=None):
        """The rule's next state from its own state symbols (default gradient: the NQM's, with xi)."""
        gradient = nqm_gradient(self) if gradient is None else gradient
        out = self.step({s: s for s in self.state}, gradient)
        if len(out) != len(self.state):
            raise ValueError(f"rule {self.name}: step returned {len(out)} values for {len(self.state)} states")
        return tuple(out)

    def sample_update(self):
        """The next state with the noise as the sampled stochastic minimum c (for simulation)."""
        return self.next_state(lambda x: model.h * (x - STOCHASTIC_MINIMUM))


STOCHASTIC_MINIMUM = sp.Symbol("c", real=True)  # the sample c of Eq. 3, averaged over the rule's draws


def nqm_gradient(rule):
    """x -> h x - h sqrt(n) xi: the stochastic gradient h (x - c) of Eq. 3 with c = sqrt(n) xi."""
    scale = sp.sqrt(rule.noise_variance)
    return lambda x: model.h * x - model.h * scale * model.xi


def pairs(rule):
    """Index pairs (a, b), a <= b, of the second moments: diagonals first, then (a < b) in order."""
    n = len(rule.state)
    return [(a, a) for a in range(n)] + [(a, b) for a in range(n) for b in range(a + 1, n)]


def _symbol(name, nonnegative=False):
    return sp.Symbol(name, nonnegative=True) if nonnegative else sp.Symbol(name, real=True)


def mean_symbols(rule):
    """E[x] for each state variable x: mean_theta, mean_v, ... (model's symbols for theta and v)."""
    return tuple(_symbol(f"mean_{s.name}") for s in rule.state)


def raw_symbols(rule):
    """Raw second moments in `pairs` order: A_x = E[x^2], E_x_y = E[x y] (model.RAW for heavy ball)."""
    names = [s.name for s in rule.state]
    return tuple(_symbol(f"A_{names[a]}", True) if a == b else _symbol(f"E_{names[a]}_{names[b]}")
                 for a, b in pairs(rule))


def covariance_symbols(rule):
    """Central second moments in `pairs` order: var_x = V[x], cov_x_y = Cov(x, y) (model.STATE's for heavy ball)."""
    names = [s.name for s in rule.state]
    return tuple(_symbol(f"var_{names[a]}", True) if a == b else _symbol(f"cov_{names[a]}_{names[b]}")
                 for a, b in pairs(rule))


def _exponent(rule, a, b=None):
    powers = [0] * len(rule.state)
    for k in (a, b):
        if k is not None:
            powers[k] += 1
    return tuple(powers)


def raw_moment_table(rule):
    """E[monomial] for the state monomials of degree <= 2, in raw moments (no means: degree 1 is absent)."""
    table = {_exponent(rule, None): sp.Integer(1)}
    table.update({_exponent(rule, a, b): m for (a, b), m in zip(pairs(rule), raw_symbols(rule))})
    return table


def central_moment_table(rule):
    """E[monomial] for degree <= 2 in means and covariances: E[x y] = Cov(x, y) + E[x] E[y]."""
    means = mean_symbols(rule)
    table = {_exponent(rule, None): sp.Integer(1)}
    table.update({_exponent(rule, a): means[a] for a in range(len(rule.state))})
    table.update({_exponent(rule, a, b): c + means[a] * means[b]
                  for (a, b), c in zip(pairs(rule), covariance_symbols(rule))})
    return table


def expect(expr, rule, moments, noises=(model.xi,)):
    """E[expr] for a polynomial in the rule's state and independent standard normals `noises`.

    E[state monomial * prod_k xi_k^(c_k)] = E[state monomial] * prod_k E[xi_k^(c_k)] (independence), with
    the state monomial's expectation read from `moments` (raw_moment_table or central_moment_table).
    """
    poly = sp.Poly(sp.expand(expr), *rule.state, *noises)
    n = len(rule.state)
    total = sp.Integer(0)
    for powers, coeff in poly.terms():
        weight = sp.Integer(1)
        for c in powers[n:]:
            if c not in NORMAL_MOMENTS:
                raise ValueError(f"E[xi^{c}] is not tabulated")
            weight *= NORMAL_MOMENTS[c]
        if weight == 0:
            continue
        if powers[:n] not in moments:
            raise ValueError(f"the state moment with exponents {powers[:n]} is not available to rule {rule.name}")
        total += coeff * weight * moments[powers[:n]]
    return sp.expand(total)
