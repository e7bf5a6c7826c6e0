"""`shb bench <benchmark>`: speed measurements, one sub-subcommand per benchmark.

A benchmark is a `register_<name>(subparsers)` function below, listed in BENCHMARKS;
to add one (e.g. `shb bench nqm-grad`), write its register function and append it.
Timings are medians over repeats of the mean time per step; nothing here asserts a speed. Sizes are checked before
any work, as everywhere (shb/ground/limits.py): the memory a benchmark's arguments call for, and its time from a
lower bound of what a step costs, so that only what would surely take over a day is refused (--ignore-limits runs
it anyway).
BLAS threading matters: the experiments' workers run with one BLAS thread (shb/ground/blas.py), and
`shb bench mlp` and `shb bench cnn` (shb/cli/commands/bench_cnn.py) measure in a process started that
way (shb/cli/commands/timing.py); `shb bench nqm-grad` (elementwise work, no matrix products) runs in
the calling process.
"""
import json

from shb.cli.commands.bench_cnn import register_cnn
from shb.cli.commands.timing import in_single_thread_process, median_ms, medians_ms

# Lower bounds of what the benchmarks' steps cost (seconds), well below what any of them takes, for the time check:
MLP_ROUND_SECONDS = 1e-3          # one step of each of the eight functions `shb bench mlp` times (both dtypes)
NQM_GRAD_SECONDS = 1e-8           # value and gradient of L(T), per (step, coordinate), through the generated adjoint
NQM_TAPED_SECONDS = 1e-7          # ... through Autograd taping each step
NQM_TAPED_MEMORY = 3              # the taped reference holds about this many rollouts' worth of arrays


def add_limit_options(parser):
    parser.add_argument("--ignore-limits", action="store_true", help="run even when the estimated memory exceeds "
                        "what is available, or the estimated time a day")


def check_size(args, n_bytes, seconds, what):
    """Refuse, before any work, what the machine cannot hold or would take more than a day (shb/ground/limits.py)."""
    from shb.ground import limits

    if not args.ignore_limits:
        limits.check_memory(n_bytes, what)
        limits.check_time(seconds, what)


def register_mlp(subparsers):
    parser = subparsers.add_parser(
        "mlp", help="MLP 784-100-100-10 training step, with and without forward-mode hypergradients",
        description="Milliseconds per plain SGD-momentum step and per hypergradient-carrying step "
        "(tangents for log alpha0 and log beta, two Hessian-vector products) at batch 100, each with its "
        "matrix products alone (the floors), in float64 and in float32; ratios compare steps with the floor "
        "of the same dtype. Inputs are synthetic uniform [0, 1].",
    )
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.add_argument("--repeats", type=int, default=7, help="repeats; the median is reported (default 7)")
    parser.add_argument("--steps", type=int, default=20, help="steps per repeat (default 20)")
    add_limit_options(parser)
    parser.set_defaults(func=bench_mlp)


def mlp_products(X, weights, tangent_weights=None):
    """The matrix products of one gradient, or with `tangent_weights` ([U_l (K, n_in, n_out)]) those of the
    gradient and K Hessian-vector products as numeric.networks.mlp.grad_and_hvps forms them (products only)."""
    hs, r_hs = [X], [None]
    for l, W in enumerate(weights):                 # forward: a_l = h_{l-1} W_l, R a_l = R h_{l-1} W_l + h_{l-1} U_l
        hs.append(hs[-1] @ W)
        if tangent_weights:
            r_a = hs[l] @ tangent_weights[l]
            if l:
                r_a += (r_hs[l].reshape(-1, W.shape[0]) @ W).reshape(r_a.shape)
            r_hs.append(r_a)
    delta, r_delta = hs[-1], r_hs[-1]
    for l in range(len(weights) - 1, -1, -1):
        hs[l].T @ delta                                 # weight gradient
        if tangent_weights:
            hs[l].T @ r_delta                           # h^T R delta (+ R h^T delta below)
            if l:
                r_hs[l].transpose(0, 2, 1) @ delta
        if l:
            W = weights[l]
            if tangent_weights:
                r_delta = (r_delta.reshape(-1, W.shape[1]) @ W.T).reshape(r_hs[l].shape)
                r_delta += delta @ tangent_weights[l].transpose(0, 2, 1)
            delta = delta @ W.T                         # back-propagated error


