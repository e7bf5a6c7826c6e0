"""Schedules fitted for a batch of problems (numeric/nqm/fit.py) and the adjoint over a batch of problems
(numeric/nqm/adjoint.py with h, sigma2, mean0, var0 of shape (B, d))."""
import numpy as np
import pytest

from shb.numeric.nqm import adjoint as nqm_adjoint

from shb.numeric.nqm import fit as nqm_fit
from shb.numeric.nqm.dynamics import rollout
from shb.numeric.nqm.problem import chebyshev_extreme, make_problem


def problems():
    out = []
    for kappa, noise in ((1.0, 0.3), (30.0, 0.0), (300.0, 1.0)):
        h = chebyshev_extreme(8, 1.0 / kappa, 1.0)
        out.append(make_problem(h, noise / h, np.linspace(-3.0, 5.0, 8), 0.2))
    return out


def stacked(items):
    return tuple(np.stack([getattr(p, name) for p in items]) for name in ("h", "sigma2", "mean0", "var0"))


def test_the_adjoint_over_a_batch_of_problems_is_each_problem_alone():
    # Catches per-coordinate arrays shaped (B, B, d) (each schedule against every problem) instead of (B, d).
    rng = np.random.default_rng(0)
    items = problems()
    alpha, mu = rng.uniform(0.05, 0.6, (3, 7)), rng.uniform(0.0, 0.8, (3, 7))
    loss, grad_alpha, grad_mu = nqm_adjoint.rank_one(alpha, mu, *stacked(items))
    batched_final = nqm_adjoint.final_loss(alpha, mu, *stacked(items))
    for b, p in enumerate(items):
        alone = nqm_adjoint.rank_one(alpha[b], mu[b], p.h, p.sigma2, p.mean0, p.var0)
        np.testing.assert_allclose(loss[b], alone[0], rtol=1e-13)
        np.testing.assert_allclose(grad_alpha[b], alone[1], rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(grad_mu[b], alone[2], rtol=1e-12, atol=1e-14)
        assert batched_final[b] == pytest.approx(rollout(p, alpha[b], mu[b])["loss"][-1], rel=1e-12)


def test_the_fit_lowers_every_schedule_and_keeps_its_best_iterate():
    items = problems()
    T = 12
    alpha0, mu0 = np.full((3, T), 0.05), np.full((3, T), 0.3)
    start = nqm_fit.final_losses(*stacked(items), alpha0, mu0)
    alpha, mu, best = nqm_fit.fit(*stacked(items), alpha0, mu0, steps=60, lr=0.05)
    assert np.all(best < start * 0.5)
    np.testing.assert_allclose(best, nqm_fit.final_losses(*stacked(items), alpha, mu), rtol=1e-12)
    # each row is fitted on its own problem: the same as fitting it alone
    for b, p in enumerate(items):
        _, _, alone = nqm_fit.fit(p.h[None], p.sigma2[None], p.mean0[None], p.var0[None], alpha0[b:b + 1],
                                  mu0[b:b + 1], steps=60, lr=0.05)
        assert alone[0] == pytest.approx(best[b], rel=1e-10)
    # no steps: the start itself
    _, _, unchanged = nqm_fit.fit(*stacked(items), alpha0, mu0, steps=0, lr=0.05)
    np.testing.assert_allclose(unchanged, start, rtol=1e-12)
