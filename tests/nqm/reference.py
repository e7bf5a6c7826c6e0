"""Test-only code for tests/nqm/: the references the engine is compared with, and strategies over the registry.

The references do not run the code they stand in for:

- `taped_loss`: L(T) (plus the safeguard's penalty) by rolling out the rule's generated central-moment step
  `<rule>_step` one step at a time in autograd.numpy, the loss 1/2 h (E[x]^2 + V[x]) at the rule's loss iterate x
  written here (Eq. 6). Autograd differentiates it step by step: the reference of numeric/nqm/adjoint.py, whose
  generated adjoints (`<rule>_direction_step`, `<rule>_probe`, `<rule>_raw_step_vjp`) never run `<rule>_step`.
- `loss_after_one_step`: the summed loss after one `<rule>_step`, not the generated Eq. 15 (`<rule>_one_step_loss`)
  nor the greedy sums: the reference of every greedy step.
- `initial_stats`, `extras_of_step`: this file's own reading of the generated metadata (z(0) = k theta(0), the
  extras of step t), so a slip in numeric/nqm/rules.py is not shared with the reference.

The strategies draw every entry of the registry (symbolic/optimizers/: `NAMES`) with its declared options either
left at their defaults or drawn from their kind (`options`), so a new rule is tested with no test edits.
"""
import autograd.numpy as anp
import numpy as np
from hypothesis import strategies as st

from shb.numeric.nqm import generated as gen
from shb.numeric.nqm import optimizers as nqm_optimizers
from shb.numeric.nqm.problem import make_problem
from shb.symbolic.optimizers import OPTIMIZERS, RULES

NAMES = list(OPTIMIZERS)                 # every registry entry ("heavy-ball", "nesterov", ...)
RULE_NAMES = [rule.name for rule in RULES]  # every symbolic rule, once ("heavy_ball", ..., "averaged")


def generated(rule, kind):
    return getattr(gen, f"{rule}_{kind}")


def initial_stats(rule, mean0, var0, shape):
    """Means, then covariances (in the generated order of pairs) of z(0) = k theta(0), broadcast to `shape`."""
    meta = gen.RULES[rule]
    k, zeros = meta["initial"], np.zeros(shape)
    return (tuple(k[a] * mean0 + zeros for a in range(len(k)))
            + tuple(k[a] * k[b] * var0 + zeros for a, b in meta["pairs"]))


def extras_of_step(rule, extras, t):
    """The rule's extra inputs of step t in generated order: per-step ones (RULES[rule]["per_step"]) indexed by t."""
    meta = gen.RULES[rule]
    return tuple(np.asarray(extras[name], dtype=float)[t] if name in meta["per_step"]
                 else np.asarray(extras[name], dtype=float) for name in meta["extras"])


def loss_of_stats(rule, h, stats):
    """Per-coordinate 1/2 h (E[x]^2 + V[x]) at the loss iterate x (Eq. 6), from the means and covariances."""
    meta = gen.RULES[rule]
    n, e = len(meta["state"]), meta["loss_index"]
    diagonal = [a for a, (i, j) in enumerate(meta["pairs"]) if i == j]
    return 0.5 * h * (stats[e] ** 2 + stats[n + diagonal[e]])


def taped_loss(rule, alpha, mu, h, sigma2, mean0, var0, extras, weight=0.0):
    """L(T) + weight * sum_{t >= 1, i} relu(L_i(t) / L_i(0) - 1)^2 (coordinates with L_i(0) = 0 exempt), per schedule,
    by Autograd taping `<rule>_step` over the central statistics. alpha, mu: (T,) or (B, T); the problem (d,)."""
    T = np.shape(alpha)[-1]
    stats = initial_stats(rule, mean0, var0, np.shape(alpha)[:-1] + np.shape(h))
    step = generated(rule, "step")
    start = loss_of_stats(rule, h, stats)
    live = start > 0
    penalty = 0.0
    for t in range(T):
        stats = step(alpha[..., t, None], mu[..., t, None], h, sigma2, *extras_of_step(rule, extras, t), *stats)
        ratio = loss_of_stats(rule, h, stats) / np.where(live, start, 1.0)
        penalty = penalty + anp.sum((anp.maximum(ratio - 1.0, 0.0) * live) ** 2, axis=-1)
    return anp.sum(loss_of_stats(rule, h, stats), axis=-1) + weight * penalty


