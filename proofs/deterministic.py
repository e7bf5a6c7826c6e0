"""The deterministic case (sigma2 = 0, Section 2.1 and 2.2.4): greedy momentum searches the conjugate-gradient plane.

With sigma2_i = 0 and deterministic iterates (V = 0, so A(theta_i) = theta_i^2,
A(v_i) = v_i^2, E[theta_i v_i] = theta_i v_i), for n = 1..4 coordinates:
  * the update is theta' = theta - alpha grad f(theta) + mu v with f = sum_i 1/2 h_i theta_i^2
    and v = theta - theta_prev (Eq. 2): (alpha, mu) range over the plane
    theta + span{grad f(theta), previous step}, the search space of a CG step;
  * Eq. 15 summed over coordinates is f restricted to that plane, so the greedy
    (alpha*, mu*) minimises f over the plane (globally, by Convexity);
  * n = 2: from v = 0, one greedy step (greedy SGD, mu not identifiable) and one
    greedy step with momentum reach theta = 0 exactly, CG's finite termination.
That the greedy iterates coincide with CG's at every step in general (and hence
that greedy is optimal over any schedule, K-FAC) is a numerical check in the test
suite, not a step here.
"""
import sympy as sp

from shb.proofs import coordinates
from shb.proofs.kernel import Identity, Substitutes
from shb.symbolic import greedy, model

THEOREM = "Deterministic case"
CITES = "Section 2.1 (K-FAC); Section 2.2.4; Eqs. 1-2; Eq. 15; Theorem 2"
STATEMENT = r"""
For a deterministic quadratic ($\sigma_i^2 = 0$), one greedy step with momentum minimises
$f(\theta) = \sum_i \tfrac12 h_i\theta_i^2$ over $\theta + \mathrm{span}\{\nabla f(\theta), \theta - \theta_{\text{prev}}\}$, the
two-dimensional search space of a conjugate-gradient step.
"""

N_MAX = 4
a, m, h, s2 = model.alpha, model.mu, model.h, model.sigma2


def iterate_symbols(n):
    th = sp.symbols(f"theta_1:{n + 1}", real=True)
    v = sp.symbols(f"v_1:{n + 1}", real=True)
    return th, v


def deterministic(n, th, v):
    """sigma2_i -> 0 and raw moments of deterministic iterates."""
    out = {}
    for c, t, u in zip(coordinates.all_symbols(n), th, v):
        out.update({c[s2]: 0, c[model.A_theta]: t**2, c[model.A_v]: u**2, c[model.E_theta_v]: t * u})
    return out


def step(th, v, hs, alpha, mu):
    """The engine's update per coordinate with sigma2 = 0: lists (theta', v')."""
    pairs = [model.update(theta=t, v=u, alpha=alpha, mu=mu) for t, u in zip(th, v)]
    return ([p[0].subs({h: hh, s2: 0}) for p, hh in zip(pairs, hs)],
            [p[1].subs({h: hh, s2: 0}) for p, hh in zip(pairs, hs)])


def steps():
    for n in range(1, N_MAX + 1):
        yield from plane_steps(n)
    yield finite_termination_step()


def plane_steps(n):
    th, v = iterate_symbols(n)
    hs = [c[h] for c in coordinates.all_symbols(n)]
    f = sp.Add(*[hh * t**2 / 2 for hh, t in zip(hs, th)])
    grad = sp.Matrix([sp.diff(f, t) for t in th])
    theta1, v1 = step(th, v, hs, a, m)
    plane = sp.Matrix(th) - a * grad + m * sp.Matrix(v)
    yield Identity(f"update searches the CG plane (n = {n})",
                   "theta' = theta - alpha grad f + mu v and theta' - theta = v': the step lies in "
                   "span{grad f, previous step}.",
                   sp.Matrix.vstack(sp.Matrix(theta1), sp.Matrix(theta1) - sp.Matrix(th)),
                   sp.Matrix.vstack(plane, sp.Matrix(v1)),
                   latex=f"\\theta' = \\theta - \\alpha\\nabla f(\\theta) + \\mu v,\\ \\ \\theta' - \\theta = v',\\quad n = {n}")
    on_plane = f.subs(dict(zip(th, plane)), simultaneous=True)
    yield Substitutes(f"Eq. 15 is f on the CG plane (n = {n})",
                      "With sigma2 = 0 and deterministic iterates, the summed one-step loss is f(theta - alpha grad f + mu v).",
                      coordinates.summed_loss(n), deterministic(n, th, v), on_plane,
                      latex=f"\\textstyle\\sum_{{i=1}}^{{{n}}}\\mathcal{{L}}_i(\\alpha, \\mu) = f(\\theta - \\alpha\\nabla f(\\theta) + \\mu v)")


def finite_termination_step():
    """n = 2: greedy SGD step from v = 0, then a greedy momentum step, lands on the optimum."""
    n = 2
    th0, _ = iterate_symbols(n)
    hs = [c[h] for c in coordinates.all_symbols(n)]
    sums = coordinates.sums(n)
    rest = [0] * n
    first = sp.sympify(greedy.greedy_sgd_from_sums()).subs(sums, simultaneous=True).subs(deterministic(n, th0, rest))
    th1, v1 = step(th0, rest, hs, sp.cancel(first), 0)
    th1, v1 = [sp.cancel(e) for e in th1], [sp.cancel(e) for e in v1]
    moments = deterministic(n, th1, v1)
    alpha2, mu2 = (sp.cancel(sp.sympify(e).subs(sums, simultaneous=True).subs(moments, simultaneous=True))
                   for e in greedy.greedy_from_sums())
    th2, _ = step(th1, v1, hs, alpha2, mu2)
    return Identity("finite termination in n = 2 steps",
                    "On a 2-D deterministic quadratic, greedy SGD from rest then one greedy momentum step "
                    "reach theta = 0 exactly, as CG does in n steps.",
                    sp.Matrix(th2), sp.zeros(n, 1),
                    latex="\\theta^{(2)} = 0\\quad (n = 2,\\ \\sigma^2 = 0,\\ v^{(0)} = 0,\\ \\text{greedy } (\\alpha^{(t)}, \\mu^{(t)}))")
