"""The registry of update rules: one module per rule, each registered by one line of REGISTRY below.

A rule's module (symbolic/optimizers/<module>.py) defines

    RULE         its stochastic update on one NQM coordinate, a `Rule` (symbolic/rules.py), written once in SymPy
    OPTIMIZERS   the registry entries it gives, `Optimizer`s: usually one; two where one update serves two
                 optimizers (exponential and Polyak averaging differ only in their averaging weights)

Everything else reads the registry: `shb derive` generates each rule's moments, adjoints and greedy step
(symbolic/codegen_rules.py), `shb prove` checks proofs/rules_<module>.py (the naming convention), the NQM engine
(numeric/nqm/) runs every schedule for every entry, the front end builds `--optimizer NAME` and the options'
flags, the optimizers figure has a row per entry, and the tests are parametrized over it (docs/extending.md).
"""
import importlib
from dataclasses import dataclass, field
from typing import Callable

from shb.ground.errors import InputError

# One line per rule module, in the order of `shb nqm --help`, the proofs and the figure.
REGISTRY = (
    "heavy_ball",
    "nesterov",
    "preconditioned",
    "minibatch",
    "averaged",
    "qhm",
)
DEFAULT = "heavy-ball"


def _no_extras(problem, T):
    return {}


@dataclass(frozen=True)
class Optimizer:
    """One registry entry.

    name: `--optimizer NAME`; label: its row in the optimizers figure; summary: one line of help; rule: the
    symbolic update (its `name` prefixes the generated functions); options: its command-line options
    (shb.ground.options.Option), each a keyword of `extras`; extras(problem, T, **options) -> {extra of the
    rule: value}, the rule's given inputs (per coordinate, scalar, or per step of shape (T,)) from the options,
    checking them (InputError); greedy_mu: the default momentum of a rule whose greedy step is the greedy alpha
    at a given mu (its one-step loss is not a quadratic in (alpha, mu) jointly).
    """

    name: str
    label: str
    summary: str
    rule: object
    options: tuple = field(default=())
    extras: Callable = _no_extras
    greedy_mu: float = None

    def resolve(self, problem, T, **options):
        """The rule's extras for these options (defaults where not given); InputError for an option not its own."""
        unknown = sorted(set(options) - {o.name for o in self.options})
        if unknown:
            raise InputError(f"optimizer {self.name} takes options {[o.name for o in self.options]}, got {unknown}")
        given = {name: value for name, value in options.items() if value is not None}
        return self.extras(problem, T, **given)


def modules():
    """The rule modules of REGISTRY, imported."""
    return [importlib.import_module(f"{__name__}.{name}") for name in REGISTRY]


RULES = tuple(module.RULE for module in modules())
OPTIMIZERS = {entry.name: entry for module in modules() for entry in module.OPTIMIZERS}


def get(name=DEFAULT):
    """The registry entry `name` (InputError naming the known ones otherwise)."""
    if name not in OPTIMIZERS:
        raise InputError(f"unknown optimizer {name!r}; known: {', '.join(OPTIMIZERS)}")
    return OPTIMIZERS[name]


def module_of(rule):
    """The name of the module in REGISTRY that defines `rule` (the proofs are proofs/rules_<that name>.py)."""
    return next(name for name, module in zip(REGISTRY, modules()) if module.RULE is rule)
