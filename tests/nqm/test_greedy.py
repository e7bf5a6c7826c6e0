"""numeric/nqm/greedy.py: the greedy schedule of every rule (Theorem 2 for the rule; Theorem 3's greedy SGD at mu = 0).

The references do not use the greedy formulas: the one-step loss is evaluated by stepping the rule's exact dynamics
(`<rule>_step`, tests/nqm/reference.py) and minimized numerically (rings of points at many distances and directions
around the candidate, and a Nelder-Mead search written below); greedy SGD is recomputed here from its definition;
the deterministic greedy schedule is compared with conjugate gradient; the paper's closed forms (Theorems 3-4,
generated sgd_optimal_alpha and sgd_min_A_after) give the exact greedy steps of one coordinate at any curvature.

Catches: a sign slip or wrong sum in a rule's greedy sums or in Theorem 2's solution, the greedy step taken with the
wrong extras or the wrong given momentum, mu used where it is not identifiable (t = 0), momentum in greedy SGD, and
the curvature scaling (greedy at h / c with alpha c) losing exactness or overflowing: before it, greedy gave alpha = 0
at h = 1e150 (H_aa ~ h^3 overflowed) and at step 2 for h = 1e80 (det H ~ h^4).
"""
import json

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, strategies as st

from shb.cli import main
from shb.numeric.nqm.independent import conjugate_gradient_losses  # tested in tests/test_independent.py
from shb.numeric.nqm import generated as gen
from shb.numeric.nqm import greedy as nqm_greedy
from shb.numeric.nqm import optimizers as nqm_optimizers
from shb.numeric.nqm.generated import sgd_min_A_after, sgd_optimal_alpha
from shb.numeric.nqm.greedy import greedy_pair, greedy_step
from shb.numeric.nqm.problem import LARGEST, chebyshev_extreme, log_uniform, make_problem, power_law, preset
from shb.symbolic import dynamics, greedy as symbolic_greedy, model

from .reference import (NAMES, entry, extras_of_step, generated, initial_stats, loss_after_one_step,
                        small_problem, stable_scale)


def is_joint(opt):
    return gen.RULES[opt.rule]["greedy"] == "joint"


def nelder_mead(f, x0, scale, iters=400):
    """Plain Nelder-Mead in 2-D (reflection 1, expansion 2, contraction 1/2, shrink 1/2)."""
    simplex = [np.asarray(x0, float), x0 + np.array([scale[0], 0.0]), x0 + np.array([0.0, scale[1]])]
    values = [f(x) for x in simplex]
    for _ in range(iters):
        order = np.argsort(values)
        simplex = [simplex[i] for i in order]
        values = [values[i] for i in order]
        centroid = (simplex[0] + simplex[1]) / 2
        reflected = centroid + (centroid - simplex[2])
        fr = f(reflected)
        if fr < values[0]:
            expanded = centroid + 2 * (centroid - simplex[2])
            fe = f(expanded)
            simplex[2], values[2] = (expanded, fe) if fe < fr else (reflected, fr)
        elif fr < values[1]:
            simplex[2], values[2] = reflected, fr
        else:
            contracted = centroid + 0.5 * (simplex[2] - centroid)
            fc = f(contracted)
            if fc < values[2]:
                simplex[2], values[2] = contracted, fc
            else:
                simplex = [simplex[0]] + [simplex[0] + 0.5 * (x - simplex[0]) for x in simplex[1:]]
                values = [values[0]] + [f(x) for x in simplex[1:]]
    k = int(np.argmin(values))
    return simplex[k], values[k]


