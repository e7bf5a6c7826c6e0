"""What the offline experiment's work costs: a model in training steps, measured rates, and the timing log.

Every unit's work is counted in plain SGD-momentum steps and hypergradient-carrying steps (batch_size examples
each); evaluating the loss or the error on n examples counts n / batch_size / 3 plain steps (a forward pass, no
backward). Seconds = plain x (seconds per plain step) + hyper x (seconds per hypergradient step), with both rates
measured at the start of a run on a worker (`measure_rates`: CPU time of a short run of each). From these, a run
prints the cost of each kind of unit and a projection of what is left (`projection`); chains are counted at their
most meta-steps and diverging surface samples at full length, so the projection is an upper bound of the work.

The timing log (OUT/offline_timings.json, apart from the progress file, which stays a pure function of the
configuration) keeps, per kind of unit, how many ran and their CPU and wall seconds, and the wall time of each
session, for the report.
"""
import os
import time

import numpy as np

from shb.experiments.figures.offline import chains
from shb.ground import schema
from shb.ground.io import atomic_write_json, read_json
from shb.ground.errors import ShbError
from shb.numeric.meta import smd
from shb.numeric.networks import training

HYPER_OVER_PLAIN = 3.2   # a hypergradient step costs about 3.2 plain steps (README, Performance): progress weights
FORWARD_FRACTION = 1 / 3  # a forward pass over a minibatch, as a fraction of a plain step


def forward_steps(config, n):
    return n / config["batch_size"] * FORWARD_FRACTION


def unit_steps(config, key):
    """(plain steps, hypergradient steps) of the unit named `key` (units.py)."""
    kind, h = key[0], (key[1] if len(key) > 1 else None)
    evaluation = forward_steps(config, config["eval_examples"])
    if kind == "check":
        return 100.0 * config["check_horizon"], 0.0  # Autograd's taped references dominate
    if kind == "surface":
        return max(config["horizons"]) + len(config["horizons"]) * evaluation, 0.0
    if kind == "smd":
        return config["meta_batch"] / config["batch_size"], float(h)
    if kind == "smd_eval":
        return 2 * config["eval_seeds"] * (h + evaluation), 0.0
    if kind == "smd_surface":
        return h + evaluation, 0.0
    if kind == "curve":
        per_point = evaluation + forward_steps(config, config["test_examples"])
        return config["curve_steps"] + config["curve_points"] * per_point, 0.0
    raise ValueError(f"unknown unit kind {kind!r}")


def weight(config, key):
    """A unit's cost in plain-step equivalents (the progress bar's weights)."""
    plain, hyper = unit_steps(config, key)
    return plain + HYPER_OVER_PLAIN * hyper


def remaining_units(state, config):
    """[(key, count)] of the work not done: units whose results are missing, chains at their most meta-steps."""
    left = [(("check",), 0 if state["hypergrad_check"] is not None else 1)]
    done = state["surface"]["losses"][str(config["horizons"][0])]
    left.append((("surface",), config["surface_samples"] - len(done)))
    for h in config["horizons"]:
        made = state["smd"][str(h)]
        most = config["meta_steps"][str(h)]
        for j in range(chains.n_chains(config, h)):
            chain = made[j] if j < len(made) else None
            steps = 0 if chain is not None and chains.chain_finished(chain, config, h) else (
                most - (len(chain["meta_losses"]) if chain else 0))
            left.append((("smd", h, j), steps))
            left.append((("smd_eval", h, j), int(str(j) not in state["smd_eval"][str(h)])))
            left.append((("smd_surface", h, j), int(str(j) not in state["smd_surface"][str(h)])))
        left.append((("curve", h), config["curve_seeds"] - len(state["curves"][str(h)])))
    return [(key, count) for key, count in left if count]


def cost_left(state, config):
    """The remaining work in plain-step equivalents (an upper bound: chains at their most meta-steps)."""
    return sum(count * weight(config, key) for key, count in remaining_units(state, config))


