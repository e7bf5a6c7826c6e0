"""numeric/nqm/safeguard.py: the paper's safeguard (Section 2.3), no coordinate's loss component above its initial
value, for every rule: its violation and the exact per-step learning-rate bound that makes a schedule keep it.

References: each rule's loss after one step of its own update (tests/nqm/reference.py) for the bound's roots; the
rollout's per-coordinate losses for the violation; the linearity of the dynamics for its scale-freeness.

Catches: a wrong discriminant or lower root of the bound, a coordinate at its optimum (L_i(0) = 0, or no curvature
left in alpha) counted as binding, a cap not applied step by step (later bounds must see the capped past), a
one-point feasible set taken for an empty one, and absolute thresholds where the code means signs.
"""
import numpy as np
import pytest

from shb.numeric.nqm import optimizers as nqm_optimizers
from shb.numeric.nqm import safeguard as nqm_safeguard
from shb.numeric.nqm.problem import chebyshev_extreme, make_problem
from shb.numeric.nqm.safeguard import constraint_violation, initial_components, learning_rate_bound, project_safeguard

from .reference import NAMES, extras_of_step, generated, initial_stats, loss_of_stats, small_problem, stable_scale

HEAVY_BALL = nqm_optimizers.get("heavy-ball")


def noisy_ill_conditioned():
    h = chebyshev_extreme(20, 0.01, 1.0)
    return make_problem(h, 1.0 / h, 10.0, 0.0)


@pytest.mark.parametrize("name", NAMES)
def test_initial_components_and_the_violation_are_their_definitions(name):
    # L_i(0) = 1/2 h_i A(x_i(0)) at the rule's loss iterate, and the violation max_{t,i} L_i(t) / L_i(0) - 1 over the
    # coordinates with L_i(0) > 0 (coordinate 1 starts at its optimum: exempt).
    problem = make_problem([1.0, 0.5, 0.05], [1.0, 2.0, 0.0], [3.0, 0.0, 1.0], [0.5, 0.0, 0.0])
    opt, T = nqm_optimizers.get(name), 9
    start = loss_of_stats(opt.rule, problem.h, initial_stats(opt.rule, problem.mean0, problem.var0, problem.h.shape))
    np.testing.assert_allclose(initial_components(opt, problem), start, rtol=1e-15)
    alpha, mu = np.full(T, 3.0 * stable_scale(opt, problem, T)), np.full(T, 0.3)  # some component rises
    components = opt.loss_components(problem, opt.rollout(problem, alpha, mu))
    expected = max(1.0, np.max(components[:, [0, 2]] / start[[0, 2]])) - 1
    assert expected > 0 and constraint_violation(opt, problem, alpha, mu) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("name, momentum", [(name, 0.3) for name in NAMES] + [("heavy-ball", 0.6)])
def test_the_learning_rate_bound_is_tight(name, momentum):
    """project_safeguard caps alpha_t exactly where a component would exceed its initial value: at the cap
    some component sits at its initial value, and 1% more alpha would push it over. (At mu = 0.6 momentum alone
    overshoots for some rules on this problem: no alpha is feasible there, and alpha is left alone.)"""
    problem = noisy_ill_conditioned()
    opt, T = nqm_optimizers.get(name), 12
    alpha, mu = np.full(T, 3.0 * stable_scale(opt, problem, T)), np.full(T, momentum)  # far too aggressive
    assert constraint_violation(opt, problem, alpha, mu) > 1.0
    capped = project_safeguard(opt, problem, alpha, mu)
    assert constraint_violation(opt, problem, capped, mu) <= 1e-9
    t = int(np.argmax(capped < alpha))  # the first capped step
    bumped = capped.copy()
    bumped[t] *= 1.01
    assert constraint_violation(opt, problem, bumped[: t + 1], mu[: t + 1]) > 0
    assert constraint_violation(opt, problem, capped[: t + 1], mu[: t + 1]) > -1e-6


@pytest.mark.parametrize("name", NAMES)
def test_without_momentum_the_capped_schedule_keeps_the_safeguard(name):
    # Without momentum alpha = 0 keeps theta (an average moves towards it), so some alpha always keeps every
    # component down: the capped schedule satisfies the safeguard, whatever it started from.
    problem, T = small_problem(), 25
    opt, zeros = nqm_optimizers.get(name), np.zeros(T)
    capped = project_safeguard(opt, problem, np.full(T, 5.0), zeros)
    assert np.any(capped < 5.0) and opt.max_component_ratio(problem, capped, zeros) <= 1 + 1e-9


def one_step_after(opt, problem, stats, extra, mu):
    """alpha -> the per-coordinate loss after one step of the rule's own update (the reference's one-step loss)."""
    def loss(alpha):
        return loss_of_stats(opt.rule, problem.h,
                             generated(opt.rule, "step")(alpha, mu, problem.h, problem.sigma2, *extra, *stats))
    return loss


