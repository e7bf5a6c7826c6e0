"""The structure of the offline progress file (OUT/offline_progress.json), checked before a resume uses it.

A file that parses but is wrong inside (a part of the wrong kind, a horizon the configuration does not have, a
sample or chain beyond its counts, lists whose lengths disagree) would otherwise end in a traceback somewhere in
the run, or in wrong numbers; `validate` says in one line where it is wrong (shb.ground.schema.Invalid, which
experiments/runner.py's load_progress turns into a ProgressError naming the file). The configuration and the
data's fingerprint ("config", "inputs") are compared before this, by load_progress.
"""
from shb.experiments.figures.offline.chains import n_chains
from shb.ground import schema as s

KEYS = ("config", "inputs", "hypergrad_check", "surface", "smd", "smd_eval", "smd_surface", "curves")
CHAIN_KEYS = ("log_hypers", "adam", "trajectory", "meta_losses", "hypergrads")


def validate(state, config):
    """schema.Invalid naming the first place where `state` is not a progress state of `config` (units.fresh_state
    and units.record make them)."""
    s.obj(state, "the progress", KEYS)
    horizons = [str(h) for h in config["horizons"]]
    if state["hypergrad_check"] is not None:
        s.obj(state["hypergrad_check"], "hypergrad_check", required=("max_rel_error",))
        s.number(state["hypergrad_check"]["max_rel_error"], "hypergrad_check.max_rel_error", nullable=True)
    surface(state["surface"], config, horizons)
    smd = s.obj(state["smd"], "smd", horizons)
    for h in horizons:
        n = n_chains(config, int(h))
        chains = s.listing(smd[h], f"smd.{h}")
        if len(chains) != n and (chains or int(h) not in config["surface_starts"]):
            s.fail(f"smd.{h}", f"a list of {n} chains" + (" (or none yet)" if int(h) in config["surface_starts"]
                                                          else ""), chains)
        for j, chain in enumerate(chains):
            check_chain(chain, f"smd.{h}[{j}]", config["meta_steps"][h])
    for part in ("smd_eval", "smd_surface"):
        evaluations = s.obj(state[part], part, horizons)
        for h in horizons:
            for j, value in s.keys_within(evaluations[h], f"{part}.{h}", {str(j) for j in range(len(smd[h]))}).items():
                if part == "smd_eval":
                    s.obj(value, f"{part}.{h}.{j}", ("start", "end"))
                    for point in ("start", "end"):
                        s.numbers(value[point], f"{part}.{h}.{j}.{point}", config["eval_seeds"], nullable=True)
                else:
                    s.number(value, f"{part}.{h}.{j}", nullable=True)
    sequences = {str(i) for i in range(config["curve_seeds"])}
    for h, curves in s.obj(state["curves"], "curves", horizons).items():
        for i, curve in s.keys_within(curves, f"curves.{h}", sequences).items():
            for k, point in enumerate(s.listing(curve, f"curves.{h}.{i}")):
                s.listing(point, f"curves.{h}.{i}[{k}]", 3)
                s.integer(point[0], f"curves.{h}.{i}[{k}][0]", low=1)
                s.numbers(point[1:], f"curves.{h}.{i}[{k}][1:]", nullable=True)


def surface(part, config, horizons):
    """surface: {"points": [surface_samples x (alpha0, beta) > 0], "losses": {horizon: {sample: loss or null}}},
    every horizon holding the same samples (one run gives them all)."""
    n = config["surface_samples"]
    s.obj(part, "surface", ("points", "losses"))
    for i, point in enumerate(s.listing(part["points"], "surface.points", n)):
        s.numbers(point, f"surface.points[{i}]", 2, positive=True)
    losses = s.obj(part["losses"], "surface.losses", horizons)
    samples = {str(i) for i in range(n)}
    for h in horizons:
        for i, loss in s.keys_within(losses[h], f"surface.losses.{h}", samples).items():
            s.number(loss, f"surface.losses.{h}.{i}", nullable=True)
        if set(losses[h]) != set(losses[horizons[0]]):
            raise s.Invalid(f"surface.losses.{h} holds other samples than surface.losses.{horizons[0]}")


def check_chain(chain, where, most_steps):
    """An SMD chain (numeric/meta/smd.py new_chain, smd_meta_step): m meta-losses and hypergradients (m at most the
    horizon's meta_steps), m + 1 points of its trajectory, its log-hyperparameters and Adam's state."""
    s.obj(chain, where, CHAIN_KEYS)
    s.numbers(chain["log_hypers"], f"{where}.log_hypers", 2)
    adam = s.obj(chain["adam"], f"{where}.adam", ("step", "m", "v"))
    s.integer(adam["step"], f"{where}.adam.step")
    s.numbers(adam["m"], f"{where}.adam.m", 2)
    s.numbers(adam["v"], f"{where}.adam.v", 2, low=0)
    m = len(s.numbers(s.listing(chain["meta_losses"], f"{where}.meta_losses", most=most_steps),
                      f"{where}.meta_losses", nullable=True))
    for k, point in enumerate(s.listing(chain["trajectory"], f"{where}.trajectory", m + 1)):
        s.numbers(point, f"{where}.trajectory[{k}]", 2, positive=True)
    for k, g in enumerate(s.listing(chain["hypergrads"], f"{where}.hypergrads", m)):
        s.numbers(g, f"{where}.hypergrads[{k}]", 2, nullable=True)
