"""Command-line options that several commands share, declared once, and the output folder they write into."""
import argparse
import contextlib
import shlex

from shb.ground.errors import InputError
from shb.ground.io import writable_directory
from shb.ground.limits import WORKERS_PER_CORE, check_workers
from shb.ground.lock import output_lock


def add_run_options(parser, data_help):
    """--out DIR, --data-dir DIR (with this command's help text) and --scheduler ADDRESS, for the experiments that
    train networks through the shared runner."""
    parser.add_argument("--out", default="results", help="output directory (default: results)")
    parser.add_argument("--data-dir", default=None, help=data_help)
    parser.add_argument("--scheduler", default=None, help="address of a Dask scheduler (default: a local "
                        "cluster of worker processes)")
    parser.add_argument("--workers", type=_workers, default=None, metavar="N", help="worker processes of the local "
                        f"Dask cluster, at most {WORKERS_PER_CORE} per core; 0 or 1: run in this process (default: the "
                        "scale's choice)")


def _workers(text):
    try:
        return check_workers(int(text), "it")
    except ValueError as err:  # not an integer, or out of range (InputError is a ValueError)
        message = str(err) if isinstance(err, InputError) else f"it must be an integer, got {text!r}"
        raise argparse.ArgumentTypeError(message) from None


@contextlib.contextmanager
def output_folder(args):
    """--out, proven writable (shb.ground.io.writable_directory) and held by this run for the block
    (shb.ground.lock): one run per output folder at a time. Yields its absolute path."""
    out = writable_directory(args.out)
    with output_lock(out, "shb " + shlex.join(getattr(args, "argv", []))):
        yield out
