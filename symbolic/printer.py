"""The two printers of `shb derive`: SymPy expressions as numpy functions, and as LaTeX in the paper's notation.

A generated function is a `Function` record: its name, docstring, arguments, named outputs (SymPy expressions),
whether it sums over the last axis, and where its expressions come from. `render_function` prints it with common
subexpressions eliminated; `source_hash` fingerprints the expressions for the generated module's header; `nested`
rewrites an expression into an equal one with fewer array operations and less rounding.
"""
import hashlib
from dataclasses import dataclass, field

import sympy as sp
from sympy.printing.numpy import NumPyPrinter

from shb.symbolic import greedy, model
from shb.symbolic.rules import HYPER


@dataclass
class Function:
    """One generated function: `name(*args) -> outputs`, optionally summed over the last axis."""

    name: str
    doc: str
    args: tuple
    outputs: list  # [(name, sympy expression)]
    sum_last_axis: bool = False
    source: str = ""  # where the expressions come from (cited in the docstring)
    extra: dict = field(default_factory=dict)


def source_hash(funcs):
    """SHA-256 over the srepr of every generated expression, in order."""
    digest = hashlib.sha256()
    for f in funcs:
        digest.update(f.name.encode())
        for out_name, expr in f.outputs:
            digest.update(out_name.encode())
            digest.update(sp.srepr(expr).encode())
    return digest.hexdigest()


def numpy_printer():
    return NumPyPrinter({"fully_qualified_modules": False, "standard": "python3"})


def render_function(f, printer):
    args = ", ".join(a.name for a in f.args)
    lines = [f"def {f.name}({args}):"]
    doc = f.doc.replace("\n", "\n    ")
    lines.append(f'    """{doc}\n\n    Source: {f.source}.\n    """')
    replacements, reduced = sp.cse([e for _, e in f.outputs], symbols=sp.numbered_symbols("x"), optimizations="basic")
    for sym, expr in replacements:
        lines.append(f"    {sym} = {printer.doprint(expr)}")
    names = []
    arg_names = {a.name for a in f.args}
    for (out_name, _), expr in zip(f.outputs, reduced):
        value = printer.doprint(expr)
        if f.sum_last_axis:
            value = f"np.sum({value}, axis=-1)"
        # Never rebind an argument: a later output may still read its old value.
        out_name = f"{out_name}_out" if out_name in arg_names else out_name
        lines.append(f"    {out_name} = {value}")
        names.append(out_name)
    lines.append(f"    return {names[0]}" if len(names) == 1 else f"    return {', '.join(names)}")
    return "\n".join(lines)


def fewest_ops(forms):
    """The first of several equal forms of an expression with the fewest operations (sympy's count_ops)."""
    return min(forms, key=sp.count_ops)


def nested(expr):
    """expr factored, with every sum written in Horner form in alpha (then mu) and its coefficients nested the same
    way: the form with the fewest array operations (a factor such as alpha h sigma2 (w_theta + w_v) - r_theta is
    formed once and shared with the gradient's by common-subexpression elimination). Equal to expr."""
    expr = sp.factor(expr)
    if expr.is_Mul:
        return sp.Mul(*(nested(f) for f in expr.args))
    if expr.is_Pow:
        return nested(expr.base) ** expr.exp
    x = next((x for x in HYPER if expr.has(x)), None)
    if not expr.is_Add or x is None:
        return expr
    constant = sp.Poly(expr, x).all_coeffs()[-1]
    return nested(sp.expand((expr - constant) / x)) * x + nested(constant)


def latex_names():
    """Paper notation for the statistics, raw moments and Theorem 2's sums."""
    names = {
        model.mean_theta: r"\mathbb{E}[\theta]", model.mean_v: r"\mathbb{E}[v]",
        model.var_theta: r"\mathbb{V}[\theta]", model.var_v: r"\mathbb{V}[v]",
        model.cov_theta_v: r"\Sigma_{\theta v}", model.sigma2: r"\sigma^2",
        model.A_theta: r"A(\theta)", model.A_v: r"A(v)", model.E_theta_v: r"\mathbb{E}[\theta v]",
        greedy.H_aa: r"H_{\alpha\alpha}", greedy.H_am: r"H_{\alpha\mu}", greedy.H_mm: r"H_{\mu\mu}",
        greedy.g_a: r"g_{\alpha}", greedy.g_m: r"g_{\mu}",
    }
    return names


def eq(lhs, rhs):
    return f"$$ {lhs} = {sp.latex(rhs, symbol_names=latex_names())} $$"


