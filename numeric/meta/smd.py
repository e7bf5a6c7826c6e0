"""Offline stochastic meta-descent (Algorithm 1, Section 3.2) and the meta-objective surface.

The meta-objective of horizon T at lambda = (log alpha0, log beta) is

    J_T(lambda) = E[ L(theta_T(lambda)) ],

the training loss after T steps of SGD momentum with alpha_t = alpha0 (1 + t/K)^(-beta),
started every time from the same warm-started (theta_0, v_0). The expectation
is over the minibatch sequence. SMD estimates dJ_T/dlambda from one training run
with fresh minibatches (`meta_gradient`: exact forward mode, Eqs. 8-9, meta-loss on
a fresh minibatch of `meta_batch` training examples after step T), then takes one
Adam step in log space (MetaStep in Algorithm 1) and restores (theta_0, v_0).

The surface (Figure 5) is J_T estimated by the loss on a fixed evaluation subset of the
training set. One training run gives it for every horizon at once (`surface_losses`): the
run's weights after T steps are theta_T for each T of the list, since the schedule
alpha_t does not depend on the horizon. Training curves (Figure 6, `training_curve`) are
the same kind of run measured at many steps, with the test error beside the training loss.
Both stop a run whose weights have become non-finite (IEEE arithmetic keeps them so): its
later values are None (saved as null; `diverged_as_inf` reads a loss back as +inf).

Every function here is a pure function of its arguments and an integer seed,
so runs can be dispatched anywhere (Dask) and resumed bit for bit. Training computes in
the spec's dtype (float64 unless it says float32). The network is the spec's `net`, a name
in the registry (numeric/networks/__init__.py; the MLP unless it says otherwise), built with the
spec's sizes for inputs of the data's image shape (numeric/networks/datasets.py input_shape).
"""
import functools
from collections import namedtuple

import numpy as np

from shb.ground.errors import InputError
from shb.numeric import networks
from shb.numeric.networks import datasets, training
from shb.numeric.meta.hypergrad import hypergrad_run
from shb.numeric.networks.idx import load_images, load_split
from shb.numeric.optim import AdamState, adam

# What defines one offline problem: the data, the network (its size keywords as sorted (keyword, value) pairs, and
# its name in the registry), the warm start and the floating-point type.
ProblemSpec = namedtuple(
    "ProblemSpec",
    ["data_dir", "sizes", "n_train", "eval_examples", "warm_seed", "mu", "k", "batch_size", "meta_batch",
     "dtype", "net"],
    defaults=["float64", "mlp"],
)
Problem = namedtuple("Problem", ["spec", "data", "net", "theta0", "v0"])


def derive_seed(base_seed, *keys):
    """An independent 32-bit seed for the unit of work named by integer `keys`."""
    return int(np.random.SeedSequence([int(base_seed), *map(int, keys)]).generate_state(1)[0])


@functools.lru_cache(maxsize=4)
def build_problem(spec):
    """Load the data, build the network and warm-start it (50 steps, alpha = 0.1, mu = 0.9).

    Cached per process, so a Dask worker loads the data once for all its tasks.
    """
    images, labels = load_images(spec.data_dir, "train")
    shape = datasets.input_shape(images.shape[1:])
    images = images.reshape(images.shape[0], -1)
    if spec.n_train:
        if spec.n_train > images.shape[0]:
            raise InputError(f"n_train = {spec.n_train} asks for more training examples than the {images.shape[0]} "
                             f"in {spec.data_dir}")
        images, labels = images[: spec.n_train], labels[: spec.n_train]
    n_classes = int(labels.max()) + 1
    data = training.Dataset(images, labels.astype(np.int64), n_classes)
    net = networks.make(spec.net, shape, n_classes, **dict(spec.sizes))
    rng = np.random.default_rng(spec.warm_seed)
    theta0, v0 = training.warm_start(net, data, rng, mu=spec.mu, batch_size=spec.batch_size,
                                     dtype=np.dtype(spec.dtype))
    return Problem(spec, data, net, theta0, v0)


