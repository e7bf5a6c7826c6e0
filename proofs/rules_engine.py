"""Every update rule's Theorem 1, by a second route: the matrix form of its affine update.

For a rule whose update is z' = F z + b xi (symbolic.rule_moments.affine_form, read off the update by
differentiation), independence of xi gives, with n = 1 for the unit normal xi (the noise variance is inside b):

    E[z'] = F E[z],   M' = E[z' z'^T] = F M F^T + b b^T,   Sigma' = F Sigma F^T + b b^T,

for the raw second moment M and the covariance Sigma. Checked here for each rule against the expressions
the engine derives by the expectation operator (and hands to the code generator); and

  * the raw and central recurrences agree (raw moments of the central step = raw step of the raw moments);
  * the generated adjoint is the matrix adjoint: with Lbar the symmetric matrix of the adjoints after the
    step (off-diagonal entries halved), Mbar = F^T Lbar F and dL/dp = tr(Lbar dM'/dp);
  * the one-step loss is 1/2 h M'[x, x] at the loss iterate x (Eq. 15 for the rule);
  * the greedy sums reproduce the one-step loss exactly as L(0) + g.x + 1/2 x^T H x (jointly, or in alpha
    at a given mu), so the greedy step is Theorem 2's stationary point of that quadratic.
"""
import sympy as sp

from shb.proofs.kernel import Identity
from shb.symbolic import greedy, model, rule_greedy, rule_moments
from shb.symbolic.optimizers import RULES
from shb.symbolic.rules import HYPER, mean_symbols, pairs, raw_symbols

THEOREM = "Rules: Theorem 1 for each rule"
CITES = "Theorem 1, Eq. 15, Theorem 2 and Appendix A.2 for each rule of symbolic/optimizers.py"
STATEMENT = r"""
For each update rule with state $z$ and affine update $z' = F z + b\,\xi$, $\xi \sim \mathcal{N}(0, 1)$
independent of $z$: $\mathbb{E}[z'] = F\,\mathbb{E}[z]$, $M' = F M F^\top + b b^\top$ and
$\Sigma' = F \Sigma F^\top + b b^\top$; the generated adjoint is $\bar M = F^\top \bar L F$,
$\partial\mathcal{L}/\partial p = \mathrm{tr}(\bar L\, \partial M'/\partial p)$; and the greedy sums
reconstruct the one-step loss as $\mathcal{L}(0) + g\cdot x + \tfrac12 x^\top H x$.
"""


def symmetric(rule, entries):
    """The symmetric matrix with `entries` in the rule's `pairs` order."""
    n = len(rule.state)
    m = sp.zeros(n, n)
    for (a, b), e in zip(pairs(rule), entries):
        m[a, b] = m[b, a] = e
    return m


def in_pairs(rule, matrix):
    return sp.Matrix([matrix[a, b] for a, b in pairs(rule)])


def rule_steps(rule):
    F, b = rule_moments.affine_form(rule)
    name = rule.name
    M = symmetric(rule, raw_symbols(rule))
    M_next = F * M * F.T + b * b.T
    yield Identity(f"{name}: mean step", "E[z'] = F E[z].", sp.Matrix(rule_moments.mean_step(rule)),
                   F * sp.Matrix(mean_symbols(rule)), latex=r"\mathbb{E}[z'] = F\,\mathbb{E}[z]")
    yield Identity(f"{name}: raw step", "E[z'_a z'_b] by the expectation operator = (F M F^T + b b^T)_ab.",
                   sp.Matrix(rule_moments.raw_step(rule)), in_pairs(rule, M_next), latex=r"M' = F M F^\top + b b^\top")
    central = rule_moments.central_step(rule)
    n = len(rule.state)
    Sigma = symmetric(rule, rule_moments.covariance_symbols(rule))
    yield Identity(f"{name}: covariance step", "Cov(z'_a, z'_b) = (F Sigma F^T + b b^T)_ab.",
                   sp.Matrix(central[n:]), in_pairs(rule, F * Sigma * F.T + b * b.T),
                   latex=r"\Sigma' = F \Sigma F^\top + b b^\top")
    to_raw = rule_moments.raw_from_central(rule)
    after = dict(zip(rule_moments.central_symbols(rule), central))
    yield Identity(f"{name}: raw and central agree", "The raw step of the raw moments = the raw moments of the central step.",
                   sp.Matrix([e.subs(to_raw, simultaneous=True) for e in rule_moments.raw_step(rule)]),
                   sp.Matrix([to_raw[m].xreplace(after) for m in raw_symbols(rule)]),
                   latex=r"M'(M(\mathbb{E}[z], \Sigma)) = M(\mathbb{E}[z'], \Sigma')")
    adj = rule_moments.adjoint_symbols(rule)
    halved = [a if i < n else a / 2 for i, a in enumerate(adj)]
    L_bar = symmetric(rule, halved)
    previous, grad_alpha, grad_mu = rule_moments.raw_step_vjp(rule)
    M_bar = F.T * L_bar * F
    matrix_grads = [(L_bar.multiply_elementwise(M_next.diff(p))).applyfunc(sp.expand) for p in HYPER]
    yield Identity(f"{name}: adjoint", "The generated adjoint is F^T Lbar F and tr(Lbar dM'/dp) (matrix calculus).",
                   sp.Matrix([*previous, grad_alpha, grad_mu]),
                   sp.Matrix([*[M_bar[a, b] * (1 if a == b else 2) for a, b in pairs(rule)],
                              *[sum(g) for g in matrix_grads]]),
                   latex=r"\bar M = F^\top \bar L F,\quad \partial\mathcal{L}/\partial p = \mathrm{tr}(\bar L\,\partial M'/\partial p)")
    k = rule_moments.loss_index(rule)
    yield Identity(f"{name}: one-step loss", "Eq. 15 for the rule: 1/2 h E[x'^2] = 1/2 h M'[x, x].",
                   rule_moments.one_step_loss(rule), model.h * M_next[k, k] / 2,
                   latex=r"\mathcal{L}_i = \tfrac12 h\, M'_{xx}")
    yield from greedy_steps(rule)


def greedy_steps(rule):
    step = rule_greedy.greedy_step(rule)
    loss = rule_moments.one_step_loss(rule)
    terms = dict(step.terms)
    a, m = HYPER
    if step.kind == rule_greedy.JOINT:
        x = sp.Matrix(HYPER)
        H = sp.Matrix([[terms[greedy.H_aa], terms[greedy.H_am]], [terms[greedy.H_am], terms[greedy.H_mm]]])
        g = sp.Matrix([terms[greedy.g_a], terms[greedy.g_m]])
        quadratic = loss.subs({a: 0, m: 0}) + (g.T * x)[0] + (x.T * H * x)[0] / 2
        claim = "The one-step loss is L(0) + g.x + 1/2 x^T H x with the generated sums' summands."
    else:
        quadratic = loss.subs(a, 0) + terms[greedy.g_a] * a + terms[greedy.H_aa] * a**2 / 2
        claim = "At a given mu the one-step loss is L(alpha = 0) + g_a alpha + 1/2 H_aa alpha^2."
    yield Identity(f"{rule.name}: greedy sums", claim, loss, quadratic,
                   latex=r"\mathcal{L}_i(x) = \mathcal{L}_i(0) + g_i\cdot x + \tfrac12 x^\top H_i x")


def steps():
    for rule in RULES:
        yield from rule_steps(rule)
