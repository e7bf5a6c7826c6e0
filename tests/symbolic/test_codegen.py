"""symbolic/codegen.py (`shb derive`): the generated module and documents, and the paper's closed forms in them.

- regeneration is deterministic and the committed files are current;
- `shb derive --check` names a hand-edited or missing generated file and exits non-zero; a bad root is one line;
- every generated function (the paper's closed forms here, every rule's in tests/symbolic/test_codegen_rules.py)
  agrees with sympy.lambdify of the same expressions in 50-digit arithmetic;
- the generated greedy (alpha*, mu*) (Theorem 2's solution from its five sums) is a stationary point and a
  minimiser of the paper's one-step loss (Eq. 15, symbolic/greedy.py lambdified).
"""
import os
import subprocess
import sys

import autograd
import autograd.numpy as anp
import mpmath
import numpy as np
import pytest
import sympy as sp
from hypothesis import assume, given, strategies as st

from shb.numeric.nqm import generated as gen
from shb.symbolic import codegen, greedy, model

SHB = [sys.executable, "-m", "shb.cli"]


@pytest.mark.slow
def test_regeneration_is_deterministic(generated_outputs):
    # Catches: set/dict ordering or time stamps leaking into the generated text (two derivations in one session).
    assert codegen.outputs() == generated_outputs


