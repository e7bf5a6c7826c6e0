"""The NQM schedules behind one registry: `shb nqm <name>` and Figure 3 iterate SCHEDULES.

Every entry is a `Schedule`: a name, a one-line help, a function with ONE signature

    function(opt, problem, T, options) -> {"alpha": [T], "mu": [T], "loss": [T+1], ...extras}

for any update rule `opt` of the rule registry (numeric/nqm/optimizers.py: every schedule runs for every rule;
loss is the rule's expected excess loss at t = 0..T, numeric/nqm/dynamics.py), and its options
declared as data (`Option`: name, flag, kind, default, rule, help), from which the front end builds the
command-line flags and checks their values. `options` reaches the function complete and checked: one
value per declared option, its default where none was given.

The schedules (numeric/nqm/schedules.py states the math):

- greedy: the greedy-optimal (one-step lookahead) alpha_t and mu_t of Theorem 2, (alpha*, mu*) = -H^{-1} g
  of the rule's one-step loss (for a rule whose one-step loss is not a quadratic in (alpha, mu) jointly, the greedy
  alpha at its registry's momentum); greedy-sgd: the greedy alpha at mu = 0 (Theorem 3's one-step form).
- fixed: one (alpha, mu) for all T steps minimizing L(T) (Section 2.3's "fixed" baseline), by Adam.
- optimized: one (alpha_t, mu_t) per step minimizing L(T) under the safeguard L_i(t) <= L_i(0)
  (Section 2.3's "optimized schedule"), by Adam; the paper: 500 steps at learning rate 0.003.
- lookahead: at each step the constant (alpha, mu) minimizing the expected loss K steps ahead of the current
  moments (online SMD's K-step lookahead, Section 3.3, solved exactly; numeric/nqm/lookahead.py); K = 1 is
  greedy; --deterministic plans with sigma2 = 0 (Figure 8) and runs under the true sigma2.

Adding a schedule: write its function (opt, problem, T, options) -> result (in its own module if it is more
than a few lines), and add one `Schedule(...)` line to SCHEDULES below, with its options declared as `Option`s,
as `lookahead` does: it gives `shb nqm lookahead ... --horizon K --deterministic`, with "--horizon must be
>= 1, got 0" for a bad value; nothing in the front end changes.
"""
import math
from dataclasses import dataclass
from typing import Callable

from shb.ground.errors import InputError
from shb.ground.options import Option
from shb.numeric.nqm import lookahead as nqm_lookahead
from shb.numeric.nqm import schedules as nqm_schedules
from shb.numeric.nqm.dynamics import rollout_bytes

# The horizon T of every schedule (the front end's --steps).
HORIZON = Option("steps", "int", minimum=1, metavar="T", help="the horizon T (a positive integer)")


@dataclass(frozen=True)
class Schedule:
    """One registered schedule: `schedule(opt, problem, T, options)` checks T and the options, fills in the
    defaults and returns function(opt, problem, T, options)."""

    name: str
    help: str
    function: Callable
    options: tuple = ()
    cost: Callable = None  # (opt, d, T, options) -> (bytes, seconds), checked before work starts; None: a rollout's

    def estimate(self, opt, d, T, options):
        """(bytes, seconds) this schedule needs for the rule `opt`, d coordinates and horizon T (shb.ground.limits
        checks them)."""
        if self.cost is not None:
            return self.cost(opt, d, T, options)
        return rollout_bytes(d, T, rule=opt.rule), SECONDS_PER_STEP * T * d

    def __post_init__(self):
        for attribute in ("name", "flag"):
            values = [getattr(option, attribute) for option in self.options]
            if len(set(values)) < len(values):
                raise ValueError(f"schedule {self.name!r}: two options share a {attribute}: {values}")

    def resolve(self, options=None):
        """{name: checked value} for every declared option, in declared order; a value None means not given."""
        options = dict(options or {})
        unknown = sorted(set(options) - {option.name for option in self.options})
        if unknown:
            known = [option.name for option in self.options]
            raise InputError(f"the {self.name} schedule has no option {unknown[0]!r} (its options: {known})")
        return {option.name: option.default if options.get(option.name) is None
                else option.parse(options[option.name]) for option in self.options}

    def pick(self, settings):
        """Those of `settings` that this schedule declares (settings shared by several schedules)."""
        return {option.name: settings[option.name] for option in self.options if option.name in settings}

    def __call__(self, opt, problem, T, options=None):
        return self.function(opt, problem, HORIZON.parse(T), self.resolve(options))


# ---------------------------------------------------------------------------------------------
# The functions (opt, problem, T, options) -> result
# ---------------------------------------------------------------------------------------------


def greedy(opt, problem, T, options):
    """Theorem 2 for the rule: at each step the (alpha_t, mu_t) minimizing the next step's expected loss."""
    return opt.greedy(problem, T)


def greedy_sgd(opt, problem, T, options):
    """Theorem 2 at mu = 0 (Theorem 3's one-step form): the greedy-optimal learning rates without momentum."""
    return opt.greedy(problem, T, mu=0.0)


def fixed(opt, problem, T, options):
    """Section 2.3: the best constant (alpha, mu), Adam on L(T) from a grid start."""
    return opt.fixed(problem, T, steps=options["adam_steps"], lr=options["adam_lr"])


def optimized(opt, problem, T, options):
    """Section 2.3: one (alpha_t, mu_t) per step, Adam on L(T) under the safeguard L_i(t) <= L_i(0)."""
    return opt.optimized(problem, T, steps=options["adam_steps"], lr=options["adam_lr"])


# Seconds per (step, coordinate) of one rollout of Theorem 1 or one greedy step (order of magnitude, measured),
# and what a fit costs: a rollout kept for the result, the adjoint's cached moments, and one forward and one
# backward pass per Adam step after a grid of starts.
SECONDS_PER_STEP = 4e-7
FIT_START_ROLLOUTS = 1000


