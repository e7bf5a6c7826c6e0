"""Online stochastic meta-descent (Algorithm 1 run during training; Section 3.3, Figures 7 and 8).

Hyperparameters, in the paper's reparameterization (Section 3.3),

    u = (log alpha_eff, log(1 - mu)),   alpha_eff = alpha / (1 - mu),
    alpha = exp(u_0 + u_1),   mu = 1 - exp(u_1),
    d alpha / d u = (alpha, alpha),   d mu / d u = (0, -(1 - mu)).

Lookahead (the inner loop of Algorithm 1, horizon T = 5): from the current weights and
velocity (theta_0, v_0), which do not depend on u, simulate T steps of SGD momentum

    g_t = grad L_t(theta_t),  v_{t+1} = mu v_t - alpha g_t,  theta_{t+1} = theta_t + v_{t+1},

carrying the tangents d theta_t / d u_i and d v_t / d u_i forward (Eqs. 8-9 with momentum):

    dv_{t+1} = (d mu/d u_i) v_t + mu dv_t - (d alpha/d u_i) g_t - alpha H_t dtheta_t,
    dtheta_{t+1} = dtheta_t + dv_{t+1},      dtheta_0 = dv_0 = 0,

with g_t and H_t dtheta_t from the network's one forward-over-reverse pass (`net.grad_and_hvps`,
numeric/networks/net.py: hand-derived for the MLP, Autograd's make_jvp for the CNN). The meta-objective is the training
loss after the lookahead, J(u) = L_meta(theta_T), and dJ/du_i = grad L_meta(theta_T) . dtheta_T.
MetaStep is Adam in u-space. The lookahead is a simulation: the real (theta, v) are
never changed by it (Section 3.1, "meta-updates on separate SGD trajectories").

Stochastic lookahead: a fresh minibatch for every lookahead step and a fresh one for
L_meta. Deterministic lookahead (Figure 8): one minibatch for all T steps and for L_meta.
Both draw new minibatches for every meta-step, so each meta-gradient is an unbiased
sample of the gradient of the expected meta-objective.

Online schedule (Section 3.3): every `burst_every` training steps during the first
`adapt_steps` steps, run `meta_steps_per_burst` meta-steps; then stop adapting and
decay alpha exponentially (mu kept) so that it reaches `final_lr` on the last step.

The whole run state (weights, velocity, u, Adam state, the data RNG's state, the log)
is saved atomically every `save_every` steps (`save_state`) so a run resumes bit for bit.
"""
import io
import json
import zipfile
from collections import namedtuple

import autograd.numpy as anp
import numpy as np
from autograd import grad

from shb.numeric.meta import hypergrad

from shb.numeric.networks import training
from shb.numeric.optim import AdamState, adam
from shb.ground.errors import InputError, ProgressError
from shb.ground.io import atomic_write_bytes, parse_json, to_json

HYPERS = ("log_alpha_eff", "log_one_minus_mu")
MODES = ("stochastic", "deterministic", "fixed")

# The network (a Net, numeric/networks/net.py), the data: training and test sets (training.Dataset), and the evaluation
# subset sizes.
Problem = namedtuple("Problem", ["net", "train", "test", "eval_train", "eval_test"])
RunSpec = namedtuple("RunSpec", ["name", "mode", "alpha", "mu", "seed"])


# ---------------------------------------------------------------- hyperparameters

def alpha_mu(u):
    """(alpha, mu) from u = (log alpha_eff, log(1 - mu))."""
    return float(np.exp(u[0] + u[1])), float(1.0 - np.exp(u[1]))


def hypers(alpha, mu):
    """u = (log alpha_eff, log(1 - mu)) from (alpha, mu); alpha > 0, 0 <= mu < 1."""
    return np.array([np.log(alpha / (1.0 - mu)), np.log(1.0 - mu)])


def d_alpha_mu(u):
    """(d alpha / d u, d mu / d u) = ((alpha, alpha), (0, -(1 - mu)))."""
    alpha, mu = alpha_mu(u)
    return np.array([alpha, alpha]), np.array([0.0, -(1.0 - mu)])


# ---------------------------------------------------------------- lookahead hypergradient

def lookahead_hypergrad(net, u, theta, v, batches, meta_batch):
    """(J, dJ/du) for the lookahead over `batches` from (theta, v): exact forward mode (Eqs. 8-9).

    Returns the meta-objective J = L(theta_T; meta_batch) and its gradient with respect to
    u = (log alpha_eff, log(1 - mu)); theta and v are not modified. Computes in theta's dtype,
    updating copies in place, each update rounded as written (left to right).
    """
    alpha, mu = alpha_mu(u)
    dalpha, dmu = d_alpha_mu(u)
    theta, v = theta.copy(), v.copy()
    dtheta = np.zeros((len(HYPERS), theta.size), theta.dtype)
    dv = np.zeros_like(dtheta)
    for X, Y in batches:
        g, hvps = hypergrad.grad_and_hvps(net, theta, dtheta, X, Y)
        hypergrad.carry_tangents(dtheta, dv, g, hvps, alpha, mu, dalpha, v, dmu)  # before v is updated
        training.sgd_momentum_update(theta, v, g, alpha, mu)
    meta_loss, g_meta = net.loss_and_grad(theta, *meta_batch)
    return float(meta_loss), dtheta @ g_meta