@pytest.mark.parametrize("name", NAMES)
def test_the_learning_rate_bound_is_both_roots_of_the_binding_coordinate(name):
    # upper and lower are where the binding coordinate's one-step loss l_i(alpha) (Eq. 15 for the rule) meets its
    # initial value: every coordinate keeps l_i <= L_i(0) on [lower, upper] and one sits on it at each end, to rounding;
    # a coordinate whose L_i(0) is 0 does not bind (the noise lifts it for every alpha != 0). Catches a wrong
    # discriminant (sign or factor of 4 c2 c0), a wrong lower root, and start = 0 counted as binding (found by
    # mutation testing: the 1%-bump test above is too coarse for them).
    problem = make_problem([1.0, 0.3, 0.05], [1.0, 1.0, 1.0], [2.0, -1.0, 0.0], [0.5, 0.0, 0.0])
    opt, mu = nqm_optimizers.get(name), 0.5
    extras = opt.extras(problem, 2)
    stats = initial_stats(opt.rule, problem.mean0, problem.var0, problem.h.shape)
    stats = generated(opt.rule, "step")(0.4 * stable_scale(opt, problem, 2), mu, problem.h, problem.sigma2,
                                        *extras_of_step(opt.rule, extras, 0), *stats)
    start = initial_components(opt, problem)
    assert start[2] == 0.0 < start[1]
    raw = generated(opt.rule, "raw_moments")(*stats)
    extra = extras_of_step(opt.rule, extras, 1)
    one_step = generated(opt.rule, "one_step_loss")
    upper, lower = learning_rate_bound(lambda a: one_step(a, mu, problem.h, problem.sigma2, *extra, *raw),
                                       problem.h, start)
    assert lower < 0.0 < upper < np.inf
    after = one_step_after(opt, problem, stats, extra, mu)

    def excess(alpha):  # l_i(alpha) / L_i(0) - 1 over the coordinates that can bind
        return after(alpha)[:2] / start[:2] - 1

    for end in (upper, lower):
        assert np.max(excess(end)) == pytest.approx(0.0, abs=1e-9)
    assert np.all(excess(0.5 * (upper + lower)) < 0.0)


def test_a_noise_free_coordinate_at_its_optimum_does_not_lift_the_others_bound():
    # One step of alpha = 1/h, mu = 0 puts a noise-free coordinate exactly at its optimum: its one-step loss is then 0
    # for every alpha (c2 = 0), so it cannot bind. Catches it counted as binding (c2 >= 0), whose root 0/0 would
    # read as "no alpha keeps every component down" and lift the bound of every coordinate.
    problem = make_problem([1.0, 0.3], [0.0, 1.0], [2.0, -1.0], [0.0, 0.5])
    stats = generated("heavy_ball", "step")(1.0, 0.0, problem.h, problem.sigma2,
                                            *initial_stats("heavy_ball", problem.mean0, problem.var0, (2,)))
    assert stats[0][0] == 0.0 and stats[2][0] == 0.0  # E[theta_0] = V[theta_0] = 0
    start = initial_components(HEAVY_BALL, problem)
    raw = generated("heavy_ball", "raw_moments")(*stats)
    one_step = generated("heavy_ball", "one_step_loss")
    upper, lower = learning_rate_bound(lambda a: one_step(a, 0.0, problem.h, problem.sigma2, *raw), problem.h, start)
    alone = [r[1:] for r in raw]
    expected = learning_rate_bound(lambda a: one_step(a, 0.0, problem.h[1:], problem.sigma2[1:], *alone),
                                   problem.h[1:], start[1:])
    assert np.isfinite(upper) and (upper, lower) == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize("bounds, expected", [((0.3, 0.3), 0.3), ((0.3, 0.1), 0.3), ((0.3, 0.4), 1.0)])
def test_the_safeguard_caps_alpha_unless_no_alpha_is_feasible(monkeypatch, bounds, expected):
    # learning_rate_bound's feasible set is [lower, upper], empty if lower > upper (nothing keeps every component
    # down: alpha is left alone). Catches a one-point set (upper == lower, a tangent root) taken for an empty one.
    monkeypatch.setattr(nqm_safeguard, "learning_rate_bound", lambda *args: bounds)
    problem = make_problem([1.0], [1.0], [1.0], [0.0])
    assert project_safeguard(HEAVY_BALL, problem, [1.0], [0.0]).tolist() == [expected]


@pytest.mark.parametrize("c, k", [(1e-3, 1.0), (1e3, 1.0), (1.0, 10.0)])
@pytest.mark.parametrize("name", NAMES)
def test_the_safeguard_does_not_depend_on_the_problem_s_scale(name, c, k):
    """The dynamics are linear: theta -> c theta with the noise scaled alike (mean0 -> c mean0, var0 and sigma2
    -> c^2) multiplies every loss by c^2 and leaves every ratio L_i(t) / L_i(0) and the safeguard's bounds as they
    are. Curvatures h -> k h with learning rates alpha -> alpha / k give the same iterates: the bound divides by k."""
    # Catches: an absolute threshold where the code means a sign (e.g. L_i(0) > 1 instead of > 0 deciding which
    # coordinates bind or are exempt), a margin added instead of scaled, or a learning rate clipped at an absolute
    # value (the bound is 0.1-0.3 for k = 10).
    h = chebyshev_extreme(20, 0.01, 1.0)
    problem = make_problem(h, 1.0 / h, np.linspace(-10.0, 10.0, 20), 0.5)
    scaled = problem._replace(h=k * problem.h, mean0=c * problem.mean0, var0=c**2 * problem.var0,
                              sigma2=c**2 * problem.sigma2)
    opt, T = nqm_optimizers.get(name, **({"p": 1.0} if name == "preconditioned" else {})), 12
    alpha, mu = np.full(T, 3.0 * stable_scale(opt, problem, T)), np.full(T, 0.6)  # too aggressive: the bound binds
    assert constraint_violation(opt, scaled, alpha / k, mu) == pytest.approx(
        constraint_violation(opt, problem, alpha, mu), rel=1e-9)
    np.testing.assert_allclose(project_safeguard(opt, scaled, alpha / k, mu),
                               project_safeguard(opt, problem, alpha, mu) / k, rtol=1e-7)
    penalty = [opt.final_loss(p, a, mu, 10.0) - opt.final_loss(p, a, mu) for p, a in ((problem, alpha),
                                                                                       (scaled, alpha / k))]
    assert penalty[1] == pytest.approx(penalty[0], rel=1e-6)
