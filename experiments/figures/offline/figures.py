"""Figures 5 (meta-objective surfaces with SMD trajectories) and 6 (training with each horizon's schedule).

Figure 5: one panel per horizon T; the surface samples' J_T (log10, capped at 2.5, linearly interpolated between
samples), the best 10% of the samples marked, each SMD chain's trajectory in red with its averaged end point (star).
Figure 6: each horizon's chosen schedule trained for curve_steps steps on curve_seeds minibatch sequences: the mean
training loss (evaluation subset) and test error against the step, with a band of +- one sample standard deviation
over the sequences (noise.py; the paper's Figure 6 spans 20k steps, one run per horizon).
"""
import numpy as np

from shb.experiments.figures.offline.chains import best_region
from shb.experiments.figures.offline.checks import surface_arrays
from shb.experiments.verified import plt
from shb.numeric.meta import smd


def figure5(state, config, horizons, dataset):
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
        best = best_region(losses)
        ax.plot(x[best], y[best], ls="none", marker="X", mfc="w", mec="k", mew=0.5, ms=6,
                label="best 10% of samples")  # white with a black edge: visible on the legend too
        ax.set(title=f"horizon {h}", xlabel=r"$\log_{10}\alpha_0$", ylabel=r"$\log_{10}\beta$",
               xlim=np.log10(config["alpha0_range"]), ylim=np.log10(config["beta_range"]))
        ax.legend(fontsize=6, loc="lower left")
        fig.colorbar(sc, ax=ax, label=r"$\log_{10}$ train loss (capped at 2.5)")
        data[str(h)] = {"points": points.tolist(), "losses": losses.tolist(),
                        "trajectories": [c["trajectory"] for c in state["smd"][str(h)]]}
    fig.suptitle(f"Figure 5: meta-objective surfaces ({len(losses)} random samples, one minibatch sequence) and "
                 f"SMD trajectories (red); {dataset}")
    fig.tight_layout()
    return fig, data


def figure6(state, config, horizons, dataset, inputs):
    """Figure 6; `inputs` the data's fingerprint (config.read_data): the examples the evaluation subsets hold."""
    fig, (ax_loss, ax_err) = plt.subplots(1, 2, figsize=(10, 4))
    data = {}
    for h in config["horizons"]:
        curves = [state["curves"][str(h)][str(s)] for s in range(config["curve_seeds"])]
        steps = [p[0] for p in curves[0]]  # the same marks for every sequence
        sched = horizons[str(h)]
        label = f"horizon {h}: $\\alpha_0$={sched['alpha0']:.3g}, $\\beta$={sched['beta']:.3g}"
        for ax, column in ((ax_loss, 1), (ax_err, 2)):
            values = np.array([[np.nan if p[column] is None else p[column] for p in c] for c in curves], dtype=float)
            mean, sd = values.mean(axis=0), values.std(axis=0, ddof=1)  # a diverged point (nan): not drawn
            line, = ax.plot(steps, mean, label=label)
            ax.fill_between(steps, mean - sd, mean + sd, color=line.get_color(), alpha=0.25, lw=0)
        data[str(h)] = {"steps": steps, "train_loss": [[p[1] for p in c] for c in curves],
                        "test_error": [[p[2] for p in c] for c in curves], "alpha0": sched["alpha0"],
                        "beta": sched["beta"]}
    n_train = min(config["eval_examples"], inputs["train"]["examples"])
    n_test = min(config["test_examples"], inputs["test"]["examples"])
    ax_loss.set(xscale="log", yscale="log", xlabel="training step after warm start",
                ylabel=f"train loss (first {n_train} examples)")
    ax_err.set(xscale="log", xlabel="training step after warm start",
               ylabel=f"test error (first {n_test} test examples)")
    ax_loss.legend(fontsize=7)
    fig.suptitle(f"Figure 6: training with each horizon's schedule for {config['curve_steps']} steps; mean and +-1 sample "
                 f"standard deviation over {config['curve_seeds']} minibatch sequences; {dataset}", fontsize=9)
    fig.tight_layout()
    return fig, data
