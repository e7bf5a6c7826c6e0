"""The front end: the `shb` command, one subcommand per module in shb/cli/commands.

Each command module exposes `register(subparsers)`, which adds its parser and
sets `func(args) -> int` as the default. Modules are imported lazily by name
so that a light command (e.g. `shb derive --check`) does not pay for the
heavy ones.
"""
import argparse
import contextlib
import importlib
import signal
import sys

from shb.ground.errors import ShbError, Terminated

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
    "shb.cli.commands.sensitivity",
]


class OneLineParser(argparse.ArgumentParser):
    """argparse, whose errors are one line (`shb: ...`, exit status 2) instead of a usage message and an error."""

    def error(self, message):
        self.exit(2, f"shb: {message} (see `{self.prog} --help`)\n")


def build_parser():
    parser = OneLineParser(
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
    try:
        args = parser.parse_args(argv)
    except SystemExit as done:  # --help (0) or a bad argument (2, said in one line by OneLineParser)
        return done.code
    args.argv = list(sys.argv[1:] if argv is None else argv)  # the command line, for a lock's record
    with _sigterm_interrupts():
        try:
            status = args.func(args)
        except ShbError as err:  # a library error or a bad argument: one line, never a traceback
            print(f"shb: {err}", file=sys.stderr)
            return err.status
        except OSError as err:  # an unwritable --out, a full disk, a file that vanished: the user's to fix
            where = f": {err.filename}" if err.filename else ""
            print(f"shb: {err.strerror or err}{where}", file=sys.stderr)
            return 2
        except MemoryError:  # an estimate that fell short, or a memory limit below what the machine reports
            print("shb: out of memory (the run needs more memory than this process may use)", file=sys.stderr)
            return 2
        except KeyboardInterrupt as err:
            print("shb: interrupted", file=sys.stderr)
            return getattr(err, "status", 130)
    return 0 if status is None else int(status)


@contextlib.contextmanager
def _sigterm_interrupts():
    """SIGTERM (`kill`) stops a command as Ctrl-C does, with exit status 143: saved progress stays intact."""
    def terminate(signum, frame):
        raise Terminated()
    try:
        previous = signal.signal(signal.SIGTERM, terminate)
    except ValueError:  # not the main thread (a test calling main from a thread): leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)

