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
Independent units go through the shared runner (experiments/runner.py): Dask's
local cluster of worker processes, or a cluster given by its address, unless
`dask` is False (then in this process).

    config.py   configurations by scale, the problem they define
    units.py    the units of work and their saved progress
    checks.py   the per-horizon summary and the checks of Figures 5 and 6
    figures.py  Figures 5 and 6
    report.py   the REPORT.md section and the paper-vs-toolkit rows
"""

import os
import time

from shb.experiments.offline.checks import figure5_checks, figure6_checks, summarize
from shb.experiments.offline.config import CONFIGS, TITLE, problem_spec, resolved
from shb.experiments.offline.figures import figure5, figure6
from shb.experiments.offline.report import paper_rows, report
from shb.experiments.offline.units import Work
from shb.experiments.result import Result, incomplete
from shb.experiments.runner import dask_client, run_units
from shb.experiments.verified import save_verified_figure
from shb.ground.io import atomic_write_json
from shb.numeric.idx import load_split, resolve_data_dir

__all__ = ["CONFIGS", "run"]


def run(out_dir, config, scale="quick", data_dir=None, scheduler=None, workers=None, dtype="float64",
        stop_after=None):
    """Run (or resume) the offline experiment; write offline.json and Figures 5 and 6 into out_dir.

    Training (surface, SMD, curves) computes in `dtype` (float64 or float32; the configuration's
    "dtype" key, absent for float64); the hypergradient check is float64 either way.
    Returns an experiments.result.Result; with `stop_after` units finished it returns early with
    complete=False (used to test resuming).
    """
    config = resolved(config, dtype)
    start_time = time.monotonic()
    spec = problem_spec(config, resolve_data_dir(data_dir))
    load_split(spec.data_dir, "train")  # a missing or corrupt file fails here, before any work
    work = Work(out_dir, config, spec)
    if workers is None:  # the configuration's choice: a local cluster of one process per core, or this process
        workers = (os.cpu_count() or 1) if config["dask"] else 0
    with dask_client(scheduler, workers, required=scale == "paper") as client:
        if not run_units(work, client, stop_after, desc="offline"):
            return incomplete(TITLE)

    state = work.state
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
    return Result(TITLE, ok5 and ok6, ["fig5", "fig6"], checks, paper_rows(scale, config, horizons), text)