@pytest.mark.slow
def test_committed_generated_files_are_current():
    # Catches: a derivation changed without `shb derive`, or a hand edit of a generated file.
    assert codegen.stale() == []
    result = subprocess.run(SHB + ["derive", "--check"], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.slow
@pytest.mark.parametrize("rel", codegen.PATHS)
def test_check_catches_a_hand_edit(tree_copy, rel, generated_outputs, monkeypatch):
    # Catches: a check that compares nothing, or passes when a file differs (the stamp included); and a `shb derive`
    # that does not repair it. In this process against the session's derivations (the command's exit status 1 on a
    # stale file: test_check_catches_a_missing_file; 0: test_committed_generated_files_are_current).
    monkeypatch.setattr(codegen, "outputs", lambda: dict(generated_outputs))
    path = tree_copy / rel
    path.write_text(path.read_text().replace("\n", "\n ", 1))
    assert codegen.stale(str(tree_copy)) == [rel]
    assert codegen.write(str(tree_copy)) == [rel]
    assert codegen.stale(str(tree_copy)) == []


@pytest.mark.slow
def test_the_paths_are_the_outputs(generated_outputs):
    # Catches: a generated file added to outputs() but not to PATHS (the stamp would not name it), or the reverse.
    assert tuple(generated_outputs) == codegen.PATHS


@pytest.mark.slow
def test_check_catches_a_missing_file(tree_copy):
    os.remove(tree_copy / codegen.GENERATED_MODULE)
    result = subprocess.run(SHB + ["derive", "--check", "--root", str(tree_copy)], capture_output=True, text=True)
    assert result.returncode == 1 and codegen.GENERATED_MODULE in result.stdout


@pytest.mark.slow
def test_bad_root_is_a_one_line_error(tmp_path):
    result = subprocess.run(SHB + ["derive", "--root", str(tmp_path / "nope")], capture_output=True, text=True)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1


# --- generated code against sympy.lambdify -------------------------------------------------------

# Rounded to 6 decimals: no subnormal or near-underflow inputs, where float64 itself is meaningless.
finite = st.floats(min_value=-3.0, max_value=3.0).map(lambda x: round(x, 6))
positive = st.floats(min_value=0.05, max_value=3.0).map(lambda x: round(x, 6))


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # singular draws are rejected by assume below
@pytest.mark.parametrize("func", codegen.functions(), ids=lambda f: f.name)
@given(data=st.data())
def test_generated_matches_lambdify(func, data):
    # Catches: a printer or CSE bug, or a generated module out of step with the expressions.
    check_against_lambdify(gen, func, data)


def check_against_lambdify(module, func, data):
    """The generated `func` of `module` at hypothesis-drawn arguments equals 50-digit lambdify of its expressions."""
    d = 3
    args = []
    for symbol in func.args:
        draw = positive if (symbol.assumptions0.get("positive") or symbol.assumptions0.get("nonnegative")) else finite
        values = np.array(data.draw(st.lists(draw, min_size=d, max_size=d)))
        if symbol.assumptions0.get("integer"):
            values = np.round(np.abs(values))
        args.append(values)
    generated = getattr(module, func.name)(*args)
    generated = generated if isinstance(generated, tuple) else (generated,)
    for (name, expr), value in zip(func.outputs, generated):
        reference = _exact(func.args, expr, args, d)
        # Only well-conditioned points: where float64 lambdify agrees with 50-digit arithmetic.
        float64 = sp.lambdify(func.args, expr, modules="numpy")(*args) * np.ones(d)
        if func.sum_last_axis:
            reference, float64 = np.sum(reference), np.sum(float64)
        assume(np.all(np.isfinite(float64)))
        assume(np.allclose(float64, reference, rtol=1e-11, atol=1e-11))
        np.testing.assert_allclose(value, reference, rtol=1e-9, atol=1e-9, err_msg=f"{func.name}.{name}")


def _exact(symbols, expr, args, d):
    """expr at each coordinate's arguments, in 50-digit arithmetic, rounded to float."""
    f = sp.lambdify(symbols, expr, modules="mpmath")
    with mpmath.workdps(50):
        out = []
        for i in range(d):
            try:
                out.append(float(f(*(mpmath.mpf(float(a[i])) for a in args))))
            except ZeroDivisionError:
                out.append(np.inf)
        return np.array(out)


# --- greedy (alpha*, mu*) minimises the paper's one-step loss ------------------------------------


@st.composite
def nqm_states(draw, max_d=5):
    """Consistent statistics for d coordinates: V >= 0 and Cov^2 <= V[theta] V[v]."""
    d = draw(st.integers(1, max_d))
    coords = st.lists(st.floats(0.05, 2.0), min_size=d, max_size=d)
    h = np.array(draw(coords))
    sigma2 = np.array(draw(st.lists(st.floats(0.0, 2.0), min_size=d, max_size=d)))
    mean_theta = np.array(draw(st.lists(st.floats(-5, 5), min_size=d, max_size=d)))
    mean_v = np.array(draw(st.lists(st.floats(-2, 2), min_size=d, max_size=d)))
    var_theta = np.array(draw(coords))
    var_v = np.array(draw(coords))
    rho = np.array(draw(st.lists(st.floats(-0.95, 0.95), min_size=d, max_size=d)))
    cov = rho * np.sqrt(var_theta * var_v)
    return h, sigma2, (mean_theta, mean_v, var_theta, var_v, cov)


RAW = (model.A_theta, model.A_v, model.E_theta_v)
EQ15 = sp.lambdify((model.alpha, model.mu, model.h, model.sigma2, *RAW), greedy.one_step_loss(), modules=anp)
TERMS = sp.lambdify((model.h, model.sigma2, *RAW), [greedy.per_coordinate_terms()[s] for s in greedy.SUMS],
                    modules="numpy")


def raw_moments(stats):
    mean_theta, mean_v, var_theta, var_v, cov = stats
    return mean_theta**2 + var_theta, mean_v**2 + var_v, cov + mean_theta * mean_v


def total_one_step_loss(x, h, sigma2, raw):
    return anp.sum(EQ15(x[0], x[1], h, sigma2, *raw) + 0.0 * h)


@given(state=nqm_states(), directions=st.lists(st.tuples(st.floats(-1, 1), st.floats(-1, 1)), min_size=5, max_size=5),
       scale=st.sampled_from([1e-3, 1e-1, 1.0]))
def test_greedy_is_stationary_and_minimal(state, directions, scale):
    # Catches: a sign slip in alpha* or mu* (the extracted paper text drops minus signs), or a wrong sum.
    h, sigma2, stats = state
    raw = raw_moments(stats)
    sums = [np.sum(term * np.ones_like(h)) for term in TERMS(h, sigma2, *raw)]
    H_aa, H_am, H_mm = sums[:3]
    det = H_aa * H_mm - H_am**2
    assume(det > 1e-6 * H_aa * H_mm)  # nearly singular: the minimiser is not unique (the proofs' degenerate case)
    x_star = np.array(gen.greedy_solution(*sums))
    gradient = autograd.grad(total_one_step_loss)(x_star, h, sigma2, raw)
    scale_g = np.abs(np.array(sums[3:])).sum() + np.abs(np.array(sums[:3])).sum() * (1 + np.abs(x_star).sum())
    assert np.all(np.abs(gradient) <= 1e-9 * scale_g)
    best = total_one_step_loss(x_star, h, sigma2, raw)
    for direction in directions:
        nearby = x_star + scale * np.array(direction)
        assert best <= total_one_step_loss(nearby, h, sigma2, raw) + 1e-12 * (1 + abs(best))
