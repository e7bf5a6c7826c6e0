"""Eq. 15 and Theorem 2: the one-step loss and the greedy-optimal (alpha*, mu*).

Per coordinate, the excess loss after one step is (Eq. 15)

    L_i(alpha, mu) = 1/2 h E[theta'^2]
                   = 1/2 h [(1 - alpha h)^2 A(theta) + mu^2 A(v)
                            + 2 mu (1 - alpha h) E[theta v] + alpha^2 h^2 sigma2],

a quadratic in x = (alpha, mu). Summed over coordinates it is
L(x) = L(0) + g.x + 1/2 x^T H x with H = sum_i H_i, g = sum_i g_i, so the
multivariate problem needs only five per-coordinate sums, and the stationary
point is x* = -H^{-1} g (Theorem 2, Appendix A.2.2).
"""
import sympy as sp

from shb.symbolic import model

X = (model.alpha, model.mu)

# The five sums over coordinates that Theorem 2 needs: H = [[H_aa, H_am], [H_am, H_mm]], g = (g_a, g_m).
H_aa, H_am, H_mm, g_a, g_m = sp.symbols("H_aa H_am H_mm g_a g_m", real=True)
SUMS = (H_aa, H_am, H_mm, g_a, g_m)


def one_step_loss():
    """Eq. 15: the excess loss of one coordinate after one step, in raw moments."""
    theta1, _ = model.update()
    return sp.expand(model.h * model.expect(theta1**2, model.raw_moments()) / 2)


def quadratic_form(loss=None):
    """Per-coordinate Hessian H_i and gradient at the origin g_i of Eq. 15 in (alpha, mu)."""
    loss = one_step_loss() if loss is None else loss
    hessian = sp.hessian(loss, X)
    at_zero = {model.alpha: 0, model.mu: 0}
    gradient = [sp.expand(sp.diff(loss, x).subs(at_zero)) for x in X]
    return sp.simplify(hessian), gradient


def per_coordinate_terms():
    """The summands of (H_aa, H_am, H_mm, g_a, g_m) for one coordinate."""
    hessian, gradient = quadratic_form()
    return {
        H_aa: sp.expand(hessian[0, 0]),
        H_am: sp.expand(hessian[0, 1]),
        H_mm: sp.expand(hessian[1, 1]),
        g_a: gradient[0],
        g_m: gradient[1],
    }


def greedy_from_sums():
    """Theorem 2: (alpha*, mu*) = -H^{-1} g in terms of the five sums."""
    H = sp.Matrix([[H_aa, H_am], [H_am, H_mm]])
    g = sp.Matrix([g_a, g_m])
    solution = sp.solve(list(H * sp.Matrix(X) + g), X, dict=True)[0]
    return sp.factor(solution[model.alpha]), sp.factor(solution[model.mu])


def greedy_sgd_from_sums():
    """Greedy SGD without momentum (mu = 0): alpha* = -g_a / H_aa (Theorem 3's multivariate form)."""
    solution = sp.solve(H_aa * model.alpha + g_a, model.alpha)
    return solution[0]


def greedy_univariate():
    """Theorem 2 for one coordinate, by solving the two stationarity conditions of Eq. 15."""
    loss = one_step_loss()
    solution = sp.solve([sp.diff(loss, x) for x in X], X, dict=True)[0]
    return sp.factor(solution[model.alpha]), sp.factor(solution[model.mu])
