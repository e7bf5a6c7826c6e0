"""The noisy quadratic problem (Section 2.2.2): curvatures, noise, and the initial distribution.

Expected loss (Eqs. 4-6), with theta* = 0 WLOG:

    E[L(theta(t))] = 1/2 sum_i h_i (E[theta_i(t)]^2 + V[theta_i(t)] + sigma2_i),

where h_i > 0 is the curvature and sigma2_i >= 0 the variance of the stochastic minimum c_i of
coordinate i (the stochastic gradient is h_i (theta_i - c_i)). Throughout the toolkit "loss" is the
excess loss: the constant 1/2 sum_i h_i sigma2_i is left out.

theta_i(0) ~ N(mean0_i, var0_i) independently, and the velocity starts at v(0) = 0.

A problem is a `Problem(h, sigma2, mean0, var0)` of four float arrays of one length d >= 1.
Build it with `make_problem` (validates) or `from_json`; spectra and the paper presets are below.
"""
import math
from collections import namedtuple
from numbers import Real

import numpy as np

from shb.ground.errors import InputError

Problem = namedtuple("Problem", ["h", "sigma2", "mean0", "var0"])

FIELDS = ("h", "sigma2", "mean0", "var0")


class ProblemError(InputError):
    """An invalid problem: the message names the bad field and value (CLI: one line, exit 2)."""


# The largest magnitude whose square is a float64: the moments square every input (E[theta^2], (alpha h)^2, ...).
LARGEST = 2.0 ** 511


def _check_magnitude(what, name, arr):
    """ProblemError naming the first entry of `arr` whose square overflows float64."""
    bad = np.flatnonzero(np.abs(arr) >= LARGEST)
    if bad.size:
        raise ProblemError(f"{what} field {name!r}[{bad[0]}] = {arr[bad[0]]:g} is too large: its square overflows "
                           f"float64 (the magnitude must be below {LARGEST:.3g})")


def _as_vector(name, value):
    """A 1-D float array from a list (or a number), rejecting booleans, strings, nesting and None."""
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in "iuf":
            raise ProblemError(f"problem field {name!r} must hold numbers, got dtype {value.dtype}")
        if value.ndim > 1:
            raise ProblemError(f"problem field {name!r} must be a flat list, got shape {value.shape}")
        return np.atleast_1d(value.astype(float))
    items = value if isinstance(value, (list, tuple)) else [value]
    out = []
    for j, item in enumerate(items):
        if isinstance(item, (bool, np.bool_)) or not isinstance(item, (Real, np.integer, np.floating)):
            raise ProblemError(f"field {name!r}[{j}] is not a number: {item!r}")
        out.append(float(item))
    return np.array(out, dtype=float)


def make_problem(h, sigma2, mean0=10.0, var0=0.0):
    """Validate and build a Problem. `mean0` and `var0` may be numbers (the same for every coordinate).

    Requires: d >= 1 coordinates, every h_i finite and > 0, every sigma2_i and var0_i finite and >= 0,
    every mean0_i finite, every magnitude below 2^511 (so that its square is a float64), and equal lengths.
    """
    h = _as_vector("h", h)
    d = h.size
    if d == 0:
        raise ProblemError("problem field 'h' is empty: a problem needs at least one coordinate")
    arrays = {"h": h}
    for name, value in (("sigma2", sigma2), ("mean0", mean0), ("var0", var0)):
        arr = _as_vector(name, value)
        if arr.size == 1 and d > 1 and not isinstance(value, (list, tuple, np.ndarray)):
            arr = np.full(d, arr[0])
        if arr.size != d:
            raise ProblemError(f"problem field {name!r} has length {arr.size}, but 'h' has length {d}")
        arrays[name] = arr
    for name in FIELDS:
        arr = arrays[name]
        bad = np.flatnonzero(~np.isfinite(arr))
        if bad.size:
            raise ProblemError(f"problem field {name!r}[{bad[0]}] is not finite: {arr[bad[0]]}")
        _check_magnitude("problem", name, arr)
    checks = (("h", lambda x: x > 0, "> 0"), ("sigma2", lambda x: x >= 0, ">= 0"), ("var0", lambda x: x >= 0, ">= 0"))
    for name, ok, what in checks:
        arr = arrays[name]
        bad = np.flatnonzero(~ok(arr))
        if bad.size:
            raise ProblemError(f"problem field {name!r}[{bad[0]}] must be {what}, got {arr[bad[0]]}")
    return Problem(arrays["h"], arrays["sigma2"], arrays["mean0"], arrays["var0"])


def from_json(obj):
    """A Problem from the P.json object {"h": [...], "sigma2": [...], "mean0": [...], "var0": [...]}."""
    if not isinstance(obj, dict):
        raise ProblemError(f"problem must be a JSON object with fields {list(FIELDS)}, got {type(obj).__name__}")
    missing = [name for name in FIELDS if name not in obj]
    if missing:
        raise ProblemError(f"problem is missing field {missing[0]!r} (needs {list(FIELDS)})")
    unknown = sorted(set(obj) - set(FIELDS))
    if unknown:
        raise ProblemError(f"problem has unknown field {unknown[0]!r} (allowed: {list(FIELDS)})")
    for name in FIELDS:
        if not isinstance(obj[name], list):
            raise ProblemError(f"problem field {name!r} must be a list of numbers, got {obj[name]!r:.60}")
    return make_problem(obj["h"], obj["sigma2"], obj["mean0"], obj["var0"])


def to_json(problem):
    """The P.json object of a Problem."""
    return {name: getattr(problem, name).tolist() for name in FIELDS}


# ---------------------------------------------------------------------------------------------
# Spectra
# ---------------------------------------------------------------------------------------------


