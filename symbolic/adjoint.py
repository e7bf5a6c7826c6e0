"""Reverse-mode adjoints of Theorem 1 in raw second moments, for gradients of a T-step loss.

With z = (theta, v) the raw second moment M = E[z z^T] = [[A(theta), E[theta v]], [E[theta v], A(v)]]
follows its own closed recurrence (Theorem 1 in raw moments, from the stochastic update), and the
excess loss 1/2 h (E[theta]^2 + V[theta]) = 1/2 h A(theta) (Eq. 6) and the safeguard penalty depend on
the statistics only through A(theta). So gradients need the three raw moments, not the five central
statistics. For a fixed schedule the step m' = f(m; alpha, mu) of m = (A(theta), A(v), E[theta v]) is
linear in m; given the adjoint mbar' = dL/dm' of a later loss L, the chain rule gives

    mbar = (df/dm)^T mbar',   dL/dalpha += mbar' . df/dalpha,   dL/dmu += mbar' . df/dmu,

evaluated at the moments m before the step (`raw_step_vjp`).
"""
import sympy as sp

from shb.symbolic import dynamics, model

RAW_ADJOINT = tuple(sp.Symbol(f"adj_{s.name}", real=True) for s in model.RAW)


def raw_step():
    """(A(theta'), A(v'), E[theta' v']) after one step, in the order of model.RAW.

    Written through E[theta v'] and A(v') (theta' = theta + v'), the form with the fewest operations.
    """
    _, v1 = model.update()
    raw = model.raw_moments()
    cross = sp.collect(model.expect(model.theta * v1, raw), model.alpha * model.h)  # E[theta v']
    velocity = _in_alpha_h(model.expect(v1**2, raw))                                 # A(v')
    step = [model.A_theta + 2 * cross + velocity, velocity, cross + velocity]
    M = raw_second_moment_step()
    if any(sp.expand((a - b).doit()) != 0 for a, b in zip(step, (M[0, 0], M[1, 1], M[0, 1]))):
        raise ValueError("the raw step does not match E[z' z'^T]")
    return step


def raw_step_vjp():
    """Adjoint of the raw moments before the step, and the per-coordinate dL/dalpha, dL/dmu of this step.

    With the adjoint as a symmetric matrix L' = [[a_theta, e/2], [e/2, a_v]] (a_* = adj_A_*, e =
    adj_E_theta_v), M' = A M A^T + n b b^T gives L = A^T L' A and dL/dp = tr(L' dM'/dp). Written
    through p = L'b's first entry, z = b^T L' b and y = A^T L' b (the form with the fewest operations),
    and checked here against the transposed Jacobian of `raw_step`.
    """
    a_theta, a_v, e = RAW_ADJOINT
    x = sp.UnevaluatedExpr(model.alpha * model.h)
    p = a_theta + e / 2
    z = p + e / 2 + a_v
    y_theta, y_v = p - x * z, model.mu * z
    previous = [a_theta - x * (p + y_theta), model.mu * y_v, 2 * model.mu * y_theta]
    grads = [2 * model.h * (x * model.sigma2 * z - model.A_theta * y_theta - model.E_theta_v * y_v),
             2 * (model.E_theta_v * y_theta + model.A_v * y_v)]
    f = sp.Matrix([s.doit() for s in raw_step()])
    jacobian = [sum(adj * f[k].diff(wrt) for k, adj in enumerate(RAW_ADJOINT))
                for wrt in (*model.RAW, model.alpha, model.mu)]
    if any(sp.expand((a - b).doit()) != 0 for a, b in zip(previous + grads, jacobian)):
        raise ValueError("the structured adjoint does not match the transposed Jacobian of raw_step")
    return previous, grads[0], grads[1]


def raw_loss_component():
    """(1/2 h A(theta), its derivative in A(theta)): Eq. 6 with V[theta] = A(theta) - E[theta]^2."""
    loss = sp.expand(dynamics.excess_loss_component().subs(model.var_theta, model.A_theta - model.mean_theta**2))
    if loss.has(model.mean_theta):
        raise ValueError(f"the excess loss is not a function of A(theta) alone: {loss}")
    return loss, sp.diff(loss, model.A_theta)


# ---------------------------------------------------------------------------------------------
# The rank-one form (no safeguard penalty): one backward pass over a 2-vector, one forward pass
# ---------------------------------------------------------------------------------------------
#
# With z = (theta, v), the mean follows E[z'] = A E[z] and the raw second moment
# M = E[z z^T] follows M' = A M A^T + n b b^T (the gradient noise enters theta and v alike:
# b = (1, 1), n = (alpha h)^2 sigma2). For L = 1/2 h E[theta_T^2] = 1/2 h e1^T M_T e1 the
# adjoint of M_t is therefore rank one, 1/2 h w_t w_t^T, with the "direction"
#
#     w_T = e1,   w_t = A_t^T w_{t+1}                         (backward, needs only the schedule)
#
# and the gradient needs M_t only through the "probe" r_t = M_t w_t, which itself follows
#
#     r_0 = M_0 w_0,   r_{t+1} = A_t r_t + n_t s_{t+1} b,   s_{t+1} = b . w_{t+1}   (forward)
#
# with L = 1/2 h r_T[theta]. Per coordinate, with p in (alpha, mu):
#
#     dL/dp_t = h (dA_t/dp^T w_{t+1}) . r_t + 1/2 h (dn_t/dp) s_{t+1}^2.
#
# proofs/adjoint.py checks each of these against Theorem 1 and against raw_step_vjp above.

