"""Settings chosen after seeing a check's outcome, and what that check gave at every value tried (issue 27, item 4).

A tuned setting is marked in its configuration (the configuration's "tuned" entry: {key: name of an entry of TUNED},
so the mark travels into every sidecar and JSON output with the configuration). Its entry here says what was
chosen, against which check, and which values were tried; `shb sensitivity NAME` measures the check's quantity at
each value, on the configuration's data set and seeds, and writes experiments/sensitivity/NAME.json (like `shb derive`
writes the generated code: into the source tree, where REPORT.md's "Tuned settings" section reads it). A check's
threshold is never a tuned setting: it stays where it was when the setting was chosen.

    online-cnn-meta-lr   Adam's step size of the CNN's online SMD at quick scale; check stochastic_lr_falls_3x
    online-mlp-meta-lr   the same for the MLP
    offline-check-eps    the central-difference step of the offline hypergradient check; its check's error

Each measurement runs what the experiment runs at that value (the same functions, seeds and data), the online runs
on Dask workers (experiments/runner.py): at quick scale a CNN run takes about a CPU-minute, an MLP run half of one.
"""
import datetime
import json
import os
from dataclasses import dataclass

from shb.ground.io import atomic_write_json
from shb.ground.provenance import git_state
from shb.ground.resources import path as resource_path

FOLDER = "experiments/sensitivity"


@dataclass(frozen=True)
class Tuned:
    """One tuned setting: where it lives, the value chosen, the values tried, the check it was chosen against (its
    name, what it compares, its threshold), the measured quantity's label, `measure(values, data_dir, workers,
    scale="quick") -> ([row], data set name)` with each row {"value", "quantity", "passed", ...}, and why the value
    was chosen."""

    name: str
    setting: str
    chosen: float
    values: tuple
    check: str
    quantity: str
    measure: object
    why: str

    def path(self, root=None):
        return resource_path(f"{FOLDER}/{self.name}.json", root)

    def command(self):
        return f"shb sensitivity {self.name}"


def online_meta_lr(net):
    """measure(values, data_dir, workers, scale): the stochastic-lookahead run of `net`'s configuration at `scale`
    (quick) with Adam's step size set to each value; its alpha fall (initial lr / lr at the end of adaptation) against
    LR_RATIO. With workers <= 1 the runs go one after another in this process."""
    def measure(values, data_dir, workers, scale="quick"):
        import numpy as np

        from shb.experiments.figures.online import checks as online_checks
        from shb.experiments.figures.online.config import LR_RATIO, config_for, run_specs
        from shb.experiments.figures.online.units import build_problem, segment
        from shb.experiments.runner import dask_client
        from shb.ground.blas import single_blas_thread
        from shb.numeric import networks
        from shb.numeric.meta import online_smd

        base = config_for(scale, net)
        dataset = networks.dataset(net, scale)
        spec = next(s for s in run_specs(base) if s.name == "stochastic")
        problem = build_problem(base, net, dataset, data_dir)  # bad data fails here, before any work
        theta0 = problem.net.init(np.random.default_rng(base["init_seed"]))
        configs = [base.replace(meta_lr=float(v)) for v in values]
        units = [(c, net, dataset, data_dir, spec, online_smd.new_state(spec, c, theta0), c["steps"]) for c in configs]
        with dask_client(None, workers) as client:  # workers run with one BLAS thread, as the experiment's
            if client:
                states = client.gather([client.submit(segment, *unit, pure=False) for unit in units])
            else:
                with single_blas_thread():
                    states = [segment(*unit) for unit in units]
        rows = []
        for value, c, state in zip(values, configs, states):
            s = online_checks.summary(state, c, spec)
            fall = s["initial_lr"] / s["lr_end_of_adaptation"]
            rows.append({"value": value, "quantity": fall, "passed": bool(fall >= LR_RATIO),
                         "alpha_eff_fall": s["initial_lr"] / (1 - s["initial_mu"]) / s["alpha_eff_end_of_adaptation"],
                         "final_train_loss": s["final_train_loss"], "diverged_at": s["diverged_at"]})
        return rows, dataset
    return measure


def offline_check_eps(values, data_dir, workers, scale="quick"):
    """The offline experiment's hypergradient check (the configuration at `scale`, at SMD's first start) with each
    step; in this process (a few seconds each)."""
    import numpy as np

    from shb.experiments.figures.offline.config import HYPERGRAD_TOLERANCE, config_for, problem_spec
    from shb.experiments.figures.offline.units import hypergrad_check
    from shb.ground.blas import single_blas_thread
    from shb.numeric.networks.idx import dataset_name, load_split, resolve_data_dir

    where = resolve_data_dir(data_dir)
    rows = []
    for value in values:
        config = config_for(scale).replace(check_eps=value)
        with single_blas_thread():  # as the experiment's unit runs on a worker: the same rounding
            result = hypergrad_check(problem_spec(config, where), config, np.log(config["smd_inits"][0]))
        rows.append({"value": value, "quantity": result["max_rel_error"],
                     "passed": bool(result["max_rel_error"] < HYPERGRAD_TOLERANCE)})
    return rows, dataset_name(load_split(where, "train")[1], where)


