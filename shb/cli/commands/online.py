"""`shb online`: online stochastic meta-descent during training (Section 3.3, Figures 7 and 8)."""
import os

from shb.cli.options import add_run_options, output_folder
from shb.experiments.figures.online.config import BOTH, DATASETS, NETS, nets_of
from shb.experiments.registry import EXPERIMENTS, SCALES


def register(subparsers):
    parser = subparsers.add_parser(
        "online",
        help="online SMD of alpha and mu with stochastic vs deterministic lookahead (Figures 7 and 8)",
        description="Train an MLP or CNN with SGD momentum while online SMD adapts (log alpha_eff, log(1 - mu)) "
        "from 5-step lookaheads; compare stochastic lookahead (several initial learning rates) and deterministic "
        "lookahead with a hand-tuned fixed learning rate. Writes DIR/online.json (MLP), DIR/online_cnn.json "
        "(CNN), fig7 and fig8. Resumable: "
        "re-run the same command to continue an interrupted run.",
    )
    parser.add_argument("--net", choices=NETS + (BOTH,), default=BOTH,
                        help="both (default): the MLP and the CNN, a column each in Figures 7 and 8, as in the "
                        "paper; mlp or cnn: one network")
    parser.add_argument("--dataset", choices=DATASETS, default=None,
                        help="fashion-mnist (embedded), mnist (IDX files in --data-dir) or cifar10 (python "
                        "pickle batches in --data-dir; trusted files only: pickle can run code); default: "
                        "fashion-mnist, and cifar10 for the CNN at paper scale (its --data-dir; the MLP beside "
                        "it then reads Fashion-MNIST from $SHB_DATA or the system's copy)")
    parser.add_argument("--scale", choices=SCALES, default="quick",
                        help="quick (MLP: 3k steps; CNN: 1.3k steps of batch 10; minutes) or paper "
                        "(50k steps; hours to days); tiny: seconds, for tests")
    add_run_options(parser, "data directory (default for IDX: $SHB_DATA, else "
                    "/usr/share/datasets/fashion-mnist; required for cifar10)")
    parser.set_defaults(func=main)


def main(args):
    from shb.experiments.figures.online.panel import json_name

    with output_folder(args) as out:
        result = EXPERIMENTS["online"].run(out, args.scale, net=args.net, dataset=args.dataset, data_dir=args.data_dir,
                                           scheduler=args.scheduler, workers=args.workers)
    print(result.report)
    written = ", ".join(os.path.join(args.out, json_name(net)) for net in nets_of(args.net))
    print(f"wrote {written} and figures: {', '.join(result.figures)}")
    return 0 if result.passed else 1
