"""`shb figure NAME [--scale S] [--out DIR]`: one figure or experiment of the registry, as verified plots."""
from shb.cli.options import output_folder
from shb.experiments.registry import EXPERIMENTS, SCALES


def register(subparsers):
    parser = subparsers.add_parser("figure", help="make one figure (PNG, PDF and a JSON sidecar with its checks)")
    parser.add_argument("name", choices=list(EXPERIMENTS))
    parser.add_argument("--scale", choices=SCALES, default="quick")
    parser.add_argument("--out", default="results", metavar="DIR")
    parser.add_argument("--data-dir", default=None, metavar="DIR", help="data set directory, for the experiments "
                        "that train networks (default: $SHB_DATA, else /usr/share/datasets/fashion-mnist)")
    parser.set_defaults(func=run)


def run(args):
    experiment = EXPERIMENTS[args.name]
    experiment.config(args.scale)  # a bad scale fails here, before anything is created
    with output_folder(args) as out:  # an unwritable or busy --out fails before the computation, not after it
        result = experiment.run(out, args.scale, data_dir=args.data_dir)
    for c in result.checks:
        print(f"{'PASS' if c['passed'] else 'FAIL'}  [{c['kind']}] {c['name']}: {c['detail']}")
    print(f"wrote {', '.join(result.figures)} in {args.out}: {'verified' if result.passed else 'UNVERIFIED'}")
    return 0 if result.passed else 1