@st.composite
def states(draw, name):
    """A rule (drawn options), a problem and the statistics after a random prefix of 1..5 steps (so A(v) > 0 and
    E[theta v] != 0, of either sign: the prefix momenta may be negative), with the extras of the next step."""
    d = draw(st.integers(2, 6))
    floats = lambda lo, hi: np.array(draw(st.lists(st.floats(lo, hi), min_size=d, max_size=d)))  # noqa: E731
    problem = make_problem(floats(0.05, 2.0), floats(0.0, 3.0), floats(-5.0, 5.0), floats(0.0, 2.0))
    opt = entry(name, draw)
    prefix = draw(st.integers(1, 5))
    extras = opt.extras(problem, prefix + 1)
    stats = initial_stats(opt.rule, problem.mean0, problem.var0, problem.h.shape)
    for t in range(prefix):
        alpha = draw(st.floats(0.05, 1.5)) * stable_scale(opt, problem, prefix + 1)
        mu = draw(st.floats(-0.5, 0.95))
        stats = generated(opt.rule, "step")(alpha, mu, problem.h, problem.sigma2,
                                            *extras_of_step(opt.rule, extras, t), *stats)
    return opt, problem, stats, extras_of_step(opt.rule, extras, prefix)


def raw_of(opt, stats):
    return generated(opt.rule, "raw_moments")(*stats)


def assert_is_argmin(opt, problem, stats, extra, alpha, mu, joint=True):
    """(alpha, mu) minimizes the loss after one step of the rule (in alpha alone at the given mu unless joint)."""
    f = lambda x: loss_after_one_step(opt.rule, problem.h, problem.sigma2, extra, stats, x[0], x[1])  # noqa: E731
    best = f((alpha, mu))
    tol = 1e-10 * f((0.0, mu if not joint else 0.0))  # rounding, relative to the loss without a step
    scale = np.array([stable_scale(opt, problem), 1.0])
    if not joint:  # mu is given: alpha alone, on a grid from tiny to far on either side
        for a in alpha + np.concatenate([-np.geomspace(1e-5, 10, 30), np.geomspace(1e-5, 10, 30)]) * scale[0]:
            assert f((a, mu)) >= best - tol, f"alpha {alpha} is not the argmin at mu {mu}: f({a}) < {best}"
        return
    # Rings around the candidate, from tiny to far, 16 directions each (a convex quadratic's minimizer is no higher
    # than any of them; a wrong sign or coefficient makes some point lower).
    for radius in (1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0):
        for angle in np.linspace(0, 2 * np.pi, 16, endpoint=False):
            x = np.array([alpha, mu]) + radius * scale * np.array([np.cos(angle), np.sin(angle)])
            assert f(x) >= best - tol, f"({alpha}, {mu}) is not the argmin: f{tuple(x)} = {f(x)} < {best}"
    # An independent search from the origin finds nothing lower, and gets close to it.
    x, value = nelder_mead(f, np.zeros(2), scale * 0.5)
    assert value >= best - tol
    assert value <= best + 1e-6 * (f(np.zeros(2)) - best) + tol


@pytest.mark.parametrize("name", NAMES)
@given(data=st.data())
def test_the_greedy_step_is_the_argmin_of_the_loss_after_one_step(name, data):
    # Joint rules: (alpha*, mu*) over both; Nesterov (alpha-given-mu): alpha* at its registry's momentum.
    opt, problem, stats, extra = data.draw(states(name))
    alpha, mu = greedy_pair(opt.rule, problem.h, problem.sigma2, extra, raw_of(opt, stats), opt.entry.greedy_mu)
    if not is_joint(opt):
        assert mu == opt.entry.greedy_mu
    assert_is_argmin(opt, problem, stats, extra, alpha, mu, joint=is_joint(opt))


@pytest.mark.parametrize("name", NAMES)
@given(data=st.data())
def test_the_greedy_alpha_at_zero_momentum_is_the_argmin_over_alpha(name, data):
    opt, problem, stats, extra = data.draw(states(name))
    alpha, mu = greedy_pair(opt.rule, problem.h, problem.sigma2, extra, raw_of(opt, stats), 0.0)
    assert mu == 0.0
    assert_is_argmin(opt, problem, stats, extra, alpha, 0.0, joint=False)


