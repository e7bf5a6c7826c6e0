"""The rank-one adjoint behind the fast schedule gradient (numeric/nqm_adjoint.py, no penalty).

With z = (theta, v), u = E[z], Sigma = Cov(z) and the raw second moment M = E[z z^T] = Sigma + u u^T,
the loss L = 1/2 h E[theta_T^2] of one coordinate is 1/2 h e_theta^T M_T e_theta. Checked here, for the
expressions that symbolic/adjoint.py hands to the code generator:
  * M' = A M A^T + n b b^T with A the mean recurrence's matrix, b = (1, 1), n = (alpha h)^2 sigma2;
  * w_t . u_t is the same at every step (w_t = A_t^T w_{t+1}): it is the final mean E[theta_T];
  * the general generated adjoint (step_vjp) maps the rank-one adjoint (h E[theta_T] w', 1/2 h w' w'^T)
    after a step to the rank-one adjoint with w = A^T w' before it;
  * the probe r_t = M_t w_t follows `probe_step`, starts at ((E[theta]^2 + V[theta]) w_theta, 0) and
    gives L = 1/2 h r_T[theta] at w_T = e_theta;
  * step_vjp's dL/dalpha_t and dL/dmu_t under the rank-one adjoint are `probe_gradient`.
"""
import sympy as sp

from proofs.kernel import Identity
from symbolic import adjoint, dynamics, model

THEOREM = "Rank-one adjoint"
CITES = "Theorem 1 (differentiated); used by numeric/nqm_adjoint.py"
STATEMENT = r"""
For a fixed schedule and $\mathcal{L} = \tfrac12 h\,\mathbb{E}[\theta_T^2]$, the adjoint of the raw second moment
$M_t = \mathbb{E}[z_t z_t^\top]$, $z = (\theta, v)$, is $\tfrac12 h\, w_t w_t^\top$ with $w_T = e_\theta$,
$w_t = A_t^\top w_{t+1}$, and
$\partial\mathcal{L}/\partial p_t = h\,(\partial_p A_t^\top w_{t+1})\cdot r_t + \tfrac12 h\,\partial_p n_t\, s_{t+1}^2$
with the probe $r_t = M_t w_t$, $r_{t+1} = A_t r_t + n_t s_{t+1} b$, $s_{t+1} = b\cdot w_{t+1}$.
"""

h = model.h
Et, Ev, Vt, Vv, C = model.mean_theta, model.mean_v, model.var_theta, model.var_v, model.cov_theta_v
m_T = sp.Symbol("m_T", real=True)  # E[theta_T], a constant of the backward pass


def central_second_moment():
    """M = Sigma + u u^T in the central statistics."""
    return sp.Matrix([[Vt + Et**2, C + Et * Ev], [C + Et * Ev, Vv + Ev**2]])


def _direction():
    """(w_t as a column, s_{t+1}) from the generated expressions."""
    previous, s = adjoint.direction_step()
    return sp.Matrix([x.doit() for x in previous]), s.doit()


def _rank_one_adjoint(w, scale_mean):
    """The five central adjoints of L: mean (h m_T w), variances and covariance (1/2 h w w^T)."""
    return {
        adjoint.ADJOINT[0]: scale_mean * h * w[0], adjoint.ADJOINT[1]: scale_mean * h * w[1],
        adjoint.ADJOINT[2]: h * w[0] ** 2 / 2, adjoint.ADJOINT[3]: h * w[1] ** 2 / 2,
        adjoint.ADJOINT[4]: h * w[0] * w[1],
    }


def steps():
    A, n, b = adjoint.mean_matrix(), adjoint.noise_variance(), adjoint.NOISE_DIRECTION
    M_raw = adjoint.raw_second_moment()
    yield Identity("raw second moment step", "E[z'z'^T] = A E[z z^T] A^T + n b b^T, from the stochastic update.",
                   adjoint.raw_second_moment_step(), A * M_raw * A.T + n * b * b.T,
                   latex=r"M' = A M A^\top + n\,b b^\top")
    w_next = sp.Matrix(adjoint.W_NEXT)
    w, s = _direction()
    yield Identity("direction step", "The generated w_t is A^T w_{t+1} and s = b . w_{t+1}.",
                   sp.Matrix([*w, s]), sp.Matrix([*(A.T * w_next), (b.T * w_next)[0]]),
                   latex=r"w_t = A_t^\top w_{t+1},\quad s_{t+1} = b\cdot w_{t+1}")
    theorem1 = dynamics.theorem1()
    u, u_next = sp.Matrix([Et, Ev]), sp.Matrix([theorem1["mean_theta"], theorem1["mean_v"]])
    yield Identity("w . u is invariant", "w_t . u_t = w_{t+1} . u_{t+1}: the mean has no noise, so it is E[theta_T].",
                   (w.T * u)[0], (w_next.T * u_next)[0], latex=r"w_t\cdot u_t = w_{t+1}\cdot u_{t+1}")
    previous, grad_alpha, grad_mu = adjoint.step_vjp()
    after = _rank_one_adjoint(w_next, m_T)
    before = _rank_one_adjoint(w, m_T)
    yield Identity("the adjoint stays rank one", "step_vjp maps (h m_T w', 1/2 h w' w'^T) to (h m_T w, 1/2 h w w^T).",
                   sp.Matrix([p.subs(after) for p in previous]), sp.Matrix([before[a] for a in adjoint.ADJOINT]),
                   latex=r"\overline{u}_t = h\,m_T\,w_t,\quad \overline{\Sigma}_t = \tfrac12 h\, w_t w_t^\top")
    M = central_second_moment()
    M_next = adjoint.raw_second_moment_step().subs(model.raw_from_central())
    probe = dict(zip(adjoint.PROBE, M * w))
    probe[adjoint.S_NEXT] = s
    yield Identity("probe step", "probe_step(r_t = M_t w_t) = M_{t+1} w_{t+1}.",
                   sp.Matrix([x.doit() for x in adjoint.probe_step()]).subs(probe), M_next * w_next,
                   latex=r"r_{t+1} = A_t r_t + n_t s_{t+1} b = M_{t+1} w_{t+1}")
    start = {Ev: 0, Vv: 0, C: 0}
    yield Identity("probe at t = 0", "With the velocity starting at 0: r_0 = ((E[theta]^2 + V[theta]) w_theta, 0).",
                   (M * w).subs(start), sp.Matrix([(Et**2 + Vt) * w[0], 0]),
                   latex=r"r_0 = \big((\mathbb{E}[\theta_0]^2 + \mathbb{V}[\theta_0])\,w_{0,\theta},\ 0\big)")
    e_theta = sp.Matrix([1, 0])
    yield Identity("loss from the probe", "At w_T = e_theta: 1/2 h r_T[theta] = 1/2 h (E[theta_T]^2 + V[theta_T]).",
                   h / 2 * (M * e_theta)[0], dynamics.excess_loss_component(),
                   latex=r"\tfrac12 h\, r_T[\theta] = \tfrac12 h(\mathbb{E}[\theta_T]^2 + \mathbb{V}[\theta_T])")
    final_mean = {m_T: (w.T * u)[0]}
    for name, general, fast in zip(("alpha", "mu"), (grad_alpha, grad_mu), adjoint.probe_gradient()):
        yield Identity(f"gradient in {name}", f"step_vjp's dL/d{name}_t under the rank-one adjoint is probe_gradient.",
                       general.subs(after).subs(final_mean), fast.subs(probe),
                       latex=rf"\partial\mathcal{{L}}/\partial\{name}_t = " + sp.latex(adjoint.probe_gradient()[name == "mu"]))
