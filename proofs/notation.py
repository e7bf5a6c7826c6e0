"""The paper's notation for printing: symbol names of symbolic.model and proofs.coordinates as LaTeX.

Symbols are named in ASCII (A_theta, sigma2, E_theta_v, h_3, ...); the report
prints them as the paper does: A(\\theta), \\sigma^2, \\mathbb{E}[\\theta v], h_3.
"""
import re

import sympy as sp

BASE_NAMES = {
    "h": "h",
    "sigma2": "\\sigma^{2}",
    "alpha": "\\alpha",
    "mu": "\\mu",
    "theta": "\\theta",
    "v": "v",
    "xi": "\\xi",
    "mean_theta": "\\mathbb{E}[\\theta]",
    "mean_v": "\\mathbb{E}[v]",
    "var_theta": "\\mathbb{V}[\\theta]",
    "var_v": "\\mathbb{V}[v]",
    "cov_theta_v": "\\Sigma_{\\theta,v}",
    "A_theta": "A(\\theta)",
    "A_v": "A(v)",
    "E_theta_v": "\\mathbb{E}[\\theta v]",
    "theta_bar": "\\bar\\theta",
    "v_bar": "\\bar v",
    "alpha_star": "\\alpha^{*}",
    "D": "D",
    # update rules (proofs/rules_*.py): the averaged iterate and its moments, the averaging weight, the previous
    # iterate of Nesterov's 1983 form, the preconditioned coordinate
    "theta_avg": "\\theta_{\\mathrm{avg}}",
    "mean_theta_avg": "\\mathbb{E}[\\theta_{\\mathrm{avg}}]",
    "var_theta_avg": "\\mathbb{V}[\\theta_{\\mathrm{avg}}]",
    "cov_theta_theta_avg": "\\Sigma_{\\theta,\\theta_{\\mathrm{avg}}}",
    "cov_v_theta_avg": "\\Sigma_{v,\\theta_{\\mathrm{avg}}}",
    "A_theta_avg": "A(\\theta_{\\mathrm{avg}})",
    "E_theta_theta_avg": "\\mathbb{E}[\\theta \\theta_{\\mathrm{avg}}]",
    "E_v_theta_avg": "\\mathbb{E}[v \\theta_{\\mathrm{avg}}]",
    "theta_prev": "\\theta_{\\mathrm{prev}}",
    "gamma": "\\gamma",
    "phi": "\\phi",
}

# Coordinate-indexed names, e.g. "A_theta_3" -> A(\theta_3), "sigma2_2" -> \sigma_2^2.
INDEXED = {
    "h": "h_{{{i}}}",
    "sigma2": "\\sigma_{{{i}}}^{{2}}",
    "A_theta": "A(\\theta_{{{i}}})",
    "A_v": "A(v_{{{i}}})",
    "E_theta_v": "\\mathbb{{E}}[\\theta_{{{i}}} v_{{{i}}}]",
    "theta": "\\theta_{{{i}}}",
    "v": "v_{{{i}}}",
    "theta0": "\\theta^{{(0)}}_{{{i}}}",
}

MAX_LATEX = 1200  # longer expressions are summarised, not printed


def latex_name(name):
    """LaTeX for a symbol name, in the paper's notation where known."""
    if name in BASE_NAMES:
        return BASE_NAMES[name]
    match = re.fullmatch(r"(.+)_(\d+)", name)
    if match and match.group(1) in INDEXED:
        return INDEXED[match.group(1)].format(i=match.group(2))
    return None


def symbol_names(expr):
    names = {}
    for s in sp.sympify(expr).free_symbols:
        tex_name = latex_name(s.name)
        if tex_name is not None:
            names[s] = tex_name
    return names


def tex(expr):
    """LaTeX for an expression or matrix, summarised when too long to read."""
    expr = sp.sympify(expr)
    text = sp.latex(expr, symbol_names=symbol_names(expr))
    if len(text) > MAX_LATEX:
        return f"\\text{{[expression of {sp.count_ops(expr)} operations]}}"
    return text


def short(expr, limit=160):
    """A one-line plain-text rendering for diagnostics."""
    text = sp.sstr(expr)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def eq(lhs_tex, rhs):
    """`lhs_tex = rhs` where lhs is named in words (e.g. \\mathbb{V}[v']) and rhs is an expression."""
    return f"{lhs_tex} = {tex(rhs)}"
