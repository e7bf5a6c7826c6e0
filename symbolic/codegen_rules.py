"""`shb derive` for the update rules: numeric/nqm/generated_rules.py and docs/derivations_rules.md.

For each rule of symbolic/optimizers.py, from its update alone (symbolic/rule_moments.py, rule_greedy.py):

    <rule>_update          the stochastic update itself, with the sampled stochastic minimum c (simulation)
    <rule>_step            its Theorem 1: means and covariances one step forward
    <rule>_raw_moments     raw second moments from means and covariances
    <rule>_raw_step        the raw second moments one step forward
    <rule>_raw_step_vjp    the adjoint of <rule>_raw_step, with the per-coordinate dL/dalpha_t, dL/dmu_t
    <rule>_one_step_loss   Eq. 15 for the rule
    <rule>_greedy_sums     the coordinate sums of its greedy step (five, or two at a given mu)

and RULES, the metadata the numeric side reads (state names, initial multiples of theta_0, extras, the loss
iterate, the greedy kind, the extra that counts noise draws, the order of the second moments). The solution from the sums is Theorem 2's,
shared by every rule (nqm_generated.greedy_solution / greedy_sgd_solution). Same printer, common
subexpressions and source hash as symbolic/codegen.py; heavy ball is generated here again through the
generic engine (the committed numeric/nqm/generated.py stays as it was; proofs/rules_heavy_ball.py checks
the two derivations agree).
"""
import textwrap

import sympy as sp

from shb.symbolic import codegen, model, rule_greedy, rule_moments
from shb.symbolic.optimizers import RULES
from shb.symbolic.rules import HYPER, STOCHASTIC_MINIMUM, raw_symbols

GENERATED_MODULE = "numeric/nqm/generated_rules.py"
DERIVATIONS_DOC = "docs/derivations_rules.md"
Function = codegen.Function


def _hyper_args(rule):
    return (*HYPER, model.h, model.sigma2, *rule.extras)


def rule_functions(rule):
    """The generated functions of one rule, in file order."""
    n = rule.name
    raw, central = raw_symbols(rule), rule_moments.central_symbols(rule)
    previous, grad_alpha, grad_mu = rule_moments.raw_step_vjp(rule)
    greedy = rule_greedy.greedy_step(rule)
    cites = f"{rule.title}; {rule.cites}"
    return [
        Function(f"{n}_update", f"One stochastic step, with c the sampled stochastic minimum: {rule.title}.",
                 (*HYPER, model.h, STOCHASTIC_MINIMUM, *rule.extras, *rule.state),
                 [(s.name, e) for s, e in zip(rule.state, rule.sample_update())],
                 source=f"{cites}, symbolic.optimizers"),
        Function(f"{n}_step", "One step of the means and covariances (the rule's Theorem 1).",
                 _hyper_args(rule) + central, list(zip([s.name for s in central], rule_moments.central_step(rule))),
                 source=f"{cites}, symbolic.rule_moments.central_step"),
        Function(f"{n}_raw_moments", "Raw second moments E[x y] = Cov(x, y) + E[x] E[y] from the central statistics.",
                 central, [(s.name, e) for s, e in rule_moments.raw_from_central(rule).items()],
                 source="Appendix A.2, symbolic.rule_moments.raw_from_central"),
        Function(f"{n}_raw_step", "One step of the raw second moments.",
                 _hyper_args(rule) + raw, list(zip([s.name for s in raw], rule_moments.raw_step(rule))),
                 source=f"{cites}, symbolic.rule_moments.raw_step"),
        Function(f"{n}_raw_step_vjp",
                 f"Reverse-mode adjoint of {n}_raw_step: given adj_* = dL/d(next raw moments), return dL/d(raw\n"
                 "moments) before the step and the per-coordinate contributions to dL/dalpha_t and dL/dmu_t.",
                 _hyper_args(rule) + raw + rule_moments.adjoint_symbols(rule),
                 [(s.name, e) for s, e in zip(rule_moments.adjoint_symbols(rule), previous)]
                 + [("grad_alpha", grad_alpha), ("grad_mu", grad_mu)],
                 source="the transposed Jacobian of the raw step, symbolic.rule_moments.raw_step_vjp"),
        Function(f"{n}_one_step_loss", f"Excess loss of each coordinate at {rule.loss_at.name} after one step.",
                 _hyper_args(rule) + raw, [("loss", rule_moments.one_step_loss(rule))],
                 source="Eq. 15 for the rule, symbolic.rule_moments.one_step_loss"),
        Function(f"{n}_greedy_sums", "The coordinate sums of the greedy step.\n" + textwrap.fill(greedy.note, 100),
                 (*rule_greedy.given(rule), model.h, model.sigma2, *rule.extras) + raw,
                 [(s.name, e) for s, e in greedy.terms], sum_last_axis=True,
                 source="Theorem 2 for the rule, symbolic.rule_greedy.greedy_step"),
    ]


def functions():
    return [f for rule in RULES for f in rule_functions(rule)]


def metadata():
    """RULES: what numeric/ needs to drive the generated functions of each rule."""
    out = {}
    for rule in RULES:
        out[rule.name] = {
            "state": tuple(s.name for s in rule.state),
            "initial": tuple(int(k) for k in rule.initial),
            "extras": tuple(s.name for s in rule.extras),
            "loss_index": rule_moments.loss_index(rule),
            "greedy": rule_greedy.greedy_step(rule).kind,
            "draws": None if rule.draws == 1 else rule.draws.name,
            "per_step": tuple(s.name for s in rule.per_step),
            "central": tuple(s.name for s in rule_moments.central_symbols(rule)),
            "raw": tuple(s.name for s in raw_symbols(rule)),
            "pairs": tuple(rule_moments.pairs(rule)),
        }
    return out


