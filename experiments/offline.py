"""Offline meta-optimization of the inverse-time decay schedule: Figures 5 and 6 (Section 3.2).

For each horizon T, SMD (Algorithm 1) meta-optimizes lambda = (log alpha0, log beta)
of alpha_t = alpha0 (1 + t/K)^(-beta) with Adam, one exact forward-mode
meta-gradient (Eqs. 8-9) per training run from the same warm start. Random
search maps the meta-objective surface J_T over (alpha0, beta) (Figure 5), and
each horizon's chosen schedule is trained for the longest horizon (Figure 6).

Meta-objective: J_T = training loss after T steps. SMD's sample of it is the loss
on a fresh minibatch of `meta_batch` training examples drawn after step T; the
surface, the SMD start/end comparison and the training curves use the loss on the
first `eval_examples` training examples (the same expectation, less noise). All
surface samples of one horizon share one minibatch sequence (common random
numbers), so differences between samples reflect (alpha0, beta), not minibatch
luck. SMD's chosen (alpha0, beta) is the iterate average over the last half of
its trajectory (`smd.averaged_hypers`).

Units of work (a surface sample, an SMD meta-step, an SMD end-point evaluation,
a training curve) are pure functions of a derived seed; each result is saved
atomically into OUT/offline_progress.json as it completes, so an interrupted run
resumes where it stopped and gives the same numbers as an uninterrupted one.
Independent units go through Dask's distributed scheduler (local worker
processes, or a cluster given by its address) unless `dask` is False.
"""
import json
import logging
import os
import time

import numpy as np

from shb.experiments.verified import check, plt, save_verified_figure
from shb.numeric import smd
from shb.numeric.hypergrad import (
    finite_difference_hypergrad, hypergrad_run, meta_objective, relative_errors, reverse_hypergrad,
)
from shb.numeric import training
from shb.numeric.idx import load_split, resolve_data_dir
from shb.ground.errors import InputError, ProgressError
from shb.ground.io import atomic_write_json, read_json
from shb.ground.progress import progress

# Surface ranges (log-uniform): alpha0 in [1e-3, 1], beta in [1e-2, 1e3]. With K = 5000,
# beta only matters at horizon T once beta log(1 + T/K) is of order 1, i.e. beta ~ 50
# at T = 100 and beta ~ 0.2 at T = 20k, so the beta range covers all four horizons.
QUICK = dict(
    horizons=[100, 1000],
    hidden_sizes=[100, 100],
    n_train=None,              # all 60,000 training examples
    eval_examples=10000,       # evaluation subset for surface values and curves
    meta_batch=1000,           # SMD meta-loss minibatch, drawn fresh after step T
    batch_size=100,
    mu=0.9,
    k=5000.0,
    warm_seed=0,
    seed=0,
    surface_samples=30,
    alpha0_range=[1e-3, 1.0],
    beta_range=[1e-2, 1e3],
    smd_inits=[[0.01, 1.0]],   # (alpha0, beta) where SMD starts: in the stable regime (see smd_meta_step)
    meta_steps={"100": 60, "1000": 16},  # SMD meta-steps per horizon (a T=1000 one costs ~10 s)
    meta_lr=0.2,               # Adam step size in log space
    meta_grad_clip=1.0,        # meta-gradient norm clip (typical norms ~1e-2; outliers reach 1e7)
    eval_seeds=3,              # runs averaged for the SMD start/end comparison
    check_horizon=20,          # hypergradient check against finite differences
    check_eps=1e-6,            # central-difference step in log space: J is only piecewise smooth
                               # (ReLU), and at 1e-5 a kink inside the stencil was seen to cost 4e-3
    dask=True,                 # run units on Dask workers (False: in this process)
)
PAPER = dict(
    QUICK,
    horizons=[100, 1000, 5000, 20000],
    surface_samples=2500,
    smd_inits=[[0.01, 1.0], [0.003, 0.1], [0.03, 10.0], [0.01, 100.0]],
    meta_steps={"100": 1000, "1000": 500, "5000": 200, "20000": 100},
    meta_lr=0.05,
    eval_seeds=5,
)
# Cost on one core (1-thread BLAS, `shb bench mlp`): a plain step ~1.15 ms, a hypergradient step ~3.7 ms
# (float32: ~0.55 and ~1.65 ms), so quick is ~2.5 CPU-minutes (~80 s on 2 workers); paper is ~1.5 CPU-days
# (use --scheduler).
SCALES = {"quick": QUICK, "paper": PAPER}
DTYPES = ("float64", "float32")  # training arithmetic; float32 runs carry "dtype": "float32" in their configuration
PROGRESS_FILE = "offline_progress.json"
HYPERGRAD_TOLERANCE = 1e-4
BIAS_RATIO = 3.0              # done-when: beta(shortest T) >= 3 beta(next T), i.e. T=100 vs T=1000
PAPER_BETA_RATIO = 100.0      # paper: beta differs by over two orders of magnitude (100 vs 20k)


