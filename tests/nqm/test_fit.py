"""numeric/nqm/fit.py: schedules fitted for a batch of problems at once (the atlas), for every rule.

Catches: a schedule fitted on another problem of the batch (per-coordinate arrays (B, B, d) instead of (B, d)), a fit
that ends above its start (the best iterate not kept), a loss reported for another iterate than the one returned,
and steps = 0 not returning the start. (The adjoint over a batch of problems: tests/nqm/test_adjoint.py.)
"""
import numpy as np
import pytest

from shb.numeric.nqm import fit as nqm_fit
from shb.numeric.nqm import optimizers as nqm_optimizers
from shb.numeric.nqm.problem import Problem, chebyshev_extreme, make_problem

from .reference import NAMES


def problems():
    out = []
    for kappa, noise in ((1.0, 0.3), (30.0, 0.0), (300.0, 1.0)):
        h = chebyshev_extreme(8, 1.0 / kappa, 1.0)
        out.append(make_problem(h, noise / h, np.linspace(-3.0, 5.0, 8), 0.2))
    return out


def stacked(items):
    return Problem(*(np.stack([getattr(p, name) for p in items]) for name in Problem._fields))


@pytest.mark.parametrize("name", NAMES)
def test_the_fit_lowers_every_schedule_and_keeps_its_best_iterate(name):
    items, opt, T = problems(), nqm_optimizers.get(name), 12
    batch = stacked(items)
    alpha0, mu0 = np.full((3, T), 0.05), np.full((3, T), 0.3)
    start = nqm_fit.final_losses(opt, batch, alpha0, mu0)
    alpha, mu, best = nqm_fit.fit(opt, batch, alpha0, mu0, steps=60, lr=0.05)
    assert np.all(best < start * 0.5)
    # best (the rank-one adjoint's value) is the loss of the returned schedule (the moments' rollout): equal to
    # rounding, which is relative to the loss's terms, of the size of L(0) (a preconditioned fit ends at 1e-8 L(0))
    final = nqm_fit.final_losses(opt, batch, alpha, mu)
    assert np.all(np.abs(best - final) <= 1e-12 * final + 1e-16 * start)
    # each row is fitted on its own problem: the same as fitting it alone
    for b, p in enumerate(items):
        _, _, alone = nqm_fit.fit(opt, stacked([p]), alpha0[b:b + 1], mu0[b:b + 1], steps=60, lr=0.05)
        assert alone[0] == pytest.approx(best[b], rel=1e-10)
        assert best[b] == pytest.approx(float(opt.final_loss(p, alpha[b], mu[b])), rel=1e-12, abs=1e-16 * start[b])
    # no steps: the start itself
    _, _, unchanged = nqm_fit.fit(opt, batch, alpha0, mu0, steps=0, lr=0.05)
    np.testing.assert_allclose(unchanged, start, rtol=1e-12)
