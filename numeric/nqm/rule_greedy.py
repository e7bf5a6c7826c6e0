"""The greedy schedule of any update rule whose greedy step was derived (symbolic/rule_greedy.py).

At each step the generated `<rule>_greedy_sums` gives the coordinate sums of the rule's one-step loss
(Eq. 15 for the rule) at the current raw moments, and the step is Theorem 2's:

- "joint" rules (a quadratic in (alpha, mu)): (alpha*, mu*) = -H^{-1} g from the five sums
  (nqm_generated.greedy_solution); where det H <= DET_RTOL H_aa H_mm (t = 0: A(v) = 0, so mu is not
  identifiable), mu* = 0 and alpha* = -g_a / H_aa (nqm_generated.greedy_sgd_solution), as for heavy ball
  in numeric/nqm/schedules.py;
- "alpha-given-mu" rules (Nesterov: the loss is quartic in (alpha, mu) jointly): mu_t is given and
  alpha_t* = -g_a / H_aa from the two sums at that mu;
- any rule at a given mu (mu = 0: greedy SGD): for a joint rule alpha_t* = -(g_a + H_am mu_t) / H_aa, the
  minimum in alpha of its quadratic at that mu.

Either way alpha* = 0 where H_aa = 0 (every A(x) = sigma2 = 0: the optimum is reached).
"""
import numpy as np

from shb.ground.errors import InputError
from shb.numeric.nqm.generated import greedy_sgd_solution, greedy_solution
from shb.numeric.nqm.rule_dynamics import extras_at, generated, initial_central, rollout, spec

DET_RTOL = 1e-12  # as numeric.nqm.schedules.DET_RTOL: det H >= 0 (a PSD sum), so only rounding makes it negative


def greedy_step(sums, mu=None):
    """(alpha*, mu*) from one step's sums: five sums (a joint rule) or two (alpha-given-mu rule).

    Five sums and mu=None: the joint greedy step. Five sums and a given mu: alpha* at that mu, the
    stationary point of L(0) + g.x + 1/2 x^T H x in alpha alone, -(g_a + H_am mu) / H_aa. Two sums: alpha*
    = -g_a / H_aa at the mu they were evaluated at.
    """
    if len(sums) == 5:
        H_aa, H_am, H_mm, g_a, g_m = sums
        if mu is None:
            det = H_aa * H_mm - H_am**2
            if det > DET_RTOL * H_aa * H_mm:
                alpha, mu_star = greedy_solution(H_aa, H_am, H_mm, g_a, g_m)
                return float(alpha), float(mu_star)
            mu = 0.0
        g_a = g_a + H_am * mu
    else:
        H_aa, g_a = sums
    if H_aa <= 0:
        return 0.0, float(mu)
    return float(greedy_sgd_solution(H_aa, g_a)), float(mu)


def greedy(rule, problem, T, extras, mu=None):
    """The greedy schedule over T steps: {"alpha": [T], "mu": [T], "loss": [T+1]}.

    mu: None for the joint greedy step (joint rules only); else the momentum, a number or an array of
    shape (T,), and the greedy alpha at it (mu = 0: greedy SGD, Theorem 3's one-step form).
    """
    kind = spec(rule)["greedy"]
    if kind != "joint" and mu is None:
        raise InputError(f"the greedy step of rule {rule} is the greedy alpha at a given mu: give mu")
    given = None if mu is None else np.broadcast_to(np.asarray(mu, dtype=float), (T,))
    stats = initial_central(rule, problem.mean0, problem.var0, problem.h.shape)
    sums, step, to_raw = (generated(rule, name) for name in ("greedy_sums", "step", "raw_moments"))
    alpha_t, mu_t = [], []
    for t, extra in enumerate(extras_at(rule, extras, T)):
        m = None if given is None else given[t]
        mu_arg = (m,) if kind != "joint" else ()
        a, m = greedy_step(sums(*mu_arg, problem.h, problem.sigma2, *extra, *to_raw(*stats)), m)
        alpha_t.append(a)
        mu_t.append(m)
        stats = step(a, m, problem.h, problem.sigma2, *extra, *stats)
    alpha_t, mu_t = np.array(alpha_t), np.array(mu_t)
    return {"alpha": alpha_t, "mu": mu_t, "loss": rollout(rule, problem, alpha_t, mu_t, extras)["loss"]}
