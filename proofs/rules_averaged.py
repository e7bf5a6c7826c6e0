"""Iterate averaging: the loss at an averaged iterate, and the extra moments it brings.

The rule is heavy ball plus theta_avg' = (1 - gamma) theta_avg + gamma theta', theta_avg(0) = theta(0), with
the excess loss taken at theta_avg. Checked here:
  * averaging does not feed back: the (theta, v) part of the rule's means and covariances step is Theorem 1;
  * Polyak-Ruppert averaging (Polyak & Juditsky 1992) is gamma_t = 1/(t + 2): if theta_avg(t) is the mean
    S_t / (t + 1) of theta(0..t), one step makes it the mean (S_t + theta(t+1)) / (t + 2) of theta(0..t+1);
  * the new second moments: A(theta_avg') = (1 - gamma)^2 A(theta_avg) + 2 gamma (1 - gamma) E[theta_avg theta']
    + gamma^2 A(theta'), with E[theta_avg theta'] = (1 - alpha h) E[theta theta_avg] + mu E[v theta_avg]
    (the noise is independent of theta_avg);
  * gamma = 1 (no averaging) gives heavy ball's one-step loss, Eq. 15.
"""
import sympy as sp

from shb.proofs.kernel import Identity, Substitutes
from shb.symbolic import dynamics, greedy, model, rule_moments
from shb.symbolic.optimizers.averaged import RULE as AVERAGED, gamma
from shb.symbolic.rules import nqm_gradient, raw_symbols

THEOREM = "Rules: iterate averaging"
CITES = "Polyak & Juditsky 1992 (running mean); Theorem 1; Eq. 15"
STATEMENT = r"""
With $\bar\theta' = (1 - \gamma)\bar\theta + \gamma\theta'$: $(\theta, v)$ still follow Theorem 1,
$\gamma_t = 1/(t+2)$ keeps $\bar\theta(t)$ the mean of $\theta(0..t)$, and
$A(\bar\theta') = (1 - \gamma)^2 A(\bar\theta) + 2\gamma(1 - \gamma)\mathbb{E}[\bar\theta\theta'] + \gamma^2 A(\theta')$.
"""

a, m, h = model.alpha, model.mu, model.h


def steps():
    stats = dict(zip(rule_moments.central_symbols(AVERAGED), rule_moments.central_step(AVERAGED)))
    th1 = dynamics.theorem1()
    names = ("mean_theta", "mean_v", "var_theta", "var_v", "cov_theta_v")
    yield Identity("(theta, v) follow Theorem 1", "Averaging does not feed back into theta and v.",
                   sp.Matrix([stats[s] for s in model.STATE]), sp.Matrix([th1[k] for k in names]),
                   latex=r"(\mathbb{E}, \mathbb{V}, \Sigma)(\theta', v') = \text{Theorem 1}")
    t = sp.Symbol("t", nonnegative=True, integer=True)
    S = sp.Symbol("S_t", real=True)  # theta(0) + ... + theta(t)
    state = {model.theta: model.theta, model.v: model.v, AVERAGED.state[2]: S / (t + 1)}
    theta1, _, avg1 = AVERAGED.step(state, nqm_gradient(AVERAGED))
    yield Identity("Polyak: gamma_t = 1/(t+2) keeps the running mean", "avg(t) = S_t / (t + 1) steps to (S_t + theta(t+1)) / (t + 2).",
                   avg1.subs(gamma, 1 / (t + 2)), (S + theta1) / (t + 2),
                   latex=r"\bar\theta(t+1)\big|_{\gamma = 1/(t+2)} = \frac{S_t + \theta(t+1)}{t + 2}")
    raw = dict(zip(raw_symbols(AVERAGED), rule_moments.raw_step(AVERAGED)))
    A_t, A_v, A_avg, E_tv, E_tavg, E_vavg = raw_symbols(AVERAGED)
    cross = (1 - a * h) * E_tavg + m * E_vavg  # E[theta_avg theta']
    yield Identity("A(theta_avg')", "A(avg') = (1-gamma)^2 A(avg) + 2 gamma (1-gamma) E[avg theta'] + gamma^2 A(theta').",
                   raw[A_avg], (1 - gamma) ** 2 * A_avg + 2 * gamma * (1 - gamma) * cross + gamma**2 * raw[A_t],
                   latex=r"A(\bar\theta') = (1-\gamma)^2 A(\bar\theta) + 2\gamma(1-\gamma)\mathbb{E}[\bar\theta\theta'] + \gamma^2 A(\theta')")
    yield Identity("E[theta' theta_avg']", "E[theta' avg'] = (1 - gamma) E[avg theta'] + gamma A(theta').",
                   raw[E_tavg], (1 - gamma) * cross + gamma * raw[A_t],
                   latex=r"\mathbb{E}[\theta'\bar\theta'] = (1-\gamma)\mathbb{E}[\bar\theta\theta'] + \gamma A(\theta')")
    yield Substitutes("gamma = 1 is heavy ball's Eq. 15", "Without averaging the loss after one step is Eq. 15.",
                      rule_moments.one_step_loss(AVERAGED), {gamma: 1}, greedy.one_step_loss(),
                      latex=r"\mathcal{L}_i\big|_{\gamma = 1} = \text{Eq. 15}")