def lookahead_loss(net, u, theta, v, batches, meta_batch):
    """J(u) by a plain unroll of the taped loss (`hypergrad.taped_unroll`), for Autograd's reverse mode and for
    central differences (`hypergrad.finite_difference_hypergrad(lookahead_loss, net, u, ...)`): the references."""
    alpha = anp.exp(u[0] + u[1])
    mu = 1.0 - anp.exp(u[1])
    return hypergrad.taped_unroll(net, theta, v, batches, meta_batch, lambda t: alpha, mu)


reverse_lookahead_hypergrad = grad(lookahead_loss, 1)


def draw_lookahead(rng, n_train, mode, horizon, batch_size, meta_batch):
    """Minibatch indices for one meta-step: (list of T index arrays, meta-batch indices).

    Stochastic: T + 1 fresh minibatches (the last, of `meta_batch` examples, for L_meta).
    Deterministic: one minibatch of `batch_size` examples for every step and for L_meta.
    """
    if mode == "deterministic":
        idx = training.batch_indices(rng, n_train, batch_size)
        return [idx] * horizon, idx
    steps = [training.batch_indices(rng, n_train, batch_size) for _ in range(horizon)]
    return steps, training.batch_indices(rng, n_train, meta_batch)


def batches_of(data, step_idx, meta_idx):
    return [training.minibatch(data, idx) for idx in step_idx], training.minibatch(data, meta_idx)


# ---------------------------------------------------------------- the online run

def decayed_alpha(alpha_end, t, adapt_steps, steps, final_lr):
    """Exponential decay after adaptation: alpha_end at t = adapt_steps, min(final_lr, alpha_end) at t = steps - 1."""
    span = max(steps - 1 - adapt_steps, 1)
    target = min(final_lr, alpha_end)
    return float(alpha_end * (target / alpha_end) ** ((t - adapt_steps) / span))


def applied_hypers(state, config):
    """(alpha, mu) the optimizer applies at step state["t"]."""
    alpha, mu = alpha_mu(state["u"])
    if state["t"] >= config["adapt_steps"]:
        alpha = decayed_alpha(alpha, state["t"], config["adapt_steps"], config["steps"], config["final_lr"])
    return alpha, mu


def new_state(run, config, theta0):
    """A run before its first step: weights theta0, zero velocity, u from the run's (alpha, mu)."""
    u = hypers(run.alpha, run.mu)
    return {
        "t": 0, "theta": theta0.copy(), "v": np.zeros_like(theta0), "u": u,
        "adam_step": 0, "adam_m": np.zeros(2), "adam_v": np.zeros(2),
        "rng": np.random.default_rng(run.seed).bit_generator.state,
        "log": {"step": [], "lr": [], "mu": [], "train_loss": [], "test_error": []},
        "meta": {"step": [], "meta_loss": [], "u": []},
        "nonfinite_meta_grads": 0, "clipped_meta_steps": 0, "diverged_at": None,
        "hypergrad_sample": None, "audit": None, "cpu_seconds": 0.0,
    }


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
    train_loss, test_error = evaluate(problem, state["theta"])
    log = state["log"]
    log["step"].append(int(state["t"]))
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
    adam_state = AdamState(state["adam_step"], state["adam_m"], state["adam_v"])
    lo = np.array([np.log(config["alpha_eff_bounds"][0]), np.log(config["one_minus_mu_bounds"][0])])
    hi = np.array([np.log(config["alpha_eff_bounds"][1]), np.log(config["one_minus_mu_bounds"][1])])
    u = state["u"]
    losses = []
    for m in range(config["meta_steps_per_burst"]):
        step_idx, meta_idx = draw_lookahead(rng, data.images.shape[0], run.mode, config["lookahead"],
                                            config["batch_size"], config["meta_batch"])
        batches, meta_batch = batches_of(data, step_idx, meta_idx)
        with np.errstate(over="ignore", invalid="ignore"):
            meta_loss, hypergrad = lookahead_hypergrad(net, u, state["theta"], state["v"], batches, meta_batch)
            finite = np.isfinite(meta_loss) and np.all(np.isfinite(hypergrad * hypergrad))  # as Adam squares it
        if state["hypergrad_sample"] is None and m == 0 and state["t"] >= config["check_step"]:
            state["hypergrad_sample"] = {
                "t": int(state["t"]), "u": u.copy(), "theta": state["theta"].copy(), "v": state["v"].copy(),
                "step_idx": np.array(step_idx), "meta_idx": np.array(meta_idx),
                "hypergrad_used": hypergrad.copy(), "meta_loss": meta_loss,
            }
        if not finite:
            state["nonfinite_meta_grads"] += 1
            hypergrad = np.array([1.0, 0.0])
        u, adam_state = update(hypergrad, adam_state, u)
        if np.any(u < lo) or np.any(u > hi):
            state["clipped_meta_steps"] += 1
            u = np.clip(u, lo, hi)
        losses.append(meta_loss if np.isfinite(meta_loss) else float("inf"))
    state["u"] = u
    state["adam_step"], state["adam_m"], state["adam_v"] = adam_state
    state["meta"]["step"].append(int(state["t"]))
    state["meta"]["meta_loss"].append(float(np.mean(losses)))
    state["meta"]["u"].append(u.tolist())