def problem_spec(config, data_dir):
    return smd.ProblemSpec(
        data_dir, tuple(config["hidden_sizes"]), config["n_train"], config["eval_examples"],
        config["warm_seed"], config["mu"], config["k"], config["batch_size"], config["meta_batch"],
        config.get("dtype", "float64"),
    )


# ---------------------------------------------------------------- progress state

def fresh_state(config):
    seed = config["seed"]
    points = smd.log_uniform_samples(
        smd.derive_seed(seed, 1), config["surface_samples"], config["alpha0_range"], config["beta_range"]
    )
    return {
        "config": config,
        "hypergrad_check": None,
        "surface": {"points": points.tolist(), "losses": {str(h): {} for h in config["horizons"]}},
        "smd": {str(h): [smd.new_chain(*init) for init in config["smd_inits"]] for h in config["horizons"]},
        "smd_eval": {str(h): {} for h in config["horizons"]},
        "curves": {},
    }


def load_state(path, config):
    """The saved progress if it was made with this configuration, else a fresh state."""
    if not os.path.exists(path):
        return fresh_state(config)
    state = read_json(path, "offline progress file")
    if state.get("config") != config:
        raise ProgressError(
            f"{path} was made with a different configuration; delete it or choose another --out"
        )
    return state


def chains_done(state, config):
    return all(
        len(chain["meta_losses"]) >= config["meta_steps"][h] for h, chains in state["smd"].items() for chain in chains
    )


def chosen_schedule(state, horizon):
    """SMD's (alpha0, beta) for this horizon: the averaged end point of the chain that evaluated best."""
    evals = state["smd_eval"][str(horizon)]
    best = min(range(len(state["smd"][str(horizon)])), key=lambda j: evals[str(j)][1])
    return smd.averaged_hypers(state["smd"][str(horizon)][best]["trajectory"]), best


def ready_units(state, config, spec):
    """(key, function, args) of every unit whose inputs are ready and whose result is missing.

    SMD meta-steps come first: each chain is sequential and is the critical path.
    """
    seed, horizons = config["seed"], config["horizons"]
    units = []
    if state["hypergrad_check"] is None:
        units.append((("check",), hypergrad_check, (spec, config, np.log(config["smd_inits"][0]).tolist())))
    for h in horizons:
        for j, chain in enumerate(state["smd"][str(h)]):
            m = len(chain["meta_losses"])
            if m < config["meta_steps"][str(h)]:
                units.append((("smd", h, j), smd.smd_meta_step,
                              (spec, chain, h, smd.derive_seed(seed, 2, h, j, m), config["meta_lr"],
                               config["meta_grad_clip"])))
            elif str(j) not in state["smd_eval"][str(h)]:
                seeds = [smd.derive_seed(seed, 4, h, s) for s in range(config["eval_seeds"])]
                units.append((("smd_eval", h, j), evaluate_endpoints,
                              (spec, chain["trajectory"][0], smd.averaged_hypers(chain["trajectory"]), h, seeds)))
    for h in horizons:
        for i, (alpha0, beta) in enumerate(state["surface"]["points"]):
            if str(i) not in state["surface"]["losses"][str(h)]:
                units.append((("surface", h, i), smd.surface_loss,
                              (spec, alpha0, beta, h, smd.derive_seed(seed, 3, h))))
    evals_done = all(len(state["smd_eval"][str(h)]) == len(config["smd_inits"]) for h in horizons)
    if chains_done(state, config) and evals_done:
        for h in horizons:
            if str(h) not in state["curves"]:
                (alpha0, beta), _ = chosen_schedule(state, h)
                units.append((("curve", h), smd.training_curve,
                              (spec, alpha0, beta, max(horizons), smd.derive_seed(seed, 5))))
    return units