@pytest.mark.parametrize("name", NAMES)
def test_every_step_of_the_greedy_schedule_is_the_argmin_along_its_own_rollout(name):
    # The schedule as the engine computes it (at curvatures h / c, alpha scaled back, the extras of each step, the
    # moments stepped by the greedy pairs): each pair minimizes the loss after one step from the moments it met.
    problem, T = small_problem(), 8
    opt = nqm_optimizers.get(name)
    out = opt.greedy(problem, T)
    extras = opt.extras(problem, T)
    stats = initial_stats(opt.rule, problem.mean0, problem.var0, problem.h.shape)
    for t in range(T):
        extra = extras_of_step(opt.rule, extras, t)
        assert_is_argmin(opt, problem, stats, extra, out["alpha"][t], out["mu"][t], joint=is_joint(opt) and t > 0)
        stats = generated(opt.rule, "step")(out["alpha"][t], out["mu"][t], problem.h, problem.sigma2, *extra, *stats)
    if not is_joint(opt):
        assert np.all(out["mu"] == opt.entry.greedy_mu)
    else:
        assert out["mu"][0] == 0.0 and np.all(out["mu"][1:] != 0.0)  # t = 0: mu not identifiable; later it is used


@pytest.mark.parametrize("name", NAMES)
def test_greedy_sgd_never_uses_momentum(name):
    # Catches: greedy-sgd calling greedy with its default momentum (nonzero after step 0, or Nesterov's 0.9).
    opt, problem = nqm_optimizers.get(name), make_problem([1.0, 0.1], [1.0, 10.0], [3.0, 3.0], [0.0, 0.0])
    assert np.all(opt.greedy(problem, 4, mu=0.0)["mu"] == 0.0)
    assert np.any(opt.greedy(problem, 4)["mu"] != 0.0)


def sgd_greedy_reference(problem, T):
    """Greedy SGD written here: alpha_t = sum h^2 A / sum h^3 (A + sigma2) (the minimizer of the summed one-step loss
    at mu = 0), A' = (1 - alpha h)^2 A + alpha^2 h^2 sigma2; and the loss 1/2 sum h A at t = 0..T."""
    A, alphas, losses = problem.mean0**2 + problem.var0, [], []
    for _ in range(T):
        losses.append(0.5 * np.sum(problem.h * A))
        alpha = np.sum(problem.h**2 * A) / np.sum(problem.h**3 * (A + problem.sigma2))
        A = (1 - alpha * problem.h) ** 2 * A + alpha**2 * problem.h**2 * problem.sigma2
        alphas.append(alpha)
    return np.array(alphas), np.array(losses + [0.5 * np.sum(problem.h * A)])


@pytest.mark.parametrize("name, options", [("heavy-ball", {}), ("nesterov", {}), ("minibatch", {"B": 1}),
                                           ("preconditioned", {"p": 1.0}), ("ema", {"gamma": 1.0})])
def test_greedy_sgd_of_every_rule_that_is_sgd_at_zero_momentum_is_sgds(name, options):
    # Nesterov at mu = 0, a minibatch of one, p = 1 and an average of weight 1 are plain SGD: their greedy-sgd must be
    # the reference's. Catches a wrong greedy-sgd (the alpha of another mu, the sums of another rule, a lost extra).
    problem = small_problem()
    alpha, loss = sgd_greedy_reference(problem, 10)
    out = nqm_optimizers.get(name, **options).greedy(problem, 10, mu=0.0)
    np.testing.assert_allclose(out["alpha"], alpha, rtol=1e-12)
    np.testing.assert_allclose(out["loss"], loss, rtol=1e-12)


