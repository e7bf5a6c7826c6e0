"""Code and document generation: `shb derive`.

The derivations in symbolic/ are turned into
  - numeric/nqm/generated.py: plain numpy code (through autograd.numpy, so it is
    differentiable by Autograd), elementwise over coordinates, broadcasting over
    any leading batch axes; functions that sum over coordinates reduce the last axis;
  - docs/derivations.md: the same derivations as LaTeX in Markdown.
Both are deterministic functions of the SymPy expressions; the generated module's
header carries a SHA-256 of those expressions (their srepr).
"""
import hashlib
from dataclasses import dataclass, field

import sympy as sp
from sympy.printing.numpy import NumPyPrinter

from shb.ground import resources
from shb.ground.io import atomic_write_text
from shb.symbolic import adjoint, dynamics, greedy, model, sgd

# Paths relative to a source tree; without an explicit root they are found in the installed package
# (shb.ground.resources), so an installed toolkit checks its own generated files.
GENERATED_MODULE = "numeric/nqm/generated.py"
DERIVATIONS_DOC = "docs/derivations.md"


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


def functions():
    """The generated API, in file order."""
    step = dynamics.theorem1()
    raw = model.raw_from_central()
    terms = greedy.per_coordinate_terms()
    alpha_star, mu_star = greedy.greedy_from_sums()
    raw_previous, raw_grad_alpha, raw_grad_mu = adjoint.raw_step_vjp()
    direction = adjoint.direction_step()
    return [
        Function(
            "nqm_step",
            "One step of the mean/variance dynamics of SGD with momentum on the NQM.",
            (model.alpha, model.mu, model.h, model.sigma2) + model.STATE,
            [(name, step[name]) for name in ("mean_theta", "mean_v", "var_theta", "var_v", "cov_theta_v")],
            source="Theorem 1, symbolic.dynamics.theorem1",
        ),
        Function(
            "raw_step",
            "One step of Theorem 1 in the raw second moments A(theta) = E[theta^2], A(v) = E[v^2], E[theta v].",
            (model.alpha, model.mu, model.h, model.sigma2) + model.RAW,
            list(zip([s.name for s in model.RAW], adjoint.raw_step())),
            source="Theorem 1 in raw moments (Appendix A.2), symbolic.adjoint.raw_step",
        ),
        Function(
            "raw_step_vjp",
            "Reverse-mode adjoint of raw_step: given adj_* = dL/d(next raw moments), return dL/d(raw moments)\n"
            "before the step and the per-coordinate contributions to dL/dalpha_t and dL/dmu_t.",
            (model.alpha, model.mu, model.h, model.sigma2) + model.RAW + adjoint.RAW_ADJOINT,
            [(s.name, e) for s, e in zip(adjoint.RAW_ADJOINT, raw_previous)] + [("grad_alpha", raw_grad_alpha), ("grad_mu", raw_grad_mu)],
            source="Theorem 1 differentiated, symbolic.adjoint.raw_step_vjp",
        ),
        Function(
            "raw_loss_component",
            "Excess loss of each coordinate from the raw moment, 1/2 h A(theta), and its derivative in A(theta).",
            (model.h, model.A_theta),
            list(zip(("loss", "adj_A_theta"), adjoint.raw_loss_component())),
            source="Eq. 6, symbolic.adjoint.raw_loss_component",
        ),
        Function(
            "direction_step",
            "The rank-one adjoint's direction one step back, w_t = A_t^T w_{t+1} (w_T = e_theta), and\n"
            "s = b . w_{t+1}, the weight of step t's gradient noise in the final loss.",
            (model.alpha, model.mu, model.h) + adjoint.W_NEXT,
            list(zip(("w_theta", "w_v"), direction[0])) + [("s", direction[1])],
            source="Theorem 1 differentiated (rank-one form), symbolic.adjoint.direction_step",
        ),
        Function(
            "probe_step",
            "The probe r_t = E[z_t z_t^T] w_t one step forward, r_{t+1} = A_t r_t + n_t s_{t+1} b.",
            (model.alpha, model.mu, model.h, model.sigma2, adjoint.S_NEXT) + adjoint.PROBE,
            list(zip(("r_theta", "r_v"), adjoint.probe_step())),
            source="Theorem 1 in raw second moments (rank-one form), symbolic.adjoint.probe_step",
        ),
        Function(
            "probe_gradient",
            "Per-coordinate contributions to dL/dalpha_t and dL/dmu_t of L = sum_i 1/2 h_i E[theta_i(T)^2],\n"
            "from s = s_{t+1} and the probe r_t before step t.",
            (model.alpha, model.h, model.sigma2, adjoint.S_NEXT) + adjoint.PROBE,
            list(zip(("grad_alpha", "grad_mu"), adjoint.probe_gradient())),
            source="Theorem 1 differentiated (rank-one form), symbolic.adjoint.probe_gradient",
        ),
        Function(
            "raw_moments",
            "A(theta) = E[theta]^2 + V[theta], A(v) = E[v]^2 + V[v], E[theta v] = E[theta]E[v] + Cov(theta, v).",
            model.STATE,
            [(s.name, raw[s]) for s in model.RAW],
            source="Appendix A.2, symbolic.model.raw_from_central",
        ),
        Function(
            "loss_component",
            "Excess loss of each coordinate, 1/2 h (E[theta]^2 + V[theta]) (Eq. 6 without its constant).",
            (model.h, model.mean_theta, model.var_theta),
            [("loss", dynamics.excess_loss_component())],
            source="Eq. 6, symbolic.dynamics.excess_loss_component",
        ),
        Function(
            "one_step_loss",
            "Excess loss of each coordinate after one step with (alpha, mu), from raw moments.",
            (model.alpha, model.mu, model.h, model.sigma2) + model.RAW,
            [("loss", greedy.one_step_loss())],
            source="Eq. 15, symbolic.greedy.one_step_loss",
        ),
        Function(
            "greedy_sums",
            "The five coordinate sums of Theorem 2: H = [[H_aa, H_am], [H_am, H_mm]] and g = (g_a, g_m),\n"
            "the Hessian and the gradient at (0, 0) of the summed one-step loss in (alpha, mu).",
            (model.h, model.sigma2) + model.RAW,
            [(s.name, terms[s]) for s in greedy.SUMS],
            sum_last_axis=True,
            source="Theorem 2, symbolic.greedy.per_coordinate_terms",
        ),
        Function(
            "greedy_solution",
            "Greedy-optimal (alpha*, mu*) = -H^{-1} g from the five sums. Undefined when det H = 0\n"
            "(e.g. at t = 0, where A(v) = 0 and mu is not identifiable).",
            greedy.SUMS,
            [("alpha", alpha_star), ("mu", mu_star)],
            source="Theorem 2, symbolic.greedy.greedy_from_sums",
        ),
        Function(
            "greedy_sgd_solution",
            "Greedy learning rate without momentum (mu = 0): alpha* = -g_a / H_aa.",
            (greedy.H_aa, greedy.g_a),
            [("alpha", greedy.greedy_sgd_from_sums())],
            source="Theorem 3 (multivariate one-step form), symbolic.greedy.greedy_sgd_from_sums",
        ),
        Function(
            "sgd_optimal_alpha",
            "Optimal learning rate of univariate SGD, alpha* = A / (h (A + sigma2)).",
            (model.h, model.sigma2, sgd.A),
            [("alpha", sgd.optimal_alpha())],
            source="Theorem 3 (Eq. 7), symbolic.sgd.optimal_alpha",
        ),
        Function(
            "sgd_min_A_after",
            "A(theta) after k optimal SGD steps from A: A sigma2 / (k A + sigma2).",
            (sgd.A, model.sigma2, sgd.k),
            [("A", sgd.min_A_after())],
            source="Theorem 4 (Eq. 16), symbolic.sgd.min_A_after",
        ),
    ]