def mlp_timings(dtype, steps, repeats):
    """Medians (ms) of the plain step, the hypergradient step and their matrix products alone, in `dtype`."""
    import numpy as np

    from shb.numeric.networks import mlp

    from shb.numeric.networks import training
    from shb.numeric.meta.hypergrad import hyper_step

    rng = np.random.default_rng(0)
    sizes = mlp.PAPER_SIZES
    net = mlp.make_net(sizes[:1], sizes[-1], sizes[1:-1])
    layout, n_params = net.layout, net.n_params
    data = training.Dataset(rng.integers(0, 256, (10000, sizes[0]), dtype=np.uint8),
                            rng.integers(0, sizes[-1], 10000), sizes[-1])
    theta = mlp.init_params(sizes, rng, dtype=dtype)
    state = {"theta": theta, "v": np.zeros_like(theta)}
    tangents = {"dtheta": (1e-3 * rng.standard_normal((2, n_params))).astype(dtype),
                "dv": np.zeros((2, n_params), dtype)}

    def plain_step():                                   # the loop body of training.train
        X, Y = training.minibatch(data, training.batch_indices(rng, 10000), dtype)
        _, g = net.loss_and_grad(state["theta"], X, Y)
        training.sgd_momentum_update(state["theta"], state["v"], g, 1e-3)

    def hyper():                                        # the loop body of hypergrad.hypergrad_run
        X, Y = training.minibatch(data, training.batch_indices(rng, 10000), dtype)
        hyper_step(net, state["theta"], state["v"], tangents["dtheta"], tangents["dv"], X, Y, 1e-3, 1.0, 10)

    X, _ = training.minibatch(data, np.arange(training.BATCH_SIZE), dtype)
    weights = [W for W, _ in mlp.views(state["theta"], layout)]
    tangent_weights = [U for U, _ in mlp.views(tangents["dtheta"], layout)]
    return medians_ms({"plain": plain_step, "floor": lambda: mlp_products(X, weights), "hyper": hyper,
                       "hyper_floor": lambda: mlp_products(X, weights, tangent_weights)}, steps, repeats)


def bench_mlp(args):
    from shb.numeric.networks import mlp
    from shb.numeric.networks import training
    from shb.ground.errors import InputError

    if args.repeats < 1 or args.steps < 1:
        raise InputError(f"--repeats and --steps must be positive, got {args.repeats} and {args.steps}")
    check_size(args, 0, (args.repeats + 1) * args.steps * MLP_ROUND_SECONDS,
               f"shb bench mlp with --repeats {args.repeats} --steps {args.steps}")
    # measured as the experiments' workers run: one BLAS thread
    timings = in_single_thread_process(mlp_timings, [(dtype, args.steps, args.repeats)
                                                     for dtype in ("float64", "float32")])
    result = {}
    for ms, suffix in zip(timings, ("", "_float32")):
        result.update({
            f"ms_plain_step{suffix}": ms["plain"], f"ms_hyper_step{suffix}": ms["hyper"],
            f"ms_matmul_floor{suffix}": ms["floor"], f"ms_hyper_matmul_floor{suffix}": ms["hyper_floor"],
            f"plain_over_floor{suffix}": ms["plain"] / ms["floor"],
            f"hyper_over_plain{suffix}": ms["hyper"] / ms["plain"],
            f"hyper_floor_over_floor{suffix}": ms["hyper_floor"] / ms["floor"],
        })
    result.update({"batch_size": training.BATCH_SIZE, "layer_sizes": list(mlp.PAPER_SIZES), "repeats": args.repeats,
                   "steps": args.steps, "blas_threads": 1})
    if args.json:
        print(json.dumps(result, indent=1))
    else:
        for name, s in (("float64", ""), ("float32", "_float32")):
            print(f"{name}: plain step {result['ms_plain_step' + s]:.3f} ms ({result['plain_over_floor' + s]:.2f}x "
                  f"its matmul floor {result['ms_matmul_floor' + s]:.3f} ms), hypergradient step "
                  f"{result['ms_hyper_step' + s]:.3f} ms ({result['hyper_over_plain' + s]:.2f}x the plain step; "
                  f"its matmul floor {result['ms_hyper_matmul_floor' + s]:.3f} ms)")
        print(f"(medians of {args.repeats})")
    return 0


