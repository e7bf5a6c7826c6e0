"""shb: a symbolic-plus-numeric verification toolkit for the short-horizon bias of stochastic meta-optimization
(Wu, Ren, Liao & Grosse, ICLR 2018).

Floors, bottom to top; a module imports only from its own floor or the floors below it:

    shb.ground        errors, atomic files, progress, BLAS threads, provenance, installed resources
    shb.symbolic      SymPy derivations and the code generator (symbolic/)
    shb.numeric       the NQM engine (nqm/), the networks (networks/), meta-optimization (meta/) (numeric/)
    shb.proofs        machine-checked proofs (proofs/)
    shb.experiments   the figures (figures/), their registry, runner and report (experiments/)
    shb.cli           the front end: argument parsing and commands

tests/test_layers.py reads the import graph and enforces the rule. The Python API (shb/api.py, at the front end's
floor) is reached as shb.<name>: `import shb` loads it on first use only.
"""


def __getattr__(name):
    """The Python API (shb/api.py: problem, rule, rollout, loss, greedy, optimized, lookahead, network,
    hypergradient, run, ...), loaded on first use: `import shb` itself loads nothing."""
    import importlib

    api = importlib.import_module("shb.api")
    if name in api.NAMES:
        return getattr(api, name)
    raise AttributeError(f"module 'shb' has no attribute {name!r}")


def __dir__():
    import importlib

    return sorted(set(globals()) | set(importlib.import_module("shb.api").NAMES))
