"""Offline meta-optimization of the inverse-time decay schedule: Figures 5 and 6 (Section 3.2).

For each horizon T, SMD (Algorithm 1) meta-optimizes lambda = (log alpha0, log beta)
of alpha_t = alpha0 (1 + t/K)^(-beta) with Adam, one exact forward-mode
meta-gradient (Eqs. 8-9) per training run from the same warm start. Random
search maps the meta-objective surface J_T over (alpha0, beta) (Figure 5), and
each horizon's chosen schedule is trained for the paper's 20k steps (Figure 6).

Meta-objective: J_T = training loss after T steps. SMD's sample of it is the loss
on a fresh minibatch of `meta_batch` training examples drawn after step T; the
surface, the SMD start/end comparison and the training curves use the loss on the
first `eval_examples` training examples (the same expectation, less noise). Every
surface sample is one run of max(horizons) steps on one shared minibatch sequence
(common random numbers): its loss after T steps is its J_T for each horizon T, and
differences between samples reflect (alpha0, beta), not minibatch luck. SMD's chosen
(alpha0, beta) is the iterate average over the last half of its trajectory
(`smd.averaged_hypers`); where chains start and when they stop: chains.py.

Units of work (a surface sample, an SMD meta-step, an SMD end-point evaluation,
a training curve) are pure functions of a derived seed; each result is saved
atomically into OUT/offline_progress.json as it completes, so an interrupted run
resumes where it stopped and gives the same numbers as an uninterrupted one.
Independent units go through the shared runner (experiments/runner.py): Dask's
local cluster of worker processes, or a cluster given by its address, unless
`dask` is False (then in this process). A run starts by measuring the cost of a
training step on a worker and printing what each kind of unit costs and what is
left (cost.py).

    config.py   configurations by scale, the problem they define
    units.py    the units of work and their saved progress
    chains.py   SMD chains: starts, stopping rule, the chosen schedule
    cost.py     the cost model, the projection, the timing log
    checks.py   the per-horizon summary and the checks of Figures 5 and 6
    figures.py  Figures 5 and 6
    report.py   the REPORT.md section and the paper-vs-toolkit rows
"""

import functools
import os
import sys
import time

from shb.experiments.conclusions import conclude
from shb.experiments.figures.offline import cost
from shb.experiments.figures.offline.checks import findings, figure5_checks, figure6_checks, summarize
from shb.experiments.figures.offline.config import (
    CONFIGS, TITLE, config_for, outputs, problem_spec, read_data, resolved,
)
from shb.experiments.figures.offline.figures import figure5, figure6
from shb.experiments.figures.offline.report import claims5, claims6, paper_rows, report, timing_line
from shb.experiments.figures.offline.units import Work
from shb.experiments.report import stamp_line
from shb.experiments.result import Result, incomplete
from shb.experiments.runner import dask_client, run_units
from shb.experiments.verified import save_verified_figure
from shb.ground.blas import single_blas_thread
from shb.ground.errors import ShbError
from shb.ground.io import atomic_write_json, read_json
from shb.numeric.networks.idx import resolve_data_dir

__all__ = ["CONFIGS", "config_for", "run"]

log_stderr = functools.partial(print, file=sys.stderr, flush=True)


