"""The remedies for short-horizon bias on the NQM (numeric/nqm/trace.py, pes.py, pieces.py, corrections.py).

References that share no code path with what they check:
- a trace's and PES's meta-gradient against central differences of log L_{t+1} computed by Autograd's taped
  rollout of the rule's central-moment step (tests/nqm/reference.py: `taped_loss`, not the raw-moment jets the trace
  runs on, nor the rank-one adjoint PES runs on), under the perturbation each differentiates;
- the lambda = 1 trace at a held pair against PES's gradient (jets through the raw step against the adjoint);
- the 1-piece fit and the receding horizon's first plan against a brute-force grid of constant pairs.
Bugs caught: a tangent term dropped (the carried trace, or the step's own derivative), a wrong discount, a wrong
chain rule through u = (log alpha, log(1 - mu)), PES differentiating the wrong unroll, a fit or a plan that is not a
minimum, the regret arithmetic.
"""
import numpy as np
import pytest

from shb.numeric.nqm import corrections, pes, pieces, trace
from shb.numeric.nqm.horizon import VALUE, Jet
from shb.numeric.nqm import optimizers as nqm_optimizers
from shb.numeric.nqm.problem import make_problem
from .reference import NAMES, stable_scale, taped_loss

T, EPS, TOLERANCE = 8, 1e-5, 1e-6


def small(noise=1.0, d=5):
    h = np.geomspace(0.05, 1.0, d)
    return make_problem(h, noise / h, np.linspace(1.0, 2.0, d), 0.1 * np.ones(d))


def log_loss(opt, problem, alpha, mu):
    """log L after len(alpha) steps, by the taped central-moment rollout (the reference)."""
    extras = opt.extras(problem, len(alpha))
    return float(np.log(taped_loss(opt.rule, np.asarray(alpha), np.asarray(mu), problem.h, problem.sigma2,
                                   problem.mean0, problem.var0, extras)))


def difference(opt, problem, u, t, weights, which):
    """Central difference of log L_{t+1} when u[which, s] moves by EPS * weights[s], s = 0..t."""
    values = []
    for sign in (1.0, -1.0):
        v = u[:, : t + 1].copy()
        v[which] += sign * EPS * weights
        values.append(log_loss(opt, problem, np.exp(v[0]), 1.0 - np.exp(v[1])))
    return (values[0] - values[1]) / (2 * EPS)


def trace_errors(opt, problem, forget, meta_lr=0.05):
    """The largest relative error of the trace's meta-gradient against central differences at every step."""
    a0 = (0.5 * stable_scale(opt, problem), 0.3)
    s = trace.trace_schedule(opt, problem, T, forget, meta_lr, *a0)
    u = np.stack([np.log(s["alpha"]), np.log(1.0 - s["mu"])])
    worst = 0.0
    for t in range(T):
        weights = forget ** np.arange(t, -1, -1.0) if forget else (np.arange(t + 1) == t).astype(float)
        for which in (0, 1):
            fd = difference(opt, problem, u, t, weights, which)
            worst = max(worst, abs(s["meta_gradient"][t][which] - fd) / max(abs(fd), 1e-3))
    return worst


@pytest.mark.parametrize("forget", [0.0, 0.5, 1.0])
@pytest.mark.parametrize("name", NAMES)
def test_a_traces_meta_gradient_is_the_derivative_under_its_discounted_perturbation(name, forget):
    opt = nqm_optimizers.get(name)
    assert trace_errors(opt, small(), forget) < TOLERANCE


@pytest.mark.parametrize("drop", ["carried", "own"])
def test_a_dropped_tangent_term_fails_the_finite_difference_check(monkeypatch, drop):
    # carried: tau_{t+1} loses (d m' / d m) lambda tau_t; own: it loses the step's d m' / d u_t.
    if drop == "carried":
        tangent = trace._tangent
        monkeypatch.setattr(trace, "_tangent", lambda raw, tau: tangent(raw, 0.0 * np.asarray(tau)))
    else:
        variables = trace._variables
        monkeypatch.setattr(trace, "_variables", lambda u: tuple(_value_only(j) for j in variables(u)))
    assert trace_errors(nqm_optimizers.get("heavy-ball"), small(), 0.5) > 1e-3


def _value_only(jet):
    c = np.zeros_like(jet.c)
    c[VALUE] = jet.c[VALUE]
    return Jet(c)


