"""Explicit coordinates i = 1..n for the multivariate statements (Section 2.2.2, Appendix A.2.2).

Each coordinate has its own h_i > 0, sigma2_i >= 0 and raw moments A(theta_i),
A(v_i), E[theta_i v_i]; a per-coordinate quantity is the single-coordinate
expression of symbolic.greedy / symbolic.model with the symbols renamed, so the
multivariate sums are built from the engine, not typed in.
"""
import sympy as sp

from shb.symbolic import greedy, model


def symbols(i):
    """The renaming of one coordinate: model symbol -> coordinate-i symbol."""
    return {
        model.h: sp.Symbol(f"h_{i}", positive=True),
        model.sigma2: sp.Symbol(f"sigma2_{i}", nonnegative=True),
        model.A_theta: sp.Symbol(f"A_theta_{i}", nonnegative=True),
        model.A_v: sp.Symbol(f"A_v_{i}", nonnegative=True),
        model.E_theta_v: sp.Symbol(f"E_theta_v_{i}", real=True),
    }


def all_symbols(n):
    return [symbols(i) for i in range(1, n + 1)]


def at(expr, i):
    """A single-coordinate expression for coordinate i."""
    return sp.sympify(expr).subs(symbols(i), simultaneous=True)


def total(expr, n):
    """sum_{i=1}^n of a single-coordinate expression."""
    return sp.Add(*[at(expr, i) for i in range(1, n + 1)])


def sums(n):
    """The five sums of Theorem 2 (H_aa, H_am, H_mm, g_a, g_m) over n coordinates."""
    terms = greedy.per_coordinate_terms()
    return {s: total(terms[s], n) for s in greedy.SUMS}


def summed_loss(n):
    """Appendix A.2.2: the one-step loss summed over n coordinates."""
    return total(greedy.one_step_loss(), n)


def sigma(f, n):
    """sum_i f(c_i) where c_i is coordinate i's renaming (for formulas written as in the paper)."""
    return sp.Add(*[f(c) for c in all_symbols(n)])
