"""`shb online`: online stochastic meta-descent during training (Section 3.3, Figures 7 and 8)."""
import os

from shb.cli.options import add_run_options, output_folder
from shb.ground.errors import InputError
from shb.experiments.figures.online.config import BOTH, DATASETS, nets_of
from shb.experiments.registry import EXPERIMENTS, SCALES
from shb.numeric.networks import NETWORKS


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
    parser.add_argument("--net", choices=(*NETWORKS, BOTH), default=BOTH,
                        help="both (default): the MLP and the CNN, a column each in Figures 7 and 8, as in the "
                        "paper; or one registered network (mlp-autograd: the MLP with Autograd's derivatives)")
    parser.add_argument("--dataset", choices=DATASETS, default=None,
                        help="fashion-mnist (embedded), mnist (IDX files in --data-dir) or cifar10 (python "
                        "pickle batches in --data-dir; trusted files only: pickle can run code); default: "
                        "fashion-mnist, and cifar10 for the CNN at paper scale (its --data-dir; the MLP beside "
                        "it then reads Fashion-MNIST from $SHB_DATA or the system's copy)")
    parser.add_argument("--scale", choices=SCALES, default="quick",
                        help="quick (MLP: 3k steps; CNN: 1.3k steps of batch 10; minutes) or paper "
                        "(50k steps; hours to days); tiny: seconds, for tests")
    parser.add_argument("--meta", choices=("lookahead", "trace"), default="lookahead",
                        help="lookahead (default): the paper's online SMD, Figures 7 and 8; trace: hypergradient "
                        "traces with forgetting beside the stochastic lookahead and the fixed baseline "
                        "(DIR/online_trace.json; --net both means the MLP here)")
    parser.add_argument("--forget", type=float, action="append", metavar="LAMBDA",
                        help="--meta trace: a trace's forgetting factor lambda in [0, 1] (repeat for several; "
                        "default 0.9 and 0.99)")
    add_run_options(parser, "data directory (default for IDX: $SHB_DATA, else "
                    "/usr/share/datasets/fashion-mnist; required for cifar10)")
    parser.set_defaults(func=main)


def main(args):
    from shb.experiments.figures.online.panel import json_name

    if args.forget is not None and args.meta != "trace":
        raise InputError("--forget needs --meta trace")
    if args.meta == "trace":
        return main_trace(args)
    with output_folder(args) as out:
        result = EXPERIMENTS["online"].run(out, args.scale, net=args.net, dataset=args.dataset, data_dir=args.data_dir,
                                           scheduler=args.scheduler, workers=args.workers)
    print(result.report)
    written = ", ".join(os.path.join(args.out, json_name(net)) for net in nets_of(args.net))
    print(f"wrote {written} and figures: {', '.join(result.figures)}")
    return 0 if result.passed else 1


def main_trace(args):
    from shb.experiments.figures.online_trace import FORGETS

    forgets = tuple(args.forget) if args.forget else FORGETS
    for f in forgets:
        if not 0.0 <= f <= 1.0:  # NaN fails too
            raise InputError(f"--forget must be in [0, 1], got {f!r}")
    with output_folder(args) as out:
        result = EXPERIMENTS["online-trace"].run(out, args.scale, net=args.net, forgets=forgets,
                                                 dataset=args.dataset, data_dir=args.data_dir,
                                                 scheduler=args.scheduler, workers=args.workers)
    print(result.report)
    print(f"wrote {os.path.join(args.out, 'online_trace.json')} and figures: {', '.join(result.figures)}")
    return 0 if result.passed else 1
