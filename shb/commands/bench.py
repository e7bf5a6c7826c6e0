"""`shb bench <benchmark>`: speed measurements, one sub-subcommand per benchmark.

A benchmark is a `register_<name>(subparsers)` function below, listed in BENCHMARKS;
to add one (e.g. `shb bench nqm-grad`), write its register function and append it.
Timings are medians over repeats of the mean time per step; nothing here asserts a speed.
BLAS threading matters: Dask workers run with OPENBLAS_NUM_THREADS=1; set it to measure that
configuration (on a busy 2-core machine multi-threaded OpenBLAS can be many times slower).
"""
import json
import os
import time


def median_ms(fn, steps, repeats):
    """Median over `repeats` of the mean wall time (ms) of `steps` calls of fn (after one warm-up call)."""
    import numpy as np

    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(steps):
            fn()
        times.append((time.perf_counter() - start) / steps * 1e3)
    return float(np.median(times))


def register_mlp(subparsers):
    parser = subparsers.add_parser(
        "mlp", help="MLP 784-100-100-10 training step, with and without forward-mode hypergradients",
        description="Milliseconds per plain SGD-momentum step and per hypergradient-carrying step "
        "(tangents for log alpha0 and log beta, two Hessian-vector products) at batch 100, and the "
        "same plain step's matrix products alone (the floor). Inputs are synthetic uniform [0, 1].",
    )
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.add_argument("--repeats", type=int, default=7, help="repeats; the median is reported (default 7)")
    parser.add_argument("--steps", type=int, default=20, help="steps per repeat (default 20)")
    parser.set_defaults(func=bench_mlp)


def bench_mlp(args):
    import numpy as np

    from numeric import mlp
    from numeric.hypergrad import hyper_step
    from shb.errors import UserError

    if args.repeats < 1 or args.steps < 1:
        raise UserError(f"--repeats and --steps must be positive, got {args.repeats} and {args.steps}")
    rng = np.random.default_rng(0)
    sizes = mlp.PAPER_SIZES
    layout, n_params = mlp.make_layout(sizes)
    data = mlp.Dataset(rng.integers(0, 256, (10000, sizes[0]), dtype=np.uint8),
                       rng.integers(0, sizes[-1], 10000), sizes[-1])
    state = {"theta": mlp.init_params(sizes, rng), "v": np.zeros(n_params)}
    tangents = {"dtheta": 1e-3 * rng.standard_normal((2, n_params)), "dv": np.zeros((2, n_params))}

    def plain_step():
        X, Y = mlp.minibatch(data, mlp.batch_indices(rng, 10000))
        g = mlp.loss_grad(state["theta"], X, Y, layout)
        state["theta"], state["v"] = mlp.sgd_momentum_step(state["theta"], state["v"], g, 1e-3)

    def hyper():
        X, Y = mlp.minibatch(data, mlp.batch_indices(rng, 10000))
        state["theta"], state["v"], tangents["dtheta"], tangents["dv"] = hyper_step(
            state["theta"], state["v"], tangents["dtheta"], tangents["dv"], X, Y, 1e-3, 1.0, 10, layout)

    X, _ = mlp.minibatch(data, np.arange(mlp.BATCH_SIZE))
    weights = [W for W, _ in mlp.unflatten(state["theta"], layout)]

    def matmul_floor():
        hs = [X]
        for W in weights:                      # forward: h_{l+1} = h_l W_l
            hs.append(hs[-1] @ W)
        delta = hs[-1]
        for l in range(len(weights) - 1, -1, -1):
            hs[l].T @ delta                    # weight gradient
            if l:
                delta = delta @ weights[l].T   # back-propagated error
    result = {
        "ms_plain_step": median_ms(plain_step, args.steps, args.repeats),
        "ms_hyper_step": median_ms(hyper, args.steps, args.repeats),
        "ms_matmul_floor": median_ms(matmul_floor, args.steps, args.repeats),
        "batch_size": mlp.BATCH_SIZE, "layer_sizes": list(sizes), "repeats": args.repeats, "steps": args.steps,
        "OPENBLAS_NUM_THREADS": os.environ.get("OPENBLAS_NUM_THREADS"),
    }
    if args.json:
        print(json.dumps(result, indent=1))
    else:
        print(f"plain step {result['ms_plain_step']:.3f} ms, hypergradient step {result['ms_hyper_step']:.3f} ms, "
              f"matmul floor {result['ms_matmul_floor']:.3f} ms (median of {args.repeats})")
    return 0


def register_nqm_grad(subparsers):
    parser = subparsers.add_parser(
        "nqm-grad", help="value and gradient of the NQM T-step loss with respect to the whole schedule",
        description="Milliseconds per value_and_grad of L(T) with respect to all 2T schedule entries "
        "(alpha_t, mu_t) on the paper preset (d = 1000, T = 250), through the generated rank-one adjoint "
        "(numeric/nqm_adjoint.py); also with the safeguard penalty (weight 1e4, the general generated "
        "adjoint, as in the optimized-schedule fits), and for comparison through Autograd taping every "
        "generated step. Each call is computed afresh (nothing is cached between calls).",
    )
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.add_argument("--repeats", type=int, default=15, help="repeats; the median is reported (default 15)")
    parser.add_argument("--steps", type=int, default=250, help="horizon T (default 250)")
    parser.add_argument("--no-taped", action="store_true", help="skip the (slow) taped reference")
    parser.set_defaults(func=bench_nqm_grad)


def bench_nqm_grad(args):
    import autograd.numpy as anp
    import numpy as np
    from autograd import value_and_grad

    from numeric import nqm_dynamics, nqm_generated, nqm_problem
    from shb.errors import UserError

    if args.repeats < 1 or args.steps < 1:
        raise UserError(f"--repeats and --steps must be positive, got {args.repeats} and {args.steps}")
    problem = nqm_problem.preset("paper")
    rng = np.random.default_rng(0)
    alpha, mu = rng.uniform(0.01, 0.5, args.steps), rng.uniform(0.0, 0.9, args.steps)

    def taped(alpha, mu):
        zeros = anp.zeros(problem.h.shape)
        state = (problem.mean0, zeros, problem.var0, zeros, zeros)
        for t in range(args.steps):
            state = nqm_generated.nqm_step(alpha[t], mu[t], problem.h, problem.sigma2, *state)
        return anp.sum(nqm_generated.loss_component(problem.h, state[0], state[2]))

    adjoint = value_and_grad(lambda a, m: nqm_dynamics.final_loss(problem, a, m), (0, 1))
    penalized = value_and_grad(lambda a, m: nqm_dynamics.final_loss(problem, a, m, 1e4), (0, 1))
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


BENCHMARKS = [register_mlp, register_nqm_grad]


def register(subparsers):
    parser = subparsers.add_parser("bench", help="speed benchmarks (shb bench mlp | nqm-grad)")
    benchmarks = parser.add_subparsers(dest="benchmark", required=True, metavar="BENCHMARK")
    for register_benchmark in BENCHMARKS:
        register_benchmark(benchmarks)