def advance(state, problem, run, config, until):
    """Run training steps t = state["t"] .. until-1 (with bursts and logging); state is updated in place."""
    net, data = problem.net, problem.train
    rng = np.random.default_rng()
    rng.bit_generator.state = state["rng"]
    steps, n = config["steps"], data.images.shape[0]
    while state["t"] < until and state["diverged_at"] is None:
        t = state["t"]
        if run.mode != "fixed" and t < config["adapt_steps"] and t % config["burst_every"] == 0:
            burst(state, problem, run, config, rng)
        alpha, mu = applied_hypers(state, config)
        if t % config["log_every"] == 0:
            log_point(state, problem, alpha, mu)
        idx = training.batch_indices(rng, n, config["batch_size"])
        X, Y = training.minibatch(data, idx)
        with np.errstate(over="ignore", invalid="ignore"):
            batch_loss, g = net.loss_and_grad(state["theta"], X, Y)
        theta, v = training.sgd_momentum_step(state["theta"], state["v"], g, alpha, mu)
        if t == config["audit_step"]:
            state["audit"] = {"t": t, "theta_before": state["theta"].copy(), "v_before": state["v"].copy(),
                              "idx": idx.copy(), "theta_after": theta.copy()}
        state["theta"], state["v"], state["t"] = theta, v, t + 1
        if not (np.isfinite(batch_loss) and np.all(np.isfinite(theta))):
            state["diverged_at"] = t
        elif state["t"] == steps:
            log_point(state, problem, alpha, mu)  # the end point, with the last step's (alpha, mu)
    state["rng"] = rng.bit_generator.state


def run_online(problem, run, config, theta0):
    """One whole run in this process, without saved progress: the state after config["steps"] steps (or at
    divergence). The experiment (experiments/figures/online) runs the same `advance` in segments through its runner,
    saving the state between them; segments do not change a number (the data RNG's state is part of the state)."""
    state = new_state(run, config, theta0)
    advance(state, problem, run, config, config["steps"])
    return state


def identity(run, config):
    """What a saved state was made with: its run and its configuration, as they read back from JSON."""
    return json.loads(json.dumps({"run": run._asdict(), "config": config}))


# ---------------------------------------------------------------- saving and resuming

ARRAY_KEYS = ("theta", "v", "u", "adam_m", "adam_v")
SAMPLE_ARRAYS = {"hypergrad_sample": ("u", "theta", "v", "step_idx", "meta_idx", "hypergrad_used"),
                 "audit": ("theta_before", "v_before", "idx", "theta_after")}


def save_state(path, state, run, config):
    """Write the run state as one .npz (arrays + a JSON header) via an atomic replace."""
    arrays = {k: np.asarray(state[k]) for k in ARRAY_KEYS}
    header = {k: v for k, v in state.items() if k not in ARRAY_KEYS and k not in SAMPLE_ARRAYS}
    header["run"], header["config"] = run._asdict(), config
    for key, names in SAMPLE_ARRAYS.items():
        sample = state[key]
        header[key] = None if sample is None else {k: v for k, v in sample.items() if k not in names}
        if sample is not None:
            arrays.update({f"{key}.{k}": np.asarray(sample[k]) for k in names})
    arrays["header"] = np.frombuffer(to_json(header).encode("utf-8"), dtype=np.uint8)  # strict JSON
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    atomic_write_bytes(path, buffer.getvalue())


def read_state(path):
    """(identity, state) saved at `path` by `save_state`; a ProgressError if the file cannot be read."""
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as err:
        raise ProgressError(f"progress file {path} is unreadable ({type(err).__name__}); delete it to start over") from None
    try:
        header = parse_json(arrays.pop("header").tobytes().decode("utf-8"), "its header")
        saved = {"run": header.pop("run"), "config": header.pop("config")}
        state = dict(header)
        state.update({k: arrays[k] for k in ARRAY_KEYS})
        for key, names in SAMPLE_ARRAYS.items():
            if state[key] is not None:
                state[key].update({k: arrays[f"{key}.{k}"] for k in names})
    except (KeyError, ValueError, TypeError, AttributeError) as err:  # InputError is a ValueError
        what = (f"no {err}" if isinstance(err, KeyError) else str(err) if isinstance(err, InputError)
                else "its header is not a run state's")
        raise ProgressError(f"progress file {path} is unreadable ({what}); delete it to start over") from None
    return saved, state
