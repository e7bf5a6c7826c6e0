"""The registry of update rules on the NQM: name -> the rule's exact rollout, loss, gradient, simulation, greedy.

    OPTIMIZERS = {"heavy-ball", "nesterov", "preconditioned", "minibatch", "ema", "polyak"}; DEFAULT = "heavy-ball"
    opt = get(name)                                   # InputError naming the known ones otherwise
    opt.rollout(problem, alpha, mu, **options)        # means/covariances per step and "loss" (T+1,)
    opt.statistics()                                  # the names of those means and covariances
    opt.final_loss(problem, alpha, mu, penalty_weight=0.0, **options)   # L(T); Autograd-differentiable
    opt.loss_curve(problem, alpha, mu, **options)     # L(t), t = 0..T
    opt.max_component_ratio(problem, alpha, mu, **options)   # the safeguard's max_t,i L_i(t) / L_i(0)
    opt.simulate(problem, alpha, mu, runs, seed, steps=None, **options)  # Monte Carlo of its own update
    opt.greedy(problem, T, mu=None, **options)        # {"alpha", "mu", "loss"}; mu given: greedy alpha at it
    opt.fixed(problem, T, steps=500, lr=0.003, **options)        # one (alpha, mu), Adam on L(T)
    opt.optimized(problem, T, steps=500, lr=0.003, **options)    # (alpha_t, mu_t) under the safeguard
    parse_options(opt, {"B": "100"})                  # command-line values checked against OPTIONS and opt
    schedule(opt, "fixed", problem, T, {"adam_steps": 500, "adam_lr": 0.003}, **options)  # `shb nqm fixed`

Options (our defaults where the paper is silent): preconditioned p (per coordinate, > 0; default 1/h, the
inverse curvature); minibatch B (a positive integer; default 10); ema gamma (the weight of the newest
iterate, 0 < gamma <= 1; default 0.1). polyak averages with gamma_t = 1/(t+2), the running mean of
theta(0..t+1). greedy(mu=None) is the joint greedy (alpha, mu) where derived; greedy(mu=m) the greedy alpha
at the momentum m (m = 0: greedy SGD). nesterov's greedy step is only the latter (default m = 0.9, the
"reasonable value" of Section 1): its one-step loss is not a quadratic in (alpha, mu) jointly
(symbolic/rule_greedy.py).

heavy-ball calls the existing numeric.nqm.dynamics / nqm_montecarlo / nqm_schedules functions, so its
outputs are theirs bit for bit; the others run the generated code of symbolic/optimizers.py's rules.
"""
from dataclasses import dataclass, field

import numpy as np

from shb.ground.errors import InputError
from shb.numeric.nqm import dynamics as nqm_dynamics
from shb.numeric.nqm import montecarlo as nqm_montecarlo
from shb.numeric.nqm import rule_adjoint as nqm_rule_adjoint
from shb.numeric.nqm import rule_dynamics as nqm_rule_dynamics
from shb.numeric.nqm import rule_greedy as nqm_rule_greedy
from shb.numeric.nqm import rule_montecarlo as nqm_rule_montecarlo
from shb.numeric.nqm import rule_schedules as nqm_rule_schedules
from shb.numeric.nqm import schedules as nqm_schedules
from shb.numeric.nqm.schedule_registry import Option

DEFAULT = "heavy-ball"
NESTEROV_GREEDY_MU = 0.9
DEFAULT_BATCH = 10
DEFAULT_EMA_GAMMA = 0.1


def _positive(name, value, shape):
    arr = np.asarray(value, dtype=float)
    if arr.shape not in ((), shape) or not np.all(np.isfinite(arr)) or not np.all(arr > 0):
        raise InputError(f"option {name} must be positive and finite, a number or shape {shape}, got {value!r}")
    return arr


def _no_extras(problem, T, **options):
    return {}


def _preconditioner(problem, T, p=None):
    return {"p": 1.0 / problem.h if p is None else _positive("p", p, problem.h.shape)}


def _batch(problem, T, B=DEFAULT_BATCH):
    if isinstance(B, bool) or not float(B).is_integer() or B < 1:
        raise InputError(f"option B (the batch size) must be a positive integer, got {B!r}")
    return {"B": float(B)}