def eval_loss(problem, theta):
    """Training loss on the fixed evaluation subset (the first `eval_examples` examples), in chunks."""
    n = min(problem.spec.eval_examples, problem.data.images.shape[0])
    return training.mean_loss(problem.net, theta, problem.data, n, chunk=5000)


@functools.lru_cache(maxsize=2)
def test_set(data_dir):
    """The test split as a training.Dataset (cached per process)."""
    images, labels = load_split(data_dir, "test")
    return training.Dataset(images, labels.astype(np.int64), int(labels.max()) + 1)


def run_to_marks(problem, alpha0, beta, marks, seed, measure, chunk=1000):
    """Train from the warm start on the minibatch sequence of `seed`; [measure(theta_t) for t in marks].

    `marks` are increasing step counts; the run is one run whatever the marks (training in pieces with
    t0 continues the same schedule and the same random stream, bit for bit). It stops once the weights
    are non-finite (checked every `chunk` steps and at each mark): the marks from there on give None.
    """
    spec = problem.spec
    rng = np.random.default_rng(seed)
    theta, v, t, values = problem.theta0, problem.v0, 0, []
    finite = True
    for mark in marks:
        while finite and t < mark:
            steps = int(min(chunk, mark - t))
            with np.errstate(over="ignore", invalid="ignore"):
                theta, v, _ = training.train(problem.net, theta, v, problem.data, alpha0, beta, steps, rng,
                                             spec.mu, spec.k, spec.batch_size, t0=t)
            t += steps
            finite = bool(np.all(np.isfinite(theta)))
        values.append(measure(theta) if finite else None)
    return values


def saved_loss(value):
    """A loss as saved: None when the run diverged (None) or the loss overflowed (strict JSON has no Infinity;
    `diverged_as_inf` reads it back as +inf)."""
    return float(value) if value is not None and np.isfinite(value) else None


def diverged_as_inf(loss):
    """A loss as saved (None for a diverged run) as a number: +inf for None."""
    return float("inf") if loss is None else loss


def surface_losses(spec, alpha0, beta, horizons, seed):
    """One run's sample of the surface at every horizon: [J_T estimate for T in horizons] (None if diverged).

    The estimate is the evaluation-subset loss after T steps; all horizons share the run's minibatch
    sequence (and every sample with the same seed shares it too: common random numbers).
    """
    problem = build_problem(spec)

    def measure(theta):
        with np.errstate(over="ignore", invalid="ignore"):
            return eval_loss(problem, theta)

    return [saved_loss(x) for x in run_to_marks(problem, alpha0, beta, sorted(horizons), seed, measure)]


def curve_marks(steps, n_points):
    """About n_points log-spaced step counts from 1 to `steps` (always ending at `steps`)."""
    return [int(m) for m in np.unique(np.geomspace(1, steps, n_points).astype(int))]


def training_curve(spec, alpha0, beta, steps, seed, test_examples, n_points=60):
    """[[t, train loss, test error]] at ~n_points log-spaced steps of one run of `steps` steps (Figure 6).

    Train loss on the evaluation subset (the first eval_examples training examples); test error the
    fraction of the first `test_examples` test examples misclassified (argmax of the logits).
    """
    problem = build_problem(spec)
    test = test_set(spec.data_dir)
    n_test = min(test_examples, test.images.shape[0])

    def measure(theta):
        with np.errstate(over="ignore", invalid="ignore"):
            return eval_loss(problem, theta), training.error_rate(problem.net, theta, test, n_test)

    marks = curve_marks(steps, n_points)
    values = run_to_marks(problem, alpha0, beta, marks, seed, measure)
    return [[t, saved_loss(v[0] if v else None), v[1] if v else None] for t, v in zip(marks, values)]


