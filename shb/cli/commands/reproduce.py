"""`shb reproduce [--only nqm|mlp] [--scale S] [--out DIR]`: everything, and DIR/REPORT.md.

The plan (derivations, proofs, every experiment of the registry) is experiments/reproduce.py; the exit status is
non-zero if any check fails. A part that cannot run is reported as failed with its reason, except what is known to
be wrong before any work: an --out that cannot be written or that another run holds, and a data directory that
does not exist when --data-dir names one or when only the neural-network experiments (--only mlp) run.
"""
import functools
import sys

from shb.cli.options import output_folder
from shb.experiments.registry import PARTS, SCALES


def register(subparsers):
    parser = subparsers.add_parser("reproduce", help="derivations, proofs, figures and REPORT.md")
    parser.add_argument("--only", choices=PARTS, default=None)
    parser.add_argument("--scale", choices=SCALES, default="quick")
    parser.add_argument("--out", default="results", metavar="DIR")
    parser.add_argument("--data-dir", default=None, metavar="DIR", help="IDX data for the MLP experiments")
    parser.set_defaults(func=run)


def run(args):
    import os

    from shb.experiments.reproduce import reproduce
    from shb.numeric.networks.idx import resolve_data_dir

    if args.only != "nqm" and (args.data_dir or args.only == "mlp"):
        resolve_data_dir(args.data_dir)  # before the derivations and proofs, not when the experiments reach it
    log = functools.partial(print, file=sys.stderr, flush=True)
    with output_folder(args):
        sections = reproduce(args.out, args.scale, args.only, log=log, data_dir=args.data_dir)
    ok = all(s.passed for s in sections)
    print(f"wrote {os.path.join(args.out, 'REPORT.md')}: {'all checks pass' if ok else 'SOME CHECKS FAIL'}")
    return 0 if ok else 1
