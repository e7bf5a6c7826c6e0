"""`shb derive` for the update rules: their functions in numeric/nqm/generated.py, and docs/derivations_rules.md.

For each rule of the registry (symbolic/optimizers/), from its update alone (symbolic/rule_moments.py,
rule_adjoint.py, rule_greedy.py):

    <rule>_update          the stochastic update itself, with the sampled stochastic minimum c (simulation)
    <rule>_step            its Theorem 1: means and covariances one step forward
    <rule>_raw_moments     raw second moments from means and covariances
    <rule>_raw_step        the raw second moments one step forward
    <rule>_raw_step_vjp    the adjoint of <rule>_raw_step, with the per-coordinate dL/dalpha_t, dL/dmu_t
    <rule>_one_step_loss   Eq. 15 for the rule
    <rule>_greedy_sums     the coordinate sums of its greedy step (five, or two at a given mu)
    <rule>_direction_step  the rank-one adjoint's direction one step back, w_t = F_t^T w_{t+1}
    <rule>_noise_form      w^T N w, the noise's share of the loss along a direction
    <rule>_probe           the rank-one adjoint's forward pass: per-coordinate dL/dalpha_t, dL/dmu_t and the
                           probe r_t = M_t w_t one step forward
    <rule>_stability_limit the learning rate at which the mean dynamics reach an eigenvalue -1 (the lookahead's grid)

and RULES, the metadata the numeric side reads (state names, initial multiples of theta_0, extras, the loss
iterate, the greedy kind, the extra that counts noise draws, the order of the second moments). The solution
from the sums is Theorem 2's, shared by every rule (greedy_solution / greedy_sgd_solution, symbolic/codegen.py).
"""
import textwrap

import sympy as sp

from shb.symbolic import model, rule_adjoint, rule_greedy, rule_moments
from shb.symbolic.optimizers import RULES
from shb.symbolic.printer import Function, latex_names as _latex_names, nested
from shb.symbolic.rules import HYPER, STOCHASTIC_MINIMUM, raw_symbols

DERIVATIONS_DOC = "docs/derivations_rules.md"


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
                 _hyper_args(rule) + raw, [(s.name, nested(e)) for s, e in zip(raw, rule_moments.raw_step(rule))],
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
        *rank_one_functions(rule),
    ]


def rank_one_functions(rule):
    """The rank-one adjoint's functions of one rule (symbolic/rule_adjoint.py)."""
    n, w, r = rule.name, rule_adjoint.direction_symbols(rule), rule_adjoint.probe_symbols(rule)
    source = "the rank-one adjoint, symbolic.rule_adjoint"
    names = [s.name for s in rule.state]
    return [
        Function(f"{n}_direction_step", "The direction one step back, w_t = F_t^T w_{t+1} (w_T: the loss iterate).",
                 _hyper_args(rule) + w, list(zip(names, rule_adjoint.direction_step(rule))), source=source),
        Function(f"{n}_noise_form", "w^T N w at w = w_{t+1}: the share of step t's gradient noise in the loss.",
                 _hyper_args(rule) + w, [("noise", rule_adjoint.noise_form(rule))], source=source),
        Function(f"{n}_probe", "The forward pass at step t: the per-coordinate dL/dalpha_t and dL/dmu_t, and the probe\n"
                 "r_t = M_t w_t one step forward, r_{t+1} = F_t r_t + N_t w_{t+1}, from w_{t+1} and r_t.",
                 _hyper_args(rule) + w + r, list(zip(("grad_alpha", "grad_mu"), rule_adjoint.probe_gradient(rule)))
                 + list(zip([f"r_{x}" for x in names], rule_adjoint.probe_step(rule))), source=source),
        Function(f"{n}_stability_limit", "The learning rate at which the mean dynamics of (theta, v) reach an eigenvalue -1.",
                 _hyper_args(rule), [("alpha", rule_adjoint.stability_limit(rule))], source=source),
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
    latex = _latex_names()
    out += [_eq(latex[s] + r"^{(i)}", e, names) for s, e in greedy.terms]
    return out + [""]


def generate_document():
    out = [
        "<!-- GENERATED by `shb derive` from symbolic/. Do not edit. -->",
        "# Derivations for other update rules on the noisy quadratic model",
        "",
        "Each rule is its stochastic update written once in SymPy (its module in `symbolic/optimizers/`); every expression",
        "below is derived from it by the expectation operator of `symbolic/rules.py` and printed as numpy code",
        "into `numeric/nqm/generated.py`. Primes mark the next step; $\\xi \\sim N(0, 1)$ is independent",
        "of the state, and the stochastic gradient at $x$ is $h(x - c)$ with $c = \\sqrt{n}\\,\\xi$, $n$ the noise variance.",
        "",
        "Gradients of a $T$-step loss (the rank-one adjoint, `symbolic/rule_adjoint.py`). With the update affine,",
        "$z' = F z + b\\,\\xi$, the raw second moment $M = \\mathbb{E}[z z^\\top]$ follows $M' = F M F^\\top + N$, $N = b b^\\top$,",
        "and the loss $\\tfrac12 h\\, e^\\top M_T e$ ($e$: the loss iterate) has the adjoint $\\tfrac12 h\\, w_t w_t^\\top$ at",
        "every step, $w_T = e$, $w_t = F_t^\\top w_{t+1}$. The probe $r_t = M_t w_t$ follows $r_{t+1} = F_t r_t + N_t w_{t+1}$,",
        "$L = \\tfrac12 h\\, r_T[e]$, and $\\partial L/\\partial p_t = h\\, w_{t+1}^\\top (\\partial_p F_t)\\, r_t",
        "+ \\tfrac12 h\\, w_{t+1}^\\top (\\partial_p N_t)\\, w_{t+1}$ for $p \\in \\{\\alpha, \\mu\\}$. With the safeguard's penalty the",
        "general adjoint (the transposed Jacobian of the raw step) is used instead.",
        "",
    ]
    for rule in RULES:
        out += rule_document(rule)
    return "\n".join(out)