def evaluate_endpoints(spec, start, end, horizon, seeds):
    """[J_T(start), J_T(end)] with the same minibatch sequences (common random numbers)."""
    return [smd.mean_surface_loss(spec, *start, horizon, seeds), smd.mean_surface_loss(spec, *end, horizon, seeds)]


def record(state, key, result):
    """Store a finished unit's result in the progress state."""
    kind = key[0]
    if kind == "check":
        state["hypergrad_check"] = result
    elif kind == "smd":
        state["smd"][str(key[1])][key[2]] = result
    elif kind == "smd_eval":
        state["smd_eval"][str(key[1])][str(key[2])] = result
    elif kind == "surface":
        state["surface"]["losses"][str(key[1])][str(key[2])] = result
    else:
        state["curves"][str(key[1])] = result


def total_units(config):
    n_i = len(config["smd_inits"])
    per_horizon = (config["surface_samples"] + n_i * (config["meta_steps"][str(h)] + 1) + 1 for h in config["horizons"])
    return 1 + sum(per_horizon)


# ---------------------------------------------------------------- execution

def execute(state, path, config, spec, client=None, stop_after=None):
    """Run ready units until none is left (True) or `stop_after` units finished (False).

    The state is saved atomically after every finished unit. With a Dask client every ready
    SMD step is in flight, other units as worker threads free up; without one, units run
    here one at a time.
    """
    finished, in_flight = 0, {}
    bar = iter(progress(range(total_units(config)), desc="offline"))
    while True:
        units = [u for u in ready_units(state, config, spec) if u[0] not in in_flight]
        if client is None:
            if not units:
                return True
            key, fn, args = units[0]
            done = [(key, fn(*args))]
        else:
            # SMD chains are sequential and the critical path: their next step is always submitted,
            # other units only while a worker thread is free, so chain steps never queue behind them.
            capacity = sum(client.nthreads().values())
            for key, fn, args in units:
                if key[0] == "smd" or len(in_flight) < capacity:
                    in_flight[key] = client.submit(fn, *args, pure=False, priority=10 if key[0] == "smd" else 0)
            if not in_flight:
                return True
            done = wait_first(in_flight)
        for key, result in done:
            record(state, key, result)
            atomic_write_json(path, state)
            next(bar, None)
            finished += 1
            if stop_after is not None and finished >= stop_after:
                for future in in_flight.values():
                    future.cancel()
                return False


def wait_first(in_flight):
    """Pop and return [(key, result)] of the futures that finished first (polling: Ctrl-C stays live)."""
    while not any(future.done() for future in in_flight.values()):
        time.sleep(0.05)
    keys = [key for key, future in in_flight.items() if future.done()]
    return [(key, in_flight.pop(key).result()) for key in keys]


def dask_client(scheduler, required=True):
    """A client of the cluster at `scheduler`, or of a new local cluster of worker processes.

    Dask's nanny starts workers with OPENBLAS_NUM_THREADS=1, one process per core.
    Without Dask installed: None (run in this process) unless `required`.
    """
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        if not required:
            return None
        raise InputError("this run needs Dask: pip install 'shb[dist]' (dask[distributed])") from None
    if scheduler:
        try:
            return Client(scheduler, timeout="20s")
        except (OSError, TimeoutError, ValueError) as err:
            raise InputError(f"cannot connect to Dask scheduler {scheduler}: {err}") from None
    import dask

    # Dask's nanny gives workers MALLOC_TRIM_THRESHOLD_=65536, which makes Autograd's many short-lived
    # arrays cost a trim system call each; keep its one-thread BLAS settings, drop that one.
    worker_environ = {k: v for k, v in dask.config.get("distributed.nanny.pre-spawn-environ").items()
                      if k != "MALLOC_TRIM_THRESHOLD_"}
    environ = dict(os.environ)
    with dask.config.set({"distributed.nanny.pre-spawn-environ": worker_environ}):
        cluster = LocalCluster(n_workers=os.cpu_count() or 1, threads_per_worker=1, processes=True,
                               dashboard_address=None, silence_logs=logging.ERROR)
    # Starting the cluster also writes those settings into this process's environment, where
    # processes started later (the online experiment's) would inherit them: restore it.
    os.environ.clear()
    os.environ.update(environ)
    return Client(cluster)