def run(out_dir, config, scale="quick", data_dir=None, scheduler=None, workers=None, dtype="float64",
        stop_after=None, log=log_stderr):
    """Run (or resume) the offline experiment; write offline.json and Figures 5 and 6 into out_dir.

    `config` is checked here (config.OfflineConfig); its "net" (absent: the MLP) names the network in the registry
    (numeric/networks/__init__.py), `config_for(scale, net)` gives a network's configuration at a scale.
    Training (surface, SMD) computes in `dtype` (float64 or float32; the configuration's "dtype" key, absent for
    float64), Figure 6's curves in the configuration's "curve_dtype"; the hypergradient check is float64 either way.
    The fit variant's configuration ("variant": "fit", config.fit_config) writes its files under its own names
    (config.outputs: offline-fit.json, fig5-fit, ...), so both can share out_dir.
    Returns an experiments.result.Result; with `stop_after` units finished it returns early with
    complete=False (used to test resuming). `log` receives the projection lines at the start.
    """
    config = resolved(config, dtype)
    start_time = time.monotonic()
    spec = problem_spec(config, resolve_data_dir(data_dir))
    splits, inputs = read_data(spec, config)  # a missing, corrupt or too small data set fails here, before any work
    dataset = splits.name
    work = Work(out_dir, config, spec, inputs)
    if workers is None:  # the configuration's choice: a local cluster of one process per core, or this process
        workers = (os.cpu_count() or 1) if config["dask"] else 0
    with dask_client(scheduler, workers, required=scale == "paper") as client:
        if work.ready():
            if client:
                rates = client.submit(cost.measure_rates, spec, pure=False).result()
            else:
                with single_blas_thread():  # as run_units runs units in this process
                    rates = cost.measure_rates(spec)
            n_workers = sum(client.nthreads().values()) if client else 1
            for line in cost.projection(work.state, config, rates, n_workers):
                log(f"offline: {line}")
        if not run_units(work, client, stop_after, desc="offline"):
            return incomplete(title(config))
        n_workers = sum(client.nthreads().values()) if client else 1
    state = work.state
    horizons = summarize(state, config)
    checks5 = figure5_checks(state, config, horizons)
    checks6 = figure6_checks(config, horizons)
    claimed5, claimed6, found = claims5(config, horizons, checks5), claims6(config, horizons), []
    if config.get("variant") == "fit":  # the paper's claims are the fit variant's question: answered, not stamped
        checks5, claimed5, found5 = findings(checks5, claimed5)
        checks6, claimed6, found6 = findings(checks6, claimed6)
        found = found5 + found6
    concluded5 = conclude(claimed5, checks5)
    concluded6 = conclude(claimed6, checks6)
    fig, data5 = figure5(state, config, horizons, dataset)
    names = outputs(config)
    ok5 = save_verified_figure(fig, names["fig5"], out_dir, data5, config, checks5, config["seed"], concluded5)
    fig, data6 = figure6(state, config, horizons, dataset, inputs)
    ok6 = save_verified_figure(fig, names["fig6"], out_dir, data6, config, checks6, config["seed"], concluded6)

    checks = checks5 + checks6
    seconds = time.monotonic() - start_time
    text = report(scale, config, horizons, checks, dataset, spec.data_dir,
                  timing_line(work.timings, seconds, n_workers), inputs, concluded5 + concluded6,
                  [stamp_line(checks5, "Figure 5"), "", stamp_line(checks6, "Figure 6")],
                  full_data_run(out_dir, config, inputs), found)
    atomic_write_json(os.path.join(out_dir, names["summary"]), {
        "scale": scale, "dataset": dataset, "inputs": inputs, "config": config, "horizons": horizons, "checks": checks,
        "hypergrad_check": state["hypergrad_check"], "all_checks_passed": ok5 and ok6,
        "conclusions": concluded5 + concluded6, **({"findings": found} if found else {}),
    })
    return Result(title(config), ok5 and ok6, [names["fig5"], names["fig6"]], checks,
                  paper_rows(scale, config, horizons, dataset), text)


def full_data_run(out_dir, config, inputs):
    """The full-data run's offline.json in out_dir, for the fit variant's verdict (None: not the fit variant, or no
    run of this version (curve_seeds) with the same network on the same data directory there)."""
    path = os.path.join(out_dir, "offline.json")
    if config.get("variant") != "fit" or not os.path.exists(path):
        return None
    try:
        full = read_json(path, "the full-data offline summary")
        same = full["config"].get("net", "mlp") == config.net and "curve_seeds" in full["config"]
        return full if same and full["inputs"]["data_dir"] == inputs["data_dir"] else None
    except (ShbError, KeyError, TypeError, AttributeError):
        return None  # only informs the report


def title(config):
    """The report's title of this run: the fit variant's says so."""
    return TITLE + (f", on the first {config['n_train']} training examples (fit variant)"
                    if config.get("variant") == "fit" else "")
