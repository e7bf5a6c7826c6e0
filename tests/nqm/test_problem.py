"""Problem validation, spectra and presets (numeric/nqm/problem.py)."""
import numpy as np
import pytest

from shb.numeric.nqm.problem import (ProblemError, chebyshev_extreme, from_json, log_uniform, make_problem,
                                 power_law, preset, schedule_from_json)
from shb.ground.errors import InputError

GOOD = {"h": [1.0, 0.5], "sigma2": [1.0, 2.0], "mean0": [10.0, -1.0], "var0": [0.0, 0.5]}


def test_from_json_round_trip():
    p = from_json(GOOD)
    assert p.h.tolist() == [1.0, 0.5] and p.sigma2.tolist() == [1.0, 2.0]
    assert p.mean0.tolist() == [10.0, -1.0] and p.var0.tolist() == [0.0, 0.5]


@pytest.mark.parametrize("field, value, words", [
    ("h", [1.0, 0.0], ["'h'[1]", "> 0", "0.0"]),
    ("h", [1.0, -2.0], ["'h'[1]", "-2.0"]),
    ("h", [float("inf"), 1.0], ["'h'[0]", "not finite"]),
    ("h", [float("nan"), 1.0], ["'h'[0]", "not finite"]),
    ("sigma2", [1.0, -0.5], ["'sigma2'[1]", ">= 0", "-0.5"]),
    ("sigma2", [float("nan"), 1.0], ["'sigma2'[0]", "not finite"]),
    ("var0", [-1.0, 0.0], ["'var0'[0]", ">= 0", "-1.0"]),
    ("var0", [0.0, float("inf")], ["'var0'[1]", "not finite"]),
    ("mean0", [0.0, float("-inf")], ["'mean0'[1]", "not finite"]),
    ("sigma2", [1.0], ["'sigma2'", "length 1", "length 2"]),
    ("mean0", [1.0, 2.0, 3.0], ["'mean0'", "length 3"]),
    ("h", ["1", 2.0], ["'h'[0]", "not a number", "'1'"]),
    ("var0", [True, 0.0], ["'var0'[0]", "not a number", "True"]),
    ("mean0", [[1.0], 2.0], ["'mean0'[0]", "not a number"]),
    ("h", [None, 1.0], ["'h'[0]", "None"]),
    ("h", 3.0, ["'h'", "list"]),
])
def test_invalid_fields_are_named(field, value, words):
    obj = dict(GOOD, **{field: value})
    with pytest.raises(ProblemError) as err:
        from_json(obj)
    message = str(err.value)
    assert "\n" not in message
    for word in words:
        assert word in message, (word, message)
    assert isinstance(err.value, ValueError) and isinstance(err.value, InputError)


def test_empty_missing_unknown_and_non_object():
    with pytest.raises(ProblemError, match="empty"):
        from_json({"h": [], "sigma2": [], "mean0": [], "var0": []})
    with pytest.raises(ProblemError, match="missing field 'var0'"):
        from_json({k: v for k, v in GOOD.items() if k != "var0"})
    with pytest.raises(ProblemError, match="unknown field 'theta0'"):
        from_json(dict(GOOD, theta0=[1, 2]))
    with pytest.raises(ProblemError, match="JSON object"):
        from_json([1, 2, 3])


def test_make_problem_broadcasts_scalars_only():
    p = make_problem([1.0, 2.0, 3.0], [0.0, 0.0, 0.0], 10.0, 0.0)
    assert p.mean0.tolist() == [10.0] * 3 and p.var0.tolist() == [0.0] * 3
    with pytest.raises(ProblemError, match="length 1"):
        make_problem([1.0, 2.0], [1.0], 0.0, 0.0)


def test_schedule_validation():
    alpha, mu = schedule_from_json({"alpha": [0.1, 0.2], "mu": [0.0, 0.9]})
    assert alpha.tolist() == [0.1, 0.2] and mu.tolist() == [0.0, 0.9]
    for obj, word in [({"alpha": [0.1]}, "missing field 'mu'"), ({"alpha": [0.1, 0.2], "mu": [0.0]}, "length 1"),
                      ({"alpha": [], "mu": []}, "empty"), ({"alpha": [0.1, "x"], "mu": [0, 0]}, "'alpha'[1]"),
                      ({"alpha": [0.1], "mu": [float("nan")]}, "'mu'[0]"), ([0.1], "JSON object")]:
        with pytest.raises(ProblemError, match=word.replace("[", r"\[").replace("]", r"\]")):
            schedule_from_json(obj)


def test_chebyshev_extreme_points():
    n, lo, hi = 9, 0.005, 1.0
    h = chebyshev_extreme(n, lo, hi)
    assert h[0] == pytest.approx(hi) and h[-1] == pytest.approx(lo)
    # The extreme points of the degree-(n-1) Chebyshev polynomial mapped to [lo, hi]: |T_{n-1}| = 1 there.
    x = (2 * h - (hi + lo)) / (hi - lo)
    T = np.cos((n - 1) * np.arccos(np.clip(x, -1, 1)))
    assert np.allclose(np.abs(T), 1.0)
    assert np.all(np.diff(h) < 0)
    # Symmetric about the midpoint, denser at the ends than in the middle.
    assert np.allclose(h + h[::-1], hi + lo)
    assert (h[0] - h[1]) < (h[n // 2 - 1] - h[n // 2])


def test_log_uniform_and_power_law():
    h = log_uniform(5, 0.01, 1.0)
    assert np.allclose(np.log10(h), [0, -0.5, -1, -1.5, -2])
    assert np.allclose(power_law(4), [1, 1 / 2, 1 / 3, 1 / 4])
    with pytest.raises(ProblemError):
        log_uniform(0, 0.01, 1.0)
    with pytest.raises(ProblemError):
        chebyshev_extreme(5, 0.0, 1.0)
    with pytest.raises(ProblemError):
        chebyshev_extreme(5, 2.0, 1.0)


def test_presets():
    p = preset("paper")
    assert p.h.size == 1000 and p.h.max() == pytest.approx(1.0) and p.h.min() == pytest.approx(0.005)
    assert np.allclose(p.sigma2, 1.0 / p.h)  # the paper's h_i = V[grad_i] assumption: sigma2_i = 1/h_i
    assert np.all(p.mean0 == 10.0) and np.all(p.var0 == 0.0)
    q = preset("paper-deterministic")
    assert np.array_equal(q.h, p.h) and np.all(q.sigma2 == 0.0)
    with pytest.raises(ProblemError, match="unknown preset 'nope'"):
        preset("nope")
