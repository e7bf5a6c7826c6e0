"""`shb hypergrad-check`: forward-mode hypergradient vs central finite differences (Eqs. 8-9)."""
from shb.ground.io import to_json
from shb.numeric.networks import NETWORKS

BATCH = 100                               # the offline experiment's minibatch (quick scale)
TAPE_ARRAYS_PER_STEP = 20                 # the taped unroll keeps about 20 parameter-sized arrays per step (the MLP's
                                          # count; a CNN's tape also holds its activations)


def register(subparsers):
    parser = subparsers.add_parser(
        "hypergrad-check",
        help="compare the forward-mode hypergradient with finite differences on the MLP (or another network)",
        description="Train the warm-started MLP (or --net NAME) for T steps on a fixed seeded minibatch sequence, "
        "carrying d theta/d(log alpha0, log beta) in forward mode, and compare dJ/dlambda with central finite "
        "differences and Autograd reverse mode (float64). Exit 1 if max_rel_error >= 1e-4 or any gradient or the "
        "meta-objective is not finite (then max_rel_error is null: undefined).",
    )
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.add_argument("--net", choices=list(NETWORKS), default="mlp",
                        help="the network, by its name in the registry, with its sizes at the offline experiment's "
                        "quick scale (default: mlp)")
    parser.add_argument("--data-dir", default=None, help="IDX data directory (default: $SHB_DATA, else "
                        "/usr/share/datasets/fashion-mnist)")
    parser.add_argument("--horizon", type=int, default=20, help="training steps T (default 20)")
    parser.add_argument("--alpha0", type=float, default=0.01,
                        help="initial learning rate (default 0.01, where quick-scale SMD starts)")
    parser.add_argument("--beta", type=float, default=1.0, help="decay exponent (default 1)")
    parser.add_argument("--n-train", type=int, default=5000, help="training examples used (default 5000)")
    parser.add_argument("--seed", type=int, default=0)
    parser.set_defaults(func=main)


def main(args):
    import numpy as np

    from shb.experiments.figures.offline import config as offline
    from shb.experiments.figures.offline.units import hypergrad_check
    from shb.numeric import networks
    from shb.numeric.networks import datasets
    from shb.numeric.networks.idx import load_images, resolve_data_dir
    from shb.ground import limits
    from shb.ground.checks import check, nonfinite
    from shb.ground.errors import InputError

    for name in ("horizon", "n_train"):
        if getattr(args, name) < 1:
            raise InputError(f"--{name.replace('_', '-')} must be a positive integer, got {getattr(args, name)}")
    if args.seed < 0:
        raise InputError(f"--seed must be >= 0, got {args.seed}")
    for name in ("alpha0", "beta"):
        value = getattr(args, name)
        if not (np.isfinite(value) and value > 0):
            raise InputError(f"--{name} must be a positive number, got {value}")
    config = offline.config_for("quick", net=args.net).replace(n_train=args.n_train, seed=args.seed,
                                                                warm_seed=args.seed, check_horizon=args.horizon)
    spec = offline.problem_spec(config, resolve_data_dir(args.data_dir))
    images, labels = load_images(spec.data_dir, "train")  # the check reads the training split only
    shape, n_classes = datasets.input_shape(images.shape[1:]), int(labels.max()) + 1
    try:
        n_params = networks.make(spec.net, shape, n_classes, **dict(spec.sizes)).n_params
    except InputError:
        raise
    except ValueError as err:  # e.g. images too small for the CNN's poolings
        raise InputError(f"network {spec.net!r} cannot take inputs of shape {shape}: {err}") from None
    # the horizon's minibatches, and Autograd's tape of the unrolled training (the reverse-mode reference)
    batch_bytes = BATCH * (int(np.prod(shape)) + n_classes) * 8
    limits.check_memory(args.horizon * (batch_bytes + TAPE_ARRAYS_PER_STEP * n_params * 8),
                        f"a hypergradient check over {args.horizon} steps")
    with np.errstate(all="ignore"):  # an overflow is reported by the check below, once, not as warnings
        result = hypergrad_check(spec, config, np.log([args.alpha0, args.beta]))
    compared = {key: result[key] for key in ("forward", "finite_difference", "reverse", "meta_loss")}
    undefined = bool(nonfinite(compared))  # relative errors of NaN gradients are undefined, not the 0 computed
    if undefined:
        result["max_rel_error"] = result["max_rel_error_reverse"] = None
    c = check("forward-mode hypergradient matches finite differences",
              not undefined and result["max_rel_error"] < offline.HYPERGRAD_TOLERANCE,
              f"max_rel_error {'undefined' if undefined else format(result['max_rel_error'], '.3e')}, tolerance "
              f"{offline.HYPERGRAD_TOLERANCE:g}", values=compared)
    result["passed"], result["detail"] = c["passed"], c["detail"]
    if args.json:
        print(to_json(result))
    else:
        print(f"forward {result['forward']}\nfinite differences {result['finite_difference']}\n"
              f"reverse {result['reverse']}\n{'ok' if c['passed'] else 'FAILED'}: {c['detail']}")
    return 0 if c["passed"] else 1