@pytest.mark.parametrize("name", NAMES)
def test_greedy_at_a_given_momentum_is_the_argmin_over_alpha_there(name):
    # mu given as a number or per step: the greedy alpha at that mu (a joint rule: the minimum in alpha of its
    # quadratic, -(g_a + H_am mu) / H_aa), and mu is what was given.
    problem, T = small_problem(), 6
    opt = nqm_optimizers.get(name)
    for mu in (0.7, np.linspace(-0.2, 0.8, T)):
        out = opt.greedy(problem, T, mu=mu)
        assert np.array_equal(out["mu"], np.broadcast_to(mu, (T,)))
        extras = opt.extras(problem, T)
        stats = initial_stats(opt.rule, problem.mean0, problem.var0, problem.h.shape)
        for t in range(T):
            extra = extras_of_step(opt.rule, extras, t)
            assert_is_argmin(opt, problem, stats, extra, out["alpha"][t], out["mu"][t], joint=False)
            stats = generated(opt.rule, "step")(out["alpha"][t], out["mu"][t], problem.h, problem.sigma2, *extra,
                                                *stats)


def test_the_joint_greedy_step_of_an_alpha_given_mu_rule_is_refused():
    from shb.ground.errors import InputError

    with pytest.raises(InputError, match="give mu") as caught:
        nqm_greedy.greedy("nesterov", small_problem(), 4, {})
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("name", ["heavy-ball", "preconditioned", "minibatch"])
def test_the_greedy_loss_never_increases(name):
    """For these rules (alpha, mu) = (0, 0) leaves the loss unchanged, so the one-step minimizer never increases it.
    (Not for Nesterov at its given mu, nor an average, which (0, 0) moves towards theta.)"""
    h = chebyshev_extreme(50, 0.01, 1.0)
    opt = nqm_optimizers.get(name)
    for sigma2 in (1.0 / h, 0.0 * h):
        problem = make_problem(h, sigma2, 10.0, 0.0)
        for out in (opt.greedy(problem, 60), opt.greedy(problem, 60, mu=0.0)):
            loss = out["loss"]
            assert np.all(np.diff(loss) <= 1e-12 * loss[:-1])


@pytest.mark.parametrize("name", NAMES)
def test_greedy_at_the_optimum_takes_no_step(name):
    # Catches: greedy_step's H_aa = 0 branch (theta at the optimum and no noise: nothing to gain) returning
    # another step, or dividing by H_aa = 0 (and the curvature scaling dividing 0 by c into something else).
    problem = make_problem([1.0, 0.2], [0.0, 0.0], [0.0, 0.0], [0.0, 0.0])
    opt = nqm_optimizers.get(name)
    out = opt.greedy(problem, 4)
    assert out["alpha"].tolist() == [0.0] * 4 and out["loss"].tolist() == [0.0] * 5
    assert out["mu"].tolist() == [0.0 if is_joint(opt) else opt.entry.greedy_mu] * 4


def test_the_mu_sign_mutation_fails_the_argmin_check(mutant, monkeypatch):
    """A copy of the generated code with the sign of mu* flipped in greedy_solution must fail the argmin test."""
    bad = mutant("mu = -x0*(H_aa*g_m - H_am*g_a)", "mu = x0*(H_aa*g_m - H_am*g_a)")
    monkeypatch.setattr(nqm_greedy, "gen", bad)
    problem = make_problem([1.0, 0.3, 0.05], [0.5, 2.0, 1.0], [4.0, -3.0, 5.0], [0.2, 0.0, 1.0])
    opt = nqm_optimizers.get("heavy-ball")
    stats = initial_stats("heavy_ball", problem.mean0, problem.var0, problem.h.shape)
    for alpha, mu in ((0.6, 0.5), (0.8, 0.3)):
        stats = gen.heavy_ball_step(alpha, mu, problem.h, problem.sigma2, *stats)
    alpha, mu = greedy_pair("heavy_ball", problem.h, problem.sigma2, (), raw_of(opt, stats))
    assert mu != 0.0
    with pytest.raises(AssertionError):
        assert_is_argmin(opt, problem, stats, (), alpha, mu)


