"""Online meta-optimization: Figures 7 and 8 (Section 3.3).

While a network trains with SGD momentum, online SMD (numeric/meta/online_smd.py) adapts
u = (log alpha_eff, log(1 - mu)) with Adam, every `burst_every` training steps running
`meta_steps_per_burst` meta-steps, each an exact forward-mode hypergradient of the
training loss after a T = 5 step lookahead from the current weights and velocity.
After `adapt_steps` adaptation stops and alpha decays exponentially to 1e-4 at the
last step (all runs, the fixed baseline too). Runs:

- "fixed": the hand-tuned fixed alpha = 0.1, mu = 0.9 (the public code's MNIST choice);
- "stochastic" (+ "stochastic_lrX" from other initial learning rates): stochastic lookahead (Figure 7);
- "deterministic": one minibatch for the whole lookahead and its loss (Figure 8).

The burst shape and the other settings by scale are in config.py.

Panels (Section 3.3): as in the paper's figures, `net="both"` (`shb online`'s default) runs the MLP and
the CNN (config.PAPER_PAIR, by name), a column each in Figures 7 and 8; `--net NAME` runs one registered network
(numeric/networks/__init__.py); `make reproduce` and `shb figure online` run config.REPRODUCE_NET. Each network's
data set is its registry entry's at the scale: the embedded Fashion-MNIST, except the CNN at paper scale, which
reads CIFAR-10 from --data-dir. Each panel writes its own JSON (online.json for the MLP, online_<net>.json for
another network, with the same keys); with several panels the figures' and the report's check names start with
"<net>/".

Every run is resumable: its state (weights, velocity, u, Adam state, RNG state, log) is
saved atomically to OUT/online_progress/<net>_<dataset>_<run>.npz every `save_every` steps.
Runs are independent: the shared runner (experiments/runner.py) spreads their segments over a
Dask local cluster of `workers` processes (or the cluster at --scheduler ADDRESS).

    config.py   configurations by scale and network, the runs
    units.py    data, problem, and the runs of every panel as chains of resumable segments
    checks.py   hypergradient, audit and claim checks
    panel.py    one panel's results and JSON
    figures.py  Figures 7 and 8
    report.py   the REPORT.md section and the paper-vs-toolkit rows
"""

import os
import time

import numpy as np

from shb.experiments.figures.online import panel as panels
from shb.experiments.figures.online.config import CONFIGS, REPRODUCE_NET, TITLE, config_for, panel_configs, run_specs
from shb.experiments.figures.online.figures import figure
from shb.experiments.figures.online.report import paper_rows, report
from shb.experiments.figures.online.units import Panel, Work, build_problem, read_data
from shb.experiments.report import stamp_line
from shb.experiments.result import Result, incomplete
from shb.experiments.runner import dask_client, run_units
from shb.experiments.verified import save_verified_figure
from shb.ground.errors import InputError
from shb.numeric import networks
from shb.numeric.networks.datasets import fingerprint

__all__ = ["CONFIGS", "config_for", "run"]
COSTLIEST_FIRST = ("cnn", "mlp")  # the order the runner starts the paper's panels' runs in (the CNN's are longer)


def run(out_dir, config, scale="quick", net=REPRODUCE_NET, dataset=None, data_dir=None, scheduler=None,
        workers=None, stop_after=None):
    """Run (or resume) the online experiment for `net` (a registered network, or "both": the MLP and the CNN; with
    `config` its configuration or {net: configuration}, checked here: config.OnlineConfig); write each panel's JSON
    (online.json for the MLP, online_<net>.json for another network) and Figures 7 and 8 (fig7, fig8: a column per
    network) into out_dir. `dataset`: every panel's data set; by default each network's at this scale (its registry
    entry: numeric/networks/__init__.py).

    Returns an experiments.result.Result; with `stop_after` segments finished in this call it returns early
    with complete=False (to test resuming).
    """
    start = time.monotonic()
    configs = panel_configs(config, net)
    datasets = {name: dataset or networks.dataset(name, scale) for name in configs}
    data_dirs = {name: panel_data_dir(datasets, name, data_dir) for name in configs}
    splits = {name: read_data(datasets[name], data_dirs[name]) for name in configs}  # bad data fails here, before
    problems = {name: build_problem(c, name, datasets[name], data_dirs[name], splits[name])  # any work
                for name, c in configs.items()}
    try:
        os.makedirs(os.path.join(out_dir, "online_progress"), exist_ok=True)
    except OSError as err:
        raise InputError(f"cannot create output directory {out_dir}: {err.strerror}") from None
    columns = [Panel(name, datasets[name], data_dirs[name], configs[name], run_specs(configs[name]),
                     problems[name].net.init(np.random.default_rng(configs[name]["init_seed"])),
                     fingerprint(splits[name]))
               for name in sorted(configs, key=costliest_first)]
    work = Work(out_dir, columns)
    with dask_client(scheduler, max(c["workers"] for c in configs.values()) if workers is None else workers) as client:
        if not run_units(work, client, stop_after, desc="online"):
            return incomplete(TITLE)

    columns.sort(key=lambda p: list(configs).index(p.net))  # figure columns in the networks' order (PAPER_PAIR)
    outcomes = [panels.outcome(p, problems[p.net], work.panel_states(p.net), scale) for p in columns]
    many = len(outcomes) > 1
    lookahead = outcomes[0].config["lookahead"]
    figures_ok = []
    stamps = []
    for name, kind, checks in (("fig7", "stochastic", "checks7"), ("fig8", "deterministic", "checks8")):
        listed = [c for o in outcomes for c in panels.prefixed(getattr(o, checks), o, many)]
        concluded = [c for o in outcomes for c in panels.prefixed(getattr(o, "concluded" + name[-1]), o, many)]
        fig, data = figure(outcomes, kind, f"Figure {name[-1]}: online SMD, {kind} lookahead T={lookahead}")
        figure_config = {o.net: o.config for o in outcomes} if many else outcomes[0].config
        figures_ok.append(save_verified_figure(fig, name, out_dir, data, figure_config, listed,
                                               outcomes[0].config["seed"], concluded))
        stamps += [stamp_line(listed, f"Figure {name[-1]}"), ""]
    seconds = time.monotonic() - start
    for o in outcomes:
        panels.write_json(out_dir, o, scale, seconds)
    listed = {o.net: panels.prefixed(o.checks7 + o.checks8, o, many) for o in outcomes}
    return Result(TITLE, all(figures_ok), ["fig7", "fig8"], [c for o in outcomes for c in listed[o.net]],
                  [row for o in outcomes for row in paper_rows(o, many)], report(scale, outcomes, listed, seconds, stamps))


def costliest_first(net):
    """The rank of a panel in the order its runs start: the CNN's, then the MLP's (a single panel: any)."""
    return COSTLIEST_FIRST.index(net) if net in COSTLIEST_FIRST else -1


def panel_data_dir(datasets, net, data_dir):
    """The data directory of `net`'s panel: --data-dir, except that when the panels read different data sets (the
    CNN's CIFAR-10 beside the MLP's Fashion-MNIST at paper scale) the embedded Fashion-MNIST is read from its own
    place ($SHB_DATA, else the system's) and --data-dir holds the others."""
    mixed = len(set(datasets.values())) > 1
    return None if mixed and datasets[net] == "fashion-mnist" else data_dir
