"""`shb bench cnn`: the paper's CNN step, plain and carrying hypergradient tangents, against its matrix products
and against the same CNN with Autograd's derivatives (numeric/networks/cnn.py's taped_net)."""
import json
import time

from shb.cli.commands.timing import in_single_thread_process, medians_ms

INPUTS = {"fashion-mnist": (28, 28, 1), "cifar10": (32, 32, 3)}


def register_cnn(subparsers):
    parser = subparsers.add_parser(
        "cnn", help="the paper's CNN training step, with and without forward-mode hypergradients",
        description="Milliseconds per plain SGD-momentum step and per hypergradient-carrying step (tangents for "
        "log alpha0 and log beta: the gradient and two Hessian-vector products) of the paper's CNN (3x3 "
        "convolutions with 32, 32, 64 filters, 2x2 max-pooling, 100 hidden units), each with its matrix products "
        "alone (the floors), in float64 and float32; and the same two steps of the same CNN with Autograd's "
        "derivatives (float64), the network before its derivatives were hand-derived. Measured in a spawned "
        "process with one BLAS thread, as CPU time (its process time: on a loaded machine wall time would also "
        "count the waits for a core). Inputs are synthetic uniform [0, 1].",
    )
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.add_argument("--repeats", type=int, default=5, help="repeats; the median is reported (default 5)")
    parser.add_argument("--steps", type=int, default=2, help="steps per repeat (default 2)")
    parser.add_argument("--batch", type=int, default=100, help="minibatch size (default 100)")
    parser.add_argument("--input", choices=list(INPUTS), default="fashion-mnist",
                        help="input shape: fashion-mnist 28x28x1 (default) or cifar10 32x32x3")
    parser.add_argument("--no-autograd", action="store_true", help="skip the (slow) Autograd reference")
    parser.add_argument("--ignore-limits", action="store_true", help="run even when the estimated memory exceeds "
                        "what is available, or the estimated time a day")
    parser.set_defaults(func=bench_cnn)


# A lower bound of what one step of each function `shb bench cnn` times costs per example of the batch (seconds),
# well below what it takes, for the time check; and how many operand-sized arrays a step holds at once.
SECONDS_PER_EXAMPLE = 1e-5
OPERAND_COPIES = 3


