"""Online stochastic meta-descent: the run (Algorithm 1 run during training; Section 3.3, Figures 7 and 8).

While the network trains with SGD momentum, every `burst_every` training steps during the first `adapt_steps`
steps a burst of `meta_steps_per_burst` meta-steps adapts u = (log alpha_eff, log(1 - mu))
(numeric/meta/reparam.py): each meta-step is one exact hypergradient of the loss after a T = `lookahead` step
lookahead from the current weights and velocity (numeric/meta/lookahead.py), and one Adam step in u. After
`adapt_steps` adaptation stops and alpha decays exponentially (mu kept) so that it reaches `final_lr` on the last
step. The fixed baseline never adapts.

The run's whole state is a `RunState` (numeric/meta/online_state.py: weights, velocity, u, Adam's state, the data
generator's state, the logs), advanced in place by `advance` and saved between segments by the experiment
(experiments/figures/online), so a run resumes bit for bit.
"""
from collections import namedtuple

import numpy as np

from shb.numeric.meta import lookahead, trace
from shb.numeric.meta.online_state import Audit, HypergradSample, RunState, Tangents, TraceWindow
from shb.numeric.meta.reparam import alpha_mu
from shb.numeric.networks import training
from shb.numeric.optim import AdamState, adam

MODES = ("stochastic", "deterministic", "fixed", "trace")

# The network (a Net, numeric/networks/net.py), the data: training and test sets (training.Dataset), and the evaluation
# subset sizes.
Problem = namedtuple("Problem", ["net", "train", "test", "eval_train", "eval_test"])
# One run: its name, its mode (MODES), its initial (alpha, mu) and the seed of its data generator; a trace run's
# forgetting factor and Adam step size in u (numeric/meta/trace.py).
RunSpec = namedtuple("RunSpec", ["name", "mode", "alpha", "mu", "seed", "forget", "trace_lr"], defaults=[None, None])


def decayed_alpha(alpha_end, t, adapt_steps, steps, final_lr):
    """Exponential decay after adaptation: alpha_end at t = adapt_steps, min(final_lr, alpha_end) at t = steps - 1."""
    span = max(steps - 1 - adapt_steps, 1)
    target = min(final_lr, alpha_end)
    return float(alpha_end * (target / alpha_end) ** ((t - adapt_steps) / span))


def applied_hypers(state, config):
    """(alpha, mu) the optimizer applies at step state.t."""
    alpha, mu = alpha_mu(state.u)
    if state.t >= config["adapt_steps"]:
        alpha = decayed_alpha(alpha, state.t, config["adapt_steps"], config["steps"], config["final_lr"])
    return alpha, mu


def new_state(run, config, theta0, inputs=None):
    """A run before its first step (RunState.start); `config` is the run's (nothing in a fresh state depends on it)."""
    return RunState.start(run, theta0, inputs)


def evaluate(problem, theta):
    """(training loss on the first eval_train examples, test error on the first eval_test), in chunks."""
    net = problem.net
    with np.errstate(over="ignore", invalid="ignore"):
        n = min(problem.eval_train, problem.train.images.shape[0])
        train_loss = training.mean_loss(net, theta, problem.train, n, chunk=1000)
        test_error = training.error_rate(net, theta, problem.test, min(problem.eval_test, problem.test.images.shape[0]),
                                         chunk=1000)
    return (train_loss if np.isfinite(train_loss) else None), test_error


def log_point(state, problem, alpha, mu):
    """Log step state.t: the (alpha, mu) applied there, the training loss and the test error."""
    train_loss, test_error = evaluate(problem, state.theta)
    log = state.log
    log["step"].append(int(state.t))
    log["lr"].append(float(alpha))
    log["mu"].append(float(mu))
    log["train_loss"].append(train_loss)
    log["test_error"].append(test_error)


