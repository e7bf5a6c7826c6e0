"""The noisy quadratic model of Section 2.2, one coordinate, in SymPy.

Stochastic loss (Eq. 3): Lhat(theta) = 1/2 h (theta - c)^2 with c ~ N(0, sigma2),
so the stochastic gradient is h theta - h sqrt(sigma2) xi with xi ~ N(0, 1).
SGD with momentum (Eqs. 1-2, Appendix A.1):

    v'     = mu v - alpha (h theta - h sqrt(sigma2) xi)
    theta' = theta + v'

xi is independent of (theta, v), E[xi] = 0, E[xi^2] = 1. Every statistic below
is obtained by applying `expect` to a polynomial in (theta, v, xi); nothing is
typed in by hand.
"""
import sympy as sp

# Problem and hyperparameters. h > 0 and sigma2 >= 0 are the only assumptions.
h = sp.Symbol("h", positive=True)
sigma2 = sp.Symbol("sigma2", nonnegative=True)
alpha = sp.Symbol("alpha", real=True)
mu = sp.Symbol("mu", real=True)

# The random variables of one step.
theta, v, xi = sp.symbols("theta v xi", real=True)

# Sufficient statistics at step t (Theorem 1): central form ...
mean_theta, mean_v = sp.symbols("mean_theta mean_v", real=True)
var_theta, var_v = sp.symbols("var_theta var_v", nonnegative=True)
cov_theta_v = sp.Symbol("cov_theta_v", real=True)
# ... and raw second moments (Appendix A.2): A(x) = E[x]^2 + V[x], and E[theta v].
A_theta, A_v = sp.symbols("A_theta A_v", nonnegative=True)
E_theta_v = sp.Symbol("E_theta_v", real=True)

STATE = (mean_theta, mean_v, var_theta, var_v, cov_theta_v)
RAW = (A_theta, A_v, E_theta_v)


def update(theta=theta, v=v, alpha=alpha, mu=mu):
    """One step of SGD with momentum on the NQM (Eqs. 1-2): returns (theta', v')."""
    gradient = h * theta - h * sp.sqrt(sigma2) * xi
    v_next = mu * v - alpha * gradient
    return theta + v_next, v_next


def central_moments():
    """E[theta^a v^b] for a + b <= 2 in terms of the central statistics."""
    return {
        (0, 0): sp.Integer(1),
        (1, 0): mean_theta,
        (0, 1): mean_v,
        (2, 0): var_theta + mean_theta**2,
        (0, 2): var_v + mean_v**2,
        (1, 1): cov_theta_v + mean_theta * mean_v,
    }


def raw_moments():
    """E[theta^a v^b] for a + b = 2 as the raw symbols A(theta), A(v), E[theta v]."""
    return {(0, 0): sp.Integer(1), (2, 0): A_theta, (0, 2): A_v, (1, 1): E_theta_v}


XI_MOMENTS = {0: sp.Integer(1), 1: sp.Integer(0), 2: sp.Integer(1)}


def expect(expr, moments=None):
    """E[expr] for a polynomial in (theta, v, xi) of degree <= 2 in (theta, v).

    Linearity plus independence of xi: E[theta^a v^b xi^c] = E[theta^a v^b] E[xi^c],
    with E[xi] = 0 and E[xi^2] = 1.
    """
    moments = central_moments() if moments is None else moments
    poly = sp.Poly(sp.expand(expr), theta, v, xi)
    total = sp.Integer(0)
    for (a, b, c), coeff in poly.terms():
        if c not in XI_MOMENTS:
            raise ValueError(f"moment E[xi^{c}] is not needed for a second-order statistic")
        if XI_MOMENTS[c] == 0:
            continue  # E[theta^a v^b xi] = E[theta^a v^b] E[xi] = 0 by independence
        if (a, b) not in moments:
            raise ValueError(f"moment E[theta^{a} v^{b}] is not available")
        total += coeff * moments[(a, b)] * XI_MOMENTS[c]
    return sp.expand(total)


def raw_from_central():
    """A(theta), A(v), E[theta v] in terms of the central statistics."""
    m = central_moments()
    return {A_theta: m[(2, 0)], A_v: m[(0, 2)], E_theta_v: m[(1, 1)]}