def generate_module():
    funcs = functions()
    printer = codegen._printer()
    bodies = [codegen._render_function(f, printer) for f in funcs]
    imports = sorted(name for names in printer.module_imports.values() for name in names)
    lines = ["RULES = {"] + [f"    {name!r}: {meta!r}," for name, meta in metadata().items()] + ["}"]
    header = [
        "# GENERATED by `shb derive` from symbolic/ (rules.py, optimizers.py, rule_moments.py, rule_greedy.py).",
        "# DO NOT EDIT: change the derivations and run `shb derive`; `shb derive --check` guards this file.",
        f"# sympy {sp.__version__}; source-hash sha256:{codegen.source_hash(funcs)}",
        '"""Generated NQM formulas for every update rule (issue 16): the stochastic update, the moment',
        "recurrences, their adjoint, the one-step loss and the greedy sums. Elementwise over coordinates;",
        "broadcasts over leading batch axes; *_sums reduce the last (coordinate) axis. Uses autograd.numpy.",
        '"""',
        "import autograd.numpy as np",
    ]
    if imports:
        header.append(f"from autograd.numpy import {', '.join(imports)}")
    return "\n".join(header) + "\n\n" + "\n".join(lines) + "\n\n\n" + "\n\n\n".join(bodies) + "\n"


def _names(rule, prime=""):
    """LaTeX names of the rule's symbols, in the paper's notation (state names marked with `prime`)."""
    tex = {model.theta: r"\theta", model.v: "v", sp.Symbol("theta_avg", real=True): r"\theta_{\mathrm{avg}}"}
    names = {model.sigma2: r"\sigma^2", sp.Symbol("gamma", nonnegative=True): r"\gamma"}
    st = [tex.get(s, s.name) + prime for s in rule.state]
    for s, x in zip(rule.state, st):
        names[sp.Symbol(f"mean_{s.name}", real=True)] = rf"\mathbb{{E}}[{x}]"
    pairs = [(st[a], st[b], a == b) for a, b in rule_moments.pairs(rule)]
    for sym, (x, y, diag) in zip(raw_symbols(rule), pairs):
        names[sym] = rf"A({x})" if diag else rf"\mathbb{{E}}[{x} {y}]"
    for sym, (x, y, diag) in zip(rule_moments.covariance_symbols(rule), pairs):
        names[sym] = rf"\mathbb{{V}}[{x}]" if diag else rf"\mathrm{{Cov}}({x}, {y})"
    names.update({s: tex[s] for s in rule.state if s in tex})
    return names, st


def _eq(lhs, rhs, names):
    return f"$$ {lhs} = {sp.latex(rhs, symbol_names=names)} $$"


def rule_document(rule):
    names, st = _names(rule)
    F, b = rule_moments.affine_form(rule)
    greedy = rule_greedy.greedy_step(rule)
    out = [f"## {rule.title}", "", f"*{rule.cites}.* State $({', '.join(st)})$, at $t = 0$ equal to "
           f"$({', '.join(sp.latex(k * sp.Symbol('theta_0')) for k in rule.initial)})$; the loss is "
           f"$\\tfrac12 h\\, A({st[rule_moments.loss_index(rule)]})$.", "", "Update, with the stochastic minimum $c$:", ""]
    out += [_eq(x + "'", e, names) for x, e in zip(st, rule.sample_update())]
    out += ["", "Gradient noise variance (the variance of $c$): " + f"${sp.latex(rule.noise_variance, symbol_names=names)}$.",
            "As $z' = F z + b\\,\\xi$:", "", _eq("F", F, names), _eq("b", b, names), "",
            "Means and raw second moments one step forward:", ""]
    out += [_eq(f"\\mathbb{{E}}[{x}']", e, names) for x, e in zip(st, rule_moments.mean_step(rule))]
    primed, _ = _names(rule, "'")
    out += [_eq(primed[m], e, names) for m, e in zip(raw_symbols(rule), rule_moments.raw_step(rule))]
    out += ["", "One-step loss (Eq. 15 for the rule):", "", _eq(r"\mathcal{L}_i", rule_moments.one_step_loss(rule), names),
            "", greedy.note, ""]
    latex = codegen._latex_names()
    out += [_eq(latex[s] + r"^{(i)}", e, names) for s, e in greedy.terms]
    return out + [""]


def generate_document():
    out = [
        "<!-- GENERATED by `shb derive` from symbolic/. Do not edit. -->",
        "# Derivations for other update rules on the noisy quadratic model",
        "",
        "Each rule is its stochastic update written once in SymPy (`symbolic/optimizers.py`); every expression",
        "below is derived from it by the expectation operator of `symbolic/rules.py` and printed as numpy code",
        "into `numeric/nqm/generated_rules.py`. Primes mark the next step; $\\xi \\sim N(0, 1)$ is independent",
        "of the state, and the stochastic gradient at $x$ is $h(x - c)$ with $c = \\sqrt{n}\\,\\xi$, $n$ the noise variance.",
        "",
    ]
    for rule in RULES:
        out += rule_document(rule)
    return "\n".join(out)


def outputs():
    return {GENERATED_MODULE: generate_module(), DERIVATIONS_DOC: generate_document()}
