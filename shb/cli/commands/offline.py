"""`shb offline`: the offline meta-optimization experiment (Section 3.2, Figures 5 and 6)."""
import os

from shb.cli.options import add_run_options, output_folder
from shb.experiments.registry import EXPERIMENTS
from shb.numeric.networks import NETWORKS


def register(subparsers):
    parser = subparsers.add_parser(
        "offline",
        help="offline SMD of the inverse-time decay schedule on an MLP or another network (Figures 5 and 6)",
        description="Meta-optimize (alpha0, beta) of alpha_t = alpha0 (1 + t/K)^(-beta) with SMD for several "
        "horizons, map the meta-objective surface, and write DIR/offline.json, fig5 and fig6 (with --fit: "
        "offline-fit.json, fig5-fit and fig6-fit). "
        "Resumable: re-run the same command to continue an interrupted run.",
    )
    parser.add_argument("--net", choices=list(NETWORKS), default="mlp",
                        help="the network, by its name in the registry (default: mlp, the paper's MLP; mlp-autograd: "
                        "the same MLP with Autograd's derivatives; cnn: the paper's CNN, on the IDX images)")
    parser.add_argument("--scale", default="quick", help="quick (horizons 100, 1k; curves to 20k steps; minutes), "
                        "medium (horizons 100, 1k, 5k, 20k; 200 surface samples; about an hour on 2 idle cores) or paper "
                        "(2,500 surface samples, 5k meta-steps per chain; CPU-weeks: a cluster); tiny: seconds, for tests")
    add_run_options(parser, "directory with the Fashion-MNIST/MNIST IDX files "
                    "(default: $SHB_DATA, else /usr/share/datasets/fashion-mnist)")
    parser.add_argument("--fit", action="store_true", help="the fit variant: the same experiment on the first "
                        "2,000 training examples (a set the network fits: its train loss ends near zero), "
                        "to test whether the paper's >1000x train-loss ratio depends on the data set")
    parser.add_argument("--float32", action="store_true", help="train in float32: steps about 2x faster, "
                        "results no longer equal to float64 ones up to rounding (SMD's path is sensitive to it); "
                        "the hypergradient check stays float64. Default: float64")
    parser.set_defaults(func=main)


def main(args):
    EXPERIMENTS["offline"].config(args.scale, net=args.net, fit=args.fit)  # a bad scale fails here, before anything is created
    with output_folder(args) as out:
        result = EXPERIMENTS["offline"].run(out, args.scale, net=args.net, fit=args.fit, data_dir=args.data_dir,
                                            scheduler=args.scheduler, workers=args.workers,
                                            dtype="float32" if args.float32 else "float64")
    print(result.report)
    summary = "offline-fit.json" if args.fit else "offline.json"
    print(f"wrote {os.path.join(args.out, summary)} and figures: {', '.join(result.figures)}")
    return 0 if result.passed else 1
