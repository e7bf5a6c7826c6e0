"""Each rule's exact moments (numeric/nqm/rule_dynamics.py) against Monte Carlo of its own stochastic update
(numeric/nqm/rule_montecarlo.py, the generated <rule>_update with the noise sampled, a minibatch's as the
mean of B draws).

Every state variable is Gaussian (the update is affine in the state plus Gaussian noise, theta(0) is Gaussian
or fixed), so with N runs the sample mean and the sample variance have known distributions
(tests/test_nqm_montecarlo.py's z_scores: a normal z for the mean, the Wilson-Hilferty z for the variance);
a coordinate with zero variance must match to rounding.

Family-wise false alarms (Bonferroni), N = 100,000 runs, threshold |z| < 5.5 (two-sided P(|Z| > 5.5) =
3.8e-8): per example, mean and variance of at most 3 state variables x 3 coordinates x 6 steps = 108
comparisons, so P(any false alarm) < 4.2e-6 per example, < 1.7e-4 for the `ci` profile's 8 examples per
rule over 5 rules (40 examples). Seeds are fixed (hypothesis draws them; `ci` is derandomized).
Power: N = 400,000 on a fixed 2-coordinate problem over 20 steps (at most 3 x 2 x 2 x 20 = 240 comparisons,
false-alarm rate < 9.2e-6 for the unperturbed check), and one coefficient of each rule's generated step
changed by a few percent must push max |z| past twice the threshold.
"""
import importlib.util
import pathlib

import numpy as np
import pytest
from hypothesis import given, strategies as st

from shb.ground import resources
from shb.numeric.nqm import rule_dynamics as nqm_rule_dynamics
from shb.numeric.nqm import generated_rules as gen
from shb.numeric.nqm.problem import make_problem
from shb.numeric.nqm.rule_dynamics import rollout
from shb.numeric.nqm.rule_montecarlo import simulate
from test_nqm_montecarlo import THRESHOLD, z_scores

N_RUNS = 100_000
N_POWER = 400_000
RULES = list(gen.RULES)
GENERATED_RULES = pathlib.Path(resources.path("numeric/nqm/generated_rules.py"))


def names(rule):
    return gen.RULES[rule]["state"]


def extras_for(rule, draw, d, T):
    if rule == "preconditioned":
        return {"p": np.array(draw(st.lists(st.floats(0.2, 3.0), min_size=d, max_size=d)))}
    if rule == "minibatch":
        return {"B": float(draw(st.integers(1, 6)))}
    if rule == "averaged":
        return {"gamma": np.array(draw(st.lists(st.floats(0.05, 1.0), min_size=T, max_size=T)))}
    return {}


@st.composite
def cases(draw, rule):
    d = draw(st.integers(1, 3))
    h = np.array(draw(st.lists(st.floats(0.05, 1.5), min_size=d, max_size=d)))
    sigma2 = np.array(draw(st.lists(st.one_of(st.just(0.0), st.floats(0.01, 2.0)), min_size=d, max_size=d)))
    mean0 = np.array(draw(st.lists(st.floats(-5.0, 5.0), min_size=d, max_size=d)))
    var0 = np.array(draw(st.lists(st.one_of(st.just(0.0), st.floats(0.1, 2.0)), min_size=d, max_size=d)))
    T = draw(st.integers(2, 6))
    extras = extras_for(rule, draw, d, T)
    scale = h.max() * (np.max(extras["p"]) if "p" in extras else 1.0)
    # alpha h = 1 exactly would make Nesterov's theta' = (1 - alpha h)(theta + mu v) + noise deterministic: a
    # variance that is 0 by cancellation, which the float recurrence leaves at rounding level, not at 0.
    factor = st.floats(0.05, 1.5).filter(lambda x: abs(x - 1.0) > 1e-3)
    alpha = np.array(draw(st.lists(factor, min_size=T, max_size=T))) / scale
    mu = np.array(draw(st.lists(st.floats(-0.3, 0.95), min_size=T, max_size=T)))
    return make_problem(h, sigma2, mean0, var0), alpha, mu, extras, draw(st.integers(0, 2**32 - 1))