def test_greedy_step_with_a_rank_one_hessian_takes_the_sgd_step():
    # One deterministic coordinate: A(theta) A(v) = E[theta v]^2, so det H = H_aa H_mm - H_am^2 = 0 while
    # H_am != 0, and mu is not identifiable (a line of minimizers). Catches a det with the wrong sign or power of
    # H_am (found by mutation testing): H then looks invertible and the solve returns a spurious or infinite mu.
    h, sigma2 = np.array([0.5]), np.array([0.0])
    stats = (np.array([1.5]), np.array([-0.75]), np.zeros(1), np.zeros(1), np.zeros(1))
    sums = gen.heavy_ball_greedy_sums(h, sigma2, *gen.heavy_ball_raw_moments(*stats))
    assert sums[1] != 0.0 and sums[0] * sums[2] == sums[1] ** 2
    alpha, mu = greedy_step(sums)
    assert (alpha, mu) == greedy_step(sums, mu=0.0) and mu == 0.0 and np.isfinite(alpha)


# ------------------------------------------------------------------------------------------------ heavy ball


HEAVY_BALL = nqm_optimizers.get("heavy-ball")


@pytest.mark.parametrize("spectrum", [
    lambda n: chebyshev_extreme(n, 0.02, 1.0),
    lambda n: log_uniform(n, 0.01, 1.0),
    lambda n: power_law(n),
])
def test_deterministic_greedy_reproduces_conjugate_gradient(spectrum):
    rng = np.random.default_rng(3)
    h = spectrum(40)
    theta0 = rng.normal(0.0, 5.0, size=h.size)
    problem = make_problem(h, np.zeros_like(h), theta0, 0.0)
    T = 30
    cg = conjugate_gradient_losses(h, theta0, T)
    ours = HEAVY_BALL.greedy(problem, T)["loss"]
    # In exact arithmetic the two sequences are equal; in floating point both recurrences lose conjugacy
    # once most of the loss is gone (clustered spectra first), and then amplify rounding differently.
    # So compare while the loss is above 1e-5 of its initial value (about 10-20 steps here), where
    # they agree to ~1e-12; a wrong greedy coefficient is off by far more within the first few steps.
    keep = cg > 1e-5 * cg[0]
    assert keep.sum() > 5
    assert np.allclose(ours[keep], cg[keep], rtol=1e-9)


@given(st.lists(st.floats(0.01, 2.0), min_size=2, max_size=8, unique=True),
       st.lists(st.floats(-5.0, 5.0), min_size=8, max_size=8))
def test_deterministic_greedy_is_conjugate_gradient_on_random_spectra(h, mean0):
    h = np.array(h)
    theta0 = np.array(mean0[: h.size])
    problem = make_problem(h, np.zeros_like(h), theta0, 0.0)
    T = h.size
    cg = conjugate_gradient_losses(h, theta0, T)
    ours = HEAVY_BALL.greedy(problem, T)["loss"]
    keep = cg > 1e-5 * cg[0]  # see above: before rounding is amplified
    assert np.allclose(ours[keep], cg[keep], rtol=1e-7)


@st.composite
def spherical_cases(draw):
    """d coordinates with one curvature h and one noise sigma2 (d = 1: the univariate case)."""
    d = draw(st.integers(1, 3))
    h = draw(st.floats(0.2, 2.0))
    sigma2 = draw(st.floats(0.1, 4.0))
    mean0 = np.array(draw(st.lists(st.floats(-4.0, 4.0), min_size=d, max_size=d)))
    var0 = np.array(draw(st.lists(st.floats(0.0, 2.0), min_size=d, max_size=d)))
    return make_problem(np.full(d, h), np.full(d, sigma2), mean0, var0)


