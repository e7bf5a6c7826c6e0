"""The `optimizers` figure's checks (experiments/figures/fig_optimizers.py) fail on a wrong input of the figure's size, and
pass on the right one (the house pattern of tests/nqm/test_checks.py).

Check kinds: Zhang et al. (2019)'s closed form for SGD's variance (on the paper preset, T = 250, every rule that is
SGD at mu = 0); optimized <= greedy where greedy keeps the safeguard, and the safeguard itself; two rules derived
apart agreeing on one schedule (minibatch B = 1 and heavy ball).
"""
import numpy as np
import pytest

from shb.experiments.figures import fig_optimizers as F
from shb.numeric.nqm import optimizers as nqm_optimizers
from shb.numeric.nqm import problem as nqm_problem

CFG = dict(F.PAPER)  # the figure's size: the paper preset, T = 250, B = 1..1000


@pytest.fixture(scope="module")
def problem():
    return nqm_problem.preset(CFG["preset"])


@pytest.fixture(scope="module")
def cases(problem):
    return F.zhang_cases(problem, CFG)


def test_zhang_closed_form_is_the_sgd_variance_recurrence(problem):
    # Catches a wrong closed form (b^(k+1) for b^k, s* without alpha^2, 1 + b for 1 - b): it must equal
    # s_{k+1} = (1 - alpha h)^2 s_k + alpha^2 h^2 sigma2 iterated from s_0, the recurrence derived in the
    # figure's docstring, here with s_0 > 0 so the transient term is exercised too.
    alpha, T = 0.5, 250
    g2, s0 = problem.h**2 * problem.sigma2, np.linspace(0.0, 3.0, problem.h.size)
    s, iterated = s0.copy(), [s0.copy()]
    for _ in range(T):
        s = (1 - alpha * problem.h) ** 2 * s + alpha**2 * g2
        iterated.append(s)
    closed = F.zhang_variance(problem.h, g2, alpha, s0, T)
    assert np.allclose(closed, np.array(iterated), rtol=1e-12, atol=0)


def test_zhang_check_passes_on_the_rules(cases):
    # Catches a rule whose variance at mu = 0 is not SGD's (a wrong noise scale sigma2 / B, a wrong p), or a check
    # that always fails.
    assert [label for label, _, _ in cases] == [label for label, _, _ in F.entries(CFG)]  # every row is SGD at mu = 0
    assert F.zhang_check(cases, CFG["zhang_tolerance"])["passed"]


@pytest.mark.parametrize("mistake", ["b 2% low", "1% too high", "g2 of B = 1 for every batch", "a nan"])
def test_zhang_check_fails_on_a_wrong_closed_form(cases, problem, mistake):
    alpha, T = CFG["zhang_alpha"], CFG["T"]
    k = np.arange(T + 1)[:, None]
    wrong = []
    for label, exact, closed in cases:
        b = (1 - alpha * problem.h) ** 2
        if mistake == "b 2% low":
            g2 = problem.h**2 * problem.sigma2
            s_star = alpha**2 * g2 / (1 - b)
            closed = s_star + (0.98 * b) ** k * (problem.var0 - s_star) if label == "heavy ball" else closed
        elif mistake == "1% too high":
            closed = closed * 1.01 if label == "Nesterov" else closed
        elif mistake == "g2 of B = 1 for every batch":
            closed = cases[0][2] if label.startswith("B=") else closed
        elif mistake == "a nan":
            closed = closed.copy()
            if label == "Polyak":
                closed[5, 7] = np.nan
        wrong.append((label, exact, closed))
    result = F.zhang_check(wrong, CFG["zhang_tolerance"])
    assert not result["passed"], result["detail"]


def _finals(optimized, greedy_ratio=1.0):
    return {"a": {"greedy": 10.0, "optimized": 5.0, "greedy_ratio": 1.0},
            "b": {"greedy": 10.0, "optimized": optimized, "greedy_ratio": greedy_ratio}}


def test_ordering_checks_fail_on_a_fit_worse_than_its_start_or_breaking_the_safeguard():
    # Catches a fit that ends above the greedy schedule it started from, and an optimized schedule over the
    # safeguard by 1e-6 (relative); greedy over the safeguard is not a start, so there optimized may be higher.
    ok = F.ordering_checks(_finals(9.0), {"a": 0.0, "b": -0.5})
    assert all(c["passed"] for c in ok)
    assert not F.ordering_checks(_finals(10.0 * (1 + 1e-6)), {"a": 0.0, "b": 0.0})[0]["passed"]
    assert F.ordering_checks(_finals(12.0, greedy_ratio=1.9), {"a": 0.0, "b": 0.0})[0]["passed"]
    assert not F.ordering_checks(_finals(9.0), {"a": 0.0, "b": 1e-6})[1]["passed"]
    assert not F.ordering_checks(_finals(9.0), {"a": 0.0, "b": float("nan")})[1]["passed"]


def test_same_schedule_check_fails_on_a_perturbed_route(problem):
    # Catches two routes that disagree by 1e-6 in one alpha_t or in the last loss (a minibatch rule drifting from
    # heavy ball), on the paper preset's T = 250 greedy schedule.
    greedy = nqm_optimizers.get("heavy-ball").greedy(problem, CFG["T"])
    assert F.same_schedule_check("same", greedy, greedy)["passed"]
    for key, index in (("alpha", 100), ("loss", -1)):
        wrong = {k: np.array(v, dtype=float) for k, v in greedy.items() if k in ("alpha", "mu", "loss")}
        wrong[key][index] *= 1 + 1e-6
        assert not F.same_schedule_check("perturbed", wrong, greedy, 1e-9)["passed"], key
