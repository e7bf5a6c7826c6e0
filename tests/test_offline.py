"""The offline experiment end to end on tiny synthetic IDX data: outputs, checks, resume, Dask."""
import json
import os

import numpy as np
import pytest

from shb.experiments import offline
from shb.experiments.offline import checks, units
from shb.experiments.offline.config import PROGRESS_FILE, TINY, normalized, problem_spec
from shb.cli import main as shb_main
from shb.ground.errors import InputError, ProgressError

from data_writers import write_synthetic_split  # a sibling module: tests/ is on sys.path under pytest


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    directory = str(tmp_path_factory.mktemp("data"))
    write_synthetic_split(directory, n=300, shape=(4, 5), n_classes=3)
    return directory


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory, data_dir):
    out = str(tmp_path_factory.mktemp("full"))
    return out, offline.run(out, data_dir=data_dir, config=TINY)


def load(out, name):
    with open(os.path.join(out, name)) as handle:
        return json.load(handle)


def test_outputs_and_checks(uninterrupted):
    out, result = uninterrupted
    summary = load(out, "offline.json")
    assert set(summary["horizons"]) == {"5", "15"}
    for h, steps in TINY["meta_steps"].items():
        entry = summary["horizons"][h]
        assert len(entry["trajectory"]) == steps + 1
        tail = np.log(entry["trajectory"][(steps + 1) // 2:])  # iterate average over the last half
        np.testing.assert_allclose([entry["alpha0"], entry["beta"]], np.exp(tail.mean(axis=0)), rtol=1e-12)
        assert entry["last_iterate"] == entry["trajectory"][-1]
        assert entry["trajectory"][0] in TINY["smd_inits"]
        assert len(entry["chains"]) == 2 and np.isfinite(entry["final_train_loss"])
    assert result.figures == ["fig5", "fig6"]
    for name in result.figures:
        sidecar = load(out, name + ".json")
        assert sidecar["checks"] and os.path.getsize(os.path.join(out, name + ".png")) > 1000
    assert result.passed == all(c["passed"] for c in summary["checks"])
    names = [c["name"] for c in summary["checks"]]
    assert "hypergrad_forward_vs_finite_differences" in names and "short_horizon_bias_beta_T5_vs_T15" in names
    hc = next(c for c in summary["checks"] if c["name"] == "hypergrad_forward_vs_finite_differences")
    assert hc["passed"] and summary["hypergrad_check"]["max_rel_error"] < 1e-4
    assert "| claim | paper" in result.report and "shb offline --scale" in result.report


def test_trajectory_follows_adam_on_the_recorded_hypergradients(uninterrupted):
    # Replays MetaStep: each recorded point must be one Adam step from the previous on that meta-gradient.
    from shb.numeric.optim import adam

    out, _ = uninterrupted
    chain = load(out, "offline.json")["horizons"]["5"]["chains"][1]
    init, update = adam(TINY["meta_lr"])
    x = np.log(chain["trajectory"][0])
    state = init(x)
    for g, point in zip(chain["hypergrads"], chain["trajectory"][1:]):
        g = np.array(g)
        g = g * min(1.0, TINY["meta_grad_clip"] / np.linalg.norm(g))
        x, state = update(g, state, x)
        np.testing.assert_allclose(np.exp(x), point, rtol=1e-12)


def test_resume_after_interruption_gives_the_same_results(tmp_path, data_dir, uninterrupted):
    # Catches lost or repeated work units and seeds that depend on the session.
    out = str(tmp_path)
    for limit in (4, 7, 3):
        partial = offline.run(out, data_dir=data_dir, config=TINY, stop_after=limit)
        assert not partial.complete and not os.path.exists(os.path.join(out, "offline.json"))
    progress = load(out, PROGRESS_FILE)
    done = sum(len(v) for v in progress["surface"]["losses"].values())
    done += sum(len(c["meta_losses"]) for cs in progress["smd"].values() for c in cs)
    done += sum(len(v) for v in progress["smd_eval"].values()) + len(progress["curves"])
    done += progress["hypergrad_check"] is not None
    assert done == 14
    offline.run(out, data_dir=data_dir, config=TINY)
    full_out, _ = uninterrupted
    assert load(out, "offline.json")["horizons"] == load(full_out, "offline.json")["horizons"]
    assert load(out, PROGRESS_FILE) == load(full_out, PROGRESS_FILE)


def test_progress_from_another_configuration_is_refused(tmp_path, data_dir):
    offline.run(str(tmp_path), data_dir=data_dir, config=TINY, stop_after=1)
    with pytest.raises(ProgressError, match="different configuration"):
        offline.run(str(tmp_path), data_dir=data_dir, config=dict(TINY, seed=1), stop_after=1)


def test_dask_local_cluster_gives_the_in_process_results(tmp_path, data_dir, uninterrupted):
    from distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False, protocol="tcp", host="127.0.0.1",
                      dashboard_address=None) as cluster:
        offline.run(str(tmp_path), data_dir=data_dir, config=TINY, scheduler=cluster.scheduler_address)
    full_out, _ = uninterrupted
    assert load(str(tmp_path), "offline.json")["horizons"] == load(full_out, "offline.json")["horizons"]


def state_with(beta_short, beta_long, surface_betas):
    """A finished state whose SMD ends at the given betas and whose surface minima sit at surface_betas."""
    config = normalized(dict(TINY, surface_samples=4))
    state = units.fresh_state(config)
    points = []
    for h, (b_smd, b_surf) in zip(config["horizons"], zip((beta_short, beta_long), surface_betas)):
        for j, chain in enumerate(state["smd"][str(h)]):
            chain["trajectory"].append([0.05, b_smd])
            state["smd_eval"][str(h)][str(j)] = [1.0, 0.5 + j]
        points = [[0.05, b] for b in (0.01, 0.1, 1.0, 100.0)]
        state["surface"]["losses"][str(h)] = {str(i): abs(np.log(p[1] / b_surf)) for i, p in enumerate(points)}
        state["curves"][str(h)] = [[1, 1.0], [15, 0.5]]
    state["surface"]["points"] = points
    state["hypergrad_check"] = {"max_rel_error": 1e-9, "max_rel_error_reverse": 0.0, "horizon": 4,
                                "at": {"alpha0": 0.01, "beta": 1.0}}
    return state, config


@pytest.mark.parametrize("beta_short, beta_long, surface, bias_ok, agree_ok", [
    (40.0, 10.0, (100.0, 1.0), True, True),
    (20.0, 10.0, (100.0, 1.0), False, True),   # ratio 2 < 3
    (40.0, 10.0, (1.0, 100.0), True, False),   # surface says the opposite
])
def test_bias_and_agreement_checks(beta_short, beta_long, surface, bias_ok, agree_ok):
    state, config = state_with(beta_short, beta_long, surface)
    horizons = checks.summarize(state, config)
    passed = {c["name"]: c["passed"] for c in checks.figure5_checks(state, config, horizons)}
    assert passed["short_horizon_bias_beta_T5_vs_T15"] is bias_ok
    assert passed["surface_agrees_with_smd_T5_vs_T15"] is agree_ok
    assert passed["smd_decreased_meta_objective_T5_init0"] and not passed["smd_decreased_meta_objective_T5_init1"]


def test_float32_training_keeps_a_float64_hypergradient_check(tmp_path, data_dir, uninterrupted):
    # Catches a check that silently runs in the training dtype, and a float32 run that does not train in float32.
    from shb.numeric import smd

    out = str(tmp_path)
    offline.run(out, data_dir=data_dir, config=TINY, dtype="float32")
    full_out, _ = uninterrupted
    summary32, summary = load(out, "offline.json"), load(full_out, "offline.json")
    assert summary32["config"]["dtype"] == "float32" and "dtype" not in summary["config"]
    assert summary32["hypergrad_check"] == summary["hypergrad_check"]  # float64 either way: the same numbers
    progress32, progress = load(out, PROGRESS_FILE), load(full_out, PROGRESS_FILE)
    for h in ("5", "15"):
        losses32, losses = progress32["surface"]["losses"][h], progress["surface"]["losses"][h]
        assert losses32 != losses  # computed in float32 ...
        np.testing.assert_allclose([losses32[i] for i in sorted(losses)], [losses[i] for i in sorted(losses)],
                                   rtol=1e-4)  # ... to float32 precision
    problem32 = smd.build_problem(problem_spec(summary32["config"], data_dir))
    assert problem32.theta0.dtype == problem32.v0.dtype == np.float32
    with pytest.raises(InputError, match="unknown dtype"):
        offline.run(out, data_dir=data_dir, config=TINY, dtype="float16")


def test_cli_bad_scale_is_exit_2_one_line(tmp_path, capsys):
    assert shb_main(["offline", "--scale", "huge", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "'huge'" in err and not os.listdir(tmp_path)


def test_clip_norm():
    from shb.numeric.smd import clip_norm

    np.testing.assert_allclose(clip_norm(np.array([3.0, -4.0]), 1.0), [0.6, -0.8])
    np.testing.assert_array_equal(clip_norm(np.array([0.3, 0.4]), 1.0), [0.3, 0.4])


def test_each_meta_step_gets_fresh_minibatches_and_surface_shares_one_sequence():
    # Algorithm 1: every meta-gradient comes from a new training run (a new seed per meta-step);
    # the surface uses common random numbers (one seed per horizon).
    config = normalized(TINY)
    state = units.fresh_state(config)
    spec = problem_spec(config, "unused")
    seeds = set()
    for m in range(2):  # TINY runs 2 meta-steps at T=15
        ready = {u.key: u.args for u in units.ready_units(state, config, spec)}
        smd_seeds = [ready[("smd", h, j)][3] for h in config["horizons"] for j in range(2)]
        seeds.update(smd_seeds)
        for chains in state["smd"].values():
            for chain in chains:
                chain["meta_losses"].append(0.0)
    assert len(seeds) == 2 * 2 * 2
    surface = [u.args[4] for u in units.ready_units(state, config, spec) if u.key[0] == "surface"]
    assert len(set(surface)) == len(config["horizons"]) and len(surface) == 2 * config["surface_samples"]