@pytest.mark.parametrize("name", NAMES)
def test_pes_gradient_is_the_derivative_of_the_unroll_held_at_the_current_pair(name):
    opt, problem = nqm_optimizers.get(name), small()
    s = pes.pes_schedule(opt, problem, T, 0.05, 0.5 * stable_scale(opt, problem), 0.3)
    worst = 0.0
    for t in (0, T // 2, T - 1):
        u = np.array([[np.log(s["alpha"][t])] * (t + 1), [np.log(1.0 - s["mu"][t])] * (t + 1)])
        for which in (0, 1):
            fd = difference(opt, problem, u, t, np.ones(t + 1), which)
            worst = max(worst, abs(s["meta_gradient"][t][which] - fd) / max(abs(fd), 1e-3))
    assert worst < TOLERANCE


@pytest.mark.parametrize("name", NAMES)
def test_while_the_pair_is_held_the_full_trace_is_pes_gradient(name):
    # The lambda = 1 trace along a constant u differentiates the same unroll PES does (module docstrings).
    opt, problem = nqm_optimizers.get(name), small()
    u = np.array([np.log(0.5 * stable_scale(opt, problem)), np.log(1.0 - 0.3)])
    extras = opt.extras(problem, T)
    s = trace.trace_schedule(opt, problem, T, 1.0, 1e-300, np.exp(u[0]), 1.0 - np.exp(u[1]))  # u does not move
    for t in range(T):
        expected = pes.gradient(opt, problem, u, t + 1, extras)
        np.testing.assert_allclose(s["meta_gradient"][t], expected, rtol=1e-9, atol=1e-12)


def grid_minimum(opt, problem, steps):
    """The lowest L(steps) over a 120 x 60 grid of constant pairs (alpha up to twice the stable scale)."""
    alphas = np.geomspace(1e-3, 3.0, 120) * stable_scale(opt, problem)
    mus = np.linspace(0.0, 0.95, 60)
    A, M = np.meshgrid(alphas, mus, indexing="ij")
    alpha, mu = (np.repeat(x.reshape(-1, 1), steps, axis=1) for x in (A, M))
    losses = opt.final_loss(problem, alpha, mu)
    return float(np.nanmin(np.where(np.isfinite(losses), losses, np.nan)))


def test_one_shared_pair_fitted_on_the_final_loss_is_the_grids_best_or_better():
    opt, problem = nqm_optimizers.get("heavy-ball"), small(noise=0.1)
    s = pieces.pieces_schedule(opt, problem, T, 1, steps=400, lr=0.01)
    assert np.ptp(s["alpha"]) == 0 and np.ptp(s["mu"]) == 0
    assert s["loss"][-1] <= grid_minimum(opt, problem, T) * (1 + 1e-3)


@pytest.mark.parametrize("n", [1, 4])
def test_pieces_end_no_higher_than_the_fixed_grids_best_pair(n):
    # Catches a start that is worse than one constant pair (the pieces' fit then reports sharing as costlier than
    # it is): after a single Adam step the best iterate is no higher than the grid's best constant pair's L(T).
    from shb.numeric.nqm.schedules import fixed_grid

    opt, problem = nqm_optimizers.get("heavy-ball"), small()
    alpha, mu = fixed_grid(opt, problem, T)
    s = pieces.pieces_schedule(opt, problem, T, n, steps=1)
    assert s["loss"][-1] <= opt.final_loss(problem, np.full(T, alpha), np.full(T, mu)) * (1 + 1e-12)


def test_n_pieces_are_piecewise_constant_on_their_steps():
    opt, problem = nqm_optimizers.get("heavy-ball"), small()
    s = pieces.pieces_schedule(opt, problem, T, 4, steps=20)
    for k in range(4):
        block = s["alpha"][pieces.piece_of(T, 4) == k]
        assert len(block) == T // 4 and np.ptp(block) == 0
    assert len(np.unique(s["alpha"])) == 4


def test_the_receding_horizons_first_plan_is_the_best_constant_pair_to_the_end():
    opt, problem = nqm_optimizers.get("heavy-ball"), small(noise=0.1)
    s = opt.lookahead(problem, T, to_end=True)
    held = opt.final_loss(problem, np.full(T, s["alpha"][0]), np.full(T, s["mu"][0]))
    assert held <= grid_minimum(opt, problem, T) * (1 + 1e-9)


def test_regret_and_the_share_of_greedys_excess_removed():
    results = {name: {"loss": np.array([9.0, final])} for name, final in
               (("greedy", 6.0), ("optimized", 2.0), ("trace", 4.0), ("worse", 8.0))}
    regrets = corrections.regret(results)
    assert regrets == {"greedy": 3.0, "optimized": 1.0, "trace": 2.0, "worse": 4.0}
    assert corrections.removed(regrets) == {"greedy": 0.0, "optimized": 1.0, "trace": 0.5, "worse": -0.5}


def test_the_pieces_share_their_starts_only_within_one_problem(monkeypatch):
    # Catches a memo that hands one problem's starts to another (a stale start) or that is not used at all.
    calls = []
    grid = pieces.fixed_grid
    monkeypatch.setattr(pieces, "fixed_grid", lambda *a: calls.append(1) or grid(*a))
    pieces._LAST.clear()  # what an earlier test left
    opt = nqm_optimizers.get("heavy-ball")
    for n in (1, 2, 4):
        pieces.pieces_schedule(opt, small(), T, n, steps=1)
    assert len(calls) == 1
    other = small(noise=0.5)
    expected = pieces.start(opt, other, T), pieces.fixed_grid(opt, other, T)
    (alpha, mu), constant = pieces.shared_starts(opt, other, T)
    assert len(calls) == 3 and constant == expected[1]
    assert np.array_equal(alpha, expected[0][0]) and np.array_equal(mu, expected[0][1])
