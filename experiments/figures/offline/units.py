"""The offline experiment's units of work and their saved progress (OUT/offline_progress.json).

Units (each a pure function of its arguments and a derived seed, numeric/meta/smd.py, so the runner,
experiments/runner.py, may run them anywhere, in any order, and resume them):

    ("check",)                 the hypergradient check (forward mode vs finite differences and reverse mode)
    ("surface", i)             surface sample i: one run of max(horizons) steps at (alpha0, beta)_i on the one
                               minibatch sequence all samples share; J_T for every horizon
    ("smd", T, j)              the next meta-step of chain j of horizon T (sequential within a chain: urgent)
    ("smd_eval", T, j)         J_T at chain j's start and averaged end point, on eval_seeds fresh sequences
                               (the same ones for both: common random numbers), one value per sequence
    ("smd_surface", T, j)      J_T at chain j's end point on the surface's sequence, to rank it among the samples
    ("curve", T, s)            Figure 6: horizon T's chosen schedule trained for curve_steps steps (train loss
                               and test error) on minibatch sequence s < curve_seeds (the same sequences for
                               every horizon), once T's chains have stopped and been evaluated

The chains of the horizons in `surface_starts` are created when the surface samples that decide their starts are
done (experiments/figures/offline/chains.py).
"""
import os

import numpy as np

from shb.experiments.figures.offline import chains, cost, schema
from shb.experiments.figures.offline.config import outputs
from shb.experiments.runner import Unit, load_progress
from shb.ground.errors import ProgressError, ShbError
from shb.ground.io import atomic_write_json, read_json
from shb.numeric.meta import smd
from shb.numeric.networks import training
from shb.numeric.meta.hypergrad import (
    finite_difference_hypergrad, hypergrad_run, meta_objective, relative_errors, reverse_hypergrad,
)


class Work:
    """The offline experiment's work for the runner: ready units, recorded results, saved progress."""

    def __init__(self, out_dir, config, spec, inputs):
        """`inputs`: the fingerprint of the data (config.read_data), recorded in the progress and compared on resume."""
        names = outputs(config)
        self.path, self.config, self.spec = os.path.join(out_dir, names["progress"]), config, spec
        self.state = load_progress(self.path, config, lambda: dict(fresh_state(config), inputs=inputs), read_progress,
                                   inputs, lambda state: schema.validate(state, config))
        self.timings = cost.TimingLog(os.path.join(out_dir, names["timings"]))

    @property
    def location(self):
        return self.path

    @property
    def total(self):
        return units_done(self.state) + sum(count for _, count in cost.remaining_units(self.state, self.config))

    @property
    def done(self):
        return units_done(self.state)

    def cost_left(self):
        return cost.cost_left(self.state, self.config)

    def ready(self):
        return ready_units(self.state, self.config, self.spec)

    def record(self, key, result):
        record(self.state, self.config, key, result)
        atomic_write_json(self.path, self.state)

    def record_time(self, key, cpu, wall):
        self.timings.add(key, cpu, wall)


def read_progress(path):
    """(configuration, state) saved at `path`; ProgressError if it is not a progress file (its structure is checked
    by schema.validate, after the configuration)."""
    try:
        state = read_json(path, "offline progress file")
        return state["config"], state
    except (ShbError, KeyError, TypeError) as err:
        raise ProgressError(f"progress file {path} is unreadable ({err}); delete it to start over") from None


def fresh_state(config):
    seed, hs = config["seed"], config["horizons"]
    points = smd.log_uniform_samples(
        smd.derive_seed(seed, 1), config["surface_samples"], config["alpha0_range"], config["beta_range"]
    )
    return {
        "config": config,
        "hypergrad_check": None,
        "surface": {"points": points.tolist(), "losses": {str(h): {} for h in hs}},
        "smd": {str(h): [] if h in config["surface_starts"] else [smd.new_chain(*init) for init in config["smd_inits"]]
                for h in hs},
        "smd_eval": {str(h): {} for h in hs},
        "smd_surface": {str(h): {} for h in hs},
        "curves": {str(h): {} for h in hs},
    }


def surface_seed(config):
    """The one minibatch sequence of every surface sample (that of the longest horizon's run)."""
    return smd.derive_seed(config["seed"], 3, max(config["horizons"]))


def curve_seed(config, s):
    """Figure 6's minibatch sequence s (sequence 0 is the one the single curve of earlier versions used)."""
    return smd.derive_seed(config["seed"], 5) if s == 0 else smd.derive_seed(config["seed"], 5, s)


