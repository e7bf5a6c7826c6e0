"""A minibatch of B gradient draws: the noise variance sigma2 / B, derived and checked draw by draw.

The minibatch gradient is the mean of B stochastic gradients h (theta - c_k) with independent
c_k ~ N(0, sigma2), i.e. h (theta - c_bar) with c_bar the mean of the c_k. Checked here:
  * symbolic.optimizers.minibatch_noise_variance (sums over k and k != l, evaluated by SymPy) is sigma2 / B;
  * for B = 1, ..., 4 written out with B independent normals xi_1..xi_B: the first and second moments of the
    next state, by the expectation operator over all B draws, are the rule's recurrences at that B
    (so the rule's single noise of variance sigma2 / B is exact for every second-order statistic);
  * the rule is heavy ball with sigma2 -> sigma2 / B: Theorem 1 and Theorem 2's sums alike, so a larger
    batch acts on the NQM exactly as a smaller sigma2 (Section 5: "with large batch sizes").
"""
import sympy as sp

from shb.proofs.kernel import Identity, Substitutes
from shb.symbolic import dynamics, greedy, model, rule_greedy, rule_moments
from shb.symbolic.optimizers.heavy_ball import heavy_ball_step
from shb.symbolic.optimizers.minibatch import RULE as MINIBATCH, B, minibatch_noise_variance
from shb.symbolic.rules import central_moment_table, expect, pairs

THEOREM = "Rules: minibatch size"
CITES = "Eq. 3 (one draw per gradient); Section 5 (large batch sizes); Theorems 1 and 2"
STATEMENT = r"""
The mean of $B$ independent draws $c_k \sim \mathcal{N}(0, \sigma^2)$ has variance $\sigma^2/B$, and heavy ball
on the mean of $B$ stochastic gradients follows Theorem 1 and Theorem 2 with $\sigma^2 \to \sigma^2/B$.
"""

MAX_WRITTEN_OUT = 4


def written_out(draws):
    """(xi_1..xi_B, the next state) with the gradient the mean of B single-draw gradients."""
    xis = sp.symbols(f"xi_1:{draws + 1}", real=True)

    def gradient(x):
        return sum(model.h * (x - sp.sqrt(model.sigma2) * xi) for xi in xis) / draws

    return xis, heavy_ball_step({model.theta: model.theta, model.v: model.v}, gradient)


def steps():
    yield Identity("noise variance of a minibatch", "Var[(1/B) sum_k c_k] = sigma2 / B, from the sums over draws.",
                   minibatch_noise_variance(), model.sigma2 / B, latex=r"\mathbb{V}[\bar c] = \sigma^2 / B")
    central = rule_moments.central_step(MINIBATCH)
    for draws in range(1, MAX_WRITTEN_OUT + 1):
        xis, z1 = written_out(draws)
        table = central_moment_table(MINIBATCH)
        means = [expect(x, MINIBATCH, table, xis) for x in z1]
        covs = [sp.expand(expect(z1[a] * z1[b], MINIBATCH, table, xis) - means[a] * means[b]) for a, b in pairs(MINIBATCH)]
        yield Substitutes(f"B = {draws} draws written out", f"The moments over {draws} independent draws are the rule's at B = {draws}.",
                          sp.Matrix(central), {B: draws}, sp.Matrix(means + covs),
                          latex=rf"\text{{moments over }}\xi_1..\xi_{{{draws}}} = \text{{rule at }} B = {draws}")
    th1 = dynamics.theorem1()
    yield Substitutes("Theorem 1 with sigma2 / B", "The rule's Theorem 1 is heavy ball's with sigma2 -> sigma2 / B.",
                      sp.Matrix([th1[k] for k in ("mean_theta", "mean_v", "var_theta", "var_v", "cov_theta_v")]),
                      {model.sigma2: model.sigma2 / B}, sp.Matrix(central), latex=r"\text{Theorem 1}\big|_{\sigma^2\to\sigma^2/B}")
    terms = dict(rule_greedy.greedy_step(MINIBATCH).terms)
    reference = greedy.per_coordinate_terms()
    yield Substitutes("Theorem 2 with sigma2 / B", "The rule's greedy sums are Theorem 2's with sigma2 -> sigma2 / B.",
                      sp.Matrix([reference[s] for s in greedy.SUMS]), {model.sigma2: model.sigma2 / B},
                      sp.Matrix([terms[s] for s in greedy.SUMS]), latex=r"H, g\big|_{\sigma^2\to\sigma^2/B}")
