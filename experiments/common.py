"""Pieces every experiment script shares: the checks that do not depend on a figure, and the report's paper rows."""
import functools

from shb.experiments.verified import PROVENANCE, check


GENERATED_CODE = "generated code is current (shb derive --check)"


@functools.lru_cache(maxsize=1)
def derived_files():
    """codegen.outputs(), derived once per process: every NQM figure checks the generated code, the derivations are a
    pure function of the installed symbolic/ and take seconds, and `shb reproduce` runs the figures in one process."""
    from shb.symbolic import codegen

    return codegen.outputs()


def generated_code_check(root=None, derive=False):
    """The numbers were computed by code that matches the derivations (`shb derive --check`), read from the files on
    disk at every call. By the generated files' stamp (symbolic/stamp.py: the installed symbolic sources and SymPy,
    and every file's SHA-256) unless `derive`; the derivations (`derived_files`) decide when the stamp does not
    match, and always when `derive` (`shb reproduce`'s Derivations part: the stamp is proved true there).

    root: a source tree to check instead of the installed package (tests check a copy of the tree)."""
    from shb.symbolic import codegen

    if not derive and codegen.current_by_stamp(root):
        return check(GENERATED_CODE, True, "numeric/nqm/generated.py matches symbolic/ (by its stamp, "
                     "numeric/nqm/generated_stamp.json; `shb derive --check` derives)", kind=PROVENANCE, values=())
    stale = codegen.stale(root, derived_files())
    return check(GENERATED_CODE, not stale,
                 "stale: " + ", ".join(stale) if stale else "numeric/nqm/generated.py matches symbolic/",
                 kind=PROVENANCE, values=())


def subset(n, asked, examples):
    """'the first 200 training examples', or 'all 150 training examples (the configuration asks for 200)' when the
    split holds n < asked: an evaluation subset is the first min(asked, n) examples (numeric/networks/datasets.py)."""
    if n < asked:
        return f"all {n} {examples} (the configuration asks for {asked})"
    return f"the first {asked} {examples}"


def relative_difference(ours, paper):
    return (ours - paper) / abs(paper)


def paper_row(quantity, paper, ours, command, tolerance=None, note=""):
    """One row of the report's 'paper vs this toolkit' table."""
    row = {"quantity": quantity, "paper": paper, "ours": ours, "command": command, "note": note}
    if isinstance(paper, (int, float)) and isinstance(ours, (int, float)):
        row["relative_difference"] = relative_difference(ours, paper)
        if tolerance is not None:
            row["within_tolerance"] = abs(row["relative_difference"]) <= tolerance
            row["tolerance"] = tolerance
    return row


_schedules = {}  # (registry entry, rule, T, options, problem's arrays) -> result: figures sharing a schedule compute it once


def registry_schedule(name, problem, T, options=None, opt=None):
    """SCHEDULES[name](opt, problem, T, options) (numeric/nqm/schedule_registry.py; opt: an update rule of
    numeric/nqm/optimizers.py, heavy ball by default), computed once per process for the same arguments: Figure 3a
    and the lookahead figure share the paper preset's optimized schedule (deterministic, so the second figure gets
    the very same numbers). Callers must not modify the result."""
    import numpy as np

    from shb.numeric.nqm import optimizers
    from shb.numeric.nqm.schedule_registry import SCHEDULES

    opt = optimizers.get() if opt is None else opt
    schedule = SCHEDULES[name]
    options = schedule.resolve(options)
    key = (schedule, opt.name, tuple(sorted(opt.options.items())), T, tuple(sorted(options.items())),
           tuple(np.asarray(getattr(problem, field), dtype=float).tobytes() for field in ("h", "sigma2", "mean0", "var0")))
    if key not in _schedules:
        _schedules[key] = schedule(opt, problem, T, options)
    return _schedules[key]