def fit_cost(opt, d, T, options):
    bytes_ = 3 * rollout_bytes(d, T, rule=opt.rule)
    return bytes_, SECONDS_PER_STEP * T * d * (2 * options["adam_steps"] + FIT_START_ROLLOUTS)


def lookahead(opt, problem, T, options):
    """Online meta-optimization computed exactly (Section 3.3): at each step the constant (alpha, mu) minimizing
    the expected loss K steps ahead of the current moments; K = 1 is greedy (Theorem 2); --to-end: K = T - t."""
    return opt.lookahead(problem, T, options["horizon"], options["deterministic"], options["to_end"])


def _start(opt, problem, options):
    from shb.numeric.nqm import corrections

    alpha0, mu0 = corrections.start(opt, problem)
    return (alpha0 if options["alpha0"] is None else options["alpha0"],
            mu0 if options["mu0"] is None else options["mu0"])


def trace(opt, problem, T, options):
    """A remedy: online meta-optimization on a forward-mode hypergradient trace with forgetting (numeric/nqm/trace.py;
    --forget 0 is hypergradient descent)."""
    from shb.numeric.nqm.trace import trace_schedule

    return trace_schedule(opt, problem, T, options["forget"], options["meta_lr"], *_start(opt, problem, options))


def pes(opt, problem, T, options):
    """A remedy: online meta-optimization on PES's expected gradient, the full unroll held at the current values
    (numeric/nqm/pes.py)."""
    from shb.numeric.nqm.pes import pes_schedule

    return pes_schedule(opt, problem, T, options["meta_lr"], *_start(opt, problem, options))


def pieces(opt, problem, T, options):
    """A remedy: n piecewise-constant (alpha, mu) pieces fitted offline on L(T) (numeric/nqm/pieces.py)."""
    from shb.numeric.nqm.pieces import pieces_schedule

    return pieces_schedule(opt, problem, T, options["pieces"], options["adam_steps"], options["adam_lr"])


# What a lookahead costs: per step, Newton's jets from a few starts through K steps and, every REGRID steps, the
# K-step loss on the grid of starts (GRID_F x GRID_MU points per coordinate, about 8 temporaries of that size);
# seconds per (step, coordinate, lookahead step): nqm_lookahead.SECONDS_PER_STEP.
LOOKAHEAD_GRID_ARRAYS = 16


def lookahead_cost(opt, d, T, options):
    grid = nqm_lookahead.GRID_F.size * nqm_lookahead.GRID_MU.size
    K = T if options.get("to_end") else options["horizon"]
    return (rollout_bytes(d, T, rule=opt.rule) + LOOKAHEAD_GRID_ARRAYS * 8 * grid * d,
            nqm_lookahead.SECONDS_PER_STEP * T * d * K)


def pes_cost(opt, d, T, options):
    """PES re-unrolls from the start at every step: about T^2 rollout steps."""
    return 3 * rollout_bytes(d, T, rule=opt.rule), SECONDS_PER_STEP * T * T * d


# The options of the fitted schedules: Adam's steps and learning rate (the paper's by default).
ADAM = (Option("adam_steps", "int", nqm_schedules.ADAM_STEPS, minimum=0, metavar="N",
               help="Adam steps (default 500, as the paper)"),
        Option("adam_lr", "float", nqm_schedules.ADAM_LR, metavar="LR",
               help="Adam learning rate (default: the module's)"))

# The options of the online remedies: the meta step size and where they start (default: the greedy first step).
ONLINE = (Option("meta_lr", "float", 0.03, metavar="ETA", help="the meta step size on (log alpha, log(1 - mu)) of the "
                 "log loss (default 0.03)"),
          Option("alpha0", "float", metavar="A", help="the first alpha (default: greedy's first)"),
          Option("mu0", "float", positive=False, metavar="M", help="the first mu (default: greedy's first)"))
TRACE = (Option("forget", "float", 0.9, positive=False, metavar="LAMBDA",
                help="the trace's forgetting factor, 0 <= LAMBDA <= 1 (default 0.9; 0: hypergradient descent)"),
         *ONLINE)

# name -> Schedule, in the order of `shb nqm --help`.
SCHEDULES = {s.name: s for s in (
    Schedule("greedy", "the greedy schedule over a horizon of --steps T", greedy),
    Schedule("greedy-sgd", "the greedy-sgd schedule over a horizon of --steps T", greedy_sgd),
    Schedule("fixed", "the fixed schedule over a horizon of --steps T", fixed, ADAM, fit_cost),
    Schedule("optimized", "the optimized schedule over a horizon of --steps T", optimized, ADAM, fit_cost),
    Schedule("lookahead", "the K-step lookahead schedule over a horizon of --steps T", lookahead,
             (Option("horizon", "int", 1, minimum=1, metavar="K", help="steps of lookahead K (default 1: greedy)"),
              Option("deterministic", "flag", help="plan on the noise-free problem (sigma2 = 0), run on the true one"),
              Option("to_end", "flag", help="plan to the end of the run (K = T - t: the receding horizon)")),
             lookahead_cost),
    Schedule("trace", "a hypergradient trace with forgetting --forget LAMBDA, online (a remedy)", trace, TRACE),
    Schedule("pes", "PES's expected gradient, online (a remedy)", pes, ONLINE, pes_cost),
    Schedule("pieces", "--pieces N piecewise-constant (alpha, mu) fitted on L(T) (a remedy)", pieces,
             (Option("pieces", "int", 4, minimum=1, metavar="N", help="the number of pieces (default 4)"), *ADAM),
             fit_cost),
)}
