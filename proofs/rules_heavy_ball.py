"""Heavy ball through the update-rule engine is the paper's SGD with momentum, expression for expression.

The engine (symbolic/rules.py, rule_moments.py, rule_greedy.py) derives everything from a rule's update;
heavy ball is one rule (symbolic/optimizers/heavy_ball.py). Checked here against the paper's statements derived
from the model directly: the update (symbolic.model.update, Eqs. 1-2), Theorem 1 (symbolic.dynamics.theorem1),
Eq. 15 and the five sums of Theorem 2 (symbolic.greedy). (The engine's raw moments and adjoints follow from its
Theorem 1 for every rule: proofs/rules_engine.py, proofs/rules_adjoint.py.)
"""
import sympy as sp

from shb.proofs.kernel import Identity
from shb.symbolic import dynamics, greedy, model, rule_greedy, rule_moments
from shb.symbolic.optimizers.heavy_ball import RULE as HEAVY_BALL

THEOREM = "Rules: heavy ball = Theorem 1"
CITES = "Eqs. 1-2; Theorem 1; Eq. 15; Theorem 2; Appendix A.2"
STATEMENT = r"""
The generic engine applied to the rule $v' = \mu v - \alpha g(\theta)$, $\theta' = \theta + v'$ reproduces the
update, Theorem 1, Eq. 15 and Theorem 2's coordinate sums exactly.
"""


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
    yield Identity("Eq. 15", "The rule's one-step loss is Eq. 15.", rule_moments.one_step_loss(rule),
                   greedy.one_step_loss(), latex=r"\mathcal{L}_i(\alpha, \mu)")
    terms = dict(rule_greedy.greedy_step(rule).terms)
    reference = greedy.per_coordinate_terms()
    yield Identity("Theorem 2 sums", "The rule's greedy sums are Theorem 2's five per-coordinate terms.",
                   sp.Matrix([terms[s] for s in greedy.SUMS]), sp.Matrix([reference[s] for s in greedy.SUMS]),
                   latex=r"H_{\alpha\alpha}, H_{\alpha\mu}, H_{\mu\mu}, g_\alpha, g_\mu")
