"""Run every proof: one module per theorem or claim, each a generator of kernel steps."""
import importlib

from shb.proofs.kernel import Result

# The paper's theorems and claims, and the engine's derivations for every rule, in report order; then one module per
# update rule of the registry, found by the naming convention proofs/rules_<its module in symbolic/optimizers/>.py.
GENERAL = (
    "shb.proofs.nqm",
    "shb.proofs.theorem1",
    "shb.proofs.theorem2",
    "shb.proofs.convexity",
    "shb.proofs.theorem3",
    "shb.proofs.theorem4",
    "shb.proofs.spherical",
    "shb.proofs.deterministic",
    "shb.proofs.rules_engine",
    "shb.proofs.rules_adjoint",
)


def rule_modules():
    """The proof module of each rule of the registry, by the naming convention (ModuleNotFoundError names a rule
    without one: every rule has its proofs)."""
    from shb.symbolic.optimizers import REGISTRY

    return tuple(f"shb.proofs.rules_{name}" for name in REGISTRY)


def module_names():
    return GENERAL + rule_modules()


def modules():
    """The proof modules in report order; each has THEOREM, CITES, STATEMENT and steps()."""
    return [importlib.import_module(name) for name in module_names()]


def run_module(module, on_result=None):
    """Check every step of one proof; an error while building a step is a failing result, never a crash."""
    results = []
    try:
        for step in module.steps():
            results.append(step.run(module.THEOREM))
            if on_result:
                on_result(results[-1])
    except Exception as err:
        results.append(Result(module.THEOREM, "building the proof", "error",
                              "The proof's steps could be constructed.", "", False, 0.0,
                              f"error: {type(err).__name__}: {err}"))
        if on_result:
            on_result(results[-1])
    return results


def run_all(on_result=None):
    """Every step of every proof, in report order: a list of kernel.Result."""
    return [r for module in modules() for r in run_module(module, on_result)]
