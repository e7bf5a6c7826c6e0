"""Reverse-mode adjoint of the Theorem 1 recurrence, for gradients of a T-step loss.

For a fixed schedule the step s' = f(s; alpha, mu) of the five statistics
s = (E[theta], E[v], V[theta], V[v], Cov(theta, v)) is linear in s. Given the
adjoint sbar' = dL/ds' of a later loss L, the chain rule gives

    sbar = (df/ds)^T sbar',   dL/dalpha += sbar' . df/dalpha,   dL/dmu += sbar' . df/dmu,

evaluated at the state s before the step. The final loss's adjoint starts the
recursion: sbar_T = d/ds [1/2 h (E[theta]^2 + V[theta])].
"""
import sympy as sp

from symbolic import dynamics, model

ADJOINT = tuple(sp.Symbol(f"adj_{s.name}", real=True) for s in model.STATE)
STATE_NAMES = ("mean_theta", "mean_v", "var_theta", "var_v", "cov_theta_v")


def step_vector():
    step = dynamics.theorem1()
    return sp.Matrix([step[name] for name in STATE_NAMES])


def step_vjp():
    """Adjoint of the state before the step, and the per-coordinate dL/dalpha, dL/dmu of this step.

    Each is kept as sum_k adj_k * factor(df_k/dx), the form with the fewest operations.
    """
    f = step_vector()

    def contract(derivatives):
        return sp.Add(*[a * sp.factor(d) for a, d in zip(ADJOINT, derivatives)])

    previous = [contract(f.diff(s)) for s in model.STATE]
    return previous, contract(f.diff(model.alpha)), contract(f.diff(model.mu))


def loss_adjoint():
    """d/ds of the excess loss component 1/2 h (E[theta]^2 + V[theta]) (Eq. 6)."""
    loss = dynamics.excess_loss_component()
    return [sp.diff(loss, s) for s in model.STATE]
