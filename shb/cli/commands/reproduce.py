"""`shb reproduce [--only nqm|mlp] [--scale S] [--out DIR]`: everything, and DIR/REPORT.md.

The plan (derivations, proofs, every experiment of the registry) is experiments/reproduce.py; the exit status is
non-zero if any check fails.
"""
import functools
import os
import sys

from shb.experiments.registry import PARTS, SCALES
from shb.ground.io import writable_directory


def register(subparsers):
    parser = subparsers.add_parser("reproduce", help="derivations, proofs, figures and REPORT.md")
    parser.add_argument("--only", choices=PARTS, default=None)
    parser.add_argument("--scale", choices=SCALES, default="quick")
    parser.add_argument("--out", default="results", metavar="DIR")
    parser.add_argument("--data-dir", default=None, metavar="DIR", help="IDX data for the MLP experiments")
    parser.set_defaults(func=run)


def run(args):
    from shb.experiments.reproduce import reproduce

    os.makedirs(writable_directory(args.out), exist_ok=True)
    log = functools.partial(print, file=sys.stderr, flush=True)
    sections = reproduce(args.out, args.scale, args.only, log=log, data_dir=args.data_dir)
    ok = all(s.passed for s in sections)
    print(f"wrote {os.path.join(args.out, 'REPORT.md')}: {'all checks pass' if ok else 'SOME CHECKS FAIL'}")
    return 0 if ok else 1