def hypergrad_check(spec, config, log_hypers):
    """Forward-mode hypergradient vs central finite differences and Autograd reverse mode (float64).

    Deterministic: T = check_horizon steps on a fixed seeded minibatch sequence from the warm start,
    in float64 whatever dtype the experiment trains in.
    """
    problem = smd.build_problem(spec._replace(dtype="float64"))
    rng = np.random.default_rng(smd.derive_seed(config["seed"], 6))
    n = problem.data.images.shape[0]
    batches = [training.minibatch(problem.data, training.batch_indices(rng, n, spec.batch_size))
               for _ in range(config["check_horizon"])]
    meta_batch = training.minibatch(problem.data, training.batch_indices(rng, n, spec.batch_size))
    args = (problem.theta0, problem.v0, batches, meta_batch)
    log_hypers = np.asarray(log_hypers, dtype=float)
    meta_loss, forward = hypergrad_run(problem.net, log_hypers, *args, spec.mu, spec.k)
    fd = finite_difference_hypergrad(meta_objective, problem.net, log_hypers, *args, eps=config["check_eps"],
                                     mu=spec.mu, k=spec.k)
    reverse = reverse_hypergrad(problem.net, log_hypers, *args, spec.mu, spec.k)
    return {
        "max_rel_error": float(np.max(relative_errors(forward, fd))),
        "max_rel_error_reverse": float(np.max(relative_errors(forward, reverse))),
        "forward": forward.tolist(),
        "finite_difference": fd.tolist(),
        "reverse": np.asarray(reverse).tolist(),
        "meta_loss": meta_loss,
        "horizon": config["check_horizon"],
        "eps": config["check_eps"],
        "at": {"alpha0": float(np.exp(log_hypers[0])), "beta": float(np.exp(log_hypers[1]))},
    }


# ---------------------------------------------------------------- results and checks

def surface_arrays(state, horizon):
    """(points (n, 2), losses (n,)) of the finished surface samples of one horizon."""
    losses = state["surface"]["losses"][str(horizon)]
    idx = sorted(int(i) for i in losses)
    points = np.array(state["surface"]["points"])[idx]
    return points, np.array([losses[str(i)] for i in idx], dtype=float)


