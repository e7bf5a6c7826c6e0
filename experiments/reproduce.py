"""`shb reproduce`: every part of the argument in order, and REPORT.md.

Order: the generated code is current (`shb derive --check`), every proof holds (`shb prove`), then every
experiment of the registry (experiments/registry.py) in the chosen parts. Each part's checks go into the report;
a part that cannot run (bad input, e.g. no data set) is reported as failed with its one-line reason.
"""
import os
import time

from shb.experiments.common import generated_code_check
from shb.experiments.registry import EXPERIMENTS
from shb.experiments.report import checks_table, write_report
from shb.experiments.result import Result
from shb.ground.errors import ShbError


def derivations(out_dir, scale, **options):
    c = generated_code_check()
    text = ("The generated module `numeric/nqm_generated.py` and `docs/derivations.md` match the SymPy "
            "derivations in `symbolic/`.\n\n" + checks_table([c]) + "\n\nRegenerate with `shb derive`; check with "
            "`shb derive --check`.")
    return Result("Derivations", c["passed"], report=text)


def proofs(out_dir, scale, **options):
    from shb import proofs

    section = proofs.reproduce_section(os.path.join(out_dir, "proofs.md"))
    return Result(section["title"], section["passed"], report=section["report"])


def experiment(entry):
    def part(out_dir, scale, **options):
        return entry.run(out_dir, scale, **options)
    part.chapter = entry.chapter  # the REPORT.md chapter of its result, run or not
    return part


def plan(only=None):
    """[(label, part(out_dir, scale, **options) -> Result)] in report order; `only`: "nqm" or "mlp" experiments."""
    steps = [("Derivations", derivations), ("Proofs", proofs)]
    return steps + [(e.label, experiment(e)) for e in EXPERIMENTS.values() if only in (None, e.part)]


def reproduce(out_dir, scale, only=None, log=print, **options):
    """Run the plan into out_dir and write REPORT.md; returns the results. `options` (data_dir, ...) go to every
    experiment that takes them."""
    start = time.monotonic()
    sections = []
    for label, part in plan(only):
        t0 = time.monotonic()
        log(f"[reproduce] {label} ...")
        try:
            result = part(out_dir, scale, **options)
        except ShbError as err:
            result = Result(label, False, report=f"Not run: {err}")
        result.seconds = time.monotonic() - t0
        result.chapter = getattr(part, "chapter", None)
        log(f"[reproduce] {label}: {'PASS' if result.passed else 'FAIL'} ({result.seconds:.0f} s)")
        sections.append(result)
    command = "shb reproduce" + (f" --only {only}" if only else "") + f" --scale {scale}"
    write_report(out_dir, scale, command, sections, time.monotonic() - start)
    return sections
