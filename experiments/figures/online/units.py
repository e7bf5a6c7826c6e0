"""The online experiment's units of work: each run is a chain of segments, each segment `save_every` training steps
advanced from the run's saved state (numeric/meta/online_smd.advance). The state after every segment is saved atomically
to OUT/online_progress/<net>_<dataset>_<run>.npz, so an interrupted run resumes where it stopped; runs are
independent, so the runner (experiments/runner.py) spreads them over Dask workers.
"""
import functools
import json
import math
import os
import time
from collections import namedtuple

import numpy as np

from shb.experiments.figures.online.config import DATASETS, NET_SIZES
from shb.experiments.runner import Unit, load_progress
from shb.ground.errors import InputError
from shb.numeric import networks
from shb.numeric.meta import online_schema, online_smd
from shb.numeric.networks import datasets, idx, training


# One network's part of the experiment (a column of Figures 7 and 8): its network, data set (the --dataset choice)
# and data directory, configuration, runs, initial weights, and the fingerprint of the data it reads
# (numeric/networks/datasets.py; its "dataset" is the data set's name as it really is).
Panel = namedtuple("Panel", ["net", "dataset", "data_dir", "config", "specs", "theta0", "inputs"], defaults=[None])


class Work:
    """The runs of one online experiment (one or more panels) for the runner: their states, next segments and saved
    progress. A run's key is (net, run name); ready() lists SMD runs before fixed ones, the panels in the order given
    (the costliest first), so the longest chains start first and both workers stay busy to the end."""

    def __init__(self, out_dir, panels):
        self.panels = {p.net: p for p in panels}
        self.specs = {(p.net, s.name): s for p in panels for s in p.specs}
        self.paths = {(p.net, s.name): progress_path(out_dir, p.net, p.dataset, s.name)
                      for p in panels for s in p.specs}
        self.location = os.path.dirname(next(iter(self.paths.values())))
        self.states = {(p.net, s.name): load_progress(self.paths[p.net, s.name], online_smd.identity(s, p.config),
                                                      functools.partial(fresh_state, s, p), online_smd.read_state,
                                                      p.inputs, functools.partial(validate, p))
                       for p in panels for s in p.specs}
        rank = {net: i for i, net in enumerate(self.panels)}
        self.order = sorted(self.specs, key=lambda key: (self.specs[key].mode == "fixed", rank[key[0]]))

    def config(self, key):
        return self.panels[key[0]].config

    def segments(self, key):
        """Segments done: a diverged run is done with all of them."""
        config, state = self.config(key), self.states[key]
        every, steps = config["save_every"], config["steps"]
        return math.ceil(steps / every) if finished(state, config) else math.ceil(state["t"] / every)

    @property
    def total(self):
        return sum(math.ceil(self.config(key)["steps"] / self.config(key)["save_every"]) for key in self.specs)

    @property
    def done(self):
        return sum(self.segments(key) for key in self.specs)

    def ready(self):
        units = []
        for key in self.order:
            config, state, panel = self.config(key), self.states[key], self.panels[key[0]]
            if not finished(state, config):
                until = min(config["steps"], (state["t"] // config["save_every"] + 1) * config["save_every"])
                units.append(Unit(("run",) + key, segment, (json.dumps(config), panel.net, panel.dataset,
                                                            panel.data_dir, self.specs[key], state, until)))
        return units

    def record(self, key, state):
        key = key[1:]
        self.states[key] = state
        online_smd.save_state(self.paths[key], state, self.specs[key], self.config(key))

    def panel_states(self, net):
        """{run name: state} of one panel."""
        return {name: state for (n, name), state in self.states.items() if n == net}


def fresh_state(run, panel):
    """A run's state before its first step, with the fingerprint of the panel's data (compared on resume)."""
    state = online_smd.new_state(run, panel.config, panel.theta0)
    if panel.inputs is not None:
        state["inputs"] = panel.inputs
    return state


def validate(panel, state):
    """A saved state's structure against the panel's network and data (numeric/meta/online_schema.py)."""
    online_schema.validate(state, panel.config, panel.theta0.size, panel.inputs["train"]["examples"])


def finished(state, config):
    return state["t"] >= config["steps"] or state["diverged_at"] is not None


def segment(config_json, net_name, dataset, data_dir, run, state, until):
    """Unit: advance one run's state to step `until` (its CPU time added to state["cpu_seconds"])."""
    problem = cached_problem(config_json, net_name, dataset, data_dir)
    started = time.process_time()
    online_smd.advance(state, problem, run, json.loads(config_json), until)
    state["cpu_seconds"] = state.get("cpu_seconds", 0.0) + time.process_time() - started
    return state


@functools.lru_cache(maxsize=2)
def cached_problem(config_json, net_name, dataset, data_dir):
    """build_problem, once per worker process for all the segments it runs."""
    return build_problem(json.loads(config_json), net_name, dataset, data_dir)


def read_data(dataset, data_dir):
    """The splits of `dataset` (a --dataset choice) in `data_dir`, checked (numeric/networks/datasets.py): shapes and
    labels; the sizes against a configuration in build_problem."""
    if dataset not in DATASETS:
        raise InputError(f"unknown dataset {dataset!r}; choose one of: {', '.join(DATASETS)}")
    if dataset == "mnist" and not data_dir and not os.environ.get(idx.DATA_ENV):
        raise InputError("--dataset mnist needs --data-dir DIR (or SHB_DATA) with the MNIST IDX files")
    return datasets.load("cifar10" if dataset == "cifar10" else "idx", data_dir)


def load_data(dataset, data_dir, splits=None):
    """(train, test) as training.Dataset and the input shape of one example: (H, W, C) for square images, else the
    flat row. `splits`: read_data's, if already read."""
    splits = read_data(dataset, data_dir) if splits is None else splits
    shape = splits.shape
    if len(shape) == 2:  # IDX: (rows, cols), one channel; rows are flat
        shape = (shape[0], shape[1], 1) if shape[0] == shape[1] else (shape[0] * shape[1],)
    n_classes = datasets.n_classes(splits)
    as_set = lambda split: training.Dataset(split[0], split[1].astype(np.int64), n_classes)  # noqa: E731
    return as_set(splits.train), as_set(splits.test), shape


def build_problem(config, net_name, dataset, data_dir, splits=None):
    """The panel's Problem: its network on its data, whose training set must hold a minibatch of each size the
    configuration draws. `splits`: read_data's, if already read."""
    splits = read_data(dataset, data_dir) if splits is None else splits
    datasets.check_sizes(splits, {"batch_size": config["batch_size"], "meta_batch": config["meta_batch"]})
    train, test, shape = load_data(dataset, data_dir, splits)
    try:
        net = networks.make(net_name, shape, train.n_classes, **NET_SIZES[net_name](config))
    except ValueError as err:  # e.g. a CNN given flat, non-square inputs
        raise InputError(f"--net {net_name} cannot take {dataset}'s inputs of shape {shape}: {err}") from None
    return online_smd.Problem(net, train, test, config["eval_train"], config["eval_test"])


def progress_path(out_dir, net_name, dataset, run_name):
    return os.path.join(out_dir, "online_progress", f"{net_name}_{dataset}_{run_name}.npz")
