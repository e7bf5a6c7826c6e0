"""`shb offline`: the offline meta-optimization experiment (Section 3.2, Figures 5 and 6)."""
import os

from shb.cli.options import add_run_options, output_folder
from shb.experiments.registry import EXPERIMENTS


def register(subparsers):
    parser = subparsers.add_parser(
        "offline",
        help="offline SMD of the inverse-time decay schedule on an MLP (Figures 5 and 6)",
        description="Meta-optimize (alpha0, beta) of alpha_t = alpha0 (1 + t/K)^(-beta) with SMD for several "
        "horizons, map the meta-objective surface, and write DIR/offline.json, fig5 and fig6. "
        "Resumable: re-run the same command to continue an interrupted run.",
    )
    parser.add_argument("--scale", default="quick", help="quick (horizons 100, 1k; curves to 20k steps; minutes), "
                        "medium (horizons 100, 1k, 5k, 20k; 300 surface samples; about 1.3 h on 2 cores) or paper "
                        "(2,500 surface samples, 5k meta-steps per chain; CPU-weeks: a cluster); tiny: seconds, for tests")
    add_run_options(parser, "directory with the Fashion-MNIST/MNIST IDX files "
                    "(default: $SHB_DATA, else /usr/share/datasets/fashion-mnist)")
    parser.add_argument("--float32", action="store_true", help="train in float32: steps about 2x faster, "
                        "results no longer equal to float64 ones up to rounding (SMD's path is sensitive to it); "
                        "the hypergradient check stays float64. Default: float64")
    parser.set_defaults(func=main)


def main(args):
    EXPERIMENTS["offline"].config(args.scale)  # a bad scale fails here, before anything is created
    with output_folder(args) as out:
        result = EXPERIMENTS["offline"].run(out, args.scale, data_dir=args.data_dir, scheduler=args.scheduler,
                                            workers=args.workers, dtype="float32" if args.float32 else "float64")
    print(result.report)
    print(f"wrote {os.path.join(args.out, 'offline.json')} and figures: {', '.join(result.figures)}")
    return 0 if result.passed else 1
