"""The offline experiment end to end on tiny synthetic IDX data: outputs, checks, resume (also after SIGKILL), Dask,
and its pieces: the shared surface run, the training curve, the chains' starts and stopping rule, the cost model.
The checks on hand-made states: tests/test_offline_checks.py."""
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from shb.experiments.figures import offline
from shb.experiments.figures.offline import chains, cost, units
from shb.experiments.figures.offline.config import MEDIUM, PAPER, PROGRESS_FILE, QUICK, TINY, normalized, problem_spec
from shb.cli import main as shb_main
from shb.ground.errors import InputError, ProgressError
from shb.numeric.meta import smd
from shb.numeric.networks import training

from data_writers import write_synthetic_split  # a sibling module: tests/ is on sys.path under pytest


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    directory = str(tmp_path_factory.mktemp("data"))
    write_synthetic_split(directory, n=300, shape=(4, 5), n_classes=3)
    write_synthetic_split(directory, "test", n=100, shape=(4, 5), n_classes=3, seed=1)
    return directory


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory, data_dir):
    out = str(tmp_path_factory.mktemp("full"))
    lines = []
    result = offline.run(out, data_dir=data_dir, config=TINY, log=lines.append)
    result.log = lines
    return out, result


def load(out, name):
    with open(os.path.join(out, name)) as handle:
        return json.load(handle)


def quiet(**kwargs):
    return offline.run(log=lambda line: None, **kwargs)


