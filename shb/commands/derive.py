"""`shb derive [--check]`: regenerate (or check) numeric/nqm_generated.py and docs/derivations.md."""


def register(subparsers):
    parser = subparsers.add_parser(
        "derive", help="regenerate the numpy code and docs/derivations.md from the SymPy derivations"
    )
    parser.add_argument(
        "--check", action="store_true",
        help="write nothing; exit 1 naming any generated file that differs from what the derivations produce",
    )
    parser.set_defaults(func=run)


def run(args):
    from symbolic import codegen

    if args.check:
        stale = codegen.stale()
        for rel in stale:
            print(f"shb derive --check: {rel} is stale (differs from the derivations; run `shb derive`)")
        if not stale:
            print("shb derive --check: generated files are current")
        return 1 if stale else 0
    changed = codegen.write()
    for rel in changed:
        print(f"wrote {rel}")
    if not changed:
        print("generated files already current")
    return 0