def burst(state, problem, run, config, rng):
    """`meta_steps_per_burst` meta-steps (lookahead + Adam in u-space) from the current (theta, v).

    A non-finite meta-gradient (the lookahead blew up: the meta-objective is +inf there)
    is replaced by (1, 0), so Adam lowers alpha_eff; such steps are counted. So is a finite one
    too large to square (|g| > 1e154, the lookahead as good as blown up): Adam's second moment
    v += (1 - b2) g^2 would overflow to inf and freeze that coordinate of u for the rest of the
    run. u is kept in the box [log_alpha_eff_bounds] x [log(1e-4), 0] (0 <= mu <= 0.9999), as the public code does.
    """
    net, data = problem.net, problem.train
    _, update = adam(config["meta_lr"])
    adam_state = AdamState(state.adam_step, state.adam_m, state.adam_v)
    u = state.u
    losses = []
    for m in range(config["meta_steps_per_burst"]):
        step_idx, meta_idx = lookahead.draw_lookahead(rng, data.images.shape[0], run.mode, config["lookahead"],
                                                      config["batch_size"], config["meta_batch"])
        batches, meta_batch = lookahead.batches_of(data, step_idx, meta_idx)
        with np.errstate(over="ignore", invalid="ignore"):
            meta_loss, meta_grad = lookahead.lookahead_hypergrad(net, u, state.theta, state.v, batches, meta_batch)
        if state.hypergrad_sample is None and m == 0 and state.t >= config["check_step"]:
            state.hypergrad_sample = HypergradSample(
                t=int(state.t), meta_loss=meta_loss, u=u.copy(), theta=state.theta.copy(), v=state.v.copy(),
                step_idx=np.array(step_idx), meta_idx=np.array(meta_idx), hypergrad_used=meta_grad.copy())
        u, adam_state = update(usable(meta_grad, state, meta_loss), adam_state, u)
        u = box(u, state, config)
        losses.append(meta_loss if np.isfinite(meta_loss) else float("inf"))
    state.u = u
    state.adam_step, state.adam_m, state.adam_v = adam_state
    state.meta["step"].append(int(state.t))
    state.meta["meta_loss"].append(float(np.mean(losses)))
    state.meta["u"].append(u.tolist())


def advance(state, problem, run, config, until):
    """Run training steps t = state.t .. until-1 (with bursts and logging); state is updated in place."""
    net, data = problem.net, problem.train
    rng = np.random.default_rng()
    rng.bit_generator.state = state.rng
    steps, n = config["steps"], data.images.shape[0]
    while state.t < until and state.diverged_at is None:
        t = state.t
        if run.mode != "fixed" and t < config["adapt_steps"] and t % config["burst_every"] == 0:
            burst(state, problem, run, config, rng)
        if run.mode == "trace" and t < config["adapt_steps"]:
            batch_loss, g, idx = trace_step(state, problem, run, config, rng)
            alpha, mu = alpha_mu(state.u)
        else:
            alpha, mu = applied_hypers(state, config)
            if t % config["log_every"] == 0:
                log_point(state, problem, alpha, mu)
            idx = training.batch_indices(rng, n, config["batch_size"])
            X, Y = training.minibatch(data, idx)
            with np.errstate(over="ignore", invalid="ignore"):
                batch_loss, g = net.loss_and_grad(state.theta, X, Y)
        theta, v = training.sgd_momentum_step(state.theta, state.v, g, alpha, mu)
        if t == config["audit_step"]:
            state.audit = Audit(t=t, theta_before=state.theta.copy(), v_before=state.v.copy(), idx=idx.copy(),
                                theta_after=theta.copy())
        state.theta, state.v, state.t = theta, v, t + 1
        if not (np.isfinite(batch_loss) and np.all(np.isfinite(theta))):
            state.diverged_at = t
        elif state.t == steps:
            log_point(state, problem, alpha, mu)  # the end point, with the last step's (alpha, mu)
    state.rng = rng.bit_generator.state


