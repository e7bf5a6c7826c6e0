"""The numeric side of every update rule: the generated adjoint, the greedy step, the registry.

- final_loss's gradient (the generated <rule>_raw_step_vjp, one Autograd primitive) equals Autograd
  differentiating a step-by-step rollout of the rule's central-moment recurrence (<rule>_step, taped), with
  and without the safeguard penalty, for one schedule and a batch;
- the greedy step is a stationary point and a minimiser of the summed one-step loss (its own generated
  <rule>_one_step_loss, differentiated by Autograd), jointly or in alpha at the given mu;
- the registry: heavy-ball returns the existing modules' outputs exactly, and the generic heavy_ball rule
  the same numbers to rounding; options are validated with one-line errors.
"""
import autograd
import autograd.numpy as anp
import numpy as np
import pytest
from hypothesis import given, strategies as st

from shb.ground.errors import InputError
from shb.numeric.nqm import dynamics as nqm_dynamics
from shb.numeric.nqm import montecarlo as nqm_montecarlo
from shb.numeric.nqm import optimizers as nqm_optimizers
from shb.numeric.nqm import rule_dynamics as nqm_rule_dynamics
from shb.numeric.nqm import rule_greedy as nqm_rule_greedy
from shb.numeric.nqm import schedules as nqm_schedules
from shb.numeric.nqm import generated_rules as gen
from shb.numeric.nqm.generated import raw_loss_component
from shb.numeric.nqm.problem import make_problem
from shb.numeric.nqm.rule_adjoint import final_loss

RULES = list(gen.RULES)


def extras_for(rule, rng, d, T):
    """Random valid extras: p > 0 per coordinate, an integer batch size, averaging weights in (0, 1]."""
    return {"preconditioned": {"p": rng.uniform(0.2, 3.0, d)}, "minibatch": {"B": float(rng.integers(1, 9))},
            "averaged": {"gamma": rng.uniform(0.05, 1.0, T)}}.get(rule, {})


def taped_loss(rule, alpha, mu, h, sigma2, mean0, var0, extras, weight=0.0):
    """L(T) (+ penalty) by Autograd taping <rule>_step over the central statistics (the independent reference)."""
    T = np.shape(alpha)[-1]
    stats = nqm_rule_dynamics.initial_central(rule, mean0, var0, np.shape(alpha)[:-1] + np.shape(h))
    to_raw, step = gen.__dict__[f"{rule}_raw_moments"], gen.__dict__[f"{rule}_step"]

    def loss(stats):
        return raw_loss_component(h, to_raw(*stats)[gen.RULES[rule]["loss_index"]])[0]

    start = loss(stats) + anp.zeros(np.shape(alpha)[:-1] + np.shape(h))
    live = start > 0
    penalty = 0.0
    for t, extra in enumerate(nqm_rule_dynamics.extras_at(rule, extras, T)):
        stats = step(alpha[..., t, None], mu[..., t, None], h, sigma2, *extra, *stats)
        ratio = loss(stats) / np.where(live, start, 1.0)
        penalty = penalty + anp.sum((anp.maximum(ratio - 1.0, 0.0) * live) ** 2, axis=-1)
    return anp.sum(loss(stats), axis=-1) + weight * penalty


@st.composite
def cases(draw):
    rule = draw(st.sampled_from(RULES))
    d, T = draw(st.integers(1, 5)), draw(st.integers(1, 10))
    batch = draw(st.sampled_from([(), (3,)]))
    rng = np.random.default_rng(draw(st.integers(0, 2**31 - 1)))
    h, sigma2 = rng.uniform(0.05, 1.0, d), rng.uniform(0.0, 2.0, d)
    mean0, var0 = rng.normal(0, 5, d), rng.uniform(0, 2, d)
    mean0[0], var0[0] = 0.0, 0.0  # a coordinate at the optimum: exempt from the penalty
    alpha, mu = rng.uniform(0.0, 1.5, batch + (T,)), rng.uniform(-0.5, 0.99, batch + (T,))
    extras = extras_for(rule, rng, d, T)
    return rule, alpha, mu, (h, sigma2, mean0, var0), extras


