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


def figure(runs, smd_names, title, config, initial):
    fig, axes = plt.subplots(3, 1, figsize=(6, 8.5), sharex=True)
    curve_panel(axes, runs, smd_names, "blue", config, initial)
    curve_panel(axes, runs, ["fixed"], "red", config, initial)
    axes[0].set(yscale="log", ylabel=f"train loss (first {config['eval_train']} examples)", title=title)
    axes[1].set(yscale="log", ylabel=r"learning rate $\alpha$")
    axes[2].set(yscale="log", ylabel=r"$\alpha_{eff} = \alpha / (1 - \mu)$", xlabel="training step")
    axes[0].legend(fontsize=7)
    axes[1].text(config["adapt_steps"], axes[1].get_ylim()[0], " adaptation stops", fontsize=7, color="gray",
                 va="bottom")
    fig.tight_layout()
    data = {name: runs[name] for name in list(smd_names) + ["fixed"]}
    return fig, data
