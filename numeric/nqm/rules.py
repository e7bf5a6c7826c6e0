"""The numeric side of an update rule: its generated functions and metadata, its extras per step, its start.

A rule (a key of numeric.nqm.generated.RULES, symbolic/optimizers/: heavy_ball, nesterov, ...) has a state
z = (theta, v, ...) with z(0) = k theta(0), theta(0) ~ N(mean0, var0) per coordinate (k = RULES[rule]["initial"]).
Its generated `<rule>_<kind>` functions (symbolic/codegen_rules.py) take (alpha, mu, h, sigma2, *extras, ...).

`extras` maps the rule's extra inputs to values: per-step ones (RULES[rule]["per_step"], e.g. the averaging weight
gamma) as arrays of shape (T,), the others (a preconditioner p, a batch size B) as numbers or arrays broadcasting
against the coordinates. Schedules: alpha, mu of shape (T,) or (B, T) (a batch of B schedules); per-coordinate
arrays (..., d).
"""
import numpy as np

from shb.ground.errors import InputError
from shb.numeric.nqm import generated as gen


def spec(rule):
    """The generated metadata of a rule (state, initial multiples, extras, loss index, greedy kind, ...)."""
    if rule not in gen.RULES:
        raise InputError(f"unknown update rule {rule!r}; known: {', '.join(gen.RULES)}")
    return gen.RULES[rule]


def generated(rule, kind):
    """The generated function `<rule>_<kind>` (kind: update, step, raw_moments, raw_step, direction_step, ...)."""
    spec(rule)
    return getattr(gen, f"{rule}_{kind}")


def pairs(rule):
    """Index pairs (a, b) of the second moments, in the generated order (diagonals first, then a < b)."""
    return spec(rule)["pairs"]


def check_schedule(alpha, mu):
    """Float arrays alpha, mu of one shape (T,) or (B, T); raises ValueError otherwise."""
    alpha = np.asarray(alpha, dtype=float)
    mu = np.asarray(mu, dtype=float)
    if alpha.shape != mu.shape or alpha.ndim not in (1, 2):
        raise ValueError(f"alpha {alpha.shape} and mu {mu.shape} must have one shape, (T,) or (B, T)")
    return alpha, mu


def per_step(x):
    """The step-t hyperparameters: numpy float64 scalars for one schedule, (B, 1) columns for a batch. Not Python
    floats: their power raises OverflowError where numpy's gives inf (alpha ~ 1/h above 2^512 for a tiny h; the
    caller reports the result as not finite)."""
    x = np.asarray(x, dtype=float)
    return list(x) if x.ndim == 1 else list(np.moveaxis(x, -1, 0)[..., None])


def batch_shape(alpha, h):
    """The shape (..., d) of per-coordinate arrays: the schedules' batch shape broadcast against h's leading axes
    (h of shape (d,): one problem for every schedule; (B, d): problem b for schedule b)."""
    return np.broadcast_shapes(np.shape(alpha)[:-1] + (1,), np.shape(h))


def extras_at(rule, extras, T):
    """Per step t < T, the tuple of the rule's extra inputs in generated order (per-step ones indexed by t)."""
    meta = spec(rule)
    missing = [name for name in meta["extras"] if name not in extras]
    unknown = [name for name in extras if name not in meta["extras"]]
    if missing or unknown:
        raise InputError(f"rule {rule} takes extras {list(meta['extras'])}; missing {missing}, unknown {unknown}")
    values = []
    for name in meta["extras"]:
        value = np.asarray(extras[name], dtype=float)
        if name in meta["per_step"]:
            if value.shape != (T,):
                raise InputError(f"rule {rule}: {name} is given per step, shape ({T},), got {value.shape}")
            value = value.tolist()
        else:
            value = [value] * T
        values.append(value)
    return [tuple(v[t] for v in values) for t in range(T)]


def initial_central(rule, mean0, var0, shape):
    """Means and covariances of z(0) = k theta(0) in generated order, broadcast to `shape`."""
    k = spec(rule)["initial"]
    zeros = np.zeros(shape)
    return tuple(k[a] * mean0 + zeros for a in range(len(k))) + tuple(k[a] * k[b] * var0 + zeros for a, b in pairs(rule))


def loss_of(rule, h, raw):
    """Per-coordinate excess loss 1/2 h A(x) at the rule's loss iterate x, from the raw moments."""
    return gen.raw_loss_component(h, raw[spec(rule)["loss_index"]])[0]
