"""Figures 7 (stochastic lookahead) and 8 (deterministic lookahead): train loss, learning rate and alpha_eff."""
import numpy as np

from shb.experiments.verified import plt


def curve_panel(axes, runs, names, color, config, initial):
    for j, name in enumerate(names):
        log = runs[name]
        steps = np.asarray(log["step"])
        loss = np.array([np.nan if x is None else x for x in log["train_loss"]], dtype=float)
        label = f"{name} (initial lr {initial[name]:.3g})"
        shade = color if len(names) == 1 else plt.get_cmap("Blues")(0.45 + 0.55 * j / max(len(names) - 1, 1))
        c = shade if color == "blue" else color
        axes[0].plot(steps, loss, color=c, label=label)
        axes[1].plot(steps, log["lr"], color=c, label=label)
        axes[2].plot(steps, np.asarray(log["lr"]) / (1.0 - np.asarray(log["mu"])), color=c, label=label)
    for ax in axes:
        ax.axvline(config["adapt_steps"], color="gray", ls=":", lw=1)


def figure(outcomes, kind, title):
    """Figure 7 (kind "stochastic": the stochastic-lookahead SMD runs) or 8 ("deterministic") with the fixed-lr
    baseline: one column per panel (experiments/figures/online/panel.py), rows train loss, alpha and alpha_eff.

    Returns (figure, data): data {run: log} for one panel, {net: {run: log}} for several.
    """
    many = len(outcomes) > 1
    fig, grid = plt.subplots(3, len(outcomes), figsize=(6 * len(outcomes), 8.5), sharex="col", squeeze=False)
    data = {}
    for axes, o in zip(grid.T, outcomes):
        names = o.stochastic_names if kind == "stochastic" else ["deterministic"]
        curve_panel(axes, o.runs, names, "blue", o.config, o.initial)
        curve_panel(axes, o.runs, ["fixed"], "red", o.config, o.initial)
        where = f"{o.net.upper()}, {o.dataset}" if many else f"{title} ({o.net}, {o.dataset})"
        n_train = o.config["eval_train"] if o.inputs is None else min(o.config["eval_train"],
                                                                      o.inputs["train"]["examples"])
        axes[0].set(yscale="log", ylabel=f"train loss (first {n_train} examples)", title=where)
        axes[1].set(yscale="log", ylabel=r"learning rate $\alpha$")
        axes[2].set(yscale="log", ylabel=r"$\alpha_{eff} = \alpha / (1 - \mu)$", xlabel="training step")
        axes[0].legend(fontsize=7)
        axes[1].text(o.config["adapt_steps"], axes[1].get_ylim()[0], " adaptation stops", fontsize=7, color="gray",
                     va="bottom")
        logs = {name: o.runs[name] for name in list(names) + ["fixed"]}
        if many:
            data[o.net] = logs
        else:
            data = logs
    if many:
        fig.suptitle(title)
    fig.tight_layout()
    return fig, data