W_NEXT = sp.symbols("w_theta w_v", real=True)      # w_{t+1}
PROBE = sp.symbols("r_theta r_v", real=True)        # r_t
S_NEXT = sp.Symbol("s", real=True)                  # s_{t+1} = b . w_{t+1}
NOISE_DIRECTION = sp.Matrix([1, 1])                 # b


def mean_matrix():
    """A with E[z'] = A E[z]: the Jacobian of Theorem 1's mean recurrence."""
    step = dynamics.theorem1()
    means = (model.mean_theta, model.mean_v)
    return sp.Matrix([[sp.diff(step[name], m) for m in means] for name in ("mean_theta", "mean_v")])


def raw_second_moment_step():
    """M' = E[z' z'^T] after one step, from the stochastic update, in the raw moments of z."""
    theta1, v1 = model.update()
    raw = model.raw_moments()
    e = {k: model.expect(x, raw) for k, x in (("tt", theta1**2), ("tv", theta1 * v1), ("vv", v1**2))}
    return sp.Matrix([[e["tt"], e["tv"]], [e["tv"], e["vv"]]])


def raw_second_moment():
    """M = E[z z^T] in the raw symbols A(theta), E[theta v], A(v)."""
    return sp.Matrix([[model.A_theta, model.E_theta_v], [model.E_theta_v, model.A_v]])


def noise_variance():
    """n = (M' - A M A^T)[theta, theta]; proofs/adjoint.py checks M' - A M A^T = n b b^T."""
    A, M = mean_matrix(), raw_second_moment()
    return sp.factor(sp.expand((raw_second_moment_step() - A * M * A.T)[0, 0]))


def direction_step():
    """(w_t, s_{t+1}): w_t = A_t^T w_{t+1} and s_{t+1} = b . w_{t+1}, as expressions in w_{t+1}.

    Written in s (A^T w depends on w_{t+1} through w_theta and s only), so the code forms s once.
    """
    w = sp.Matrix(W_NEXT)
    s = (NOISE_DIRECTION.T * w)[0]
    previous = mean_matrix().T * w
    in_s = [sp.collect(sp.expand(x.subs(W_NEXT[1], S_NEXT - W_NEXT[0])), S_NEXT) for x in previous]
    return [x.subs(S_NEXT, sp.UnevaluatedExpr(s)) for x in in_s], s


def probe_step():
    """r_{t+1} = A_t r_t + n_t s_{t+1} b, written as (r_theta + x, x): A's rows differ by e_theta^T."""
    r = mean_matrix() * sp.Matrix(PROBE) + noise_variance() * S_NEXT * NOISE_DIRECTION
    if sp.expand(r[0] - r[1] - PROBE[0]) != 0:
        raise ValueError("the rows of A no longer differ by e_theta^T")
    return [PROBE[0] + _in_alpha_h(r[1]), _in_alpha_h(r[1])]


def _in_alpha_h(expr):
    """expr as a polynomial in the product alpha h, Horner form (fewest array operations)."""
    ah = sp.Symbol("ah", real=True)
    poly = sp.expand(expr.subs(model.alpha, ah / model.h))
    if poly.has(model.alpha) or sp.expand(poly.subs(ah, model.alpha * model.h) - expr) != 0:
        raise ValueError(f"not a polynomial in alpha h: {expr}")
    return sp.horner(poly, wrt=ah).subs(ah, sp.UnevaluatedExpr(model.alpha * model.h))


def probe_gradient():
    """Per-coordinate (dL/dalpha_t, dL/dmu_t) in s_{t+1} and r_t; w_{t+1} enters only through s."""
    A, n, w = mean_matrix(), noise_variance(), sp.Matrix(W_NEXT)
    s = (NOISE_DIRECTION.T * w)[0]
    grads = []
    for p in (model.alpha, model.mu):
        g = model.h * ((A.diff(p).T * w).T * sp.Matrix(PROBE))[0] + model.h / 2 * sp.diff(n, p) * s**2
        g = sp.factor(sp.expand(g.subs(W_NEXT[0], S_NEXT - W_NEXT[1])))
        if g.has(W_NEXT[1]):
            raise ValueError(f"the gradient depends on w_{{t+1}} beyond s: {g}")
        grads.append(g)
    return grads
