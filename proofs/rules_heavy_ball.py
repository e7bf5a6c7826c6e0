"""Heavy ball through the update-rule engine is the paper's SGD with momentum, expression for expression.

The engine (symbolic/rules.py, rule_moments.py, rule_greedy.py) derives everything from a rule's update;
heavy ball is one rule (symbolic.optimizers.HEAVY_BALL). Checked here against the existing derivations
that numeric/nqm/generated.py is printed from: the update (symbolic.model.update, Eqs. 1-2), Theorem 1
(symbolic.dynamics.theorem1), the raw-moment step and its adjoint (symbolic.adjoint), Eq. 15 and the five
sums of Theorem 2 (symbolic.greedy).
"""
import sympy as sp

from shb.proofs.kernel import Identity
from shb.symbolic import adjoint, dynamics, greedy, model, rule_greedy, rule_moments
from shb.symbolic.optimizers import HEAVY_BALL

THEOREM = "Rules: heavy ball = Theorem 1"
CITES = "Eqs. 1-2; Theorem 1; Eq. 15; Theorem 2; Appendix A.2"
STATEMENT = r"""
The generic engine applied to the rule $v' = \mu v - \alpha g(\theta)$, $\theta' = \theta + v'$ reproduces the
update, Theorem 1, the raw-moment recurrence and its adjoint, Eq. 15 and Theorem 2's coordinate sums exactly.
"""


def _done(exprs):
    return sp.Matrix([sp.sympify(e).doit() for e in exprs])


def steps():
    rule = HEAVY_BALL
    yield Identity("update", "The rule's update is the engine's SGD with momentum (Eqs. 1-2).",
                   sp.Matrix(rule.next_state()), sp.Matrix(model.update()),
                   latex=r"(\theta', v')_{\text{rule}} = (\theta', v')_{\text{Eqs. 1-2}}")
    th1 = dynamics.theorem1()
    yield Identity("Theorem 1", "The rule's means and covariances step is Theorem 1.",
                   sp.Matrix(rule_moments.central_step(rule)),
                   sp.Matrix([th1[k] for k in ("mean_theta", "mean_v", "var_theta", "var_v", "cov_theta_v")]),
                   latex=r"\text{central\_step(heavy ball)} = \text{Theorem 1}")
    yield Identity("statistics", "The engine's statistics are model.STATE and model.RAW.",
                   sp.Matrix(rule_moments.central_symbols(rule) + rule_moments.raw_symbols(rule)),
                   sp.Matrix(model.STATE + model.RAW), latex=r"\text{symbols agree}")
    yield Identity("raw step", "The raw second-moment step is symbolic.adjoint.raw_step.",
                   sp.Matrix(rule_moments.raw_step(rule)), _done(adjoint.raw_step()),
                   latex=r"A(\theta'),\ A(v'),\ \mathbb{E}[\theta' v']")
    previous, grad_alpha, grad_mu = adjoint.raw_step_vjp()
    ours = rule_moments.raw_step_vjp(rule)
    yield Identity("adjoint", "The generic transposed Jacobian is symbolic.adjoint.raw_step_vjp.",
                   sp.Matrix([*ours[0], ours[1], ours[2]]), _done([*previous, grad_alpha, grad_mu]),
                   latex=r"\bar m = (\partial f/\partial m)^\top \bar m'")
    yield Identity("Eq. 15", "The rule's one-step loss is Eq. 15.", rule_moments.one_step_loss(rule),
                   greedy.one_step_loss(), latex=r"\mathcal{L}_i(\alpha, \mu)")
    terms = dict(rule_greedy.greedy_step(rule).terms)
    reference = greedy.per_coordinate_terms()
    yield Identity("Theorem 2 sums", "The rule's greedy sums are Theorem 2's five per-coordinate terms.",
                   sp.Matrix([terms[s] for s in greedy.SUMS]), sp.Matrix([reference[s] for s in greedy.SUMS]),
                   latex=r"H_{\alpha\alpha}, H_{\alpha\mu}, H_{\mu\mu}, g_\alpha, g_\mu")
