"""K-step lookahead on the NQM (numeric/nqm/horizon.py, numeric/nqm/lookahead.py): the K-step loss is Theorem 1 applied
K times, its jets are Autograd's derivatives, K = 1 is the greedy schedule, and for K > 1 every plan is a minimum.

The references do not use the code under test: L_K is stepped with the generated `raw_step` (Theorem 1 in raw
moments), the derivatives come from Autograd through that rollout, and minimality is checked by perturbation and
by Newton from the local minima of a finer grid than the planner's.
"""
import autograd
import autograd.numpy as anp
import numpy as np
import pytest
from hypothesis import given, strategies as st

from shb.numeric.nqm import horizon as nqm_horizon

from shb.numeric.nqm import lookahead as nqm_lookahead

from shb.numeric.nqm import lookahead_checks as nqm_lookahead_checks

from shb.numeric.nqm import schedules as nqm_schedules
from shb.numeric.nqm.generated import one_step_loss, raw_step
from shb.numeric.nqm.horizon import Jet
from shb.numeric.nqm.problem import chebyshev_extreme, make_problem, preset


@st.composite
def moments(draw):
    """h, sigma2 and raw moments (A(theta), A(v), E[theta v]) of a valid second moment (Cauchy-Schwarz), d <= 5."""
    d = draw(st.integers(1, 5))
    floats = lambda lo, hi: np.array(draw(st.lists(st.floats(lo, hi), min_size=d, max_size=d)))  # noqa: E731
    h, sigma2, a_theta, a_v, rho = floats(0.05, 2.0), floats(0.0, 3.0), floats(0.0, 5.0), floats(0.0, 2.0), floats(-1, 1)
    return h, sigma2, (a_theta, a_v, rho * np.sqrt(a_theta * a_v))


def stepped(alpha, mu, h, sigma2, raw, K):
    """The reference L_K: K steps of the generated raw_step, then sum_i 1/2 h_i A(theta_i) (Autograd-friendly)."""
    for _ in range(K):
        raw = raw_step(alpha, mu, h, sigma2, *raw)
    return anp.sum(0.5 * h * raw[0])


@given(moments(), st.integers(1, 8), st.floats(0.0, 2.0), st.floats(-0.9, 0.99))
def test_the_k_step_loss_is_theorem_1_applied_k_times(state, K, alpha, mu):
    # Catches: an off-by-one in the noise sum (K - 1 or K + 1 noise terms), w_{K-1} for w_K, a lost cross term
    # 2 E[theta v] w_theta w_v, the noise weighted by alpha instead of (alpha h)^2.
    h, sigma2, raw = state
    reference = stepped(alpha, mu, h, sigma2, raw, K)
    assert nqm_horizon.horizon_loss(alpha, mu, h, sigma2, raw, K) == pytest.approx(reference, rel=1e-10, abs=1e-12)


@given(moments(), st.floats(0.0, 2.0), st.floats(-0.9, 0.99))
def test_one_step_of_lookahead_is_eq_15(state, alpha, mu):
    h, sigma2, raw = state
    eq15 = np.sum(one_step_loss(alpha, mu, h, sigma2, *raw))
    assert nqm_horizon.horizon_loss(alpha, mu, h, sigma2, raw, 1) == pytest.approx(eq15, rel=1e-12, abs=1e-12)


@given(moments(), st.integers(1, 6), st.floats(0.0, 2.0), st.floats(-0.9, 0.99))
def test_the_jets_are_autograds_gradient_and_hessian(state, K, alpha, mu):
    # Catches a wrong product rule in Jet (the cross terms 2 a' b', a'_alpha b'_mu + a'_mu b'_alpha), a derivative
    # component in the wrong slot, and Jet + array broadcasting that drops a coordinate.
    h, sigma2, raw = state
    f = lambda x: stepped(x[0], x[1], h, sigma2, raw, K)  # noqa: E731
    x = np.array([alpha, mu])
    value, gradient, hessian = nqm_horizon.horizon_derivatives(alpha, mu, h, sigma2, raw, K)
    scale = 1.0 + abs(float(f(x)))
    assert value == pytest.approx(float(f(x)), rel=1e-10, abs=1e-12)
    np.testing.assert_allclose(gradient, autograd.grad(f)(x), rtol=1e-9, atol=1e-10 * scale)
    np.testing.assert_allclose(hessian, autograd.hessian(f)(x), rtol=1e-9, atol=1e-10 * scale)


