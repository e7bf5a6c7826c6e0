"""The paper's NQM figures beyond their checks (experiments/figures/fig2_short_horizon.py) and the generated-code
check that stamps every figure (experiments.common.generated_code_check). The Monte-Carlo, greedy and safeguard
checks at the figures' sizes: tests/nqm/test_checks.py.

Catches: the batched Figure 2 sweep reading the loss of the wrong step (k - 1, or T of the longest horizon) or of
another learning rate, its dashed curves' tail built for the wrong alpha; figures computed by a generated module
that no longer matches symbolic/ (a hand edit, or a derivation changed without `shb derive`), or by none.
"""
import numpy as np
import pytest
from hypothesis import given, strategies as st

from shb.experiments import common
from shb.experiments.figures import fig2_short_horizon
from shb.numeric.nqm import fixed_decay as nqm_fixed_decay
from shb.numeric.nqm import optimizers as nqm_optimizers
from shb.numeric.nqm.problem import make_problem

HEAVY_BALL = nqm_optimizers.get("heavy-ball")


@st.composite
def problems(draw, max_d=3):
    d = draw(st.integers(1, max_d))
    floats = lambda lo, hi: st.lists(st.floats(lo, hi), min_size=d, max_size=d)  # noqa: E731
    h = np.array(draw(floats(0.05, 1.5)))
    sigma2 = np.array(draw(st.lists(st.one_of(st.just(0.0), st.floats(0.01, 2.0)), min_size=d, max_size=d)))
    mean0 = np.array(draw(st.lists(st.one_of(st.just(0.0), st.floats(0.1, 5.0), st.floats(-5.0, -0.1)),
                                   min_size=d, max_size=d)))
    var0 = np.array(draw(st.lists(st.one_of(st.just(0.0), st.floats(0.01, 2.0)), min_size=d, max_size=d)))
    return make_problem(h, sigma2, mean0, var0)


@given(problems(), st.lists(st.sampled_from([1, 2, 3, 5]), min_size=1, max_size=3, unique=True),
       st.integers(0, 4), st.integers(2, 7), st.floats(0.05, 1.0))
def test_figure_2_sweep_equals_one_learning_rate_at_a_time(problem, horizons, tail, n_alpha, decay_to):
    cfg = dict(horizons=tuple(horizons), tail=tail, decay_to=decay_to, alpha_min=0.01,
               alpha_max=1.9 / problem.h.max(), n_alpha=n_alpha)
    alphas, solid, dashed = fig2_short_horizon.sweep(problem, cfg)
    np.testing.assert_allclose(alphas, np.geomspace(cfg["alpha_min"], cfg["alpha_max"], n_alpha), rtol=1e-12)
    for k in horizons:
        assert solid[k].shape == dashed[k].shape == (n_alpha,)
        for j, alpha in enumerate(alphas):
            fixed = np.full(k, alpha)
            expected = HEAVY_BALL.rollout(problem, fixed, np.zeros(k))["loss"][k]
            np.testing.assert_allclose(solid[k][j], expected, rtol=1e-12, atol=1e-300)
            decayed = nqm_fixed_decay.fixed_then_decay(alpha, k, tail, decay_to)
            expected = HEAVY_BALL.rollout(problem, decayed, np.zeros_like(decayed))["loss"][-1]
            np.testing.assert_allclose(dashed[k][j], expected, rtol=1e-12, atol=1e-300)


# --- generated code current -------------------------------------------------------------------------------


@pytest.fixture
def cached_outputs(generated_outputs, monkeypatch):
    """codegen.outputs() generated once per session (it takes seconds); stale() still reads the files."""
    from shb.symbolic import codegen

    monkeypatch.setattr(codegen, "outputs", lambda: dict(generated_outputs))


# A coefficient of heavy ball's Theorem 1 (the gradient noise in V[v']), by a pattern that occurs once in the file.
NOISE_TERM = "    x5 = alpha**2*h**2\n    x6 = mu**2*var_v + sigma2*x5"


@pytest.mark.slow
def test_generated_code_check_fails_on_a_stale_generated_module(tree_copy, cached_outputs):
    # Mistake: figures computed by a generated module that no longer matches symbolic/ (a hand edit, or a
    # derivation changed without `shb derive`): one coefficient of Theorem 1 changed in a copy of the tree.
    right = common.generated_code_check(str(tree_copy))
    assert right["passed"] and right["detail"].startswith("numeric/nqm/generated.py matches symbolic/"), right
    path = tree_copy / "numeric" / "nqm" / "generated.py"
    text = path.read_text()
    assert text.count(NOISE_TERM) == 1
    path.write_text(text.replace(NOISE_TERM, NOISE_TERM.replace("sigma2*x5", "1.01*sigma2*x5")))
    wrong = common.generated_code_check(str(tree_copy))
    assert not wrong["passed"]
    assert wrong["detail"] == "stale: numeric/nqm/generated.py"
    assert wrong["name"] == right["name"] == "generated code is current (shb derive --check)"


@pytest.mark.slow  # derives (the stamp no longer matches)
def test_generated_code_check_fails_when_the_generated_module_is_missing(tree_copy, cached_outputs):
    # Mistake: a tree without the generated module (never derived, or deleted).
    (tree_copy / "numeric" / "nqm" / "generated.py").unlink()
    wrong = common.generated_code_check(str(tree_copy))
    assert not wrong["passed"] and "numeric/nqm/generated.py" in wrong["detail"]