def measure_rates(spec, plain_steps=200, hyper_steps=50):
    """CPU seconds per plain and per hypergradient step, measured here (run it on a worker) from the warm start."""
    problem = smd.build_problem(spec)
    rng = np.random.default_rng(0)
    start = time.thread_time()
    training.train(problem.net, problem.theta0, problem.v0, problem.data, 0.01, 1.0, plain_steps, rng,
                   spec.mu, spec.k, spec.batch_size)
    plain = (time.thread_time() - start) / plain_steps
    start = time.thread_time()
    smd.meta_gradient(problem, np.log([0.01, 1.0]), hyper_steps, 0)
    hyper = (time.thread_time() - start - plain * spec.meta_batch / spec.batch_size) / hyper_steps
    return {"plain": plain, "hyper": max(hyper, plain)}


def seconds(config, key, rates, count=1):
    plain, hyper = unit_steps(config, key)
    return count * (plain * rates["plain"] + hyper * rates["hyper"])


def projection(state, config, rates, workers):
    """Lines for the start of a run: the cost of each kind of unit and the projected time of what is left."""
    hs, longest = config["horizons"], max(config["horizons"])
    lines = [f"measured on a worker: plain step {1e3 * rates['plain']:.2f} ms, hypergradient step "
             f"{1e3 * rates['hyper']:.2f} ms (CPU)",
             f"cost per unit: surface sample ({longest} steps, all horizons) {seconds(config, ('surface',), rates):.1f} s; "
             "meta-step " + ", ".join(f"T={h}: {seconds(config, ('smd', h), rates):.2f} s" for h in hs) + "; "
             f"training curve ({config['curve_steps']} steps, {config['curve_seeds']} per horizon) "
             f"{seconds(config, ('curve', longest), rates):.1f} s"]
    left = remaining_units(state, config)
    total = sum(seconds(config, key, rates, count) for key, count in left)
    chain = max([seconds(config, key, rates, count) for key, count in left if key[0] == "smd"], default=0.0)
    wall = max(total / max(workers, 1), chain)
    lines.append(f"work left: at most {total / 3600:.2f} CPU-hours; on {max(workers, 1)} worker(s) about "
                 f"{wall / 3600:.2f} h (the longest chain alone {chain / 3600:.2f} h)")
    return lines


class TimingLog:
    """CPU and wall seconds of the finished units by kind, and each session's wall time (module docstring)."""

    def __init__(self, path):
        self.path = path
        try:
            self.data = read_json(path, "offline timings") if os.path.exists(path) else {}
            self.check(self.data)
        except (ShbError, schema.Invalid):  # the log only informs the report: an unreadable one starts afresh
            self.data = {}
        self.data.setdefault("units", {})
        self.data.setdefault("sessions", [])
        self.data["sessions"].append({"wall": 0.0, "units": 0})
        self.started = time.monotonic()

    @staticmethod
    def check(data):
        """schema.Invalid unless `data` is a timing log: {"units": {kind: {"n", "cpu", "wall"}}, "sessions": [{"wall",
        "units"}]} (either part may be missing)."""
        schema.keys_within(data, "the timing log", {"units", "sessions"})
        for kind, entry in schema.obj(data.get("units", {}), "units").items():
            schema.obj(entry, f"units.{kind}", ("n", "cpu", "wall"))
            schema.integer(entry["n"], f"units.{kind}.n")
            schema.numbers([entry["cpu"], entry["wall"]], f"units.{kind}", low=0)
        for i, session in enumerate(schema.listing(data.get("sessions", []), "sessions")):
            schema.obj(session, f"sessions[{i}]", ("wall", "units"))
            schema.number(session["wall"], f"sessions[{i}].wall", low=0)
            schema.integer(session["units"], f"sessions[{i}].units")

    @staticmethod
    def kind(key):
        """'surface', 'check', or the kind and horizon ('smd 1000', 'curve 100', ...)."""
        return key[0] if key[0] in ("surface", "check") else f"{key[0]} {key[1]}"

    def add(self, key, cpu, wall):
        entry = self.data["units"].setdefault(self.kind(key), {"n": 0, "cpu": 0.0, "wall": 0.0})
        entry["n"] += 1
        entry["cpu"] += cpu
        entry["wall"] += wall
        session = self.data["sessions"][-1]
        session["wall"] = time.monotonic() - self.started
        session["units"] += 1
        atomic_write_json(self.path, self.data)

    def totals(self):
        """(CPU seconds of all units, wall seconds of all sessions)."""
        cpu = sum(e["cpu"] for e in self.data["units"].values())
        return cpu, sum(s["wall"] for s in self.data["sessions"])
