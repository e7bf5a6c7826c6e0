"""symbolic/rule_greedy.py: which rules have Theorem 2's joint greedy step, and why Nesterov has not."""
import pytest
import sympy as sp

from shb.symbolic import model, rule_greedy
from shb.symbolic.optimizers import RULES
from shb.symbolic.optimizers.heavy_ball import RULE as HEAVY_BALL
from shb.symbolic.optimizers.nesterov import RULE as NESTEROV
from shb.symbolic.rules import Rule


def test_greedy_kinds_and_the_reason_nesterov_is_not_joint():
    # Catches: a rule given a joint greedy step its one-step loss does not support (Nesterov's alpha^2 mu^2 term),
    # or one denied it.
    kinds = {rule.name: rule_greedy.greedy_step(rule).kind for rule in RULES}
    known = {"heavy_ball": "joint", "nesterov": "alpha-given-mu", "preconditioned": "joint", "minibatch": "joint",
             "averaged": "joint"}
    assert {name: kinds[name] for name in known} == known
    for rule in RULES:  # any rule: joint exactly where the one-step loss is a quadratic in (alpha, mu)
        total, in_alpha, _ = rule_greedy.degrees(rule)
        assert kinds[rule.name] == ("joint" if total <= 2 else "alpha-given-mu") and in_alpha <= 2, rule.name
    assert rule_greedy.degrees(NESTEROV) == (4, 2, 2)
    assert sp.simplify(rule_greedy.cross_coefficient(NESTEROV) - model.h**3 * model.A_v / 2) == 0
    assert rule_greedy.cross_coefficient(HEAVY_BALL) == 0


def test_a_loss_that_is_not_a_quadratic_in_alpha_is_refused():
    cubic = Rule("cubic", "", "", state=(model.theta, model.v), initial=(1, 0),
                 step=lambda s, g: (s[model.theta] - model.alpha**2 * g(s[model.theta]), s[model.v]))
    with pytest.raises(ValueError, match="not a quadratic in alpha"):
        rule_greedy.greedy_step(cubic)