def chebyshev_extreme(n, h_min, h_max):
    """Chebyshev extreme points on [h_min, h_max]:

        h_i = (h_max + h_min)/2 + (h_max - h_min)/2 cos(pi i / (n - 1)),  i = 0..n-1,

    the spectrum on which conjugate gradient attains its worst-case convergence rate
    (R.-C. Li 2005, after Meinardus), used by the paper in Section 2.3. Descending from h_max.
    """
    _check_range(n, h_min, h_max)
    if n == 1:
        return np.array([float(h_max)])
    i = np.arange(n)
    return (h_max + h_min) / 2.0 + (h_max - h_min) / 2.0 * np.cos(np.pi * i / (n - 1))


def log_uniform(n, h_min, h_max):
    """n curvatures evenly spaced in log h on [h_min, h_max] (the quantiles of a log-uniform law), descending."""
    _check_range(n, h_min, h_max)
    return np.geomspace(h_max, h_min, n)


def power_law(n, h_max=1.0, power=1.0):
    """h_i = h_max / i^power, i = 1..n (the 1/i spectrum for power = 1), descending."""
    if not (isinstance(n, (int, np.integer)) and n >= 1):
        raise ProblemError(f"spectrum size n must be a positive integer, got {n!r}")
    if not (math.isfinite(h_max) and h_max > 0):
        raise ProblemError(f"spectrum h_max must be finite and > 0, got {h_max!r}")
    return h_max / np.arange(1, n + 1, dtype=float) ** power


def _check_range(n, h_min, h_max):
    if not (isinstance(n, (int, np.integer)) and n >= 1):
        raise ProblemError(f"spectrum size n must be a positive integer, got {n!r}")
    if not (math.isfinite(h_min) and h_min > 0):
        raise ProblemError(f"spectrum h_min must be finite and > 0, got {h_min!r}")
    if not (math.isfinite(h_max) and h_max >= h_min):
        raise ProblemError(f"spectrum h_max must be finite and >= h_min = {h_min}, got {h_max!r}")


SPECTRA = {"chebyshev": chebyshev_extreme, "log-uniform": log_uniform}

# ---------------------------------------------------------------------------------------------
# Presets (Section 2.3). The paper does not state h_min, E[theta0] or V[theta0]; h_min = 0.005,
# E[theta0] = 10 and V[theta0] = 0 are OUR choices. With them, at T = 250 (paper in brackets):
# greedy 63.93 (63.86), fixed 42.20 (42.19), optimized 3.95 (4.25); greedy-sgd 65.10. Deterministic:
# greedy = CG 7.5e-29, optimized 7.5e-29, fixed 2.2e-23 (initial loss 25125). See numeric/nqm/schedules.py.
# ---------------------------------------------------------------------------------------------

PAPER_D = 1000
PAPER_H_MIN = 0.005
PAPER_H_MAX = 1.0
PAPER_MEAN0 = 10.0
PAPER_VAR0 = 0.0


def paper(d=PAPER_D, h_min=PAPER_H_MIN, h_max=PAPER_H_MAX, mean0=PAPER_MEAN0, var0=PAPER_VAR0):
    """The noisy problem of Section 2.3: Chebyshev extreme points, sigma2_i = 1/h_i ("h_i = V[grad]")."""
    h = chebyshev_extreme(d, h_min, h_max)
    return make_problem(h, 1.0 / h, mean0, var0)


def paper_deterministic(d=PAPER_D, h_min=PAPER_H_MIN, h_max=PAPER_H_MAX, mean0=PAPER_MEAN0, var0=PAPER_VAR0):
    """The deterministic problem of Section 2.3 (Figure 3b): the same Hessian with sigma2 = 0."""
    h = chebyshev_extreme(d, h_min, h_max)
    return make_problem(h, np.zeros_like(h), mean0, var0)


PRESETS = {"paper": paper, "paper-deterministic": paper_deterministic}


def preset(name):
    """The named preset problem (`paper` or `paper-deterministic`)."""
    if name not in PRESETS:
        raise ProblemError(f"unknown preset {name!r} (choose from {sorted(PRESETS)})")
    return PRESETS[name]()


# ---------------------------------------------------------------------------------------------
# Schedules from JSON (S.json = {"alpha": [...], "mu": [...]})
# ---------------------------------------------------------------------------------------------


def schedule_from_json(obj):
    """(alpha, mu) float arrays of one length T >= 1 from {"alpha": [...], "mu": [...]}, all finite."""
    if not isinstance(obj, dict):
        raise ProblemError(f"schedule must be a JSON object with fields ['alpha', 'mu'], got {type(obj).__name__}")
    unknown = sorted(set(obj) - {"alpha", "mu"})
    if unknown:
        raise ProblemError(f"schedule has unknown field {unknown[0]!r} (allowed: ['alpha', 'mu'])")
    out = []
    for name in ("alpha", "mu"):
        if name not in obj:
            raise ProblemError(f"schedule is missing field {name!r} (needs ['alpha', 'mu'])")
        if not isinstance(obj[name], list):
            raise ProblemError(f"schedule field {name!r} must be a list of numbers, got {obj[name]!r:.60}")
        arr = _as_vector(name, obj[name]).copy()
        bad = np.flatnonzero(~np.isfinite(arr))
        if bad.size:
            raise ProblemError(f"schedule field {name!r}[{bad[0]}] is not finite: {arr[bad[0]]}")
        _check_magnitude("schedule", name, arr)
        out.append(arr)
    alpha, mu = out
    if alpha.size == 0:
        raise ProblemError("schedule field 'alpha' is empty: a schedule needs at least one step")
    if alpha.size != mu.size:
        raise ProblemError(f"schedule field 'mu' has length {mu.size}, but 'alpha' has length {alpha.size}")
    return alpha, mu
