"""`shb prove [--json] [--report [PATH]]`: run every machine-checked proof in proofs/.

Prints a table (theorem, step, holds / FAILS, seconds), or with --json one JSON
document {"claims": [...], "all_hold": ..., "findings": [...], "numerical_only": [...]}.
--report writes the Markdown proof report (default docs/proofs.md of this installation:
the source folder of an editable install).
Exit status 0 only if every step holds, 1 otherwise.
"""
import sys
import time

from shb.ground import resources



def register(subparsers):
    parser = subparsers.add_parser(
        "prove", help="run the machine-checked proofs of Theorems 1-4 and the paper's claims"
    )
    parser.add_argument("--json", action="store_true", help="print the results as one JSON document")
    parser.add_argument(
        "--report", nargs="?", const=resources.path("docs/proofs.md"), default=None, metavar="PATH",
        help="write the Markdown proof report to PATH (default: docs/proofs.md of this installation)",
    )
    parser.set_defaults(func=run)


def run(args):
    from shb.proofs import report, runner
    from shb.ground.errors import InputError
    from shb.ground.io import atomic_write_text, to_json, writable_file

    if args.report is not None:  # before the proofs run, not after: a file there is created and removed
        writable_file(args.report, "--report")
    start = time.perf_counter()
    stream = None if args.json else _streamer()
    results = runner.run_all(on_result=stream)
    elapsed = time.perf_counter() - start
    all_hold = bool(results) and all(r.holds for r in results)
    if args.json:
        print(to_json(report.to_json(results, elapsed)))
    else:
        _print_summary(results, elapsed, report)
    if args.report is not None:
        try:
            atomic_write_text(args.report, report.markdown(results))
        except OSError as err:
            raise InputError(f"cannot write report {args.report}: {err.strerror}") from None
        print(f"wrote {args.report}", file=sys.stderr if args.json else sys.stdout)
    return 0 if all_hold else 1


def _streamer():
    """Print each step's row as soon as it is decided (the table header first)."""
    print(f"{'theorem':<30}  {'step':<60}  verdict  seconds", flush=True)

    def emit(result):
        from shb.proofs.report import row

        print(row(result, 30, 60), flush=True)
    return emit


def _print_summary(results, elapsed, report):
    print()
    for name, steps, hold, seconds in report.summary(results):
        print(f"{name:<30}  {hold:>3}/{steps:<3} hold  {seconds:7.2f} s")
    failed = [r for r in results if not r.holds]
    for r in failed:
        print(f"FAILS: {r.theorem}: {r.step}: {r.detail}")
    verdict = "every step holds" if not failed else f"{len(failed)} step(s) FAIL"
    print(f"{len(results)} steps in {elapsed:.1f} s: {verdict}")
