"""`shb derive [--check]`: regenerate (or check) numeric/nqm_generated.py and docs/derivations.md."""
import os

from shb.errors import UserError


def register(subparsers):
    parser = subparsers.add_parser(
        "derive", help="regenerate the numpy code and docs/derivations.md from the SymPy derivations"
    )
    parser.add_argument(
        "--check", action="store_true",
        help="write nothing; exit 1 naming any generated file that differs from what the derivations produce",
    )
    parser.add_argument(
        "--root", default=None, metavar="DIR",
        help="the source tree holding numeric/ and docs/ (default: this installation's tree)",
    )
    parser.set_defaults(func=run)


def run(args):
    from symbolic import codegen

    root = args.root or codegen.ROOT
    if not os.path.isdir(root):
        raise UserError(f"--root is not a directory: {root}")
    if args.check:
        stale = codegen.stale(root)
        for rel in stale:
            print(f"shb derive --check: {rel} is stale or missing (differs from what the derivations produce; run `shb derive`)")
        if not stale:
            print("shb derive --check: generated files are current")
        return 1 if stale else 0
    changed = codegen.write(root)
    for rel in changed:
        print(f"wrote {rel}")
    if not changed:
        print("generated files already current")
    return 0
