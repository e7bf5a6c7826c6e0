"""symbolic/codegen_rules.py: every rule's generated functions in numeric/nqm/generated.py and their metadata.

- every rule's generated function agrees with 50-digit lambdify of its expressions;
- every rule of the registry has every generated function and its metadata (a new rule is picked up);
- heavy ball's generated functions, derived by the rule engine from its update, are the paper's formulas
  numerically: Theorem 1 (symbolic/dynamics.py), Eq. 15 and Theorem 2's sums (symbolic/greedy.py), each derived
  separately from symbolic/model.py (proofs/rules_heavy_ball.py checks the expressions themselves);
- every rule's generated functions broadcast over a batch axis of schedules.
"""
import functools

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, strategies as st

from shb.numeric.nqm import generated as gen
from shb.symbolic import codegen_rules, dynamics, greedy, model
from shb.symbolic.optimizers import RULES

from .test_codegen import check_against_lambdify

KINDS = ("update", "step", "raw_moments", "raw_step", "raw_step_vjp", "one_step_loss", "greedy_sums",
         "direction_step", "noise_form", "probe", "stability_limit")


NAMES = [f"{rule.name}_{kind}" for rule in RULES for kind in KINDS]  # named here: no derivation at collection


@functools.cache
def derived():
    """{name: Function} of every rule's generated function, derived once per process that needs them."""
    return {f.name: f for f in codegen_rules.functions()}


@pytest.mark.slow
def test_the_names_are_every_derived_function():
    # Catches: a generated function of a rule that the lambdify test below would leave out (a new kind).
    assert sorted(derived()) == sorted(NAMES)


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # singular draws are rejected by assume
@pytest.mark.parametrize("name", NAMES)
@given(data=st.data())
def test_generated_rules_match_lambdify(name, data):
    # Catches: a printer or CSE bug, or the generated module out of step with the derivations.
    check_against_lambdify(gen, derived()[name], data)


def test_every_rule_has_every_generated_function_and_its_metadata():
    # (That the file is what the derivations give now: tests/symbolic/test_codegen.py, `shb derive --check`.)
    assert list(gen.RULES) == [r.name for r in RULES]
    for rule in RULES:
        assert all(callable(getattr(gen, f"{rule.name}_{k}")) for k in KINDS)
        meta = gen.RULES[rule.name]
        assert meta["state"][0] == "theta" and len(meta["initial"]) == len(meta["state"])
        assert meta["raw"][meta["loss_index"]] == f"A_{rule.loss_at.name}"
        assert len(meta["central"]) == len(meta["state"]) + len(meta["pairs"]) == len(meta["state"]) + len(meta["raw"])


@functools.cache
def papers_formulas():
    """Theorem 1's step of the five statistics, Eq. 15 and Theorem 2's per-coordinate sums, lambdified."""
    theorem1 = dynamics.theorem1()
    step = sp.lambdify((model.alpha, model.mu, model.h, model.sigma2, *model.STATE),
                       [theorem1[s.name] for s in model.STATE], modules="numpy")
    raw_symbols = (model.A_theta, model.A_v, model.E_theta_v)
    eq15 = sp.lambdify((model.alpha, model.mu, model.h, model.sigma2, *raw_symbols), greedy.one_step_loss())
    terms = sp.lambdify((model.h, model.sigma2, *raw_symbols),
                        [greedy.per_coordinate_terms()[s] for s in greedy.SUMS])
    return step, eq15, terms


@given(st.integers(0, 2**31 - 1))
def test_heavy_balls_generated_functions_are_the_papers_formulas(seed):
    # Catches the rule engine's heavy ball drifting from the paper's Theorem 1, Eq. 15 or Theorem 2's sums (an
    # expectation, a symmetrization or a sum of the engine that differs from the paper's derivation).
    rng = np.random.default_rng(seed)
    d = 4
    h, sigma2 = rng.uniform(0.1, 1.0, d), rng.uniform(0.0, 2.0, d)
    var_theta, var_v = rng.uniform(0.1, 1.0, d), rng.uniform(0.1, 1.0, d)
    stats = (rng.normal(size=d), rng.normal(size=d), var_theta, var_v,
             rng.uniform(-0.9, 0.9, d) * np.sqrt(var_theta * var_v))
    step, eq15, terms = papers_formulas()
    raw = gen.heavy_ball_raw_moments(*stats)
    np.testing.assert_allclose(raw, (stats[0] ** 2 + stats[2], stats[1] ** 2 + stats[3], stats[4] + stats[0] * stats[1]),
                               rtol=1e-15)
    for alpha, mu in ((0.3, 0.8), (1.2, -0.2)):
        np.testing.assert_allclose(gen.heavy_ball_step(alpha, mu, h, sigma2, *stats), step(alpha, mu, h, sigma2, *stats),
                                   rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(gen.heavy_ball_raw_step(alpha, mu, h, sigma2, *raw),
                                   gen.heavy_ball_raw_moments(*step(alpha, mu, h, sigma2, *stats)), rtol=1e-12,
                                   atol=1e-14)
        np.testing.assert_allclose(gen.heavy_ball_one_step_loss(alpha, mu, h, sigma2, *raw),
                                   eq15(alpha, mu, h, sigma2, *raw), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(gen.heavy_ball_greedy_sums(h, sigma2, *raw),
                               [np.sum(t * np.ones(d)) for t in terms(h, sigma2, *raw)], rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("rule", [r.name for r in RULES])
def test_generated_rule_functions_broadcast_over_a_batch_axis(rule):
    # A batch of 4 schedules' (alpha, mu) against 3 coordinates gives (4, 3) statistics and (4,) sums, each row the
    # single schedule's. Catches a generated function that reduces or reshapes where it should broadcast.
    rng = np.random.default_rng(0)
    meta = gen.RULES[rule]
    h = rng.uniform(0.1, 1.0, 3)
    n = len(meta["state"])
    L = np.tril(rng.normal(size=(4, 3, n, n)))
    M = L @ np.swapaxes(L, -1, -2)
    means = [rng.normal(size=(4, 3)) for _ in range(n)]
    stats = means + [M[..., a, b] for a, b in meta["pairs"]]
    extras = [rng.uniform(0.2, 1.0, 3) for _ in meta["extras"]]  # per coordinate: broadcasting is what is tested
    alpha, mu = rng.uniform(0, 1, (4, 1)), rng.uniform(0, 1, (4, 1))
    step = getattr(gen, f"{rule}_step")
    out = step(alpha, mu, h, 1 / h, *extras, *stats)
    assert all(np.shape(o) == (4, 3) for o in out)
    for b in range(4):
        single = step(alpha[b, 0], mu[b, 0], h, 1 / h, *extras, *(s[b] for s in stats))
        np.testing.assert_allclose(np.array(out)[:, b], np.array(single))
    raw = getattr(gen, f"{rule}_raw_moments")(*stats)
    given = (0.9,) if meta["greedy"] != "joint" else ()
    sums = getattr(gen, f"{rule}_greedy_sums")(*given, h, 1 / h, *extras, *raw)
    assert all(np.shape(s) == (4,) for s in sums)
