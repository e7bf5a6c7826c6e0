"""Command-line options that several commands share, declared once."""


def add_run_options(parser, data_help):
    """--out DIR, --data-dir DIR (with this command's help text) and --scheduler ADDRESS, for the experiments that
    train networks through the shared runner."""
    parser.add_argument("--out", default="results", help="output directory (default: results)")
    parser.add_argument("--data-dir", default=None, help=data_help)
    parser.add_argument("--scheduler", default=None, help="address of a Dask scheduler (default: a local "
                        "cluster of worker processes)")