def evaluated(state, horizon):
    """Every chain of this horizon has its end point evaluated (start/end and on the surface's sequence)."""
    n = len(state["smd"][str(horizon)])
    return n > 0 and len(state["smd_eval"][str(horizon)]) == n and len(state["smd_surface"][str(horizon)]) == n


def ready_units(state, config, spec):
    """Every unit (runner.Unit) whose inputs are ready and whose result is missing, most urgent first.

    SMD meta-steps come first and are urgent: each chain is sequential and is the critical path. Then the
    evaluations of stopped chains and the training curves (each on a horizon's critical path), then the surface.
    """
    seed, horizons = config["seed"], config["horizons"]
    units = []
    unit = lambda key, fn, args, urgent=False: Unit(key, fn, args, urgent, cost.weight(config, key))  # noqa: E731
    if state["hypergrad_check"] is None:
        units.append(unit(("check",), hypergrad_check, (spec, config, np.log(config["smd_inits"][0]).tolist())))
    for h in horizons:
        for j, chain in enumerate(state["smd"][str(h)]):
            m = len(chain["meta_losses"])
            if not chains.chain_finished(chain, config, h):
                units.append(unit(("smd", h, j), smd.smd_meta_step,
                                  (spec, chain, h, smd.derive_seed(seed, 2, h, j, m), config["meta_lr"][str(h)],
                                   config["meta_grad_clip"]), urgent=True))
    for h in horizons:
        for j, chain in enumerate(state["smd"][str(h)]):
            if not chains.chain_finished(chain, config, h):
                continue
            end = smd.averaged_hypers(chain["trajectory"])
            if str(j) not in state["smd_eval"][str(h)]:
                seeds = [smd.derive_seed(seed, 4, h, s) for s in range(config["eval_seeds"])]
                units.append(unit(("smd_eval", h, j), evaluate_endpoints,
                                  (spec, chain["trajectory"][0], end, h, seeds)))
            if str(j) not in state["smd_surface"][str(h)]:
                units.append(unit(("smd_surface", h, j), smd.surface_losses, (spec, *end, [h], surface_seed(config))))
        if chains.chains_finished(state, config, h) and evaluated(state, h):
            (alpha0, beta), _ = chains.chosen_schedule(state, h)
            for s in range(config["curve_seeds"]):
                if str(s) not in state["curves"][str(h)]:
                    units.append(unit(("curve", h, s), smd.training_curve,
                                      (spec._replace(dtype=config["curve_dtype"]), alpha0, beta, config["curve_steps"],
                                       curve_seed(config, s), config["test_examples"], config["curve_points"])))
    done = state["surface"]["losses"][str(horizons[0])]
    for i, (alpha0, beta) in enumerate(state["surface"]["points"]):
        if str(i) not in done:
            units.append(unit(("surface", i), smd.surface_losses, (spec, alpha0, beta, horizons, surface_seed(config))))
    return units


def evaluate_endpoints(spec, start, end, horizon, seeds):
    """{"start": [J_T(start) per seed], "end": [J_T(end) per seed]} with the same minibatch sequences (common random
    numbers); a diverged run's value is None."""
    return {name: [smd.surface_losses(spec, *point, [horizon], s)[0] for s in seeds]
            for name, point in (("start", start), ("end", end))}


def record(state, config, key, result):
    """Store a finished unit's result in the progress state (and start the chains it makes ready)."""
    kind = key[0]
    if kind == "check":
        state["hypergrad_check"] = result
    elif kind == "smd":
        state["smd"][str(key[1])][key[2]] = result
    elif kind == "smd_eval":
        state["smd_eval"][str(key[1])][str(key[2])] = result
    elif kind == "smd_surface":
        state["smd_surface"][str(key[1])][str(key[2])] = result[0]
    elif kind == "surface":
        for h, loss in zip(sorted(config["horizons"]), result):
            state["surface"]["losses"][str(h)][str(key[1])] = loss
        chains.start_chains(state, config)
    else:
        state["curves"][str(key[1])][str(key[2])] = result


def units_done(state):
    """How many units the progress state holds the results of."""
    done = len(next(iter(state["surface"]["losses"].values())))
    done += sum(len(c["meta_losses"]) for cs in state["smd"].values() for c in cs)
    done += sum(len(v) for v in state["smd_eval"].values()) + sum(len(v) for v in state["smd_surface"].values())
    done += sum(len(v) for v in state["curves"].values())
    return done + (state["hypergrad_check"] is not None)


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
