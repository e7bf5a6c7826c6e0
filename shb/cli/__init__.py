"""The front end: the `shb` command, one subcommand per module in shb/cli/commands.

Each command module exposes `register(subparsers)`, which adds its parser and
sets `func(args) -> int` as the default. Modules are imported lazily by name
so that a light command (e.g. `shb derive --check`) does not pay for the
heavy ones.
"""
import argparse
import importlib
import sys

from shb.ground.errors import ShbError

COMMANDS = [
    "shb.cli.commands.derive",
    "shb.cli.commands.prove",
    "shb.cli.commands.nqm",
    "shb.cli.commands.figure",
    "shb.cli.commands.reproduce",
    "shb.cli.commands.offline",
    "shb.cli.commands.hypergrad_check",
    "shb.cli.commands.bench",
    "shb.cli.commands.online",
]


def build_parser():
    parser = argparse.ArgumentParser(
        prog="shb",
        description="Verification toolkit for short-horizon bias in meta-optimization "
        "(Wu, Ren, Liao & Grosse, ICLR 2018).",
    )
    subparsers = parser.add_subparsers(dest="command", required=True)
    for name in COMMANDS:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        status = args.func(args)
    except ShbError as err:  # a library error or a bad argument: one line, never a traceback
        print(f"shb: {err}", file=sys.stderr)
        return err.status
    except OSError as err:  # an unwritable --out, a full disk, a file that vanished: the user's to fix
        where = f": {err.filename}" if err.filename else ""
        print(f"shb: {err.strerror or err}{where}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("shb: interrupted", file=sys.stderr)
        return 130
    return 0 if status is None else int(status)

