"""One panel of the online experiment: one network on one data set, a column of Figures 7 and 8.

From its runs' final states: the logs, the summaries, the hypergradient checks against finite differences, the
checks of Figure 7 and of Figure 8, and its JSON file (the MLP's online.json, the CNN's online_cnn.json, with the
same keys).
"""
import os
from collections import namedtuple

from shb.experiments.conclusions import conclude
from shb.experiments.figures.online.checks import hypergrad_check, make_checks, summary
from shb.experiments.figures.online.report import claims7, claims8
from shb.experiments.verified import EVIDENCE, check, verdict
from shb.ground.io import atomic_write_json, strict

# dataset: the data set's name as it really is ('Fashion-MNIST', 'IDX data in DIR', ...; the --dataset choice
# where the panel has no fingerprint); inputs: the fingerprint of its data (numeric/networks/datasets.py) or None.
Outcome = namedtuple("Outcome", ["net", "dataset", "config", "runs", "summaries", "hypergrad_checks", "checks7",
                                 "checks8", "initial", "stochastic_names", "command", "inputs", "concluded7",
                                 "concluded8"])


def json_name(net):
    """The panel's JSON file: online.json for the MLP (its name before the CNN joined), online_<net>.json otherwise."""
    return "online.json" if net == "mlp" else f"online_{net}.json"


def outcome(panel, problem, states, scale):
    """The panel's results (an Outcome) from its runs' final states {run name: state}."""
    config, specs = panel.config, panel.specs
    runs = {name: strict(s.log) for name, s in states.items()}
    summaries = {spec.name: strict(summary(states[spec.name], config, spec)) for spec in specs}
    hchecks = {name: hypergrad_check(problem, states[name].hypergrad_sample, config["check_eps"])
               for name in ("stochastic", "deterministic") if states[name].hypergrad_sample is not None}
    checks7, checks8 = make_checks(problem, states, summaries, hchecks, config, panel.net)
    for name in ("stochastic", "deterministic"):
        if name not in hchecks:
            (checks7 if name == "stochastic" else checks8).append(check(
                f"hypergrad_used_vs_finite_differences_{name}", False, "no meta-step sampled (run too short?)",
                kind=EVIDENCE, values=()))
    command = f"shb online --net {panel.net} --dataset {panel.dataset} --scale {scale} --out DIR" + (
        " --data-dir D" if panel.data_dir else "")
    name = panel.inputs["dataset"] if panel.inputs else panel.dataset
    return Outcome(panel.net, name, config, runs, summaries, hchecks, checks7, checks8,
                   {s.name: s.alpha for s in specs}, [s.name for s in specs if s.mode == "stochastic"], command,
                   panel.inputs, conclude(claims7(summaries, config, panel.net), checks7),
                   conclude(claims8(summaries, config, panel.net), checks8))


def passed(outcome):
    return verdict(outcome.checks7 + outcome.checks8)


def write_json(out_dir, outcome, scale, seconds):
    """The panel's JSON file: scale, net, dataset (its name as it really is), inputs (the data's fingerprint), config,
    runs, summary, hypergrad_check, checks (their names without the panel prefix), all_checks_passed, seconds (the
    wall time of the whole invocation)."""
    atomic_write_json(os.path.join(out_dir, json_name(outcome.net)), strict({
        "scale": scale, "net": outcome.net, "dataset": outcome.dataset, "inputs": outcome.inputs,
        "config": outcome.config,
        "runs": outcome.runs, "summary": outcome.summaries, "hypergrad_check": outcome.hypergrad_checks,
        "checks": outcome.checks7 + outcome.checks8, "all_checks_passed": passed(outcome), "seconds": seconds,
        "conclusions": outcome.concluded7 + outcome.concluded8,
    }))


def prefixed(checks, outcome, many):
    """The checks (or conclusions) as the figures and the report list them: named "<net>/<name>" when several panels
    share them."""
    if not many:
        return checks
    return [dict(c, name=f"{outcome.net}/{c['name']}") if "name" in c else dict(c, net=outcome.net) for c in checks]
