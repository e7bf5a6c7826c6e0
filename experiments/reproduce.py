"""`shb reproduce`: every part of the argument in order, and REPORT.md.

Order: the generated code is current (`shb derive --check`), every proof holds (`shb prove`), then every
experiment of the registry (experiments/registry.py) in the chosen parts. Each part's checks go into the report;
a part that cannot run (bad input, e.g. no data set) is reported as failed with its one-line reason.

Two lanes. The neural-network experiments keep both cores busy with their Dask workers only part of the time (a
long unit finishing alone); the derivations, the proofs and the NQM figures run in one process. So the NQM lane
runs in a second process beside the neural-network lane (one BLAS thread there, as in a worker), and the
operating system fills the idle core with it. That process runs at a lower priority (nice), so the neural-network
lane, the longer one, is not slowed by it; when the neural-network lane is done, the main process takes the NQM
parts not yet started, one at a time, so both cores work to the end. Every number is the same as run one part
after another (each part runs with one BLAS thread wherever it runs); each part's time in the report is its wall
time while the other lane ran beside it.
"""
import multiprocessing
import os
import signal
import sys
import time

from shb.experiments.common import generated_code_check
from shb.experiments.registry import EXPERIMENTS
from shb.experiments.report import checks_table, write_report
from shb.experiments.result import Result
from shb.ground.blas import single_blas_thread, single_thread_environment
from shb.ground.errors import Interrupted, ShbError


def derivations(out_dir, scale, **options):
    c = generated_code_check(derive=True)  # the full re-derivation, which proves the figures' stamp true
    text = ("The generated module `numeric/nqm/generated.py` and `docs/derivations.md` match the SymPy "
            "derivations in `symbolic/`.\n\n" + checks_table([c], stamp=False) + "\n\nRegenerate with `shb derive`; check with "
            "`shb derive --check`.")
    return Result("Derivations", c["passed"], report=text)


def proofs(out_dir, scale, **options):
    from shb import proofs

    section = proofs.reproduce_section(os.path.join(out_dir, "proofs.md"))
    return Result(section["title"], section["passed"], report=section["report"])


derivations.beside = proofs.beside = True  # the NQM lane (see the module's docstring)


class ExperimentPart:
    """A registry entry as a part of the plan; picklable (by name), so the NQM lane's process can run it."""

    def __init__(self, entry):
        self.name, self.chapter = entry.name, entry.chapter  # chapter: where its result goes, run or not
        self.beside = entry.part == "nqm"  # the neural-network experiments use the Dask workers
        self.heavy = entry.heavy

    def __call__(self, out_dir, scale, **options):
        return EXPERIMENTS[self.name].run(out_dir, scale, **options)


def plan(only=None, scale=None):
    """[(label, part(out_dir, scale, **options) -> Result)] in report order; `only`: "nqm" or "mlp" experiments;
    `scale`: leave out the entries that start at a larger scale (registry: least_scale; None: keep every entry)."""
    steps = [("Derivations", derivations), ("Proofs", proofs)]
    return steps + [(e.label, ExperimentPart(e)) for e in EXPERIMENTS.values()
                    if only in (None, e.part) and (scale is None or e.in_reproduce(scale))]


def run_parts(steps, out_dir, scale, log, options):
    """{label: Result} of running `steps` one after another, each timed and logged."""
    results = {}
    for label, part in steps:
        t0 = time.monotonic()
        log(f"[reproduce] {label} ...")
        try:
            result = part(out_dir, scale, **options)
        except Interrupted:  # Ctrl-C or SIGTERM stops the whole reproduce, not just this part
            raise
        except ShbError as err:
            result = Result(label, False, report=f"Not run: {err}")
        result.seconds = time.monotonic() - t0
        result.chapter = getattr(part, "chapter", None)
        log(f"[reproduce] {label}: {'PASS' if result.passed else 'FAIL'} ({result.seconds:.0f} s)")
        results[label] = result
    return results


def _stderr_log(line):
    print(line, file=sys.stderr, flush=True)


SIDE_NICE = 10  # the second process's niceness: the main lane's critical path gets the cores first
_next_part = None  # in the second process: the shared counter of beside parts claimed (see `claim`)


def _lane_process_start(counter):
    """Ctrl-C reaches the whole terminal's process group: the main process stops the lane (Pool.terminate). The
    lane yields the cores to the main lane (nice) and claims its parts from `counter`, shared with the main one."""
    global _next_part
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    os.nice(SIDE_NICE)
    _next_part = counter


def claim(counter, n):
    """The index of the next of n beside parts that no process has taken (None: all taken), taken atomically."""
    with counter.get_lock():
        i = counter.value
        counter.value = min(i + 1, n)
    return i if i < n else None


def run_claimed(steps, counter, out_dir, scale, log, options):
    """run_parts over the parts of `steps` this process claims, one at a time, until none is left; one BLAS thread."""
    results = {}
    with single_blas_thread():
        while (i := claim(counter, len(steps))) is not None:
            results.update(run_parts([steps[i]], out_dir, scale, log, options))
    return results


def side_lane(steps, out_dir, scale, options):
    """In the second process: the beside parts it claims, logged to stderr."""
    return run_claimed(steps, _next_part, out_dir, scale, _stderr_log, options)


def claim_order(beside):
    """The beside parts in the order they are claimed: the derivations and the proofs, then the heavy NQM parts, then
    the others, each group in plan order. The main lane claims what is left when its own parts are done: the short
    parts last, so neither lane runs a long part alone at the end (the report keeps the plan's order)."""
    rank = lambda step: 0 if not isinstance(step[1], ExperimentPart) else 1 if step[1].heavy else 2  # noqa: E731
    return sorted(beside, key=rank)


def run_lanes(steps, out_dir, scale, log, options):
    """{label: Result}: the parts marked `beside` (the NQM lane) in a second process, at a lower priority, while this
    one runs the others; then this one claims the beside parts not yet started, so both cores work to the end. All in
    this process when either lane is empty. Each result's `lane` names the process that ran it."""
    beside = claim_order([(label, part) for label, part in steps if getattr(part, "beside", False)])
    here = [(label, part) for label, part in steps if not getattr(part, "beside", False)]
    if not beside or not here:
        return run_parts(steps, out_dir, scale, log, options)
    context = multiprocessing.get_context("spawn")
    counter = context.Value("i", 0)
    with single_thread_environment():  # read by the BLAS of the process started here
        pool = context.Pool(1, initializer=_lane_process_start, initargs=(counter,))
    try:
        lane = pool.apply_async(side_lane, (beside, out_dir, scale, options))
        results = run_parts(here, out_dir, scale, log, options)
        results.update(run_claimed(beside, counter, out_dir, scale, log, options))
        for result in results.values():
            result.lane = "main"
        side = lane.get()
        pool.close()
        for result in side.values():
            result.lane = "beside"
        return {**results, **side}
    finally:
        pool.terminate()  # the lane stops at once on Ctrl-C, SIGTERM or an error here (after the results: idle)
        pool.join()


def reproduce(out_dir, scale, only=None, log=print, **options):
    """Run the plan into out_dir and write REPORT.md; returns the results. `options` (data_dir, ...) go to every
    experiment that takes them."""
    start = time.monotonic()
    steps = plan(only, scale)
    results = run_lanes(steps, out_dir, scale, log, options)
    sections = [results[label] for label, _ in steps]
    command = "shb reproduce" + (f" --only {only}" if only else "") + f" --scale {scale}"
    write_report(out_dir, scale, command, sections, time.monotonic() - start)
    return sections
