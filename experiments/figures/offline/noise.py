"""The noise of the offline experiment's comparisons, measured from separate runs (issue 28).

One definition serves both places where two noisy numbers are compared:

- Figure 6: each horizon's schedule is trained on `curve_seeds` minibatch sequences (the same sequences for every
  horizon); a horizon's final train loss is the mean over its sequences, and its spread the sample standard
  deviation (ddof = 1) over them.
- Figure 5: a surface-started chain's start and end point are each evaluated on `eval_seeds` sequences (the same
  ones for both); J_T is the mean over them, its spread their sample standard deviation.

The spread is that of one run, not the standard error of the mean. A is *above B beyond the noise* when their
mean +- spread bands do not overlap:

    mean(A) - spread(A) > mean(B) + spread(B),

i.e. the difference of the means exceeds the sum of the spreads. With three runs each and equal spreads s, that
is a difference over 2 s = 2.45 standard errors of the difference (Student t with 4 degrees of freedom: a false
alarm about 3.5% of the time, two-sided, when the means are equal). "Within the noise of B" is its negation.
A diverged run (None) counts as +inf and gives an infinite spread: nothing is then shown beyond the noise except
above a finite band, and any check that needs finite numbers fails on it (experiments/verified.py).
"""
import math

import numpy as np


def as_array(values):
    """Runs' values as saved (None for a diverged run) as floats (+inf for None)."""
    return np.array([math.inf if v is None else float(v) for v in values], dtype=float)


def mean(values):
    v = as_array(values)
    return float(np.mean(v)) if np.all(np.isfinite(v)) else math.inf


def spread(values):
    """Sample standard deviation (ddof = 1) over the runs; +inf if one diverged; a ValueError for fewer than two
    runs (one run has no measured noise: the configuration asks for two or more)."""
    v = as_array(values)
    if len(v) < 2:
        raise ValueError(f"a spread needs two or more runs, not {len(v)}")
    return float(np.std(v, ddof=1)) if np.all(np.isfinite(v)) else math.inf


def above(a, b):
    """Runs `a` lie above runs `b` beyond the noise (module docstring)."""
    return mean(a) - spread(a) > mean(b) + spread(b)


def noise(a, b):
    """The noise of comparing `a` with `b`: the sum of their spreads."""
    return spread(a) + spread(b)


def text(values, digits=4):
    """'mean ± spread' (n runs)."""
    return f"{mean(values):.{digits}g} ± {spread(values):.2g}"
