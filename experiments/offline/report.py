"""The offline experiment's section of REPORT.md and its rows of the paper-vs-toolkit table."""
from shb.experiments.common import paper_row
from shb.experiments.offline.config import PROGRESS_FILE
from shb.numeric.smd import diverged_as_inf


def final_loss(horizon):
    """The train loss of a horizon's schedule at the last step (+inf if its training diverged)."""
    return diverged_as_inf(horizon["final_train_loss"])


def paper_rows(scale, config, horizons):
    """The report's 'paper vs this toolkit' rows: the paper compares horizons 100 and 20k on MNIST."""
    longest, shortest = str(max(config["horizons"])), str(min(config["horizons"]))
    command = f"shb offline --scale {scale} --out DIR"
    beta_ratio = horizons[shortest]["beta"] / horizons[longest]["beta"]
    loss_ratio = final_loss(horizons[shortest]) / final_loss(horizons[longest])
    note = f"horizons {shortest} vs {longest} on Fashion-MNIST; the paper: 100 vs 20k on MNIST"
    return [paper_row("offline SMD: beta(shortest horizon) / beta(longest)", "over 100", float(beta_ratio), command,
                      note=note),
            paper_row("offline SMD: train loss of the shortest horizon's schedule / the longest's", "over 1000",
                      float(loss_ratio), command, note=f"at {longest} steps; the paper: at 20k steps")]


def report(scale, config, horizons, checks, seconds, data_dir):
    hs = config["horizons"]
    longest, shortest = max(hs), min(hs)
    beta_ratio = horizons[str(shortest)]["beta"] / horizons[str(longest)]["beta"]
    loss_ratio = final_loss(horizons[str(shortest)]) / final_loss(horizons[str(longest)])
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
        s, e = map(diverged_as_inf, r["meta_objective_start_end"])
        lines.append(f"| {h} | {r['alpha0']:.4g} | {r['beta']:.4g} | {s:.4f} -> {e:.4f} | {final_loss(r):.4g} |")
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