@given(spherical_cases())
def test_spherical_sgd_greedy_is_theorem_3_and_reaches_theorem_4(problem):
    """Each A_i obeys the same linear recurrence in A, so the sum behaves like one coordinate with
    A = mean A_i: alpha_t* = A_t / (h (A_t + sigma2)) (Eq. 7) and A_T = A_0 sigma2 / (T A_0 + sigma2)."""
    T = 12
    h, sigma2, d = problem.h[0], problem.sigma2[0], problem.h.size
    A0 = np.mean(problem.mean0**2 + problem.var0)
    out = HEAVY_BALL.greedy(problem, T, mu=0.0)
    A = 2 * out["loss"] / (h * d)
    assert np.allclose(out["alpha"], sgd_optimal_alpha(h, sigma2, A[:-1]), rtol=1e-10)
    expected = 0.5 * h * d * sgd_min_A_after(A0, sigma2, np.arange(T + 1))
    assert np.allclose(out["loss"], expected, rtol=1e-10, atol=1e-300)


def test_paper_preset_greedy_final_loss_matches_the_paper():
    # The paper reports 63.86 for the greedy-optimal schedule (Section 2.3); with our (documented) choices for what
    # the paper leaves unstated (h_min = 0.005, E[theta0] = 10, V[theta0] = 0), greedy must land within 2%.
    out = HEAVY_BALL.greedy(preset("paper"), 250)
    assert out["loss"][-1] == pytest.approx(63.86, rel=0.02)
    assert out["loss"][0] == pytest.approx(0.5 * 100 * preset("paper").h.sum())


def test_paper_deterministic_greedy_drives_the_loss_below_1e_minus_6():
    out = HEAVY_BALL.greedy(preset("paper-deterministic"), 250)
    assert out["loss"][-1] < 1e-6 * out["loss"][0]
    assert np.all(np.diff(out["loss"]) <= 0)


# ------------------------------------------------------------------------------------------------ large curvatures


def one_coordinate(h):
    return {"h": [h], "sigma2": [1.0], "mean0": [1.0], "var0": [0.0]}


def exact_greedy_of_one_coordinate(h, T=2):
    """The exact greedy steps of one coordinate with sigma2 = 1, theta(0) = 1 (A = 1): step t is Theorem 3's
    alpha_t = A_t / (h (A_t + sigma2)) with A_t = A sigma2 / (t A + sigma2) (Theorem 4), and mu_t = 0."""
    return np.array([sgd_optimal_alpha(h, 1.0, sgd_min_A_after(1.0, 1.0, t)) for t in range(T)])


@pytest.mark.slow
def test_one_coordinate_needs_no_momentum_after_an_optimal_step():
    # Why mu_t = 0 in the reference above: for one coordinate, Theorem 2's (alpha*, mu*) (solved from Eq. 15
    # directly, symbolic/greedy.py) at the moments after Theorem 3's step has mu* = 0, and alpha* is Theorem 3's at
    # Theorem 4's A_1.
    alpha_1d, mu_1d = symbolic_greedy.greedy_univariate()
    m0, v0 = sp.Symbol("m0", real=True), sp.Symbol("v0", nonnegative=True)
    A0, s, h = m0**2 + v0, model.sigma2, model.h
    stats = {k: e.subs({model.mean_theta: m0, model.mean_v: 0, model.var_theta: v0, model.var_v: 0,
                        model.cov_theta_v: 0, model.alpha: A0 / (h * (A0 + s)), model.mu: 0})
             for k, e in dynamics.theorem1().items()}
    raw = {model.A_theta: stats["mean_theta"] ** 2 + stats["var_theta"], model.A_v: stats["mean_v"] ** 2 + stats["var_v"],
           model.E_theta_v: stats["cov_theta_v"] + stats["mean_theta"] * stats["mean_v"]}
    assert sp.simplify(mu_1d.subs(raw)) == 0
    A1 = A0 * s / (A0 + s)
    assert sp.simplify(alpha_1d.subs(raw) - A1 / (h * (A1 + s))) == 0


