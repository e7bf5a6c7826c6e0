"""`shb derive [--check]`: regenerate (or check) numeric/nqm/generated.py (every update rule's functions and the
paper's closed forms), docs/derivations.md and docs/derivations_rules.md (symbolic/codegen.py, codegen_rules.py)."""
import os

from shb.ground.errors import InputError


def register(subparsers):
    parser = subparsers.add_parser(
        "derive", help="regenerate the numpy code and docs/derivations*.md from the SymPy derivations"
    )
    parser.add_argument(
        "--check", action="store_true",
        help="write nothing; exit 1 naming any generated file that differs from what the derivations produce",
    )
    parser.add_argument(
        "--root", default=None, metavar="DIR",
        help="a source tree holding numeric/ and docs/ (default: this installation's own files, found through the "
        "installed package)",
    )
    parser.set_defaults(func=run)


def run(args):
    from shb.symbolic import codegen

    root = args.root  # None: the files of this installation (an editable install's source folders, or the wheel's)
    if root is not None and not os.path.isdir(root):
        raise InputError(f"--root is not a directory: {root}")
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