def source_hash(funcs):
    """SHA-256 over the srepr of every generated expression, in order."""
    digest = hashlib.sha256()
    for f in funcs:
        digest.update(f.name.encode())
        for out_name, expr in f.outputs:
            digest.update(out_name.encode())
            digest.update(sp.srepr(expr).encode())
    return digest.hexdigest()


def _printer():
    return NumPyPrinter({"fully_qualified_modules": False, "standard": "python3"})


def _render_function(f, printer):
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


def generate_module():
    """The text of numeric/nqm/generated.py."""
    funcs = functions()
    printer = _printer()
    bodies = [_render_function(f, printer) for f in funcs]
    imports = sorted(name for names in printer.module_imports.values() for name in names)
    header = [
        "# GENERATED by `shb derive` from symbolic/ (model.py, dynamics.py, adjoint.py, greedy.py, sgd.py).",
        "# DO NOT EDIT: change the derivations and run `shb derive`; `shb derive --check` guards this file.",
        f"# sympy {sp.__version__}; source-hash sha256:{source_hash(funcs)}",
        '"""Generated NQM formulas (Theorems 1-4, Eq. 15). Elementwise over coordinates;',
        "broadcasts over leading batch axes; *_sums reduce the last (coordinate) axis.",
        "Uses autograd.numpy so that Autograd can differentiate through every function.",
        '"""',
        "import autograd.numpy as np",
    ]
    if imports:
        header.append(f"from autograd.numpy import {', '.join(imports)}")
    return "\n".join(header) + "\n\n\n" + "\n\n\n".join(bodies) + "\n"