def shb_json(argv, capsys):
    capsys.readouterr()
    status = main(argv)
    out, err = capsys.readouterr()
    assert status == 0 and err == "", err
    return json.loads(out)


@pytest.mark.parametrize("h", [1e150, 1e80])
def test_shb_nqm_greedy_is_exact_at_a_large_curvature(h, tmp_path, monkeypatch, capsys):
    # Catches alpha = 0 (or inf, or nan) where the sums H_aa ~ h^3 or det H ~ h^4 overflow float64: the greedy step
    # must be the exact one-step minimiser at every step, for greedy and greedy-sgd, and lookahead --horizon 1 must be
    # greedy there.
    monkeypatch.chdir(tmp_path)
    (tmp_path / "P.json").write_text(json.dumps(one_coordinate(h)))
    exact = exact_greedy_of_one_coordinate(h)
    outputs = {}
    for command, extra in (("greedy", []), ("greedy-sgd", []), ("lookahead", ["--horizon", "1"])):
        out = shb_json(["nqm", command, "--problem", "P.json", "--steps", "2", *extra, "--json"], capsys)
        alpha, mu = np.array(out["alpha"]), np.array(out["mu"])
        assert np.all(alpha > 0) and np.all(np.isfinite(out["loss"])), (command, out)
        np.testing.assert_allclose(alpha, exact, rtol=1e-12)
        np.testing.assert_allclose(mu, 0.0, atol=1e-12)
        outputs[command] = out
    for key in ("alpha", "mu", "loss"):
        np.testing.assert_allclose(outputs["lookahead"][key], outputs["greedy"][key], rtol=1e-12, atol=1e-12)


# h = m 2^e with m in [1, 2): every binade from 2^-500 up to the largest accepted (h < 2^511, problem.LARGEST).
curvatures = st.builds(lambda e, m: min(m * 2.0**e, np.nextafter(LARGEST, 0)), st.integers(-500, 510),
                       st.floats(1.0, 2.0, exclude_max=True))


@given(curvatures)
def test_the_greedy_step_is_exact_at_every_accepted_curvature(h):
    problem = make_problem(**one_coordinate(h))
    exact = exact_greedy_of_one_coordinate(h)
    for out in (HEAVY_BALL.greedy(problem, 2), HEAVY_BALL.greedy(problem, 2, mu=0.0)):
        assert np.all(out["alpha"] > 0) and np.all(np.isfinite(out["alpha"]))
        np.testing.assert_allclose(out["alpha"], exact, rtol=1e-12)
        np.testing.assert_allclose(out["mu"], 0.0, atol=1e-12)
    with np.errstate(over="ignore", invalid="ignore"):
        lookahead = HEAVY_BALL.lookahead(problem, 2, K=1)
    np.testing.assert_allclose(lookahead["alpha"], exact, rtol=1e-12)


@pytest.mark.parametrize("k", [-300, -7, 1, 10, 200, 400])
@pytest.mark.parametrize("name", NAMES)
def test_scaling_the_curvatures_by_a_power_of_two_scales_alpha_exactly(name, k):
    # Every rule's dynamics depend on alpha and h only through alpha h: curvatures 2^k h give alpha / 2^k, bitwise
    # (a power of two scales exactly), with the rule's extras held fixed (the preconditioner's default 1/h would
    # scale too), at the greedy pair and at a given mu (0: greedy SGD). Catches a scale c that is not a power of
    # two (inexact), not undone (alpha c), or a threshold that is not scale-free (H_aa <= 1 for <= 0).
    problem = small_problem()
    scaled = problem._replace(h=problem.h * 2.0**k)
    opt, T = nqm_optimizers.get(name), 10
    extras = opt.extras(problem, T)
    for mu in (opt.entry.greedy_mu, 0.0):
        out, out_scaled = (nqm_greedy.greedy(opt.rule, p, T, extras, mu) for p in (problem, scaled))
        assert np.all(np.isfinite(out_scaled["alpha"])) and np.all(out["alpha"] > 0)
        assert np.array_equal(out_scaled["alpha"], out["alpha"] / 2.0**k)
        assert np.array_equal(out_scaled["mu"], out["mu"])


