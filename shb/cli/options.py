"""Command-line options that several commands share, declared once."""
import argparse


def add_run_options(parser, data_help):
    """--out DIR, --data-dir DIR (with this command's help text) and --scheduler ADDRESS, for the experiments that
    train networks through the shared runner."""
    parser.add_argument("--out", default="results", help="output directory (default: results)")
    parser.add_argument("--data-dir", default=None, help=data_help)
    parser.add_argument("--scheduler", default=None, help="address of a Dask scheduler (default: a local "
                        "cluster of worker processes)")
    parser.add_argument("--workers", type=_workers, default=None, metavar="N", help="worker processes of the local "
                        "Dask cluster; 0 or 1: run in this process (default: the scale's choice)")


def _workers(text):
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be an integer >= 0, got {text!r}")
    return value