TUNED = {t.name: t for t in (
    Tuned("online-cnn-meta-lr", "ONLINE_QUICK['meta_lr'] (numeric/networks/cnn.py, the CNN's registry entry): Adam's "
          "step size of the CNN's online SMD at quick scale", 0.15, (0.05, 0.1, 0.15, 0.2),
          "stochastic_lr_falls_3x: the stochastic lookahead's alpha falls >= 3x by the end of adaptation",
          "alpha fall (initial / end of adaptation)", online_meta_lr("cnn"),
          "0.05 and 0.1 fell short of the 3x threshold; at 0.2 the learning rate overshot"),
    Tuned("online-mlp-meta-lr", "QUICK['meta_lr'] (experiments/figures/online/config.py): Adam's step size of the "
          "MLP's online SMD at quick scale", 0.05, (0.01, 0.03, 0.05, 0.1),
          "stochastic_lr_falls_3x: the stochastic lookahead's alpha falls >= 3x by the end of adaptation",
          "alpha fall (initial / end of adaptation)", online_meta_lr("mlp"),
          "at 0.01 the stochastic-lookahead learning rate barely moved (first seen with an earlier quick configuration; "
          "the table is the present one's)"),
    Tuned("offline-check-eps", "QUICK['check_eps'] (experiments/figures/offline/config.py): the central-difference "
          "step, in log space, of the offline hypergradient check (also medium and paper scale)", 1e-6,
          (1e-4, 1e-5, 1e-6, 1e-7),
          "hypergrad_forward_vs_finite_differences: max relative error < 1e-4",
          "max relative error", offline_check_eps,
          "at 1e-5 a ReLU kink inside the stencil was seen to cost a 4e-3 error (with an earlier configuration; the table "
          "is the present one's)"),
)}


def measure(name, data_dir=None, workers=2, out=None):
    """Measure TUNED[name] at every value and write its JSON (default: the source tree's FOLDER); returns it."""
    tuned = TUNED[name]
    rows, dataset = tuned.measure(tuned.values, data_dir, workers)
    commit, dirty = git_state()
    record = {"name": name, "setting": tuned.setting, "chosen": tuned.chosen, "check": tuned.check,
              "quantity": tuned.quantity, "why": tuned.why, "rows": rows, "dataset": dataset,
              "command": tuned.command() + (" --data-dir DIR" if data_dir else ""),
              "measured": {"date": datetime.date.today().isoformat(), "git_commit": commit, "git_dirty": dirty}}
    target = out or tuned.path()
    os.makedirs(os.path.dirname(os.path.abspath(target)), exist_ok=True)
    atomic_write_json(target, record)
    return record


def stored(name, root=None):
    """The stored measurement of TUNED[name], or None when it has not been measured."""
    try:
        with open(TUNED[name].path(root), encoding="utf-8") as handle:
            return json.load(handle)
    except FileNotFoundError:
        return None


def _fmt(x):
    return "diverged" if x is None else f"{x:.3g}"


def section(root=None):
    """REPORT.md's "Tuned settings" section: one table per entry of TUNED, from its stored measurement."""
    lines = ["## Tuned settings", "",
             "Settings chosen after seeing a check's outcome (marked \"tuned\" in their configuration), with the check's "
             "outcome at every value tried. The check's threshold did not move. Each table is measured by the command "
             "under it and stored in `experiments/sensitivity/` (not recomputed by `shb reproduce`).", ""]
    for name, tuned in TUNED.items():
        record = stored(name, root)
        lines += [f"### {tuned.setting}", "", f"Chosen: {tuned.chosen:g}, against the check {tuned.check}; "
                  f"{tuned.why}.", ""]
        if record is None:
            lines += [f"Not measured yet: run `{tuned.command()}`.", ""]
            continue
        extra = [key for key in ("alpha_eff_fall", "final_train_loss") if key in record["rows"][0]]
        row = lambda cells: "| " + " | ".join(cells) + " |"  # noqa: E731
        lines += [row(["value", record["quantity"], "check"] + [k.replace("_", " ") for k in extra]),
                  row(["---"] * (3 + len(extra)))]
        lines += [row([f"{r['value']:g}" + (" (chosen)" if r["value"] == tuned.chosen else ""), _fmt(r["quantity"]),
                       "PASS" if r["passed"] else "FAIL"] + [_fmt(r[k]) for k in extra]) for r in record["rows"]]
        m = record["measured"]
        lines += ["", f"Regenerate: `{record['command']}` (data set {record['dataset']}; measured {m['date']} at "
                  f"commit {m['git_commit'][:12]}{' with local changes' if m['git_dirty'] else ''}).", ""]
    return "\n".join(lines)