def _ema(problem, T, gamma=DEFAULT_EMA_GAMMA):
    if not 0 < float(gamma) <= 1:
        raise InputError(f"option gamma (--gamma, the averaging weight) must lie in (0, 1], got {gamma!r}")
    return {"gamma": np.full(T, float(gamma))}


def _polyak(problem, T):
    return {"gamma": 1.0 / (np.arange(T) + 2.0)}


@dataclass(frozen=True)
class Optimizer:
    """One entry of the registry: a generated rule and how its options become the rule's extras."""

    name: str
    rule: str
    summary: str
    resolve: object = _no_extras
    greedy_mu: object = None  # the default given momentum of an alpha-given-mu greedy step
    options: tuple = field(default=())

    def extras(self, problem, T, **options):
        unknown = sorted(set(options) - set(self.options))
        if unknown:
            raise InputError(f"optimizer {self.name} takes options {list(self.options)}, got {unknown}")
        return self.resolve(problem, T, **options)

    def _args(self, problem, alpha, options):
        return (self.rule, problem, self.extras(problem, np.shape(alpha)[-1], **options))

    def rollout(self, problem, alpha, mu, **options):
        rule, problem, extras = self._args(problem, alpha, options)
        return nqm_rule_dynamics.rollout(rule, problem, alpha, mu, extras)

    def final_loss(self, problem, alpha, mu, penalty_weight=0.0, **options):
        rule, problem, extras = self._args(problem, alpha, options)
        return nqm_rule_adjoint.final_loss(rule, alpha, mu, problem.h, problem.sigma2, problem.mean0, problem.var0,
                                           extras, penalty_weight)

    def loss_curve(self, problem, alpha, mu, **options):
        return self.rollout(problem, alpha, mu, **options)["loss"]

    def max_component_ratio(self, problem, alpha, mu, **options):
        rule, problem, extras = self._args(problem, alpha, options)
        return nqm_rule_dynamics.max_component_ratio(rule, problem, alpha, mu, extras)

    def simulate(self, problem, alpha, mu, runs, seed, steps=None, **options):
        rule, problem, extras = self._args(problem, alpha, options)
        return nqm_rule_montecarlo.simulate(rule, problem, alpha, mu, runs, seed, extras, steps)

    def greedy(self, problem, T, mu=None, **options):
        if mu is None:
            mu = self.greedy_mu
        return nqm_rule_greedy.greedy(self.rule, problem, T, self.extras(problem, T, **options), mu)

    def statistics(self):
        """The names of the means and covariances `rollout` returns (besides "loss"), in generated order."""
        return nqm_rule_dynamics.spec(self.rule)["central"]

    def fixed(self, problem, T, steps=500, lr=0.003, **options):
        return nqm_rule_schedules.fixed(self, problem, T, steps, lr, **options)

    def optimized(self, problem, T, steps=500, lr=0.003, **options):
        return nqm_rule_schedules.optimized(self, problem, T, steps, lr, **options)


class HeavyBall(Optimizer):
    """Heavy ball through the existing modules (their outputs exactly), no options."""

    def rollout(self, problem, alpha, mu, **options):
        self.extras(problem, np.shape(alpha)[-1], **options)
        return nqm_dynamics.rollout(problem, alpha, mu)

    def final_loss(self, problem, alpha, mu, penalty_weight=0.0, **options):
        self.extras(problem, np.shape(alpha)[-1], **options)
        return nqm_dynamics.final_loss(problem, alpha, mu, penalty_weight)

    def max_component_ratio(self, problem, alpha, mu, **options):
        self.extras(problem, np.shape(alpha)[-1], **options)
        return nqm_dynamics.max_component_ratio(problem, alpha, mu)

    def simulate(self, problem, alpha, mu, runs, seed, steps=None, **options):
        self.extras(problem, np.shape(alpha)[-1], **options)
        return nqm_montecarlo.simulate(problem, alpha, mu, runs, seed, steps)

    def greedy(self, problem, T, mu=None, **options):
        self.extras(problem, T, **options)
        if mu is None:
            return nqm_schedules.greedy(problem, T)
        if np.all(np.asarray(mu) == 0):
            return nqm_schedules.greedy_sgd(problem, T)
        return super().greedy(problem, T, mu)

    def statistics(self):
        return nqm_dynamics.STATS

    def fixed(self, problem, T, steps=500, lr=0.003, **options):
        self.extras(problem, T, **options)
        return nqm_schedules.fixed(problem, T, steps, lr)

    def optimized(self, problem, T, steps=500, lr=0.003, **options):
        self.extras(problem, T, **options)
        return nqm_schedules.optimized(problem, T, steps, lr)