def test_jet_arithmetic_on_a_known_polynomial():
    a, m = Jet.variable(0.5, nqm_horizon.D_ALPHA), Jet.variable(-2.0, nqm_horizon.D_MU)
    p = (3.0 - a * m) ** 2 + 2 * a  # (3 - a m)^2 + 2a at (0.5, -2): value 16 + 1
    c = p.c
    assert c[0] == 17.0
    assert (c[1], c[2]) == (2 * 4 * 2 + 2, 2 * 4 * -0.5)          # d/da = -2 m (3 - a m) + 2, d/dm = -2 a (3 - a m)
    assert (c[3], c[4], c[5]) == (2 * 4.0, -2 * 4 + 2 * 0.5 * -2.0, 2 * 0.25)  # 2 m^2, -2 (3 - a m) + 2 a m, 2 a^2
    with pytest.raises(ValueError):
        a ** 0.5


# ---- the schedule ----------------------------------------------------------------------------------------------


def small(sigma_scale=1.0, d=20, kappa=100.0):
    h = chebyshev_extreme(d, 1.0 / kappa, 1.0)
    return make_problem(h, sigma_scale / h, 10.0, 0.0)


def test_one_step_lookahead_is_the_greedy_schedule_on_the_paper_preset():
    problem = preset("paper")
    greedy = nqm_schedules.greedy(problem, 250)
    out = nqm_lookahead.lookahead(problem, 250, K=1)
    for key in ("alpha", "mu", "loss"):
        np.testing.assert_allclose(out[key], greedy[key], rtol=1e-12, atol=0)


@pytest.mark.parametrize("sigma_scale", [0.0, 0.3])
def test_newton_from_far_away_finds_theorem_2s_pair(sigma_scale):
    # Catches a Newton iteration that only looks right because the greedy pair is one of its starts: from
    # (alpha, mu) far away it must land on -H^{-1} g (L_1 is a convex quadratic: one full step, to rounding).
    problem = small(sigma_scale)
    schedule = nqm_schedules.greedy(problem, 12)
    raw, planning = nqm_lookahead_checks.planned_moments(problem, schedule)
    for t in range(1, 12):
        moments_t = tuple(r[t] for r in raw)
        x, *_ = nqm_lookahead.minimize(np.array([2.5, -0.7]), problem.h, planning, moments_t, 1)
        assert x[0] == pytest.approx(schedule["alpha"][t], rel=1e-9)
        assert x[1] == pytest.approx(schedule["mu"][t], rel=1e-9, abs=1e-12)


@pytest.mark.slow
@pytest.mark.parametrize("K, deterministic", [(2, False), (5, False), (12, False), (5, True), (12, True)])
def test_every_plan_is_a_minimum_of_its_k_step_loss(K, deterministic):
    # Catches Newton stopping short of a minimum, a saddle or maximum taken for a minimum, the tracking of minima
    # keeping a stale basin, and a plan made with the wrong sigma2 (planned_moments re-derives what each plan saw).
    problem = small(1.0, d=20, kappa=300.0)
    out = nqm_lookahead.lookahead(problem, 40, K, deterministic)
    gain, moves = nqm_lookahead_checks.perturbation_gain(problem, out, K, deterministic)
    assert moves == 24 and np.max(gain) <= 1e-10
    assert np.all(out["min_eigenvalue"] > 0)  # strict local minima
    gaps = nqm_lookahead_checks.global_gap(problem, out, K, [0, 1, 7, 19, 39], deterministic)
    assert np.max(gaps) <= 1e-9, gaps


def test_the_certificates_can_fail():
    # The checks of the figures rest on these two functions: a pair moved off its minimum must show a gain, and
    # a plan replaced by a worse local minimum must show a gap.
    problem = small(0.0, d=20, kappa=300.0)
    out = nqm_lookahead.lookahead(problem, 3, 8, deterministic=True)
    moved = dict(out, alpha=out["alpha"] * np.array([1.0, 1.02, 1.0]))
    gain, _ = nqm_lookahead_checks.perturbation_gain(problem, moved, 8, True)
    assert gain[1] > 1e-6 and gain[0] <= 1e-10
    raw, planning = nqm_lookahead_checks.planned_moments(problem, out, True)
    moments0 = tuple(r[0] for r in raw)
    starts, _ = nqm_lookahead.grid_minima(*nqm_lookahead.grid_values(problem.h, planning, moments0, 8), 6)
    x, values, *_ = nqm_lookahead.minimize(starts, problem.h, planning, moments0, 8)
    worse = int(np.argmax(np.where(values > values.min() * (1 + 1e-3), -values, -np.inf)))
    assert values[worse] > values.min() * (1 + 1e-3), "this landscape must have a second, worse minimum"
    replaced = dict(out, alpha=np.r_[x[0, worse], out["alpha"][1:]], mu=np.r_[x[1, worse], out["mu"][1:]])
    assert nqm_lookahead_checks.global_gap(problem, replaced, 8, [0], True)[0] > 1e-3