@pytest.mark.slow
def test_outputs_and_checks(uninterrupted, data_dir):
    out, result = uninterrupted
    summary = load(out, "offline.json")
    assert set(summary["horizons"]) == {"5", "15"}
    progress = load(out, PROGRESS_FILE)
    for h in ("5", "15"):
        entry = summary["horizons"][h]
        for chain in entry["chains"]:
            steps = len(chain["meta_losses"])
            assert len(chain["trajectory"]) == steps + 1 and steps <= TINY["meta_steps"][h]
        steps = len(entry["trajectory"]) - 1
        tail = np.log(entry["trajectory"][(steps + 1) // 2:])  # iterate average over the last half
        np.testing.assert_allclose([entry["alpha0"], entry["beta"]], np.exp(tail.mean(axis=0)), rtol=1e-12)
        assert entry["last_iterate"] == entry["trajectory"][-1]
        assert len(entry["chains"]) == 2 and np.isfinite(entry["final_train_loss"])
        assert 0 <= entry["final_test_error"] <= 1 and entry["final_train_loss_steps"] == TINY["curve_steps"]
        assert entry["meta_steps"] == [len(c["meta_losses"]) for c in entry["chains"]]
    assert [c["trajectory"][0] for c in summary["horizons"]["5"]["chains"]] == TINY["smd_inits"]
    assert [c["trajectory"][0] for c in summary["horizons"]["15"]["chains"]] == chains.surface_starts(
        progress, normalized(TINY), 15)
    assert sorted(progress["curves"]["15"]) == [str(s) for s in range(TINY["curve_seeds"])]
    curve = progress["curves"]["15"]["0"]
    assert curve[-1][0] == TINY["curve_steps"] and len(curve[0]) == 3
    assert result.figures == ["fig5", "fig6"]
    for name in result.figures:
        sidecar = load(out, name + ".json")
        assert sidecar["evidence"] and os.path.getsize(os.path.join(out, name + ".png")) > 1000
    assert set(load(out, "fig6.json")["data"]["15"]) >= {"steps", "train_loss", "test_error"}
    assert result.passed == all(c["passed"] for c in summary["checks"])
    names = [c["name"] for c in summary["checks"]]
    for name in ("hypergrad_forward_vs_finite_differences", "short_horizon_bias_beta_T5_vs_T15",
                 "beta_falls_with_horizon", "smd_end_in_best_50pct_of_surface_T15",
                 "shortest_horizon_highest_beyond_noise_at_30_steps",
                 "longest_horizon_within_noise_of_lowest_at_30_steps", "smd_not_worse_beyond_noise_T15_init1"):
        assert name in names
    hc = next(c for c in summary["checks"] if c["name"] == "hypergrad_forward_vs_finite_differences")
    assert hc["passed"] and summary["hypergrad_check"]["max_rel_error"] < 1e-4
    assert "| claim | paper" in result.report and "shb offline --scale" in result.report
    # The start of a run says what a unit costs and the work left (measured here): catches a projection left out.
    assert [line.split(":")[0] for line in result.log] == ["offline"] * 3
    assert "cost per unit: surface sample" in result.log[1] and "CPU-hours" in result.log[2]
    assert summary["dataset"] == f"IDX data in {data_dir}"  # neither MNIST's nor Fashion-MNIST's class counts
    timings = load(out, "offline_timings.json")
    assert sum(e["n"] for e in timings["units"].values()) == units.units_done(progress)
    assert timings["units"]["surface"]["n"] == TINY["surface_samples"]  # by kind of unit, not one entry per sample


def test_trajectory_follows_adam_on_the_recorded_hypergradients(uninterrupted):
    # Replays MetaStep: each recorded point must be one Adam step from the previous on that meta-gradient.
    from shb.numeric.optim import adam

    out, _ = uninterrupted
    chain = load(out, "offline.json")["horizons"]["5"]["chains"][1]
    init, update = adam(TINY["meta_lr"]["5"])
    x = np.log(chain["trajectory"][0])
    state = init(x)
    for g, point in zip(chain["hypergrads"], chain["trajectory"][1:]):
        g = np.array(g)
        g = g * min(1.0, TINY["meta_grad_clip"] / np.linalg.norm(g))
        x, state = update(g, state, x)
        np.testing.assert_allclose(np.exp(x), point, rtol=1e-12)


def test_chains_stop_by_the_rule_and_the_totals_add_up(uninterrupted):
    # Catches a chain that runs past its stopping rule or stops before it, and a progress total that miscounts.
    out, _ = uninterrupted
    progress, config = load(out, PROGRESS_FILE), normalized(TINY)
    for h in config["horizons"]:
        for chain in progress["smd"][str(h)]:
            assert chains.chain_finished(chain, config, h)
            shorter = dict(chain, meta_losses=chain["meta_losses"][:-1])
            assert not chains.chain_finished(shorter, config, h)  # it stopped at the first meta-step the rule allows
    assert cost.remaining_units(progress, config) == [] and cost.cost_left(progress, config) == 0
    fresh = units.fresh_state(config)
    n = 1 + TINY["surface_samples"] + sum(
        chains.n_chains(config, h) * (TINY["meta_steps"][str(h)] + 2) + TINY["curve_seeds"] for h in TINY["horizons"])
    assert sum(count for _, count in cost.remaining_units(fresh, config)) == n


@pytest.mark.slow
def test_resume_after_interruption_gives_the_same_results(tmp_path, data_dir, uninterrupted):
    # Catches lost or repeated work units and seeds that depend on the session.
    out = str(tmp_path)
    for limit in (4, 9, 3):
        partial = quiet(out_dir=out, data_dir=data_dir, config=TINY, stop_after=limit)
        assert not partial.complete and not os.path.exists(os.path.join(out, "offline.json"))
    assert units.units_done(load(out, PROGRESS_FILE)) == 16
    # Other data of the same shapes and sizes is refused, naming what differs, and changes nothing: catches a
    # resume that finishes one data set's progress on another (the run labelled with the second data set
    # and holding the first one's numbers).
    other = str(tmp_path / "other")
    write_synthetic_split(other, n=300, shape=(4, 5), n_classes=3, seed=7)
    write_synthetic_split(other, "test", n=100, shape=(4, 5), n_classes=3, seed=8)
    before = open(os.path.join(out, PROGRESS_FILE), "rb").read()
    with pytest.raises(ProgressError, match=r"made from other data \(test\.sha256: .*; train\.sha256: "):
        quiet(out_dir=out, data_dir=other, config=TINY)
    assert open(os.path.join(out, PROGRESS_FILE), "rb").read() == before
    # The same data read from another directory resumes (what decides the numbers is compared, not the path).
    moved = str(tmp_path / "moved")
    shutil.copytree(data_dir, moved)
    quiet(out_dir=out, data_dir=moved, config=TINY)
    full_out, _ = uninterrupted
    assert load(out, "offline.json")["horizons"] == load(full_out, "offline.json")["horizons"]
    assert load(out, PROGRESS_FILE) == load(full_out, PROGRESS_FILE)


@pytest.mark.slow
def test_killed_at_any_moment_and_rerun_gives_the_same_results(tmp_path, data_dir, uninterrupted):
    # The command killed with SIGKILL (no clean-up) after k units, for several k, then rerun to the end: catches
    # progress written non-atomically (a torn file), and state kept only in memory between units.
    out = str(tmp_path / "out")
    command = [sys.executable, "-m", "shb.cli", "offline", "--scale", "tiny", "--data-dir", data_dir, "--out", out]
    for k in (3, 11, 20):
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        while process.poll() is None:
            try:
                if units.units_done(load(out, PROGRESS_FILE)) >= k:
                    break
            except (OSError, ValueError):  # not written yet
                pass
            time.sleep(0.01)
        process.send_signal(signal.SIGKILL)
        process.wait()
    assert units.units_done(load(out, PROGRESS_FILE)) >= 20
    subprocess.run(command, check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    full_out, _ = uninterrupted
    assert load(out, "offline.json")["horizons"] == load(full_out, "offline.json")["horizons"]
    assert load(out, PROGRESS_FILE) == load(full_out, PROGRESS_FILE)


def test_progress_from_another_configuration_is_refused(tmp_path, data_dir):
    quiet(out_dir=str(tmp_path), data_dir=data_dir, config=TINY, stop_after=1)
    with pytest.raises(ProgressError, match="different configuration"):
        quiet(out_dir=str(tmp_path), data_dir=data_dir, config=dict(TINY, seed=1), stop_after=1)


@pytest.mark.slow
def test_dask_local_cluster_gives_the_in_process_results(tmp_path, data_dir, uninterrupted):
    from distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False, protocol="tcp", host="127.0.0.1",
                      dashboard_address=None) as cluster:
        quiet(out_dir=str(tmp_path), data_dir=data_dir, config=TINY, scheduler=cluster.scheduler_address)
    full_out, _ = uninterrupted
    assert load(str(tmp_path), "offline.json")["horizons"] == load(full_out, "offline.json")["horizons"]


def test_a_surface_sample_is_one_run_measured_at_every_horizon(data_dir):
    # J_T of the shared run equals a T-step run on the same seed, from training.train directly: catches marks off by
    # one, a random stream restarted between horizons, and a schedule whose t restarts at 0 in each piece.
    spec = problem_spec(normalized(TINY), data_dir)
    problem = smd.build_problem(spec)
    shared = smd.surface_losses(spec, 0.05, 2.0, [5, 15, 40], seed=7)
    for h, value in zip((5, 15, 40), shared):
        theta, _, _ = training.train(problem.net, problem.theta0, problem.v0, problem.data, 0.05, 2.0, h,
                                     np.random.default_rng(7), spec.mu, spec.k, spec.batch_size)
        assert value == smd.eval_loss(problem, theta)
    assert len(set(shared)) == 3
    assert smd.run_to_marks(problem, 0.05, 2.0, [15, 40], 7, lambda th: th.copy(), chunk=4)[1].tolist() == \
        smd.run_to_marks(problem, 0.05, 2.0, [40], 7, lambda th: th.copy())[0].tolist()


def test_a_diverged_run_stops_and_its_later_horizons_are_null(data_dir, monkeypatch):
    # Catches a diverged sample reported finite (or as Infinity, which strict JSON refuses), and one trained to the
    # end (minutes wasted at 20k steps).
    spec = problem_spec(normalized(TINY), data_dir)
    problem = smd.build_problem(spec)
    trained = []
    real_train = training.train
    monkeypatch.setattr(training, "train", lambda *a, **k: trained.append(a[6]) or real_train(*a, **k))
    values = smd.run_to_marks(problem, 1e300, 0.0, [50, 3000], 1, lambda theta: 1.0, chunk=100)
    assert values == [None, None] and trained == [50]
    assert smd.surface_losses(spec, 1e300, 0.0, [50, 3000], seed=1) == [None, None]


def test_training_curve_reports_train_loss_and_test_error_of_the_run(data_dir):
    # The curve's last point against training.train and a per-example count of test errors.
    spec = problem_spec(normalized(TINY), data_dir)
    problem = smd.build_problem(spec)
    curve = smd.training_curve(spec, 0.05, 1.0, 25, 3, test_examples=60, n_points=5)
    assert [p[0] for p in curve] == smd.curve_marks(25, 5) and curve[-1][0] == 25
    theta, _, _ = training.train(problem.net, problem.theta0, problem.v0, problem.data, 0.05, 1.0, 25,
                                 np.random.default_rng(3), spec.mu, spec.k, spec.batch_size)
    test = smd.test_set(data_dir)
    wrong = [int(np.argmax(problem.net.logits(theta, training.minibatch(test, [i])[0])[0]) != test.labels[i])
             for i in range(60)]
    assert curve[-1][1] == smd.eval_loss(problem, theta) and curve[-1][2] == pytest.approx(np.mean(wrong), abs=1e-15)


@pytest.mark.parametrize("losses, window, most, finished", [
    ([5, 4, 3, 2], 2, 10, False),          # still improving
    ([5, 4, 4, 5], 2, 10, True),           # last window no lower than the one before
    ([5, 4, 3], 2, 10, False),             # fewer than 2W meta-steps: no verdict yet
    ([5, 4, 3, 3.5, 3, 2], 3, 10, False),  # windows (5, 4, 3) -> (3.5, 3, 2): improving
    ([5, 4, float("inf"), 3], 2, 10, True),  # a diverged run in the last window is no improvement
    ([5, 4, None, 3], 2, 10, True),        # ... as saved (null)
    ([None, 6, 5, 4], 2, 10, False),       # a diverged run in the earlier window: the last is an improvement
    ([5, 4, 3], None, 3, True),            # no window: all meta_steps
    ([5, 4, 3, 4, 5], None, 10, False),
])
def test_stopping_rule(losses, window, most, finished):
    config = {"meta_steps": {"7": most}, "stop_window": {} if window is None else {"7": window}}
    assert chains.chain_finished({"meta_losses": losses}, config, 7) is finished


def test_surface_starts_come_from_the_first_samples_only():
    # Best sample and geometric centre of the best 10% (at least 3) of the first surface_start_samples: catches starts
    # that depend on samples finishing later (a resumed run would start elsewhere), a centre taken in linear space
    # (beta 39.3 here, not 20) and the two starts swapped.
    config = normalized(dict(TINY, surface_samples=6, surface_start_samples=4))
    state = units.fresh_state(config)
    state["surface"]["points"] = [[0.1, 8.0], [0.01, 10.0], [0.001, 100.0], [1.0, 0.1], [0.5, 0.5], [0.2, 0.2]]
    losses = {"0": 0.3, "1": 0.1, "2": 0.2, "5": 0.0}
    state["surface"]["losses"] = {"5": dict(losses), "15": dict(losses)}
    assert not chains.start_chains(state, config) and state["smd"]["15"] == []  # sample 3 is not done
    for h in ("5", "15"):
        state["surface"]["losses"][h]["3"] = 0.9
    assert chains.start_chains(state, config)
    starts = [c["trajectory"][0] for c in state["smd"]["15"]]
    assert starts[0] == [0.01, 10.0]
    np.testing.assert_allclose(starts[1], [0.01, 20.0], rtol=1e-12)
    state["surface"]["losses"]["15"]["4"] = -1.0  # a later sample, better than all: the starts stay
    assert chains.surface_starts(state, config, 15) == starts and not chains.start_chains(state, config)


def test_figure_6_trains_each_sequence_as_its_own_unit(uninterrupted):
    """Each horizon's curve_seeds curves come from separate resumable units on separate minibatch sequences (the same
    sequences for every horizon), and the saved spread is theirs: catches one seed reused for every sequence (equal
    curves, spread 0) and a summary that reads one curve."""
    out, _ = uninterrupted
    progress, summary, config = load(out, PROGRESS_FILE), load(out, "offline.json"), normalized(TINY)
    seeds = [units.curve_seed(config, s) for s in range(config["curve_seeds"])]
    assert len(set(seeds)) == config["curve_seeds"] and seeds[0] == smd.derive_seed(config["seed"], 5)
    for h in ("5", "15"):
        finals = [progress["curves"][h][str(s)][-1][1] for s in range(config["curve_seeds"])]
        assert len(set(finals)) == config["curve_seeds"]  # separate sequences end apart
        assert summary["horizons"][h]["final_train_loss_spread"] == pytest.approx(np.std(finals, ddof=1), rel=1e-12)
    timings = load(out, "offline_timings.json")
    assert timings["units"]["curve 15"]["n"] == config["curve_seeds"]




def test_figure_6_curves_train_in_curve_dtype(uninterrupted, data_dir):
    # Catches curves trained in the surface's float64 (twice the cost) or from another schedule or seed.
    out, _ = uninterrupted
    progress, config = load(out, PROGRESS_FILE), normalized(TINY)
    assert config["curve_dtype"] == "float32" and "dtype" not in config
    (alpha0, beta), _ = chains.chosen_schedule(progress, 15)
    spec = problem_spec(config, data_dir)
    args = alpha0, beta, config["curve_steps"], smd.derive_seed(config["seed"], 5), config["test_examples"], \
        config["curve_points"]
    assert progress["curves"]["15"]["0"] == smd.training_curve(spec._replace(dtype="float32"), *args)
    assert progress["curves"]["15"]["0"] != smd.training_curve(spec, *args)


@pytest.mark.slow
def test_float32_training_keeps_a_float64_hypergradient_check(tmp_path, data_dir, uninterrupted):
    # Catches a check that silently runs in the training dtype, and a float32 run that does not train in float32.
    out = str(tmp_path)
    quiet(out_dir=out, data_dir=data_dir, config=TINY, dtype="float32")
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
        quiet(out_dir=out, data_dir=data_dir, config=TINY, dtype="float16")


def test_cli_bad_scale_is_exit_2_one_line(tmp_path, capsys):
    assert shb_main(["offline", "--scale", "huge", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "'huge'" in err and "medium" in err and not os.listdir(tmp_path)


def test_a_data_dir_without_a_test_split_is_one_line_before_any_work(tmp_path, capsys):
    write_synthetic_split(str(tmp_path / "d"), n=50, shape=(4, 5), n_classes=3)
    out = tmp_path / "out"
    assert shb_main(["offline", "--scale", "tiny", "--data-dir", str(tmp_path / "d"), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "t10k-images" in err and not out.exists()


def test_clip_norm():
    from shb.numeric.meta.smd import clip_norm

    np.testing.assert_allclose(clip_norm(np.array([3.0, -4.0]), 1.0), [0.6, -0.8])
    np.testing.assert_array_equal(clip_norm(np.array([0.3, 0.4]), 1.0), [0.3, 0.4])


def test_each_meta_step_gets_fresh_minibatches_and_surface_shares_one_sequence():
    # Algorithm 1: every meta-gradient comes from a new training run (a new seed per meta-step);
    # the surface uses common random numbers (one seed for every sample and horizon).
    config = normalized(dict(TINY, stop_window={}))
    state = units.fresh_state(config)
    spec = problem_spec(config, "unused")
    seeds = set()
    for m in range(2):  # two meta-steps of the two chains at T=5
        ready = {u.key: u.args for u in units.ready_units(state, config, spec)}
        seeds.update(ready[("smd", 5, j)][3] for j in range(2))
        for chain in state["smd"]["5"]:
            chain["meta_losses"].append(0.0)
    assert len(seeds) == 2 * 2
    surface = [u for u in units.ready_units(state, config, spec) if u.key[0] == "surface"]
    assert len(surface) == config["surface_samples"] and len({u.args[-1] for u in surface}) == 1
    assert all(u.args[3] == config["horizons"] for u in surface)


@pytest.mark.parametrize("config", [QUICK, MEDIUM, PAPER])
def test_projection_counts_every_unit_at_its_step_cost(config):
    # The projected CPU time of a fresh run is the sum over units of (plain steps x rate + hyper steps x rate): a
    # unit kind left out of remaining_units, or a surface sample counted once per horizon, changes it.
    config = normalized(config)
    state = units.fresh_state(config)
    rates = {"plain": 1.0, "hyper": 10.0}
    hs, longest = config["horizons"], max(config["horizons"])
    n_chains = sum(chains.n_chains(config, h) for h in hs)
    evaluation = config["eval_examples"] / config["batch_size"] / 3
    expected = 100 * config["check_horizon"] + config["surface_samples"] * (longest + len(hs) * evaluation)
    for h in hs:
        c = chains.n_chains(config, h)
        expected += c * config["meta_steps"][str(h)] * (10.0 * h + config["meta_batch"] / config["batch_size"])
        expected += c * (2 * config["eval_seeds"] * (h + evaluation) + h + evaluation)
    expected += len(hs) * config["curve_seeds"] * (config["curve_steps"] + config["curve_points"] * (
        evaluation + config["test_examples"] / config["batch_size"] / 3))
    total = sum(cost.seconds(config, key, rates, count) for key, count in cost.remaining_units(state, config))
    assert total == pytest.approx(expected, rel=1e-12) and n_chains >= len(hs)
    line = cost.projection(state, config, rates, workers=2)[-1]
    assert f"{expected / 3600:.2f} CPU-hours" in line


def test_the_report_says_how_many_examples_it_evaluated():
    # The issue: with 5 training examples the report said "loss on the first 200 training examples". The subsets
    # are the first min(asked, held) examples, and the report says which.
    from shb.experiments.figures.offline.report import setup_lines

    config = normalized(TINY)
    few = " ".join(setup_lines("tiny", config, "IDX data in D", "D", "", {"train": {"examples": 150},
                                                                         "test": {"examples": 30}}))
    assert "loss on all 150 training examples (the configuration asks for 200)" in few
    assert "test error on all 30 test examples (the configuration asks for 100)" in few
    many = " ".join(setup_lines("tiny", config, "IDX data in D", "D", "", {"train": {"examples": 300},
                                                                          "test": {"examples": 100}}))
    assert "loss on the first 200 training examples" in many and "on the first 100 test examples" in many


@pytest.mark.parametrize("text", ['{"units": "oops"}', '[1, 2]', '{"units": {"surface": {"n": 1}}}',
                                  '{"sessions": [{"wall": -1.0, "units": 0}]}', "{not json"])
def test_a_timing_log_wrong_inside_starts_afresh(tmp_path, text):
    # The timing log only informs the report: one that is wrong inside must not end the run in a traceback
    # (AttributeError, KeyError) when the next unit is recorded.
    path = str(tmp_path / "offline_timings.json")
    with open(path, "w") as handle:
        handle.write(text)
    log = cost.TimingLog(path)
    log.add(("surface", 3), 1.5, 2.0)
    assert load(str(tmp_path), "offline_timings.json")["units"] == {"surface": {"n": 1, "cpu": 1.5, "wall": 2.0}}
    assert log.totals()[0] == 1.5


@pytest.mark.parametrize("change, word", [({"curve_seeds": 1}, "curve_seeds"), ({"eval_seeds": 1}, "eval_seeds"),
                                          ({"variant": "overfit"}, "variant")])
def test_a_configuration_without_measurable_noise_is_refused(change, word):
    # One curve sequence, or one evaluation seed where a chain starts from the surface, has no spread: the noise the
    # checks compare with would be 0 (or undefined), so the configuration is refused in one line, before any work.
    from shb.experiments.figures.offline.config import OfflineConfig

    with pytest.raises(InputError, match=word):
        OfflineConfig.read(normalized(dict(TINY, **change)))


@pytest.mark.slow
def test_the_fit_variant_trains_on_the_first_examples_beside_the_full_run(tmp_path, data_dir, uninterrupted, capsys):
    """`shb offline --fit` runs the experiment on the first FIT_N_TRAIN examples into files of its own: catches a
    variant that overwrites (or resumes from) the full-data run's progress, one that trains on every example, and a
    report without its verdict or the full-data ratio beside it."""
    out = str(tmp_path / "out")
    shutil.copytree(uninterrupted[0], out)
    before = load(out, "offline.json")
    code = shb_main(["offline", "--fit", "--scale", "tiny", "--data-dir", data_dir, "--out", out])
    printed = capsys.readouterr().out
    assert code in (0, 1) and load(out, "offline.json") == before
    fit = load(out, "offline-fit.json")
    assert fit["config"]["variant"] == "fit" and fit["config"]["n_train"] == 150 < 300
    assert fit["inputs"]["train"]["examples"] == 150
    assert os.path.exists(os.path.join(out, "fig6-fit.png")) and os.path.exists(os.path.join(out, "offline_progress-fit.json"))
    assert "Fit variant, the data-set question: on the first 150 training examples" in printed
    assert "Beside it, the full data set (" in printed and "shb offline --scale tiny --fit" in printed
    # The paper's claims are the variant's findings, not its stamp's evidence; the full-data run keeps them as checks.
    claims = ("short_horizon_bias_beta_", "beta_falls_with_horizon", "shortest_horizon_highest_beyond_noise_",
              "longest_horizon_within_noise_of_lowest_")
    assert not [c for c in fit["checks"] if c["name"].startswith(claims)]
    assert sorted(c["name"].split("_T")[0].split("_at_")[0] for c in fit["findings"]) == sorted(
        c["name"].split("_T")[0].split("_at_")[0] for c in before["checks"] if c["name"].startswith(claims))
    assert len(fit["findings"]) == 4 and "The paper's claims on the subset" in printed
    assert "findings" not in before