OPTIMIZERS = {opt.name: opt for opt in (
    HeavyBall("heavy-ball", "heavy_ball", "SGD with momentum (Eqs. 1-2), the paper's optimizer"),
    Optimizer("nesterov", "nesterov", "Nesterov momentum, Sutskever et al. 2013's form (gradient at theta + mu v)",
              greedy_mu=NESTEROV_GREEDY_MU),
    Optimizer("preconditioned", "preconditioned", "heavy ball on p * gradient, a fixed p > 0 per coordinate",
              _preconditioner, options=("p",)),
    Optimizer("minibatch", "minibatch", "heavy ball on the mean of B gradient draws (noise variance sigma2 / B)",
              _batch, options=("B",)),
    Optimizer("ema", "averaged", "heavy ball, loss at the exponential average of the iterates (weight gamma)",
              _ema, options=("gamma",)),
    Optimizer("polyak", "averaged", "heavy ball, loss at the running mean of the iterates (Polyak-Ruppert)",
              _polyak),
)}


# The options' command-line forms (`shb nqm ... --optimizer NAME --batch-size B`), parsed as the schedules' are.
OPTIONS = {option.name: option for option in (
    Option("p", "float", flag="--precondition", metavar="P",
           help="preconditioned: the preconditioner p > 0 of every coordinate (default 1/h, per coordinate)"),
    Option("B", "int", minimum=1, flag="--batch-size", metavar="B",
           help=f"minibatch: the batch size B, a positive integer (default {DEFAULT_BATCH})"),
    Option("gamma", "float", flag="--gamma", metavar="G",
           help=f"ema: the weight of the newest iterate, 0 < G <= 1 (default {DEFAULT_EMA_GAMMA})"),
)}


def parse_options(opt, given):
    """{name: checked value} of the options in `given` ({name: text or None}; None: not given, the default).

    InputError naming the flag for a bad value, or for an option the optimizer `opt` does not take."""
    out = {}
    for name, value in given.items():
        if value is None:
            continue
        option = OPTIONS[name]
        if name not in opt.options:
            owners = [o.name for o in OPTIMIZERS.values() if name in o.options]
            raise InputError(f"{option.flag} is an option of --optimizer {' or '.join(owners)}, not {opt.name}")
        out[name] = option.parse(value)
    return out


def schedule(opt, name, problem, T, settings, **options):
    """The schedule `name` of the schedule registry (greedy, greedy-sgd, fixed, optimized) for the optimizer
    `opt`; settings: the schedule's checked options (Adam's steps and learning rate). InputError where the
    schedule is not derived for the rule (the joint greedy step of an alpha-given-mu rule) or not offered."""
    if name == "greedy":
        if nqm_rule_dynamics.spec(opt.rule)["greedy"] != "joint":
            raise InputError(f"the greedy (alpha, mu) step is not derived for --optimizer {opt.name}: its one-step "
                             "loss is not a quadratic in (alpha, mu) jointly (greedy-sgd gives its greedy alpha at "
                             "mu = 0)")
        return opt.greedy(problem, T, **options)
    if name == "greedy-sgd":
        return opt.greedy(problem, T, mu=0.0, **options)
    if name in ("fixed", "optimized"):
        return getattr(opt, name)(problem, T, steps=settings["adam_steps"], lr=settings["adam_lr"], **options)
    raise InputError(f"the {name} schedule is computed for --optimizer {DEFAULT} only, not {opt.name}")


def get(name=DEFAULT):
    """The registry entry `name` (InputError naming the known ones otherwise)."""
    if name not in OPTIMIZERS:
        raise InputError(f"unknown optimizer {name!r}; known: {', '.join(OPTIMIZERS)}")
    return OPTIMIZERS[name]


def names():
    """The registered names, the default first."""
    return list(OPTIMIZERS)