def trace_step(state, problem, run, config, rng):
    """Step t of a trace run during adaptation (numeric/meta/trace.py): the minibatch's gradient and the
    meta-gradient g_t . dtheta_t, one Adam step in u (kept in the box, as a burst's), the tangents carried through
    the step at the new u; the window the hypergradient check replays recorded from check_step. Returns (the
    minibatch's loss where it is logged, else 0.0; g_t; the minibatch's indices); the caller takes the step."""
    net, data, t = problem.net, problem.train, state.t
    if state.trace is None:
        state.trace = Tangents(*trace.zero_tangents(state.theta))
    idx = training.batch_indices(rng, data.images.shape[0], config["batch_size"])
    X, Y = training.minibatch(data, idx)
    with np.errstate(over="ignore", invalid="ignore"):
        g, hvps, meta_grad = trace.gradient_and_meta_gradient(net, state.theta, state.trace.dtheta, X, Y)
    _, update = adam(run.trace_lr)
    u, adam_state = update(usable(meta_grad, state), AdamState(state.adam_step, state.adam_m, state.adam_v), state.u)
    state.u, (state.adam_step, state.adam_m, state.adam_v) = box(u, state, config), adam_state
    record_window(state, config, idx)
    alpha, mu = alpha_mu(state.u)
    if t % config["log_every"] == 0:
        log_point(state, problem, alpha, mu)
    batch_loss = 0.0
    if t % config["burst_every"] == 0:
        batch_loss = float(net.loss(state.theta, X, Y))
        state.meta["step"].append(int(t))
        state.meta["meta_loss"].append(batch_loss if np.isfinite(batch_loss) else float("inf"))
        state.meta["u"].append(state.u.tolist())
    trace.carry(state.trace.dtheta, state.trace.dv, g, hvps, state.v, state.u, run.forget)
    return (batch_loss if np.isfinite(batch_loss) else np.inf), g, idx


def record_window(state, config, idx):
    """From check_step, the window's snapshot (before the step) and each of its steps' minibatch and applied u (the
    last minibatch: the loss's)."""
    W = trace.window(config)
    if state.t == config["check_step"]:
        state.trace_window = TraceWindow(t=int(state.t), filled=0, theta=state.theta.copy(), v=state.v.copy(),
                                         us=np.zeros((W, 2)), idx=np.zeros((W + 1, idx.size), dtype=np.int64))
    w = state.trace_window
    if w is not None and w.filled <= W and state.t == w.t + w.filled:
        w.idx[w.filled] = idx
        if w.filled < W:
            w.us[w.filled] = state.u
        w.filled += 1


def usable(meta_grad, state, meta_loss=0.0):
    """The meta-gradient Adam may take: `meta_grad`, or (1, 0) (so Adam lowers alpha_eff), counted, where it or the
    meta-loss is not finite or it is too large to square (Adam squares it: its second moment would overflow to inf
    and freeze that coordinate of u for the rest of the run)."""
    with np.errstate(over="ignore", invalid="ignore"):
        if np.isfinite(meta_loss) and np.all(np.isfinite(meta_grad * meta_grad)):
            return meta_grad
    state.nonfinite_meta_grads += 1
    return np.array([1.0, 0.0])


def box(u, state, config):
    """u kept in [log alpha_eff_bounds] x [log one_minus_mu_bounds], a step outside counted (as a burst does)."""
    lo = np.array([np.log(config["alpha_eff_bounds"][0]), np.log(config["one_minus_mu_bounds"][0])])
    hi = np.array([np.log(config["alpha_eff_bounds"][1]), np.log(config["one_minus_mu_bounds"][1])])
    if np.any(u < lo) or np.any(u > hi):
        state.clipped_meta_steps += 1
    return np.clip(u, lo, hi)


def run_online(problem, run, config, theta0):
    """One whole run in this process, without saved progress: the state after config["steps"] steps (or at
    divergence). The experiment (experiments/figures/online) runs the same `advance` in segments through its runner,
    saving the state between them; segments do not change a number (the data generator's state is part of it)."""
    state = new_state(run, config, theta0)
    advance(state, problem, run, config, config["steps"])
    return state

