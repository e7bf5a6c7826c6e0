"""Every update rule's rank-one adjoint (symbolic/rule_adjoint.py), and the two facts the engine's schedules rely on.

For a rule with affine update z' = F z + b xi, the raw second moment M = E[z z^T] and the loss 1/2 h e^T M_T e at the
loss iterate e: checked here, for each rule, for the expressions handed to the code generator (numeric/nqm/adjoint.py
and horizon.py run them):
  * `direction_step` is w_t = F^T w_{t+1}, and the general adjoint (rule_moments.raw_step_vjp, the transposed
    Jacobian of the raw step) maps the rank-one adjoint 1/2 h w' w'^T after a step to 1/2 h w w^T before it;
  * `probe_step` maps r_t = M_t w_t to M_{t+1} w_{t+1}, and `noise_form` is w^T (b b^T) w;
  * `probe_gradient` is the general adjoint's dL/dalpha_t and dL/dmu_t under the rank-one adjoint;
  * scale: under alpha -> alpha c, h -> h / c the update maps the state scaled by D = diag(c^e) (e = 0 for heavy
    ball; QHM's buffer, a gradient average, scales as h) as it mapped the original, the loss iterate and the start
    unscaled, and the loss is divided by c: the greedy schedule and the lookahead plan at large curvature
    (numeric/nqm/greedy.py) are computed on the problem with curvatures h / c;
  * `stability_limit` is a root in alpha of det(F_2 + I) (an eigenvalue -1 of the (theta, v) block).
"""
import sympy as sp

from shb.proofs.kernel import Identity
from shb.proofs.rules_engine import symmetric
from shb.symbolic import model, rule_adjoint, rule_moments
from shb.symbolic.optimizers import RULES
from shb.symbolic.rules import HYPER, pairs, raw_symbols

THEOREM = "Rules: the rank-one adjoint"
CITES = "Theorem 1 differentiated, for each rule of symbolic/optimizers/; used by numeric/nqm/adjoint.py, horizon.py"
STATEMENT = r"""
For each update rule with $z' = F z + b\,\xi$ and $\mathcal{L} = \tfrac12 h\, e^\top M_T e$: the adjoint of $M_t$ is
$\tfrac12 h\, w_t w_t^\top$, $w_T = e$, $w_t = F_t^\top w_{t+1}$; the probe $r_t = M_t w_t$ follows
$r_{t+1} = F_t r_t + b b^\top w_{t+1}$ and $\partial\mathcal{L}/\partial p_t = h\, w_{t+1}^\top \partial_p F_t\, r_t
+ \tfrac12 h\, w_{t+1}^\top \partial_p (b b^\top)\, w_{t+1}$. Under $\alpha \to \alpha c$, $h \to h/c$ the
dynamics are the same up to a scaling of the state, and the loss is divided by $c$.
"""
c = sp.Symbol("c", positive=True)


def _rank_one_adjoint(rule, w):
    """The adjoints of the raw moments (in `pairs` order) of tr(1/2 h w w^T M)."""
    return [model.h * w[a] * w[b] / (2 if a == b else 1) for a, b in pairs(rule)]


def rule_steps(rule):
    name = rule.name
    F, b = rule_moments.affine_form(rule)
    w = sp.Matrix(rule_adjoint.direction_symbols(rule))
    M = symmetric(rule, raw_symbols(rule))
    yield Identity(f"{name}: direction step", "The generated w_t is F^T w_{t+1}.",
                   sp.Matrix(rule_adjoint.direction_step(rule)), F.T * w, latex=r"w_t = F_t^\top w_{t+1}")
    previous, grad_alpha, grad_mu = rule_moments.raw_step_vjp(rule)
    after = dict(zip(rule_moments.adjoint_symbols(rule), _rank_one_adjoint(rule, w)))
    w_before = F.T * w
    yield Identity(f"{name}: the adjoint stays rank one",
                   "The general adjoint maps 1/2 h w' w'^T to 1/2 h w w^T with w = F^T w'.",
                   sp.Matrix([p.subs(after) for p in previous]), sp.Matrix(_rank_one_adjoint(rule, w_before)),
                   latex=r"\bar M_t = F_t^\top \big(\tfrac12 h\, w_{t+1} w_{t+1}^\top\big) F_t = \tfrac12 h\, w_t w_t^\top")
    M_next = symmetric(rule, rule_moments.raw_step(rule))
    probe = dict(zip(rule_adjoint.probe_symbols(rule), M * w_before))
    yield Identity(f"{name}: probe step", "probe_step(r_t = M_t w_t) = M_{t+1} w_{t+1}.",
                   sp.Matrix(rule_adjoint.probe_step(rule)).subs(probe, simultaneous=True), M_next * w,
                   latex=r"r_{t+1} = F_t r_t + b b^\top w_{t+1} = M_{t+1} w_{t+1}")
    yield Identity(f"{name}: noise form", "noise_form = w^T b b^T w.", rule_adjoint.noise_form(rule),
                   (w.T * b * b.T * w)[0], latex=r"w^\top b b^\top w")
    for p, general, fast in zip(HYPER, (grad_alpha, grad_mu), rule_adjoint.probe_gradient(rule)):
        yield Identity(f"{name}: gradient in {p.name}",
                       f"The general adjoint's dL/d{p.name}_t under the rank-one adjoint is probe_gradient.",
                       general.subs(after), fast.subs(probe, simultaneous=True),
                       latex=rf"\partial\mathcal{{L}}/\partial\{p.name}_t")
    e = rule_adjoint.state_scaling(rule)
    D = sp.diag(*(c**x for x in e))
    scaled = {model.alpha: model.alpha * c, model.h: model.h / c}
    yield Identity(f"{name}: scale", f"Under alpha -> alpha c, h -> h / c the update maps D z to D z', D = "
                   f"diag(c^{list(e)}) (1 at the loss iterate and the start), and the one-step loss is divided by c.",
                   sp.Matrix([*(F.subs(scaled, simultaneous=True) * D - D * F), *(b.subs(scaled, simultaneous=True)
                                                                                 - D * b),
                              c * rule_moments.one_step_loss(rule).subs(scaled, simultaneous=True).subs(
                                  {m: m * c ** (e[a] + e[bb]) for (a, bb), m in zip(pairs(rule), raw_symbols(rule))},
                                  simultaneous=True)]),
                   sp.Matrix([*sp.zeros(F.shape[0] * F.shape[1] + b.shape[0], 1), rule_moments.one_step_loss(rule)]),
                   latex=r"F(\alpha c, h/c) D = D F,\ b(\alpha c, h/c) = D b,\ c\,\mathcal{L}_i(\alpha c, h/c, D M D) = \mathcal{L}_i")
    block = F[:2, :2]
    yield Identity(f"{name}: stability limit", "At alpha = stability_limit, det(F_2 + I) = 0: an eigenvalue -1.",
                   sp.simplify((block + sp.eye(2)).det().subs(model.alpha, rule_adjoint.stability_limit(rule))),
                   sp.Integer(0), latex=r"\det(F_2 + I) = 0")


def steps():
    for rule in RULES:
        yield from rule_steps(rule)