@pytest.mark.slow
@pytest.mark.parametrize("rule", RULES)
@given(data=st.data())
def test_exact_moments_match_monte_carlo_of_the_rules_own_update(rule, data):
    problem, alpha, mu, extras, seed = data.draw(cases(rule))
    exact = rollout(rule, problem, alpha, mu, extras)
    mc = simulate(rule, problem, alpha, mu, N_RUNS, seed, extras, steps=range(1, alpha.size + 1))
    z = z_scores(exact, mc, N_RUNS, names(rule))
    assert z.size <= 108  # the Bonferroni budget above
    assert z.max() < THRESHOLD, f"{rule}: max |z| = {z.max():.2f} >= {THRESHOLD}"


POWER_EXTRAS = {"preconditioned": {"p": np.array([0.5, 2.0])}, "minibatch": {"B": 4.0},
                "averaged": {"gamma": np.full(20, 0.2)}}


def power_case(rule):
    """A fixed noisy 2-D problem with momentum, 20 steps, where every statistic is non-degenerate."""
    problem = make_problem([1.0, 0.2], [1.0, 5.0], [3.0, -4.0], [0.5, 0.0])
    return problem, np.full(20, 0.4), np.full(20, 0.6), POWER_EXTRAS.get(rule, {})


@pytest.fixture(scope="module")
def power_samples():
    """One Monte-Carlo sample per rule (it does not depend on the coefficients of the moment recurrences)."""
    out = {}
    for rule in RULES:
        problem, alpha, mu, extras = power_case(rule)
        out[rule] = simulate(rule, problem, alpha, mu, N_POWER, 11, extras, steps=range(1, 21))
    return out


@pytest.mark.slow
@pytest.mark.parametrize("rule", RULES)
def test_unperturbed_power_case_passes(power_samples, rule):
    problem, alpha, mu, extras = power_case(rule)
    z = z_scores(rollout(rule, problem, alpha, mu, extras), power_samples[rule], N_POWER, names(rule))
    assert z.max() < THRESHOLD


@pytest.fixture
def rules_mutant(tmp_path):
    """rules_mutant(function, old, new): the generated rules module with `old` replaced by `new` once,
    inside `function` only, loaded as a separate module (the generated file itself is never touched)."""
    def make(function, old, new):
        text = GENERATED_RULES.read_text()
        start = text.index(f"\ndef {function}(")
        end = text.find("\n\n\ndef ", start + 1)
        body = text[start:end]
        assert body.count(old) == 1, f"mutation pattern {old!r} must occur exactly once in {function}"
        path = tmp_path / f"rules_mutant_{function}.py"
        path.write_text(text[:start] + body.replace(old, new) + text[end:])
        spec = importlib.util.spec_from_file_location(path.stem, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    return make


@pytest.mark.parametrize("rule, old, new", [
    ("heavy_ball", "mu**2*var_v + sigma2*x5", "mu**2*var_v + 1.03*sigma2*x5"),  # gradient noise in V[v']
    ("nesterov", "mean_v*mu*x0 - mean_v*mu", "1.03*mean_v*mu*x0 - mean_v*mu"),    # look-ahead gradient in E[v']
    ("nesterov", "sigma2*x7", "1.03*sigma2*x7"),                                    # gradient noise in the variances
    ("preconditioned", "alpha**2*h**2*p**2", "1.03*alpha**2*h**2*p**2"),            # p^2 in the variances
    ("minibatch", "sigma2*x5/B", "1.03*sigma2*x5/B"),                               # the noise variance sigma2 / B
    ("averaged", "-gamma*mean_theta_avg", "-1.03*gamma*mean_theta_avg"),            # the averaging weight, mean
    ("averaged", "-var_theta_avg*x13", "-1.03*var_theta_avg*x13"),                  # the averaging weight, V[avg']
    ("averaged", "x14*x9", "1.03*x14*x9"),                                          # gradient noise reaching the average
])
def test_power_a_few_percent_coefficient_error_is_caught(power_samples, rules_mutant, monkeypatch, rule, old, new):
    problem, alpha, mu, extras = power_case(rule)
    monkeypatch.setattr(nqm_rule_dynamics, "gen", rules_mutant(f"{rule}_step", old, new))
    z = z_scores(rollout(rule, problem, alpha, mu, extras), power_samples[rule], N_POWER, names(rule))
    assert z.max() > 2 * THRESHOLD, f"{rule}: max |z| = {z.max():.2f}"