@pytest.mark.parametrize("weight", [0.0, 1e3])
@given(case=cases())
def test_generated_adjoint_matches_autograd_on_the_taped_recurrence(case, weight):
    # Catches: a wrong sign or factor in a derived adjoint, the penalty injected at the wrong step, a
    # per-step extra (gamma_t) applied at the wrong step, a batch axis summed into the wrong place.
    rule, alpha, mu, problem, extras = case
    ours = final_loss(rule, alpha, mu, *problem, extras, weight)
    np.testing.assert_allclose(ours, taped_loss(rule, alpha, mu, *problem, extras, weight), rtol=1e-10)
    upstream = np.arange(1.0, 1.0 + np.size(ours))

    def objective(f):
        return lambda a, m: anp.sum(upstream * f(rule, a, m, *problem, extras, weight))

    got = autograd.grad(objective(final_loss), (0, 1))(alpha, mu)
    want = autograd.grad(objective(taped_loss), (0, 1))(alpha, mu)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-8, atol=1e-9 * max(1.0, np.max(np.abs(w))))


def test_adjoint_matches_central_differences():
    rng = np.random.default_rng(5)
    d, T = 4, 6
    problem = (rng.uniform(0.1, 1.0, d), rng.uniform(0.1, 1.0, d), rng.normal(0, 3, d), rng.uniform(0, 1, d))
    alpha, mu = rng.uniform(0.1, 0.9, T), rng.uniform(0.0, 0.9, T)
    for rule in RULES:
        extras = extras_for(rule, rng, d, T)
        grads = autograd.grad(final_loss, (1, 2))(rule, alpha, mu, *problem, extras)
        for k, x in enumerate((alpha, mu)):
            for t in (0, T - 1):
                up, down = x.copy(), x.copy()
                up[t] += 1e-6
                down[t] -= 1e-6
                args = [(up, mu), (alpha, up)][k], [(down, mu), (alpha, down)][k]
                fd = (final_loss(rule, *args[0], *problem, extras) - final_loss(rule, *args[1], *problem, extras)) / 2e-6
                assert abs(fd - grads[k][t]) <= 1e-6 * (1 + abs(fd)), (rule, k, t)


@given(case=cases(), scale=st.sampled_from([1e-3, 1e-1]))
def test_greedy_step_minimises_the_rules_one_step_loss(case, scale):
    # Catches: a sign slip in a rule's greedy sums, or a greedy step taken with the wrong extras.
    rule, _, mu, (h, sigma2, mean0, var0), extras = case
    T = len(next(iter(extras.values()))) if rule == "averaged" else 1
    extra = nqm_rule_dynamics.extras_at(rule, extras, T)[0]
    rng = np.random.default_rng(int(1e3 * h[0]))
    stats = nqm_rule_dynamics.initial_central(rule, mean0 + 1.0, var0, h.shape)
    for _ in range(3):  # a few random steps: momentum and averages away from their initial values
        stats = gen.__dict__[f"{rule}_step"](rng.uniform(0.1, 1.0), rng.uniform(0, 0.9), h, sigma2, *extra, *stats)
    raw = gen.__dict__[f"{rule}_raw_moments"](*stats)
    joint = gen.RULES[rule]["greedy"] == "joint"
    given_mu = None if joint else float(np.ravel(mu)[0])
    sums = gen.__dict__[f"{rule}_greedy_sums"](*(() if joint else (given_mu,)), h, sigma2, *extra, *raw)
    if joint and sums[0] * sums[2] - sums[1] ** 2 <= 1e-6 * sums[0] * sums[2]:
        return  # nearly singular: the minimiser is not unique
    x_star = np.array(nqm_rule_greedy.greedy_step(sums, given_mu))

    def total(x):
        return anp.sum(gen.__dict__[f"{rule}_one_step_loss"](x[0], x[1], h, sigma2, *extra, *raw))

    grad = autograd.grad(total)(x_star)
    size = np.abs(np.array(sums)).sum() * (1 + np.abs(x_star).sum())
    assert abs(grad[0]) <= 1e-9 * size and (not joint or abs(grad[1]) <= 1e-9 * size)
    for direction in rng.uniform(-1, 1, (5, 2)):
        direction[1] *= joint  # mu is given, not chosen, for an alpha-given-mu rule
        assert total(x_star) <= total(x_star + scale * direction) + 1e-12 * (1 + abs(total(x_star)))


# ------------------------------------------------------------------------------------------------ registry


def small_problem():
    return make_problem([1.0, 0.2, 0.05], [1.0, 5.0, 20.0], [3.0, -4.0, 1.0], [0.5, 0.0, 0.1])