@pytest.mark.parametrize("c, k", [(1e-3, 1.0), (1e3, 1.0), (1.0, 10.0)])
@pytest.mark.parametrize("name", NAMES)
def test_greedy_does_not_depend_on_the_problem_s_scale(name, c, k):
    """The dynamics are linear: theta -> c theta with the noise scaled alike (mean0 -> c mean0, var0 and sigma2
    -> c^2) multiplies every loss by c^2 and leaves the greedy steps as they are. Curvatures h -> k h with learning
    rates alpha -> alpha / k give the same iterates (alpha h is what moves theta): greedy's learning rates divide
    by k (k = 10 is not a power of two: equal to rounding)."""
    # Catches: an absolute threshold where the code means a sign (H_aa <= 1 instead of 0 in greedy_step), or a
    # learning rate clipped at an absolute value.
    h = chebyshev_extreme(20, 0.01, 1.0)
    problem = make_problem(h, 1.0 / h, np.linspace(-10.0, 10.0, 20), 0.5)
    scaled = problem._replace(h=k * problem.h, mean0=c * problem.mean0, var0=c**2 * problem.var0,
                              sigma2=c**2 * problem.sigma2)
    opt, T = nqm_optimizers.get(name), 12
    extras = opt.extras(problem, T)
    g, g_scaled = (nqm_greedy.greedy(opt.rule, p, T, extras, opt.entry.greedy_mu) for p in (problem, scaled))
    np.testing.assert_allclose(g_scaled["alpha"], g["alpha"] / k, rtol=1e-7, atol=1e-12)
    np.testing.assert_allclose(g_scaled["mu"], g["mu"], rtol=1e-7, atol=1e-12)
    np.testing.assert_allclose(g_scaled["loss"], c**2 * k * g["loss"], rtol=1e-7)


def greedy_unscaled(opt, problem, T, extras, mu):
    """The greedy schedule computed at the curvatures as they are (no scaling): greedy_pair and the rule's step."""
    stats = initial_stats(opt.rule, problem.mean0, problem.var0, problem.h.shape)
    alphas, mus = [], []
    for t in range(T):
        extra = extras_of_step(opt.rule, extras, t)
        a, m = greedy_pair(opt.rule, problem.h, problem.sigma2, extra, raw_of(opt, stats), mu)
        alphas.append(a)
        mus.append(m)
        stats = generated(opt.rule, "step")(a, m, problem.h, problem.sigma2, *extra, *stats)
    return np.array(alphas), np.array(mus)


@pytest.mark.parametrize("k", [-20, 0, 20])
@pytest.mark.parametrize("name", NAMES)
def test_the_curvature_scaling_changes_no_number_where_nothing_overflows(name, k):
    # Greedy is computed at h / c with alpha c for c a power of two near max h: exactly the numbers of the
    # computation at h itself wherever that does not overflow. Catches a scale that is not a power of two (h / c and
    # alpha c then round: the test above cannot see it, as c scales with h) and one applied to alpha the wrong way.
    problem = small_problem()
    problem = problem._replace(h=3.0 * 2.0**k * problem.h)  # max h = 3 2^k: c = 2^(k + 2), h / c not h
    opt, T = nqm_optimizers.get(name), 10
    extras = opt.extras(problem, T)
    for mu in (opt.entry.greedy_mu, 0.0):
        out = nqm_greedy.greedy(opt.rule, problem, T, extras, mu)
        alpha, mu_t = greedy_unscaled(opt, problem, T, extras, mu)
        assert np.array_equal(out["alpha"], alpha) and np.array_equal(out["mu"], mu_t)