def register_nqm_grad(subparsers):
    parser = subparsers.add_parser(
        "nqm-grad", help="value and gradient of the NQM T-step loss with respect to the whole schedule",
        description="Milliseconds per value_and_grad of L(T) with respect to all 2T schedule entries "
        "(alpha_t, mu_t) on the paper preset (d = 1000, T = 250), through the generated rank-one adjoint "
        "(numeric/nqm/adjoint.py); also with the safeguard penalty (weight 1e4, the general generated "
        "adjoint, as in the optimized-schedule fits), and for comparison through Autograd taping every "
        "generated step. Each call is computed afresh (nothing is cached between calls).",
    )
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.add_argument("--repeats", type=int, default=15, help="repeats; the median is reported (default 15)")
    parser.add_argument("--steps", type=int, default=250, help="horizon T (default 250)")
    parser.add_argument("--no-taped", action="store_true", help="skip the (slow) taped reference")
    add_limit_options(parser)
    parser.set_defaults(func=bench_nqm_grad)


def bench_nqm_grad(args):
    import autograd.numpy as anp
    import numpy as np
    from autograd import value_and_grad

    from shb.ground.errors import InputError
    from shb.numeric.nqm import generated as nqm_generated
    from shb.numeric.nqm import optimizers as nqm_optimizers
    from shb.numeric.nqm import problem as nqm_problem
    from shb.numeric.nqm.dynamics import rollout_bytes

    if args.repeats < 1 or args.steps < 1:
        raise InputError(f"--repeats and --steps must be positive, got {args.repeats} and {args.steps}")
    problem = nqm_problem.preset("paper")
    d, T, taped_calls = problem.h.size, args.steps, 0 if args.no_taped else max(1, args.repeats // 5) + 1
    check_size(args, rollout_bytes(d, T, rule="heavy_ball") * (1 if args.no_taped else NQM_TAPED_MEMORY),
               T * d * (2 * (args.repeats + 1) * NQM_GRAD_SECONDS + taped_calls * NQM_TAPED_SECONDS),
               f"shb bench nqm-grad over {T} steps in {d} coordinates")
    rng = np.random.default_rng(0)
    alpha, mu = rng.uniform(0.01, 0.5, args.steps), rng.uniform(0.0, 0.9, args.steps)

    heavy_ball = nqm_optimizers.get("heavy-ball")

    def taped(alpha, mu):
        zeros = anp.zeros(problem.h.shape)
        state = (problem.mean0, zeros, problem.var0, zeros, zeros)
        for t in range(args.steps):
            state = nqm_generated.heavy_ball_step(alpha[t], mu[t], problem.h, problem.sigma2, *state)
        return anp.sum(nqm_generated.raw_loss_component(problem.h, state[0] ** 2 + state[2])[0])

    adjoint = value_and_grad(lambda a, m: heavy_ball.final_loss(problem, a, m), (0, 1))
    penalized = value_and_grad(lambda a, m: heavy_ball.final_loss(problem, a, m, 1e4), (0, 1))
    result = {"ms_per_value_and_grad": median_ms(lambda: adjoint(alpha, mu), 1, args.repeats),
              "ms_with_safeguard_penalty": median_ms(lambda: penalized(alpha, mu), 1, args.repeats),
              "d": int(problem.h.size), "T": args.steps, "repeats": args.repeats}
    if not args.no_taped:
        result["ms_taped_autograd"] = median_ms(lambda: value_and_grad(taped, (0, 1))(alpha, mu), 1,
                                                max(1, args.repeats // 5))
    if args.json:
        print(json.dumps(result, indent=1))
    else:
        extra = f" (Autograd taping each step: {result['ms_taped_autograd']:.1f} ms)" if "ms_taped_autograd" in result else ""
        print(f"value_and_grad of L(T={args.steps}), d = {result['d']}: {result['ms_per_value_and_grad']:.1f} ms, "
              f"with the safeguard penalty {result['ms_with_safeguard_penalty']:.1f} ms{extra}")
    return 0


BENCHMARKS = [register_mlp, register_cnn, register_nqm_grad]


def register(subparsers):
    parser = subparsers.add_parser("bench", help="speed benchmarks (shb bench mlp | cnn | nqm-grad)")
    benchmarks = parser.add_subparsers(dest="benchmark", required=True, metavar="BENCHMARK")
    for register_benchmark in BENCHMARKS:
        register_benchmark(benchmarks)