def test_deterministic_lookahead_plans_without_noise_and_steps_with_it():
    # Catches the noise-free sigma2 leaking into the steps taken (then the loss would be the noise-free one) and
    # the flag being ignored (then the schedule would be the stochastic one).
    noisy = small(1.0)
    quiet = make_problem(noisy.h, np.zeros_like(noisy.h), noisy.mean0, noisy.var0)
    planned = nqm_lookahead.lookahead(noisy, 15, 3, deterministic=True)
    reference = nqm_lookahead.lookahead(quiet, 15, 3)
    np.testing.assert_array_equal(planned["alpha"][:1], reference["alpha"][:1])  # same moments at t = 0
    assert not np.allclose(planned["alpha"], nqm_lookahead.lookahead(noisy, 15, 3)["alpha"])
    from shb.numeric.nqm.dynamics import rollout
    np.testing.assert_allclose(planned["loss"], rollout(noisy, planned["alpha"], planned["mu"])["loss"], rtol=1e-14)


def test_a_batch_of_problems_equals_each_problem_alone():
    problems = [small(s, d=12, kappa=k) for s, k in ((0.0, 10.0), (0.1, 1000.0), (1.0, 1.0))]
    stack = lambda name: np.stack([getattr(p, name) for p in problems])  # noqa: E731
    batch = nqm_lookahead.lookahead_batch(stack("h"), stack("sigma2"), stack("mean0"), stack("var0"), 20, 4)
    for b, problem in enumerate(problems):
        alone = nqm_lookahead.lookahead(problem, 20, 4)
        np.testing.assert_allclose(batch["alpha"][b], alone["alpha"], rtol=1e-12)
        np.testing.assert_allclose(batch["mu"][b], alone["mu"], rtol=1e-12, atol=1e-15)


def test_an_overflowing_problem_gives_nan_or_inf_not_an_exception():
    # mean0 just inside what make_problem accepts (its square is finite); h mean0^2 overflows
    problem = make_problem([1e150, 0.2, 0.05], [1.0, 5.0, 0.0], [1e150, -2.0, 1.0], [0.0, 0.5, 0.0])
    with np.errstate(all="ignore"):
        out = nqm_lookahead.lookahead(problem, 3, 4)
    assert out["alpha"].shape == (3,) and not np.all(np.isfinite(out["loss"]))


# ---- `shb nqm lookahead` ---------------------------------------------------------------------------------------


def shb_json(args, capsys):
    from shb.cli import main

    capsys.readouterr()
    status = main(args)
    out, err = capsys.readouterr()
    return status, out, err


def test_the_command_with_k_1_reproduces_shb_nqm_greedy(tmp_path, capsys, monkeypatch):
    import json

    monkeypatch.chdir(tmp_path)
    (tmp_path / "P.json").write_text(json.dumps({"h": [1.0, 0.2, 0.05], "sigma2": [1.0, 5.0, 0.0],
                                                 "mean0": [3.0, -2.0, 1.0], "var0": [0.0, 0.5, 0.0]}))
    outputs = {}
    for name, extra in (("greedy", []), ("lookahead", []), ("lookahead", ["--horizon", "1"])):
        status, out, err = shb_json(["nqm", name, "--problem", "P.json", "--steps", "9", *extra, "--json"], capsys)
        assert status == 0 and err == "", err
        outputs[(name, len(extra))] = json.loads(out)
    greedy = outputs[("greedy", 0)]
    for key in ("alpha", "mu", "loss"):
        for run in (("lookahead", 0), ("lookahead", 2)):
            np.testing.assert_allclose(outputs[run][key], greedy[key], rtol=1e-12, atol=1e-300)
    status, out, err = shb_json(["nqm", "lookahead", "--preset", "paper", "--steps", "3", "--horizon", "5",
                                 "--deterministic", "--json"], capsys)
    assert status == 0 and err == ""
    assert sorted(json.loads(out)) == ["alpha", "loss", "mu"] and len(json.loads(out)["loss"]) == 4


@pytest.mark.parametrize("args, message", [
    (["--horizon", "0"], "--horizon must be >= 1, got 0"),
    (["--horizon", "2.5"], "--horizon must be an integer, got '2.5'"),
    (["--steps", "0"], "--steps must be >= 1, got 0"),
    (["--preset", "nope"], "unknown preset 'nope'"),
])
def test_bad_input_is_one_line(args, message, capsys):
    base = {"--preset": "paper", "--steps": "3"}
    for flag, value in zip(args[::2], args[1::2]):
        base[flag] = value
    argv = ["nqm", "lookahead"] + [x for pair in base.items() for x in pair]
    status, out, err = shb_json(argv, capsys)
    assert status == 2 and out == "" and len(err.strip().splitlines()) == 1 and message in err, err