def _latex_names():
    """Paper notation for the statistics, raw moments, sums and adjoints."""
    names = {
        model.mean_theta: r"\mathbb{E}[\theta]", model.mean_v: r"\mathbb{E}[v]",
        model.var_theta: r"\mathbb{V}[\theta]", model.var_v: r"\mathbb{V}[v]",
        model.cov_theta_v: r"\Sigma_{\theta v}", model.sigma2: r"\sigma^2",
        model.A_theta: r"A(\theta)", model.A_v: r"A(v)", model.E_theta_v: r"\mathbb{E}[\theta v]",
        greedy.H_aa: r"H_{\alpha\alpha}", greedy.H_am: r"H_{\alpha\mu}", greedy.H_mm: r"H_{\mu\mu}",
        greedy.g_a: r"g_{\alpha}", greedy.g_m: r"g_{\mu}",
    }
    for raw, adj in zip(model.RAW, adjoint.RAW_ADJOINT):
        names[adj] = r"\overline{" + names[raw] + "}"
    return names


def _eq(lhs, rhs):
    return f"$$ {lhs} = {sp.latex(rhs, symbol_names=_latex_names())} $$"


def generate_document():
    """The text of docs/derivations.md."""
    step = dynamics.theorem1()
    theta1, v1 = model.update()
    terms = greedy.per_coordinate_terms()
    alpha_star, mu_star = greedy.greedy_from_sums()
    alpha_1d, mu_1d = greedy.greedy_univariate()
    names = {
        "mean_theta": r"\mathbb{E}[\theta']", "mean_v": r"\mathbb{E}[v']", "var_theta": r"\mathbb{V}[\theta']",
        "var_v": r"\mathbb{V}[v']", "cov_theta_v": r"\mathrm{Cov}(\theta', v')",
    }
    out = [
        "<!-- GENERATED by `shb derive` from symbolic/. Do not edit. -->",
        "# Derivations for the noisy quadratic model",
        "",
        "Every expression below is computed by SymPy from the model in `symbolic/model.py`; the same",
        "expressions are printed as numpy code into `numeric/nqm/generated.py`. Symbols: `mean_*` = E[.],",
        "`var_*` = V[.], `cov_theta_v` = Cov(theta, v), `A_*` = E[.]^2 + V[.], `E_theta_v` = E[theta v].",
        "",
        "## Model (Section 2.2, Appendix A.1)",
        "",
        "One coordinate with curvature $h > 0$ and noise variance $\\sigma^2 \\ge 0$; $\\xi \\sim N(0,1)$ independent of $(\\theta, v)$.",
        "",
        _eq("v'", v1),
        _eq(r"\theta'", theta1),
        "",
        "## Theorem 1: mean and variance dynamics",
        "",
        "Expectations of the update and of its squares and product, using $E[\\xi]=0$, $E[\\xi^2]=1$ and independence:",
        "",
    ]
    out += [_eq(names[k], step[k]) for k in names]
    out += [
        "",
        "## Eq. 15: the one-step excess loss",
        "",
        _eq(r"\mathcal{L}_i(\alpha, \mu)", greedy.one_step_loss()),
        "",
        "It is a quadratic in $(\\alpha, \\mu)$; its Hessian $H_i$ and its gradient at the origin $g_i$ have entries",
        "",
    ]
    out += [_eq(_latex_names()[s] + r"^{(i)}", terms[s]) for s in greedy.SUMS]
    out += [
        "",
        "## Theorem 2: greedy-optimal learning rate and momentum",
        "",
        "Summing over coordinates, $H = \\sum_i H_i$ and $g = \\sum_i g_i$; the stationary point $x^* = -H^{-1} g$ is",
        "",
        _eq(r"\alpha^*", alpha_star),
        _eq(r"\mu^*", mu_star),
        "",
        "For one coordinate (solving the two stationarity conditions directly):",
        "",
        _eq(r"\alpha^*_{1d}", alpha_1d),
        _eq(r"\mu^*_{1d}", mu_1d),
        "",
        "Without momentum ($\\mu = 0$) the greedy learning rate is",
        _eq(r"\alpha^*_{\mathrm{SGD}}", greedy.greedy_sgd_from_sums()),
        "",
        "At $t = 0$, $A(v_i) = 0$ and $E[\\theta_i v_i] = 0$ for every coordinate, so $H_{mm} = 0$, $\\det H = 0$ and",
        "$\\mu$ is not identifiable; the greedy schedule then takes $\\mu = 0$ and the SGD formula.",
        "",
        "## Theorems 3 and 4: SGD without momentum, one coordinate",
        "",
        _eq("A'", sgd.next_A()),
        _eq(r"\alpha^* = \arg\min_\alpha A'", sgd.optimal_alpha()),
        _eq(r"A'_{\min}", sgd.min_next_A()),
        "",
        "so $1/A'_{\\min} = 1/A + 1/\\sigma^2$, a linear recurrence for $1/A$ whose solution after $k$ optimal steps is",
        "",
        _eq(r"A_{\min}(k)", sgd.min_A_after()),
        "",
        "## Theorem 1 in raw second moments, and its adjoint (gradients of a T-step loss)",
        "",
        "The excess loss is $\\tfrac12 h A(\\theta)$, so losses over a schedule need only the raw moments",
        "$A(\\theta) = \\mathbb{E}[\\theta^2]$, $A(v)$, $\\mathbb{E}[\\theta v]$, which follow (from the stochastic update)",
        "",
    ]
    raw_names = {model.A_theta: r"A(\theta')", model.A_v: r"A(v')", model.E_theta_v: r"\mathbb{E}[\theta' v']"}
    out += [_eq(raw_names[s], e.doit()) for s, e in zip(model.RAW, adjoint.raw_step())]
    previous, grad_alpha, grad_mu = adjoint.raw_step_vjp()
    names = _latex_names()
    out += [
        "",
        "For a fixed schedule the step is linear in the moments $m$. With $\\bar m' = \\partial L / \\partial m'$, the chain",
        "rule gives $\\bar m = (\\partial f/\\partial m)^T \\bar m'$ and $\\partial L/\\partial \\alpha_t = \\bar m' \\cdot \\partial f/\\partial \\alpha$",
        "(likewise $\\mu_t$):",
        "",
    ]
    out += [_eq(names[a], e.doit()) for a, e in zip(adjoint.RAW_ADJOINT, previous)]
    out += [
        "",
        "where the left-hand sides are the adjoints before the step and the right-hand sides use those after it;",
        "the per-coordinate contributions to the schedule gradient, summed over coordinates, are",
        "",
        _eq(r"\partial L / \partial \alpha_t", grad_alpha.doit()),
        _eq(r"\partial L / \partial \mu_t", grad_mu.doit()),
        "",
        "## The rank-one adjoint (the schedule gradient without the safeguard penalty)",
        "",
        "With $z = (\\theta, v)$ the mean follows $\\mathbb{E}[z'] = A\\,\\mathbb{E}[z]$ and the raw second moment",
        "$M = \\mathbb{E}[z z^\\top]$ follows $M' = A M A^\\top + n\\, b b^\\top$, $b = (1, 1)$, with",
        "",
        _eq("A", adjoint.mean_matrix()),
        _eq("n", adjoint.noise_variance()),
        "",
        "Since $L = \\tfrac12 h\\, e_\\theta^\\top M_T e_\\theta$, the adjoint of $M_t$ is $\\tfrac12 h\\, w_t w_t^\\top$ with",
        "$w_T = e_\\theta$ and $w_t = A_t^\\top w_{t+1}$, which needs the schedule only. The gradient needs $M_t$ only",
        "through the probe $r_t = M_t w_t$, $r_0 = ((\\mathbb{E}[\\theta_0]^2 + \\mathbb{V}[\\theta_0])\\, w_{0,\\theta}, 0)$,",
        "$r_{t+1} = A_t r_t + n_t s_{t+1} b$ with $s_{t+1} = b \\cdot w_{t+1}$, and $L = \\tfrac12 h\\, r_T[\\theta]$.",
        "Per coordinate (checked against the general adjoint above in `proofs/adjoint.py`):",
        "",
        _eq(r"\partial L / \partial \alpha_t", adjoint.probe_gradient()[0]),
        _eq(r"\partial L / \partial \mu_t", adjoint.probe_gradient()[1]),
        "",
        "where $s = s_{t+1}$ and $r = r_t$.",
        "",
    ]
    return "\n".join(out)


def outputs():
    """{relative path: text} of every generated file: these, and the update rules' (symbolic/codegen_rules.py)."""
    from shb.symbolic import codegen_rules  # it prints through this module's printer

    return {GENERATED_MODULE: generate_module(), DERIVATIONS_DOC: generate_document(), **codegen_rules.outputs()}


def write(root=None):
    """Write every generated file that changed (under `root`, or the installed package's); return the changed paths."""
    changed = []
    for rel, text in outputs().items():
        path = resources.path(rel, root)
        if _read(path) != text:
            atomic_write_text(path, text)
            changed.append(rel)
    return changed


def stale(root=None, derived=None):
    """Relative paths of generated files (under `root`, or the installed package's) that differ from the derivations
    (`derived`: outputs() computed before, else now)."""
    derived = outputs() if derived is None else derived
    return [rel for rel, text in derived.items() if _read(resources.path(rel, root)) != text]


def _read(path):
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except FileNotFoundError:
        return None
