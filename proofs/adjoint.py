"""The adjoints behind the schedule gradient (numeric/nqm/adjoint.py): raw moments and the rank-one form.

With z = (theta, v) and the raw second moment M = E[z z^T] = [[A(theta), E[theta v]], [E[theta v], A(v)]],
the loss of one coordinate is 1/2 h A(theta) = 1/2 h e_theta^T M e_theta. Checked here, for the expressions
that symbolic/adjoint.py hands to the code generator:
  * `raw_step` is Theorem 1 rewritten in raw moments, and M' = A M A^T + n b b^T with A the mean
    recurrence's matrix, b = (1, 1), n = (alpha h)^2 sigma2;
  * `raw_step_vjp` is the transposed Jacobian of `raw_step` (the general adjoint, used with the penalty);
  * `raw_step_vjp` maps the rank-one adjoint 1/2 h w' w'^T after a step to 1/2 h w w^T before it, with
    w = A^T w' (`direction_step`);
  * the probe r_t = M_t w_t follows `probe_step`, starts at (A(theta_0) w_theta, 0) and gives
    L = 1/2 h r_T[theta] at w_T = e_theta;
  * `raw_step_vjp`'s dL/dalpha_t and dL/dmu_t under the rank-one adjoint are `probe_gradient`.
"""
import sympy as sp

from shb.proofs.kernel import Identity
from shb.symbolic import adjoint, dynamics, model

THEOREM = "Adjoint of Theorem 1"
CITES = "Theorem 1 (differentiated); Appendix A.2; used by numeric/nqm/adjoint.py"
STATEMENT = r"""
For a fixed schedule and $\mathcal{L} = \tfrac12 h\,\mathbb{E}[\theta_T^2]$, the adjoint of the raw second moment
$M_t = \mathbb{E}[z_t z_t^\top]$, $z = (\theta, v)$, is $\tfrac12 h\, w_t w_t^\top$ with $w_T = e_\theta$,
$w_t = A_t^\top w_{t+1}$, and
$\partial\mathcal{L}/\partial p_t = h\,(\partial_p A_t^\top w_{t+1})\cdot r_t + \tfrac12 h\,\partial_p n_t\, s_{t+1}^2$
with the probe $r_t = M_t w_t$, $r_{t+1} = A_t r_t + n_t s_{t+1} b$, $s_{t+1} = b\cdot w_{t+1}$.
"""

h = model.h


def _done(exprs):
    return [sp.sympify(x).doit() for x in exprs]


def _rank_one_adjoint(w):
    """(adj A(theta), adj A(v), adj E[theta v]) of tr(1/2 h w w^T M)."""
    return [h * w[0] ** 2 / 2, h * w[1] ** 2 / 2, h * w[0] * w[1]]


def steps():
    A, n, b = adjoint.mean_matrix(), adjoint.noise_variance(), adjoint.NOISE_DIRECTION
    M = adjoint.raw_second_moment()
    raw_step = _done(adjoint.raw_step())
    to_central = model.raw_from_central()
    theorem1 = dynamics.theorem1()
    after = {s: theorem1[name] for s, name in zip(model.STATE, ("mean_theta", "mean_v", "var_theta", "var_v", "cov_theta_v"))}
    yield Identity("raw step is Theorem 1", "raw_step of the raw moments = the raw moments of Theorem 1's statistics.",
                   sp.Matrix([x.subs(to_central) for x in raw_step]),
                   sp.Matrix([to_central[s].xreplace(after) for s in model.RAW]),
                   latex=r"A(\theta'),\ A(v'),\ \mathbb{E}[\theta' v'] \text{ from Theorem 1}")
    yield Identity("raw second moment step", "E[z'z'^T] = A E[z z^T] A^T + n b b^T, from the stochastic update.",
                   adjoint.raw_second_moment_step(), A * M * A.T + n * b * b.T,
                   latex=r"M' = A M A^\top + n\,b b^\top")
    previous, grad_alpha, grad_mu = (_done(adjoint.raw_step_vjp()[0]), *_done(adjoint.raw_step_vjp()[1:]))
    bar = adjoint.RAW_ADJOINT
    jacobian = [sum(a * f.diff(x) for a, f in zip(bar, raw_step)) for x in (*model.RAW, model.alpha, model.mu)]
    yield Identity("general adjoint", "raw_step_vjp is the transposed Jacobian of raw_step (moments, alpha, mu).",
                   sp.Matrix([*previous, grad_alpha, grad_mu]), sp.Matrix(jacobian),
                   latex=r"\bar m = (\partial f/\partial m)^\top \bar m',\quad \partial L/\partial p_t = \bar m'\cdot\partial f/\partial p")
    w_next = sp.Matrix(adjoint.W_NEXT)
    direction, s = adjoint.direction_step()
    w, s = sp.Matrix(_done(direction)), s.doit()
    yield Identity("direction step", "The generated w_t is A^T w_{t+1} and s = b . w_{t+1}.",
                   sp.Matrix([*w, s]), sp.Matrix([*(A.T * w_next), (b.T * w_next)[0]]),
                   latex=r"w_t = A_t^\top w_{t+1},\quad s_{t+1} = b\cdot w_{t+1}")
    rank_one = dict(zip(bar, _rank_one_adjoint(w_next)))
    yield Identity("the adjoint stays rank one", "raw_step_vjp maps 1/2 h w' w'^T to 1/2 h w w^T with w = A^T w'.",
                   sp.Matrix([p.subs(rank_one) for p in previous]), sp.Matrix(_rank_one_adjoint(w)),
                   latex=r"\overline{M}_t = A_t^\top\big(\tfrac12 h\, w_{t+1} w_{t+1}^\top\big) A_t = \tfrac12 h\, w_t w_t^\top")
    probe = dict(zip(adjoint.PROBE, M * w))
    probe[adjoint.S_NEXT] = s
    M_next = sp.Matrix([[raw_step[0], raw_step[2]], [raw_step[2], raw_step[1]]])
    yield Identity("probe step", "probe_step(r_t = M_t w_t) = M_{t+1} w_{t+1}.",
                   sp.Matrix(_done(adjoint.probe_step())).subs(probe), M_next * w_next,
                   latex=r"r_{t+1} = A_t r_t + n_t s_{t+1} b = M_{t+1} w_{t+1}")
    yield Identity("probe at t = 0", "With the velocity starting at 0: r_0 = (A(theta_0) w_theta, 0).",
                   (M * w).subs({model.A_v: 0, model.E_theta_v: 0}), sp.Matrix([model.A_theta * w[0], 0]),
                   latex=r"r_0 = \big(A(\theta_0)\,w_{0,\theta},\ 0\big)")
    e_theta = sp.Matrix([1, 0])
    yield Identity("loss from the probe", "At w_T = e_theta: 1/2 h r_T[theta] = 1/2 h A(theta_T), the excess loss.",
                   h / 2 * (M * e_theta)[0], adjoint.raw_loss_component()[0],
                   latex=r"\tfrac12 h\, r_T[\theta] = \tfrac12 h\, A(\theta_T)")
    for name, general, fast in zip(("alpha", "mu"), (grad_alpha, grad_mu), adjoint.probe_gradient()):
        yield Identity(f"gradient in {name}", f"raw_step_vjp's dL/d{name}_t under the rank-one adjoint is probe_gradient.",
                       general.subs(rank_one), fast.subs(probe),
                       latex=rf"\partial\mathcal{{L}}/\partial\{name}_t = " + sp.latex(fast))
