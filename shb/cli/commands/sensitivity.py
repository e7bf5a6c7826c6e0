"""`shb sensitivity NAME`: measure a tuned setting's check at every value tried (experiments/sensitivity.py)."""
from shb.experiments.sensitivity import TUNED


def register(subparsers):
    parser = subparsers.add_parser(
        "sensitivity", help="a setting chosen after seeing a check: the check's outcome at every value tried",
        description="Run the check a tuned setting was chosen against at each value tried (the configuration's data "
        "set and seeds) and write experiments/sensitivity/NAME.json, which REPORT.md's 'Tuned settings' section "
        "reads. " + "; ".join(f"{name}: {t.setting}" for name, t in TUNED.items()) + ".")
    parser.add_argument("name", choices=list(TUNED))
    parser.add_argument("--data-dir", default=None, metavar="DIR", help="data set directory (default: $SHB_DATA, "
                        "else /usr/share/datasets/fashion-mnist)")
    parser.add_argument("--workers", type=int, default=2, help="Dask workers for the online runs (default 2)")
    parser.add_argument("--out", default=None, metavar="FILE",
                        help="where to write the measurement (default: experiments/sensitivity/NAME.json)")
    parser.set_defaults(func=run)


def run(args):
    from shb.experiments import sensitivity
    from shb.ground.errors import InputError

    if not 1 <= args.workers <= 64:
        raise InputError(f"--workers must be between 1 and 64, got {args.workers}")
    record = sensitivity.measure(args.name, args.data_dir, args.workers, args.out)
    for row in record["rows"]:
        print(f"{row['value']:g}: {record['quantity']} {row['quantity']:.4g} -> "
              f"{'PASS' if row['passed'] else 'FAIL'}{'  (chosen)' if row['value'] == record['chosen'] else ''}")
    print(f"wrote {args.out or sensitivity.TUNED[args.name].path()}")
    return 0