def meta_gradient(problem, log_hypers, horizon, seed):
    """One training run with fresh minibatches: (J sample, dJ/d(log alpha0, log beta)) (Algorithm 1 inner loop).

    The minibatch indices of the T steps are drawn first, then those of the meta-batch.
    """
    spec, data = problem.spec, problem.data
    rng = np.random.default_rng(seed)
    n = data.images.shape[0]
    steps = [training.batch_indices(rng, n, spec.batch_size) for _ in range(horizon)]
    dtype = problem.theta0.dtype
    meta_batch = training.minibatch(data, training.batch_indices(rng, n, spec.meta_batch), dtype)
    batches = (training.minibatch(data, idx, dtype) for idx in steps)
    with np.errstate(over="ignore", invalid="ignore"):
        return hypergrad_run(
            problem.net, np.asarray(log_hypers, dtype=float), problem.theta0, problem.v0, batches, meta_batch,
            spec.mu, spec.k,
        )


def new_chain(alpha0, beta):
    """SMD state before its first meta-step, as JSON-ready data."""
    log_hypers = np.log([alpha0, beta])
    return {
        "log_hypers": log_hypers.tolist(),
        "adam": {"step": 0, "m": [0.0, 0.0], "v": [0.0, 0.0]},
        "trajectory": [[float(alpha0), float(beta)]],
        "meta_losses": [],
        "hypergrads": [],
    }


def averaged_hypers(trajectory):
    """SMD's result: the iterate average exp(mean log(alpha0, beta)) over the last half of the trajectory.

    With a constant meta learning rate the iterates jitter around the optimum; averaging them
    (Polyak-Ruppert) estimates its location with less noise than the last iterate.
    """
    tail = np.log(np.asarray(trajectory[len(trajectory) // 2:], dtype=float))
    return np.exp(tail.mean(axis=0)).tolist()


def clip_norm(g, max_norm):
    """g scaled down to Euclidean norm max_norm if it is longer (unchanged otherwise)."""
    norm = np.linalg.norm(g)
    return g * (max_norm / norm) if norm > max_norm else g


def smd_meta_step(spec, chain, horizon, seed, meta_lr, max_norm=1.0):
    """One iteration of Algorithm 1's outer loop: one meta-gradient, one Adam step, theta restored.

    Over long horizons near the edge of stability the tangents of Eq. 9 grow exponentially and
    single meta-gradients reach 1e7 while typical ones are ~1e-2; one such outlier would dominate
    Adam's moment estimates for hundreds of steps, so the step uses the meta-gradient clipped to
    norm `max_norm` (the recorded hypergradient is the raw one). A diverged run (non-finite
    meta-gradient) uses (+max_norm, 0): Adam moves log alpha0 down.
    """
    problem = build_problem(spec)
    meta_loss, hypergrad = meta_gradient(problem, chain["log_hypers"], horizon, seed)
    finite = np.all(np.isfinite(hypergrad))
    step_grad = clip_norm(hypergrad, max_norm) if finite else np.array([max_norm, 0.0])
    _, update = adam(meta_lr)
    state = AdamState(chain["adam"]["step"], np.array(chain["adam"]["m"]), np.array(chain["adam"]["v"]))
    log_hypers, state = update(step_grad, state, np.array(chain["log_hypers"]))
    return {
        "log_hypers": log_hypers.tolist(),
        "adam": {"step": int(state.step), "m": state.m.tolist(), "v": state.v.tolist()},
        "trajectory": chain["trajectory"] + [np.exp(log_hypers).tolist()],
        "meta_losses": chain["meta_losses"] + [meta_loss if np.isfinite(meta_loss) else None],
        "hypergrads": chain["hypergrads"] + [[float(x) if np.isfinite(x) else None for x in hypergrad]],
    }


def mean_surface_loss(spec, alpha0, beta, horizon, seeds):
    """J_T(alpha0, beta) averaged over runs with the given seeds (common random numbers); None if one diverged."""
    values = [surface_losses(spec, alpha0, beta, [horizon], s)[0] for s in seeds]
    return None if None in values else float(np.mean(values))


def log_uniform_samples(seed, n, alpha0_range, beta_range):
    """n points (alpha0, beta), each coordinate log-uniform in its range."""
    rng = np.random.default_rng(seed)
    lows = np.log([alpha0_range[0], beta_range[0]])
    highs = np.log([alpha0_range[1], beta_range[1]])
    return np.exp(rng.uniform(lows, highs, size=(n, 2)))
