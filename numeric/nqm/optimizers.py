"""An update rule of the registry (symbolic/optimizers/) on the NQM: one object with every computation the engine has.

    opt = get("minibatch", B=100)                     # InputError naming the known rules or the rule's options
    opt.rollout(problem, alpha, mu)                   # means and covariances per step, and "loss" (T+1,)
    opt.statistics()                                  # the names of those means and covariances
    opt.final_loss(problem, alpha, mu, penalty_weight=0.0)   # L(T); Autograd-differentiable (generated adjoint)
    opt.loss_curve(problem, alpha, mu)                # L(t), t = 0..T
    opt.max_component_ratio(problem, alpha, mu)       # the safeguard's max_t,i L_i(t) / L_i(0)
    opt.simulate(problem, alpha, mu, runs, seed, steps=None)  # Monte Carlo of its own stochastic update
    opt.sample_paths(problem, alpha, mu, runs, seed)  # whole trajectories of the loss iterate, for drawing
    opt.greedy(problem, T, mu=None)                   # Theorem 2 for the rule; mu given: the greedy alpha at it
    opt.fixed(problem, T, ...), opt.optimized(problem, T, ...)   # numeric/nqm/schedules.py
    opt.lookahead(problem, T, K, deterministic=False) # numeric/nqm/lookahead.py

The options (a preconditioner p, a batch size B, an averaging weight gamma) are bound when the rule is got, and
checked against the problem when it is used (the registry entry's `extras`); alpha, mu have shape (T,) or (B, T).
"""
from dataclasses import dataclass, field

import numpy as np

from shb.ground.errors import InputError
from shb.numeric.nqm import adjoint, dynamics, greedy, montecarlo, schedules
from shb.symbolic import optimizers as registry

DEFAULT = registry.DEFAULT


@dataclass(frozen=True)
class UpdateRule:
    """A registry entry with its options bound."""

    entry: object
    options: dict = field(default_factory=dict)

    @property
    def name(self):
        return self.entry.name

    @property
    def rule(self):
        """The generated functions' prefix (symbolic Rule.name): several entries may share one rule."""
        return self.entry.rule.name

    @property
    def label(self):
        return self.entry.label

    def extras(self, problem, T):
        """The rule's extras for this problem and horizon (the entry's checks apply)."""
        return self.entry.resolve(problem, T, **self.options)

    def _extras_for(self, problem, alpha):
        """The extras for a schedule alpha of shape (T,) or (B, T); a number is no schedule (ValueError, as the
        engine's own check says, not an IndexError here)."""
        if np.ndim(alpha) == 0:
            raise ValueError(f"alpha {np.shape(alpha)} and mu must have one shape, (T,) or (B, T)")
        return self.extras(problem, np.shape(alpha)[-1])

    def statistics(self):
        return dynamics.statistics(self.rule)

    def rollout(self, problem, alpha, mu):
        return dynamics.rollout(self.rule, problem, alpha, mu, self._extras_for(problem, alpha))

    def loss_components(self, problem, stats):
        """Per-coordinate L_i(t) of a rollout's statistics `stats`."""
        return dynamics.loss_components(self.rule, problem, stats)

    def loss_curve(self, problem, alpha, mu):
        return self.rollout(problem, alpha, mu)["loss"]

    def final_loss(self, problem, alpha, mu, penalty_weight=0.0):
        return adjoint.final_loss(self.rule, alpha, mu, problem.h, problem.sigma2, problem.mean0, problem.var0,
                                  self._extras_for(problem, alpha), penalty_weight)

    def max_component_ratio(self, problem, alpha, mu):
        return dynamics.max_component_ratio(self.rule, problem, alpha, mu, self._extras_for(problem, alpha))

    def simulate(self, problem, alpha, mu, runs, seed, steps=None):
        return montecarlo.simulate(self.rule, problem, alpha, mu, runs, seed, self._extras_for(problem, alpha), steps)

    def sample_paths(self, problem, alpha, mu, runs, seed):
        return montecarlo.sample_paths(self.rule, problem, alpha, mu, runs, seed, self._extras_for(problem, alpha))

    def greedy(self, problem, T, mu=None):
        """Theorem 2 for the rule; a rule whose greedy step is alpha at a given mu uses its registry's default."""
        if mu is None:
            mu = self.entry.greedy_mu
        return greedy.greedy(self.rule, problem, T, self.extras(problem, T), mu)

    def fixed(self, problem, T, steps=schedules.ADAM_STEPS, lr=schedules.ADAM_LR, **kwargs):
        return schedules.fixed(self, problem, T, steps, lr, **kwargs)

    def optimized(self, problem, T, steps=schedules.ADAM_STEPS, lr=schedules.ADAM_LR, **kwargs):
        return schedules.optimized(self, problem, T, steps, lr, **kwargs)

    def lookahead(self, problem, T, K=1, deterministic=False, to_end=False):
        from shb.numeric.nqm import lookahead

        return lookahead.lookahead(self, problem, T, K, deterministic, to_end)


def get(name=DEFAULT, **options):
    """The rule `name` with `options` bound (None: the default); InputError for an unknown name or option."""
    entry = registry.get(name)
    options = {key: value for key, value in options.items() if value is not None}
    unknown = sorted(set(options) - {o.name for o in entry.options})
    if unknown:
        raise InputError(f"optimizer {name} takes options {[o.name for o in entry.options]}, got {unknown}")
    return UpdateRule(entry, options)


def names():
    """The registered names, the default first."""
    return list(registry.OPTIMIZERS)


def options():
    """{option name: Option} of every registered rule (their command-line flags; a name means one thing)."""
    out = {}
    for entry in registry.OPTIMIZERS.values():
        for option in entry.options:
            if out.setdefault(option.name, option) != option:
                raise ValueError(f"two rules declare option {option.name!r} differently")
    return out


def parse_options(name, given):
    """{option: checked value} of the options in `given` ({name: command-line text or None: not given}) for the rule
    `name`; InputError naming the flag for a bad value, or for an option the rule does not take."""
    entry, every, out = registry.get(name), options(), {}
    for key, value in given.items():
        if value is None:
            continue
        option = every[key]
        if option not in entry.options:
            owners = [e.name for e in registry.OPTIMIZERS.values() if option in e.options]
            raise InputError(f"{option.flag} is an option of --optimizer {' or '.join(owners)}, not {name}")
        out[key] = option.parse(value)
    return out
