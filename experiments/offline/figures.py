"""Figures 5 (meta-objective surfaces with SMD trajectories) and 6 (training with each horizon's schedule)."""
import numpy as np

from shb.experiments.offline.checks import surface_arrays
from shb.experiments.verified import plt
from shb.numeric import smd


def figure5(state, config, horizons):
    hs = config["horizons"]
    fig, axes = plt.subplots(1, len(hs), figsize=(4.2 * len(hs), 3.8), squeeze=False)
    data = {}
    for ax, h in zip(axes[0], hs):
        points, losses = surface_arrays(state, h)
        shown = np.log10(np.minimum(np.where(np.isfinite(losses), losses, np.inf), 2.5))
        x, y = np.log10(points[:, 0]), np.log10(points[:, 1])
        if len(points) >= 6:
            ax.tricontourf(x, y, shown, levels=20, cmap="viridis")
        sc = ax.scatter(x, y, c=shown, s=8, cmap="viridis", edgecolors="k", linewidths=0.2)
        for chain in state["smd"][str(h)]:
            traj = np.log10(np.array(chain["trajectory"]))
            ax.plot(traj[:, 0], traj[:, 1], "r.-", lw=1, ms=2)
            ax.plot(*np.log10(smd.averaged_hypers(chain["trajectory"])), "r*", ms=10)
        best = np.argsort(losses)[: max(3, len(losses) // 10)]
        ax.plot(x[best], y[best], ls="none", marker="X", mfc="w", mec="k", mew=0.5, ms=6,
                label="best 10% of samples")  # white with a black edge: visible on the legend too
        ax.set(title=f"horizon {h}", xlabel=r"$\log_{10}\alpha_0$", ylabel=r"$\log_{10}\beta$",
               xlim=np.log10(config["alpha0_range"]), ylim=np.log10(config["beta_range"]))
        ax.legend(fontsize=6, loc="lower left")
        fig.colorbar(sc, ax=ax, label=r"$\log_{10}$ train loss (capped at 2.5)")
        data[str(h)] = {"points": points.tolist(), "losses": losses.tolist(),
                        "trajectories": [c["trajectory"] for c in state["smd"][str(h)]]}
    fig.suptitle("Figure 5: meta-objective surfaces (random search) and SMD trajectories (red)")
    fig.tight_layout()
    return fig, data


def figure6(state, config, horizons):
    fig, ax = plt.subplots(figsize=(5.5, 4))
    data = {}
    for h in config["horizons"]:
        curve = np.array(state["curves"][str(h)], dtype=float)  # a diverged point (None) is nan: not drawn
        sched = horizons[str(h)]
        ax.plot(curve[:, 0], curve[:, 1],
                label=f"horizon {h}: $\\alpha_0$={sched['alpha0']:.3g}, $\\beta$={sched['beta']:.3g}")
        data[str(h)] = {"steps": curve[:, 0].tolist(), "train_loss": curve[:, 1].tolist(),
                        "alpha0": sched["alpha0"], "beta": sched["beta"]}
    ax.set(xscale="log", yscale="log", xlabel="training step after warm start",
           ylabel=f"train loss (first {config['eval_examples']} examples)",
           title="Figure 6: training with each horizon's schedule")
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig, data
