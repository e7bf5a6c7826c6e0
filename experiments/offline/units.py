"""The offline experiment's units of work and their saved progress (OUT/offline_progress.json).

Units: the hypergradient check, one SMD meta-step of one chain (Algorithm 1's outer loop; sequential within a
chain, urgent), the evaluation of a chain's start and end points, one surface sample (one training run per
(alpha0, beta) and horizon), and one training curve per horizon once its SMD has chosen a schedule. Each is a pure
function of its arguments and a derived seed (numeric/smd.py), so the runner (experiments/runner.py) may run them
anywhere, in any order, and resume them.
"""
import os

import numpy as np

from shb.experiments.offline.config import PROGRESS_FILE
from shb.experiments.runner import Unit, load_progress
from shb.ground.errors import ProgressError, ShbError
from shb.ground.io import atomic_write_json, read_json
from shb.numeric import smd, training
from shb.numeric.hypergrad import (
    finite_difference_hypergrad, hypergrad_run, meta_objective, relative_errors, reverse_hypergrad,
)


class Work:
    """The offline experiment's work for the runner: ready units, recorded results, saved progress."""

    def __init__(self, out_dir, config, spec):
        self.path, self.config, self.spec = os.path.join(out_dir, PROGRESS_FILE), config, spec
        self.state = load_progress(self.path, config, lambda: fresh_state(config), read_progress)

    @property
    def location(self):
        return self.path

    @property
    def total(self):
        return total_units(self.config)

    @property
    def done(self):
        return units_done(self.state)

    def ready(self):
        return ready_units(self.state, self.config, self.spec)

    def record(self, key, result):
        record(self.state, key, result)
        atomic_write_json(self.path, self.state)


def read_progress(path):
    """(configuration, state) saved at `path`; ProgressError if it is not a progress file."""
    try:
        state = read_json(path, "offline progress file")
        return state["config"], state
    except (ShbError, KeyError, TypeError) as err:
        raise ProgressError(f"progress file {path} is unreadable ({err}); delete it to start over") from None


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


def chains_done(state, config):
    return all(
        len(chain["meta_losses"]) >= config["meta_steps"][h] for h, chains in state["smd"].items() for chain in chains
    )


def chosen_schedule(state, horizon):
    """SMD's (alpha0, beta) for this horizon: the averaged end point of the chain that evaluated best."""
    evals = state["smd_eval"][str(horizon)]
    best = min(range(len(state["smd"][str(horizon)])), key=lambda j: smd.diverged_as_inf(evals[str(j)][1]))
    return smd.averaged_hypers(state["smd"][str(horizon)][best]["trajectory"]), best


def ready_units(state, config, spec):
    """Every unit (runner.Unit) whose inputs are ready and whose result is missing.

    SMD meta-steps come first and are urgent: each chain is sequential and is the critical path.
    """
    seed, horizons = config["seed"], config["horizons"]
    units = []
    if state["hypergrad_check"] is None:
        units.append(Unit(("check",), hypergrad_check, (spec, config, np.log(config["smd_inits"][0]).tolist())))
    for h in horizons:
        for j, chain in enumerate(state["smd"][str(h)]):
            m = len(chain["meta_losses"])
            if m < config["meta_steps"][str(h)]:
                units.append(Unit(("smd", h, j), smd.smd_meta_step,
                                  (spec, chain, h, smd.derive_seed(seed, 2, h, j, m), config["meta_lr"],
                                   config["meta_grad_clip"]), urgent=True))
            elif str(j) not in state["smd_eval"][str(h)]:
                seeds = [smd.derive_seed(seed, 4, h, s) for s in range(config["eval_seeds"])]
                units.append(Unit(("smd_eval", h, j), evaluate_endpoints,
                                  (spec, chain["trajectory"][0], smd.averaged_hypers(chain["trajectory"]), h, seeds)))
    for h in horizons:
        for i, (alpha0, beta) in enumerate(state["surface"]["points"]):
            if str(i) not in state["surface"]["losses"][str(h)]:
                units.append(Unit(("surface", h, i), smd.surface_loss, (spec, alpha0, beta, h, smd.derive_seed(seed, 3, h))))
    evals_done = all(len(state["smd_eval"][str(h)]) == len(config["smd_inits"]) for h in horizons)
    if chains_done(state, config) and evals_done:
        for h in horizons:
            if str(h) not in state["curves"]:
                (alpha0, beta), _ = chosen_schedule(state, h)
                units.append(Unit(("curve", h), smd.training_curve,
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


def units_done(state):
    """How many units the progress state holds the results of."""
    done = sum(len(v) for v in state["surface"]["losses"].values())
    done += sum(len(c["meta_losses"]) for chains in state["smd"].values() for c in chains)
    done += sum(len(v) for v in state["smd_eval"].values()) + len(state["curves"])
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