def surface_best_beta(state, horizon):
    """Geometric mean beta of the best 10% (at least 3) surface samples: the surface minimum's location."""
    points, losses = surface_arrays(state, horizon)
    best = np.argsort(losses)[: max(3, len(losses) // 10)]
    return float(np.exp(np.mean(np.log(points[best, 1]))))


def summarize(state, config):
    """offline.json's "horizons" entry: chosen schedule, trajectory and losses per horizon."""
    longest = max(config["horizons"])
    horizons = {}
    for h in config["horizons"]:
        (alpha0, beta), best = chosen_schedule(state, h)
        curve = state["curves"][str(h)]
        horizons[str(h)] = {
            "alpha0": alpha0,
            "beta": beta,
            "trajectory": state["smd"][str(h)][best]["trajectory"],
            "last_iterate": state["smd"][str(h)][best]["trajectory"][-1],
            "final_train_loss": curve[-1][1],
            "final_train_loss_steps": longest,
            "meta_objective_start_end": state["smd_eval"][str(h)][str(best)],
            "chains": state["smd"][str(h)],
            "surface_best_beta": surface_best_beta(state, h),
        }
    return horizons


def figure5_checks(state, config, horizons):
    hc = state["hypergrad_check"]
    checks = [check(
        "hypergrad_forward_vs_finite_differences",
        hc["max_rel_error"] < HYPERGRAD_TOLERANCE,
        f"max rel error {hc['max_rel_error']:.2e} < {HYPERGRAD_TOLERANCE:g} (float64, T={hc['horizon']}, "
        f"at SMD start alpha0={hc['at']['alpha0']:g}, beta={hc['at']['beta']:g}; reverse mode {hc['max_rel_error_reverse']:.1e})",
    )]
    for h in config["horizons"]:
        for j, (start, end) in sorted(state["smd_eval"][str(h)].items()):
            checks.append(check(
                f"smd_decreased_meta_objective_T{h}_init{j}", end < start,
                f"J_{h} at SMD start {start:.4f} -> end {end:.4f} (mean of {config['eval_seeds']} runs, same seeds)",
            ))
    hs = config["horizons"]
    beta = {h: horizons[str(h)]["beta"] for h in hs}
    h0, h1 = hs[0], hs[1]
    checks.append(check(
        f"short_horizon_bias_beta_T{h0}_vs_T{h1}", beta[h0] >= BIAS_RATIO * beta[h1],
        f"beta(T={h0}) = {beta[h0]:.4g} vs beta(T={h1}) = {beta[h1]:.4g}: ratio {beta[h0] / beta[h1]:.3g} "
        f"(need >= {BIAS_RATIO:g})",
    ))
    if 100 in beta and 20000 in beta:
        checks.append(check(
            "paper_claim_beta_ratio_100_vs_20k", beta[100] >= PAPER_BETA_RATIO * beta[20000],
            f"beta(T=100)/beta(T=20k) = {beta[100] / beta[20000]:.3g} (paper: over {PAPER_BETA_RATIO:g})",
        ))
    for short, long in zip(hs[:-1], hs[1:]):
        smd_dir = np.sign(np.log(beta[short] / beta[long]))
        surf = {h: horizons[str(h)]["surface_best_beta"] for h in (short, long)}
        surf_dir = np.sign(np.log(surf[short] / surf[long]))
        checks.append(check(
            f"surface_agrees_with_smd_T{short}_vs_T{long}", smd_dir == surf_dir and smd_dir != 0,
            f"SMD beta {beta[short]:.3g} vs {beta[long]:.3g}; surface best-10% beta {surf[short]:.3g} vs {surf[long]:.3g}",
        ))
    return checks


def figure6_checks(config, horizons):
    hs, longest = config["horizons"], max(config["horizons"])
    final = {h: horizons[str(h)]["final_train_loss"] for h in hs}
    return [
        check("training_curves_finite", all(np.isfinite(v) for v in final.values()),
              "final losses " + ", ".join(f"T={h}: {final[h]:.4g}" for h in hs)),
        check(f"longest_horizon_wins_at_{longest}_steps", final[longest] < final[min(hs)],
              f"loss at {longest} steps: horizon {longest} schedule {final[longest]:.4g} < "
              f"horizon {min(hs)} schedule {final[min(hs)]:.4g}"),
    ]


# ---------------------------------------------------------------- figures

def figure5(state, config, horizons):
    hs = config["horizons"]
    fig, axes = plt.subplots(1, len(hs), figsize=(4.2 * len(hs), 3.8), squeeze=False)
    data = {}
    for ax, h in zip(axes[0], hs):
        points, losses = surface_arrays(state, h)
        shown = np.log10(np.minimum(np.where(np.isfinite(losses), losses, np.inf), 2.5))
        x, y = np.log10(points[:, 0]), np.log10(points[:, 1])
        if len(points) >= 6:
            ax.tricontourf(x, y, shown, levels=20, cmap="viridis")
        sc = ax.scatter(x, y, c=shown, s=8, cmap="viridis", edgecolors="k", linewidths=0.2)
        for chain in state["smd"][str(h)]:
            traj = np.log10(np.array(chain["trajectory"]))
            ax.plot(traj[:, 0], traj[:, 1], "r.-", lw=1, ms=2)
            ax.plot(*np.log10(smd.averaged_hypers(chain["trajectory"])), "r*", ms=10)
        best = np.argsort(losses)[: max(3, len(losses) // 10)]
        ax.plot(x[best], y[best], ls="none", marker="X", mfc="w", mec="k", mew=0.5, ms=6,
                label="best 10% of samples")  # white with a black edge: visible on the legend too
        ax.set(title=f"horizon {h}", xlabel=r"$\log_{10}\alpha_0$", ylabel=r"$\log_{10}\beta$",
               xlim=np.log10(config["alpha0_range"]), ylim=np.log10(config["beta_range"]))
        ax.legend(fontsize=6, loc="lower left")
        fig.colorbar(sc, ax=ax, label=r"$\log_{10}$ train loss (capped at 2.5)")
        data[str(h)] = {"points": points.tolist(), "losses": losses.tolist(),
                        "trajectories": [c["trajectory"] for c in state["smd"][str(h)]]}
    fig.suptitle("Figure 5: meta-objective surfaces (random search) and SMD trajectories (red)")
    fig.tight_layout()
    return fig, data


def figure6(state, config, horizons):
    fig, ax = plt.subplots(figsize=(5.5, 4))
    data = {}
    for h in config["horizons"]:
        curve = np.array(state["curves"][str(h)])
        sched = horizons[str(h)]
        ax.plot(curve[:, 0], curve[:, 1],
                label=f"horizon {h}: $\\alpha_0$={sched['alpha0']:.3g}, $\\beta$={sched['beta']:.3g}")
        data[str(h)] = {"steps": curve[:, 0].tolist(), "train_loss": curve[:, 1].tolist(),
                        "alpha0": sched["alpha0"], "beta": sched["beta"]}
    ax.set(xscale="log", yscale="log", xlabel="training step after warm start",
           ylabel=f"train loss (first {config['eval_examples']} examples)",
           title="Figure 6: training with each horizon's schedule")
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig, data


# ---------------------------------------------------------------- report and entry point

def paper_rows(scale, config, horizons):
    """The report's 'paper vs this toolkit' rows: the paper compares horizons 100 and 20k on MNIST."""
    from shb.experiments.common import paper_row

    longest, shortest = str(max(config["horizons"])), str(min(config["horizons"]))
    command = f"shb offline --scale {scale} --out DIR"
    beta_ratio = horizons[shortest]["beta"] / horizons[longest]["beta"]
    loss_ratio = horizons[shortest]["final_train_loss"] / horizons[longest]["final_train_loss"]
    note = f"horizons {shortest} vs {longest} on Fashion-MNIST; the paper: 100 vs 20k on MNIST"
    return [paper_row("offline SMD: beta(shortest horizon) / beta(longest)", "over 100", float(beta_ratio), command,
                      note=note),
            paper_row("offline SMD: train loss of the shortest horizon's schedule / the longest's", "over 1000",
                      float(loss_ratio), command, note=f"at {longest} steps; the paper: at 20k steps")]


def report(scale, config, horizons, checks, seconds, data_dir):
    hs = config["horizons"]
    longest, shortest = max(hs), min(hs)
    beta_ratio = horizons[str(shortest)]["beta"] / horizons[str(longest)]["beta"]
    loss_ratio = horizons[str(shortest)]["final_train_loss"] / horizons[str(longest)]["final_train_loss"]
    lines = [
        "## Offline meta-optimization (Section 3.2, Figures 5 and 6)", "",
        f"Scale `{scale}`: MLP with hidden layers {config['hidden_sizes']} (ReLU) on the IDX training set in "
        f"`{data_dir}`, SGD momentum "
        f"mu={config['mu']}, K={config['k']:g}, warm start 50 steps at alpha=0.1. SMD with Adam "
        f"(lr {config['meta_lr']} in log space) from {config['smd_inits']}, meta-steps {config['meta_steps']}; "
        f"{config['surface_samples']} random-search surface samples per horizon; "
        f"training in {config.get('dtype', 'float64')}; {seconds:.0f} s.", "",
        "| horizon | alpha0 | beta | J_T start -> end | train loss at " + f"{longest} steps |",
        "|---|---|---|---|---|",
    ]
    for h in hs:
        r = horizons[str(h)]
        s, e = r["meta_objective_start_end"]
        lines.append(f"| {h} | {r['alpha0']:.4g} | {r['beta']:.4g} | {s:.4f} -> {e:.4f} | {r['final_train_loss']:.4g} |")
    lines += ["", "Checks:", ""]
    lines += [f"- [{'x' if c['passed'] else ' '}] {c['name']}: {c['detail']}" for c in checks]
    lines += [
        "", "| claim | paper (horizons 100 vs 20k, MNIST) | this toolkit |", "|---|---|---|",
        f"| beta ratio, shortest / longest horizon | over 100 | {beta_ratio:.3g} (horizons {shortest} vs {longest}) |",
        f"| train loss ratio at the last step, shortest / longest horizon's schedule | over 1000 | "
        f"{loss_ratio:.3g} (at {longest} steps) |",
        "", f"Regenerate: `shb offline --scale {scale} --out DIR` (resumable; progress in DIR/{PROGRESS_FILE}).",
    ]
    return "\n".join(lines) + "\n"


def normalized(config):
    """The configuration as it reads back from JSON (lists, string keys), for comparisons."""
    return json.loads(json.dumps(config))


def run(out_dir, scale="quick", data_dir=None, scheduler=None, config=None, stop_after=None, dtype="float64"):
    """Run (or resume) the offline experiment; write offline.json and Figures 5 and 6 into out_dir.

    Training (surface, SMD, curves) computes in `dtype` (float64 or float32; the configuration's
    "dtype" key, absent for float64); the hypergradient check is float64 either way.
    Returns {"passed", "figures", "report"}; with `stop_after` units finished it returns early
    with "complete": False (used to test resuming).
    """
    if config is None:
        if scale not in SCALES:
            raise InputError(f"unknown scale {scale!r}; choose one of: {', '.join(SCALES)}")
        config = SCALES[scale]
    config = normalized(config if dtype == "float64" else dict(config, dtype=dtype))
    if config.get("dtype", "float64") not in DTYPES:
        raise InputError(f"unknown dtype {config['dtype']!r}; choose one of: {', '.join(DTYPES)}")
    start_time = time.monotonic()
    spec = problem_spec(config, resolve_data_dir(data_dir))
    load_split(spec.data_dir, "train")  # a missing or corrupt file fails here, before any work
    path = os.path.join(out_dir, PROGRESS_FILE)
    state = load_state(path, config)
    use_dask = config["dask"] or scheduler
    client = dask_client(scheduler, required=bool(scheduler) or scale == "paper") if use_dask else None
    try:
        complete = execute(state, path, config, spec, client, stop_after)
    finally:
        if client is not None:
            cluster = client.cluster
            client.close()
            if cluster is not None:
                cluster.close()
    if not complete:
        return {"passed": False, "complete": False, "figures": [], "report": ""}
    horizons = summarize(state, config)
    checks5 = figure5_checks(state, config, horizons)
    checks6 = figure6_checks(config, horizons)
    fig, data5 = figure5(state, config, horizons)
    ok5 = save_verified_figure(fig, "fig5", out_dir, data5, config, checks5, config["seed"])
    fig, data6 = figure6(state, config, horizons)
    ok6 = save_verified_figure(fig, "fig6", out_dir, data6, config, checks6, config["seed"])
    checks = checks5 + checks6
    seconds = time.monotonic() - start_time
    text = report(scale, config, horizons, checks, seconds, spec.data_dir)
    atomic_write_json(os.path.join(out_dir, "offline.json"), {
        "scale": scale, "config": config, "horizons": horizons, "checks": checks,
        "hypergrad_check": state["hypergrad_check"], "all_checks_passed": ok5 and ok6,
    })
    return {"passed": ok5 and ok6, "complete": True, "figures": ["fig5", "fig6"], "report": text,
            "paper_vs_ours": paper_rows(scale, config, horizons)}