def operand_bytes(layout, batch, k, itemsize=8):
    """The bytes of `operands(layout, batch, k, ...)`, computed from its shapes without allocating them."""
    h, w = layout.input_shape[:2]
    total = 0
    for p in layout.convs:
        (n_in, f), m = p.w_shape, batch * h * w
        total += (m * n_in + n_in * f * (1 + k) + k * m * n_in + m * f * (1 + k) + m * 9 * f * (1 + k)
                  + 9 * f * (n_in // 9) * (1 + k))
        h, w = h // 2, w // 2
    for p in layout.dense:
        n_in, n_out = p.w_shape
        total += batch * n_in * (1 + k) + n_in * n_out * (1 + k) + batch * n_out * (1 + k)
    return total * itemsize


def operands(layout, batch, k, dtype, rng):
    """Random arrays shaped as the operands of every matrix product of cnn_backprop.grad_and_hvps with K = k."""
    def r(*shape):
        return rng.standard_normal(shape).astype(dtype)

    h, w = layout.input_shape[:2]
    convs = []
    for p in layout.convs:
        (n_in, f), m = p.w_shape, batch * h * w
        convs.append(dict(cols=r(m, n_in), W=r(n_in, f), U=r(k, n_in, f), r_cols=r(k * m, n_in), d=r(m, f),
                          rd=r(k, m, f), d_patches=r(m, 9 * f), r_patches=r(k * m, 9 * f),
                          W_flipped=r(9 * f, n_in // 9), U_flipped=r(k, 9 * f, n_in // 9)))
        h, w = h // 2, w // 2
    dense = [dict(h=r(batch, p.w_shape[0]), W=r(*p.w_shape), U=r(k, *p.w_shape), r_h=r(k, batch, p.w_shape[0]),
                  d=r(batch, p.w_shape[1]), rd=r(k, batch, p.w_shape[1])) for p in layout.dense]
    return convs, dense


def cnn_products(convs, dense, tangents=False):
    """The matrix products of one gradient, or with `tangents` those of the gradient and K Hessian-vector products
    as numeric/networks/cnn_backprop.grad_and_hvps forms them (products only)."""
    for l, c in enumerate(convs):                       # a_l = P_l W_l; R a_l = P_l U_l + patches(R x) W_l
        c["cols"] @ c["W"]
        if tangents:
            c["cols"] @ c["U"]
            if l:
                c["r_cols"] @ c["W"]
    for d in dense:                                     # dense forward, R forward
        d["h"] @ d["W"]
        if tangents:
            d["h"] @ d["U"]
            d["r_h"].reshape(-1, d["W"].shape[0]) @ d["W"]
    for d in reversed(dense):                           # backprop, with the error at the features
        d["h"].T @ d["d"]
        d["d"] @ d["W"].T
    if tangents:
        for d in reversed(dense):                       # R backward
            d["h"].T @ d["rd"]
            d["r_h"].transpose(0, 2, 1) @ d["d"]
            d["rd"].reshape(-1, d["W"].shape[1]) @ d["W"].T
            d["d"] @ d["U"].transpose(0, 2, 1)
    for l in range(len(convs) - 1, -1, -1):             # conv backprop: dW, and the error at the input
        c = convs[l]
        c["cols"].T @ c["d"]
        if l:
            c["d_patches"] @ c["W_flipped"]
    if tangents:
        for l in range(len(convs) - 1, -1, -1):         # conv R backward
            c = convs[l]
            c["cols"].T @ c["rd"]
            if l:
                c["r_cols"].reshape(len(c["rd"]), -1, c["W"].shape[0]).transpose(0, 2, 1) @ c["d"]
                c["d_patches"] @ c["U_flipped"]
                c["r_patches"] @ c["W_flipped"]


def cnn_timings(dtype, steps, repeats, batch, shape, autograd):
    """Medians (ms) of the plain and hypergradient steps, their floors, and (if `autograd`) the taped net's steps."""
    import numpy as np

    from shb.numeric.networks import cnn

    from shb.numeric.networks import training
    from shb.numeric.meta.hypergrad import HYPERS, hyper_step

    rng = np.random.default_rng(0)
    n_inputs = int(np.prod(shape))
    data = training.Dataset(rng.integers(0, 256, (2000, n_inputs), dtype=np.uint8), rng.integers(0, 10, 2000), 10)

    def steps_of(net, dtype):
        theta = net.init(np.random.default_rng(1)).astype(dtype)
        state = {"theta": theta, "v": np.zeros_like(theta),
                 "dtheta": (1e-3 * rng.standard_normal((len(HYPERS), net.n_params))).astype(dtype),
                 "dv": np.zeros((len(HYPERS), net.n_params), dtype)}

        def plain():                                    # the loop body of training.train
            X, Y = training.minibatch(data, training.batch_indices(rng, 2000, batch), dtype)
            _, g = net.loss_and_grad(state["theta"], X, Y)
            training.sgd_momentum_update(state["theta"], state["v"], g, 1e-3)

        def hyper():                                    # the loop body of hypergrad.hypergrad_run
            X, Y = training.minibatch(data, training.batch_indices(rng, 2000, batch), dtype)
            hyper_step(net, state["theta"], state["v"], state["dtheta"], state["dv"], X, Y, 1e-3, 1.0, 10)
        return plain, hyper

    net = cnn.make_net(shape, 10)
    plain, hyper = steps_of(net, dtype)
    convs, dense = operands(net.layout, batch, len(HYPERS), dtype, rng)
    fns = {"plain": plain, "floor": lambda: cnn_products(convs, dense), "hyper": hyper,
           "hyper_floor": lambda: cnn_products(convs, dense, tangents=True)}
    if autograd:
        fns["plain_autograd"], fns["hyper_autograd"] = steps_of(cnn.taped_net(shape, 10), dtype)
    return medians_ms(fns, steps, repeats, clock=time.process_time)


def bench_cnn(args):
    from shb.ground.errors import InputError
    from shb.numeric.networks import cnn

    if args.repeats < 1 or args.steps < 1 or args.batch < 1:
        raise InputError(f"--repeats, --steps and --batch must be positive, got {args.repeats}, {args.steps} "
                         f"and {args.batch}")
    shape = INPUTS[args.input]
    if not args.ignore_limits:
        from shb.ground import limits

        what = f"shb bench cnn with --batch {args.batch} --repeats {args.repeats} --steps {args.steps}"
        limits.check_memory(OPERAND_COPIES * operand_bytes(cnn.make_net(shape, 10).layout, args.batch, 2), what)
        functions = 8 if args.no_autograd else 10
        limits.check_time((args.repeats + 1) * args.steps * args.batch * functions * SECONDS_PER_EXAMPLE, what)
    timings = in_single_thread_process(cnn_timings, [
        ("float64", args.steps, args.repeats, args.batch, shape, not args.no_autograd),
        ("float32", args.steps, args.repeats, args.batch, shape, False)])
    result = {}
    for ms, s in zip(timings, ("", "_float32")):
        result.update({
            f"ms_plain_step{s}": ms["plain"], f"ms_hyper_step{s}": ms["hyper"],
            f"ms_matmul_floor{s}": ms["floor"], f"ms_hyper_matmul_floor{s}": ms["hyper_floor"],
            f"plain_over_floor{s}": ms["plain"] / ms["floor"],
            f"hyper_over_hyper_floor{s}": ms["hyper"] / ms["hyper_floor"],
            f"hyper_over_plain{s}": ms["hyper"] / ms["plain"],
            f"hyper_floor_over_floor{s}": ms["hyper_floor"] / ms["floor"],
        })
    if not args.no_autograd:
        ms = timings[0]
        result.update({"ms_plain_step_autograd": ms["plain_autograd"], "ms_hyper_step_autograd": ms["hyper_autograd"],
                       "plain_speedup_over_autograd": ms["plain_autograd"] / ms["plain"],
                       "hyper_speedup_over_autograd": ms["hyper_autograd"] / ms["hyper"]})
    result.update({"batch_size": args.batch, "input_shape": list(shape), "filters": list(cnn.PAPER_FILTERS),
                   "hidden": cnn.PAPER_HIDDEN, "repeats": args.repeats, "steps": args.steps, "blas_threads": 1,
                   "clock": "process_time"})
    if args.json:
        print(json.dumps(result, indent=1))
        return 0
    for name, s in (("float64", ""), ("float32", "_float32")):
        print(f"{name}: plain step {result['ms_plain_step' + s]:.1f} ms ({result['plain_over_floor' + s]:.2f}x its "
              f"matmul floor {result['ms_matmul_floor' + s]:.1f} ms), hypergradient step "
              f"{result['ms_hyper_step' + s]:.1f} ms ({result['hyper_over_hyper_floor' + s]:.2f}x its matmul floor "
              f"{result['ms_hyper_matmul_floor' + s]:.1f} ms; {result['hyper_over_plain' + s]:.2f}x the plain step)")
    if not args.no_autograd:
        print(f"Autograd's derivatives (float64): plain step {result['ms_plain_step_autograd']:.1f} ms "
              f"({result['plain_speedup_over_autograd']:.2f}x slower), hypergradient step "
              f"{result['ms_hyper_step_autograd']:.1f} ms ({result['hyper_speedup_over_autograd']:.2f}x slower)")
    print(f"(CPU milliseconds; batch {args.batch}, {'x'.join(map(str, shape))} inputs; medians of {args.repeats})")
    return 0
