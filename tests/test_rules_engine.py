"""The update-rule engine (symbolic/rules.py, rule_moments.py, rule_greedy.py) and its generated module.

- every generated rule function agrees with 50-digit lambdify of its expressions;
- heavy ball through the engine is the existing heavy-ball code, numerically (proofs/rules_heavy_ball.py
  checks the expressions themselves);
- the engine refuses what it cannot do: an update that is not affine, a moment it was not given, a greedy
  step where the loss is not even a quadratic in alpha.
"""
import numpy as np
import pytest
import sympy as sp
from hypothesis import given, strategies as st

from shb.numeric.nqm import generated as gen
from shb.numeric.nqm import generated_rules as gen_rules
from shb.symbolic import codegen_rules, model, rule_greedy, rule_moments
from shb.symbolic.optimizers import HEAVY_BALL, NESTEROV, RULES
from shb.symbolic.rules import Rule, expect, raw_moment_table
from test_derive import check_against_lambdify


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # singular draws are rejected by assume
@pytest.mark.parametrize("func", codegen_rules.functions(), ids=lambda f: f.name)
@given(data=st.data())
def test_generated_rules_match_lambdify(func, data):
    # Catches: a printer or CSE bug, or the generated rules module out of step with the derivations.
    check_against_lambdify(gen_rules, func, data)


def test_every_rule_has_every_generated_function_and_its_metadata():
    kinds = ("update", "step", "raw_moments", "raw_step", "raw_step_vjp", "one_step_loss", "greedy_sums")
    assert list(gen_rules.RULES) == [r.name for r in RULES]
    for rule in RULES:
        assert all(callable(getattr(gen_rules, f"{rule.name}_{k}")) for k in kinds)
        meta = gen_rules.RULES[rule.name]
        assert meta["state"][0] == "theta" and len(meta["initial"]) == len(meta["state"])
        assert meta["raw"][meta["loss_index"]] == f"A_{rule.loss_at.name}"


def test_generic_heavy_ball_is_the_existing_heavy_ball_numerically():
    rng = np.random.default_rng(0)
    d = 4
    h, sigma2 = rng.uniform(0.1, 1.0, d), rng.uniform(0.0, 2.0, d)
    stats = [rng.normal(size=d), rng.normal(size=d), rng.uniform(0.1, 1, d), rng.uniform(0.1, 1, d), rng.normal(size=d) * 0.1]
    raw = gen.raw_moments(*stats)
    adj = rng.normal(size=(3, d))
    for alpha, mu in ((0.3, 0.8), (1.2, -0.2)):
        np.testing.assert_array_equal(gen_rules.heavy_ball_step(alpha, mu, h, sigma2, *stats),
                                      gen.nqm_step(alpha, mu, h, sigma2, *stats))
        np.testing.assert_allclose(gen_rules.heavy_ball_raw_step(alpha, mu, h, sigma2, *raw),
                                   gen.raw_step(alpha, mu, h, sigma2, *raw), rtol=1e-13)
        np.testing.assert_allclose(gen_rules.heavy_ball_raw_step_vjp(alpha, mu, h, sigma2, *raw, *adj),
                                   gen.raw_step_vjp(alpha, mu, h, sigma2, *raw, *adj), rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(gen_rules.heavy_ball_one_step_loss(alpha, mu, h, sigma2, *raw),
                                   gen.one_step_loss(alpha, mu, h, sigma2, *raw), rtol=1e-13)
    np.testing.assert_allclose(gen_rules.heavy_ball_greedy_sums(h, sigma2, *raw), gen.greedy_sums(h, sigma2, *raw),
                               rtol=1e-13)


def test_the_engine_refuses_a_non_affine_update():
    # Catches: second moments "closing" for an update whose second moments need fourth moments.
    squared = Rule("squared", "", "", state=(model.theta, model.v), initial=(1, 0),
                   step=lambda s, g: (s[model.theta] - model.alpha * g(s[model.theta]) ** 2, s[model.v]))
    with pytest.raises(ValueError, match="not affine"):
        rule_moments.affine_form(squared)
    with pytest.raises(ValueError, match="not available"):
        rule_moments.raw_step(squared)


def test_expect_needs_the_moments_it_uses():
    with pytest.raises(ValueError, match="not available"):
        expect(model.theta**3, HEAVY_BALL, raw_moment_table(HEAVY_BALL))
    assert expect(model.xi**4 * model.theta**2, HEAVY_BALL, raw_moment_table(HEAVY_BALL)) == 3 * model.A_theta
    assert expect(model.xi * model.theta**2, HEAVY_BALL, raw_moment_table(HEAVY_BALL)) == 0


def test_greedy_kinds_and_the_reason_nesterov_is_not_joint():
    kinds = {rule.name: rule_greedy.greedy_step(rule).kind for rule in RULES}
    assert kinds == {"heavy_ball": "joint", "nesterov": "alpha-given-mu", "preconditioned": "joint",
                     "minibatch": "joint", "averaged": "joint"}
    assert rule_greedy.degrees(NESTEROV) == (4, 2, 2)
    assert sp.simplify(rule_greedy.cross_coefficient(NESTEROV) - model.h**3 * model.A_v / 2) == 0
    assert rule_greedy.cross_coefficient(HEAVY_BALL) == 0
    cubic = Rule("cubic", "", "", state=(model.theta, model.v), initial=(1, 0),
                 step=lambda s, g: (s[model.theta] - model.alpha**2 * g(s[model.theta]), s[model.v]))
    with pytest.raises(ValueError, match="not a quadratic in alpha"):
        rule_greedy.greedy_step(cubic)
