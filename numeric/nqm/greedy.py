"""The greedy schedule of any update rule (Eq. 15 and Theorem 2 for the rule; symbolic/rule_greedy.py).

At each step the generated `<rule>_greedy_sums` gives the coordinate sums of the rule's one-step loss at the current
raw moments, and the step is Theorem 2's:

- "joint" rules (a quadratic in (alpha, mu)): (alpha*, mu*) = -H^{-1} g from the five sums (generated
  greedy_solution); where det H <= DET_RTOL H_aa H_mm (t = 0: A(v) = 0, so mu is not identifiable), mu* = 0 and
  alpha* = -g_a / H_aa (generated greedy_sgd_solution);
- "alpha-given-mu" rules (Nesterov: the loss is quartic in (alpha, mu) jointly): mu_t is given and
  alpha_t* = -g_a / H_aa from the two sums at that mu;
- any rule at a given mu (mu = 0: greedy SGD, Theorem 3's one-step form): for a joint rule
  alpha_t* = -(g_a + H_am mu_t) / H_aa, the minimum in alpha of its quadratic at that mu.

Either way alpha* = 0 where H_aa = 0 (every A(x) = sigma2 = 0: the optimum is reached).

Large curvatures. The sums carry up to h^3 (H_aa = sum 1/2 h (2 alpha-coefficient)^2 ...), which overflows for
h above about 1e100 and then gave alpha = 0. Under alpha -> alpha c, h -> h / c every rule's dynamics are the same
up to a scaling of its state by powers of c (none for heavy ball; QHM's gradient buffer scales as h), its loss
iterate and start unscaled, and its loss is divided by c (proofs/rules_adjoint.py checks both), so the greedy
schedule of the problem with curvatures h / c, run from the same start, is that of the original with alpha
multiplied by c. With c a power of two near max h the scaling is exact in floating point (the same numbers wherever
nothing overflowed) and the sums stay finite for every accepted problem (numeric/nqm/problem.py: magnitudes below
2^511).
"""
import numpy as np

from shb.ground.errors import InputError
from shb.numeric.nqm import generated as gen
from shb.numeric.nqm.dynamics import rollout
from shb.numeric.nqm.rules import extras_at, generated, initial_central, spec

DET_RTOL = 1e-12  # det H >= 0 (a PSD sum), so only rounding makes it negative


def curvature_scale(h):
    """A power of two c near the largest curvature (per problem of a batch: shape (..., 1)); h / c is exact."""
    return 2.0 ** np.round(np.log2(np.max(h, axis=-1, keepdims=True)))


def greedy_step(sums, mu=None):
    """(alpha*, mu*) from one step's sums: five sums (a joint rule) or two (alpha-given-mu rule).

    Five sums and mu=None: the joint greedy step. Five sums and a given mu: alpha* at that mu, the stationary point
    of L(0) + g.x + 1/2 x^T H x in alpha alone, -(g_a + H_am mu) / H_aa. Two sums: alpha* = -g_a / H_aa at the mu
    they were evaluated at.
    """
    if len(sums) == 5:
        H_aa, H_am, H_mm, g_a, g_m = sums
        if mu is None:
            det = H_aa * H_mm - H_am**2
            if det > DET_RTOL * H_aa * H_mm:
                alpha, mu_star = gen.greedy_solution(H_aa, H_am, H_mm, g_a, g_m)
                return float(alpha), float(mu_star)
            mu = 0.0
        g_a = g_a + H_am * mu
    else:
        H_aa, g_a = sums
    if H_aa <= 0:
        return 0.0, float(mu)
    return float(gen.greedy_sgd_solution(H_aa, g_a)), float(mu)


def greedy_pair(rule, h, sigma2, extra, raw, mu=None):
    """One greedy step from the raw moments `raw` (per coordinate) with the rule's extras of this step, at the
    curvatures h as they are (the caller scales): (alpha*, mu*)."""
    given = (mu,) if spec(rule)["greedy"] != "joint" else ()
    return greedy_step(generated(rule, "greedy_sums")(*given, h, sigma2, *extra, *raw), mu)


def greedy(rule, problem, T, extras, mu=None):
    """The greedy schedule over T steps: {"alpha": [T], "mu": [T], "loss": [T+1]}.

    mu: None for the joint greedy step (joint rules only); else the momentum, a number or an array of shape (T,),
    and the greedy alpha at it (mu = 0: greedy SGD). Computed at curvatures h / c (module docstring).
    """
    if spec(rule)["greedy"] != "joint" and mu is None:
        raise InputError(f"the greedy step of rule {rule} is the greedy alpha at a given mu: give mu")
    given = None if mu is None else np.broadcast_to(np.asarray(mu, dtype=float), (T,))
    c = float(curvature_scale(problem.h)[0])
    h = problem.h / c
    stats = initial_central(rule, problem.mean0, problem.var0, problem.h.shape)
    step, to_raw = generated(rule, "step"), generated(rule, "raw_moments")
    alpha_t, mu_t = [], []
    for t, extra in enumerate(extras_at(rule, extras, T)):
        a, m = greedy_pair(rule, h, problem.sigma2, extra, to_raw(*stats), None if given is None else given[t])
        alpha_t.append(a / c)
        mu_t.append(m)
        stats = step(a, m, h, problem.sigma2, *extra, *stats)
    alpha_t, mu_t = np.array(alpha_t), np.array(mu_t)
    return {"alpha": alpha_t, "mu": mu_t, "loss": rollout(rule, problem, alpha_t, mu_t, extras)["loss"]}
