"""SMD chains of the offline experiment: where they start, when they stop, what they choose (Section 3.2).

A chain is Algorithm 1's outer loop for one horizon T: meta-steps (numeric/meta/smd.py `smd_meta_step`), each one
training run with fresh minibatches, one exact meta-gradient of J_T and one Adam step in log space.

Starts. Chains of the horizons in `surface_starts` start from the meta-objective surface: at the best of its first
`surface_start_samples` samples at that horizon, and at the centre (geometric mean of alpha0 and of beta) of the
best 10% (at least 3) of them. Only those first samples decide, so the starts do not depend on which samples happen
to finish first: a resumed run starts its chains at the same points. Other horizons start at `smd_inits`.

Stopping rule. With window W = stop_window[T], a chain stops after meta-step m when m >= meta_steps[T], or when
m >= 2W and

    mean(J samples of meta-steps m-W+1 .. m) >= mean(J samples of meta-steps m-2W+1 .. m-W),

i.e. its meta-objective has stopped improving at the resolution of W samples (each J sample is the meta-loss of
one meta-step's training run; a diverged run, saved as null, counts as inf). Without a window a chain takes all
meta_steps[T].

Choice. A chain's result is the iterate average over the last half of its trajectory (`smd.averaged_hypers`);
a horizon's schedule is the result of its chain whose end point evaluated best (J_T, the mean over the same
eval_seeds sequences for all).
"""
import numpy as np

from shb.experiments.figures.offline import noise
from shb.numeric.meta import smd


def best_region(losses, fraction=0.1, minimum=3):
    """Indices of the best `fraction` (at least `minimum`, at most all) of `losses`, best first."""
    losses = np.asarray(losses, dtype=float)
    count = min(len(losses), max(minimum, int(len(losses) * fraction)))
    return np.argsort(losses, kind="stable")[:count]


def surface_starts(state, config, horizon):
    """[(alpha0, beta)] where the chains of a surface-started horizon begin: the best of the first
    surface_start_samples samples, and the geometric centre of their best 10%."""
    n = config["surface_start_samples"]
    points = np.array(state["surface"]["points"][:n], dtype=float)
    losses = [smd.diverged_as_inf(state["surface"]["losses"][str(horizon)][str(i)]) for i in range(n)]
    region = best_region(losses)
    centre = np.exp(np.log(points[region]).mean(axis=0))
    return [points[region[0]].tolist(), centre.tolist()]


def prefix_done(state, config):
    """The surface samples that decide the starts are all done."""
    losses = state["surface"]["losses"][str(config["horizons"][0])]
    return all(str(i) in losses for i in range(config["surface_start_samples"]))


def start_chains(state, config):
    """Create the surface-started chains once their surface samples are done (idempotent); True if it did."""
    pending = [h for h in config["surface_starts"] if not state["smd"][str(h)]]
    if not pending or not prefix_done(state, config):
        return False
    for h in pending:
        state["smd"][str(h)] = [smd.new_chain(*start) for start in surface_starts(state, config, h)]
    return True


def n_chains(config, horizon):
    return 2 if horizon in config["surface_starts"] else len(config["smd_inits"])


def chain_finished(chain, config, horizon):
    """The stopping rule (module docstring)."""
    losses = np.array([smd.diverged_as_inf(x) for x in chain["meta_losses"]], dtype=float)
    m = len(losses)
    if m >= config["meta_steps"][str(horizon)]:
        return True
    window = config["stop_window"].get(str(horizon))
    if not window or m < 2 * window:
        return False
    recent, before = losses[m - window:], losses[m - 2 * window: m - window]
    with np.errstate(invalid="ignore"):
        return not bool(np.mean(recent) < np.mean(before))  # inf or nan: not an improvement


def chains_finished(state, config, horizon):
    """Every chain of this horizon exists and has stopped."""
    chains = state["smd"][str(horizon)]
    return bool(chains) and all(chain_finished(c, config, horizon) for c in chains)


def chosen_schedule(state, horizon):
    """SMD's (alpha0, beta) for this horizon: the averaged end point of the chain that evaluated best."""
    evals = state["smd_eval"][str(horizon)]
    best = min(range(len(state["smd"][str(horizon)])), key=lambda j: noise.mean(evals[str(j)]["end"]))
    return smd.averaged_hypers(state["smd"][str(horizon)][best]["trajectory"]), best