def loss_after_one_step(rule, h, sigma2, extra, stats, alpha, mu):
    """Summed excess loss after one `<rule>_step` with (alpha, mu) from the statistics `stats` (Autograd-friendly)."""
    return anp.sum(loss_of_stats(rule, h, generated(rule, "step")(alpha, mu, h, sigma2, *extra, *stats)))


def stable_scale(opt, problem, T=1):
    """Half the smallest stability limit of the rule at mu = 0 over the coordinates (1 / max h for heavy ball): a
    learning-rate unit in which factors up to about 1.5 keep the mean dynamics of every rule stable."""
    extra = extras_of_step(opt.rule, opt.extras(problem, T), 0)
    return float(np.min(generated(opt.rule, "stability_limit")(None, 0.0, problem.h, problem.sigma2, *extra))) / 2


# ------------------------------------------------------------------------------------------------ strategies


def options(name):
    """A strategy of {option: value or None (the default)} over the declared options of the entry `name`:
    an int from its minimum up, a float in [0.2, 1] (a preconditioner, an averaging weight), a flag either way."""
    def value(option):
        if option.kind == "int":
            low = 1 if option.minimum is None else option.minimum
            return st.integers(low, low + 7)
        if option.kind == "float":
            return st.floats(0.2, 1.0)
        return st.booleans()
    return st.fixed_dictionaries({option.name: st.one_of(st.none(), value(option))
                                  for option in OPTIMIZERS[name].options})


def entry(name, draw):
    """The registry entry `name` with options drawn by `options`."""
    return nqm_optimizers.get(name, **draw(options(name)))


@st.composite
def problems(draw, max_d=3, min_d=1):
    """A problem of min_d..max_d coordinates; sigma2 and var0 exactly 0 in some (deterministic coordinates). mean0 is
    0 or |mean0| >= 0.1: a subnormal mean0 makes L_i(t) / L_i(0) overflow in the penalty, and inf == inf,
    nan == nan would compare nothing."""
    d = draw(st.integers(min_d, max_d))
    floats = lambda lo, hi: np.array(draw(st.lists(st.floats(lo, hi), min_size=d, max_size=d)))  # noqa: E731
    zero_or = lambda lo, hi: np.array(draw(st.lists(st.one_of(st.just(0.0), st.floats(lo, hi)),  # noqa: E731
                                                   min_size=d, max_size=d)))
    mean0 = np.array(draw(st.lists(st.one_of(st.just(0.0), st.floats(0.1, 5.0), st.floats(-5.0, -0.1)),
                                   min_size=d, max_size=d)))
    return make_problem(floats(0.05, 1.5), zero_or(0.01, 2.0), mean0, zero_or(0.1, 2.0))


def small_problem():
    """A fixed noisy 3-coordinate problem, kappa = 20, every statistic non-degenerate after a step."""
    return make_problem([1.0, 0.2, 0.05], [1.0, 5.0, 20.0], [3.0, -4.0, 1.0], [0.5, 0.0, 0.1])


@st.composite
def batches(draw, max_d=3):
    """A problem and B schedules of T steps, B drawn from {1, 2, T, T + 1} (B == T hides a transposed batch)."""
    problem = draw(problems(max_d=max_d))
    T = draw(st.integers(1, 6))
    B = draw(st.sampled_from([1, 2, T, T + 1]))
    alpha = np.array(draw(st.lists(st.floats(0.05, 1.5), min_size=B * T, max_size=B * T))).reshape(B, T)
    mu = np.array(draw(st.lists(st.floats(-0.3, 0.95), min_size=B * T, max_size=B * T))).reshape(B, T)
    return problem, alpha, mu