def test_heavy_ball_entry_is_the_existing_code_exactly():
    problem, hb = small_problem(), nqm_optimizers.get()
    assert hb.name == nqm_optimizers.DEFAULT == "heavy-ball" == nqm_optimizers.names()[0]
    alpha, mu = np.full(15, 0.4), np.full(15, 0.6)
    ours, theirs = hb.rollout(problem, alpha, mu), nqm_dynamics.rollout(problem, alpha, mu)
    assert all(np.array_equal(ours[k], theirs[k]) for k in theirs)
    assert hb.final_loss(problem, alpha, mu, 1e4) == nqm_dynamics.final_loss(problem, alpha, mu, 1e4)
    assert np.array_equal(hb.greedy(problem, 15)["alpha"], nqm_schedules.greedy(problem, 15)["alpha"])
    mc, reference = hb.simulate(problem, alpha, mu, 500, 3, [4]), nqm_montecarlo.simulate(problem, alpha, mu, 500, 3, [4])
    assert all(np.array_equal(mc[k], reference[k]) for k in reference)
    generic = nqm_rule_dynamics.rollout("heavy_ball", problem, alpha, mu, {})
    assert all(np.allclose(generic[k], theirs[k], rtol=1e-13, atol=1e-15) for k in theirs)


@pytest.mark.parametrize("name", nqm_optimizers.names())
def test_every_entry_runs_with_its_defaults(name):
    problem, opt = small_problem(), nqm_optimizers.get(name)
    alpha, mu = np.full(12, 0.3), np.full(12, 0.5)
    curve = opt.loss_curve(problem, alpha, mu)
    assert set(opt.rollout(problem, alpha, mu)) == {*opt.statistics(), "loss"}
    assert curve.shape == (13,) and np.isclose(curve[-1], opt.final_loss(problem, alpha, mu))
    assert np.all(np.isfinite(autograd.grad(lambda a: opt.final_loss(problem, a, mu, 1e2))(alpha)))
    assert opt.max_component_ratio(problem, alpha, mu) >= 1.0
    greedy = opt.greedy(problem, 12)
    assert greedy["alpha"].shape == (12,) and greedy["loss"][-1] < greedy["loss"][0]
    assert set(opt.simulate(problem, alpha, mu, 50, 0)) >= {"steps", "mean_theta", "var_theta", "mean_v", "var_v"}


def test_registry_errors_are_one_line_input_errors():
    problem = small_problem()
    alpha = mu = np.full(4, 0.3)
    for call in (lambda: nqm_optimizers.get("adam"),
                 lambda: nqm_optimizers.get("minibatch").rollout(problem, alpha, mu, B=2.5),
                 lambda: nqm_optimizers.get("preconditioned").rollout(problem, alpha, mu, p=[1.0, -1.0, 1.0]),
                 lambda: nqm_optimizers.get("ema").rollout(problem, alpha, mu, gamma=0.0),
                 lambda: nqm_optimizers.get("nesterov").rollout(problem, alpha, mu, B=2),
                 lambda: nqm_rule_greedy.greedy("nesterov", problem, 4, {})):
        with pytest.raises(InputError) as err:
            call()
        assert "\n" not in str(err.value)


def test_minibatch_of_one_and_unit_preconditioner_are_heavy_ball():
    problem, alpha, mu = small_problem(), np.full(10, 0.4), np.full(10, 0.6)
    reference = nqm_dynamics.rollout(problem, alpha, mu)["loss"]
    for name, options in (("minibatch", {"B": 1}), ("preconditioned", {"p": 1.0}), ("ema", {"gamma": 1.0})):
        np.testing.assert_allclose(nqm_optimizers.get(name).loss_curve(problem, alpha, mu, **options), reference,
                                   rtol=1e-13)


def test_greedy_at_a_given_momentum():
    # mu = 0 is greedy SGD for every rule (heavy-ball's entry: nqm_schedules.greedy_sgd exactly); at a given
    # mu a joint rule's greedy alpha is the minimum in alpha of its one-step loss.
    problem = small_problem()
    sgd = nqm_schedules.greedy_sgd(problem, 10)
    assert np.array_equal(nqm_optimizers.get().greedy(problem, 10, mu=0.0)["alpha"], sgd["alpha"])
    for name in ("nesterov", "minibatch"):
        ours = nqm_optimizers.get(name).greedy(problem, 10, mu=0.0, **({"B": 1} if name == "minibatch" else {}))
        np.testing.assert_allclose(ours["alpha"], sgd["alpha"], rtol=1e-12)
    generic = nqm_rule_greedy.greedy("heavy_ball", problem, 10, {}, mu=0.7)
    raw = gen.heavy_ball_raw_moments(*nqm_rule_dynamics.initial_central("heavy_ball", problem.mean0, problem.var0,
                                                                        problem.h.shape))

    def total(a):
        return anp.sum(gen.heavy_ball_one_step_loss(a, 0.7, problem.h, problem.sigma2, *raw))

    assert abs(autograd.grad(total)(generic["alpha"][0])) <= 1e-10 * (1 + total(generic["alpha"][0]))
    assert np.all(generic["mu"] == 0.7)
