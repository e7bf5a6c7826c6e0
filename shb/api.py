"""The toolkit from Python: the documented entry points, reached as `shb.<name>` (README, "Using shb from Python").

The noisy quadratic model (Section 2):

    problem(h, sigma2, mean0=10.0, var0=0.0)   a validated NQM problem (numeric/nqm/problem.py)
    preset(name)                               "paper" or "paper-deterministic"
    rule(name="heavy-ball", **options)         an update rule of the registry with its options bound: rollout,
                                               final_loss, greedy, fixed, optimized, lookahead, simulate, ...
    rules()                                    the registered rules' names
    rollout(problem, alpha, mu, rule=...)      exact moments per step and the loss L(t), t = 0..T
    loss(problem, alpha, mu, rule=...)         L(T), differentiable by Autograd in (alpha, mu)
    greedy, optimized, lookahead(problem, T, ..., rule=...)   the schedules

Networks and meta-optimization (Section 3):

    network(name, input_shape, n_classes, **sizes)   a registered network (numeric/networks/)
    hypergradient(net, log_hypers, theta, v, batches, meta_batch)   the exact forward-mode dJ/d(log alpha0, log beta)

Experiments:

    experiments()                              the registered figures and experiments' names
    run(name, out_dir, scale="quick", **options)   run one (as `shb figure NAME`): its Result, with its checks

Each `rule=` accepts a name (with its options as keywords) or a rule from `rule(...)`. Floors: this module is at the
front end's floor (it reaches every other); `import shb` loads it only when one of these names is first used.
"""


def problem(h, sigma2, mean0=10.0, var0=0.0):
    """An NQM problem: curvatures h > 0, noise variances sigma2 >= 0, theta(0) ~ N(mean0, var0) per coordinate."""
    from shb.numeric.nqm.problem import make_problem

    return make_problem(h, sigma2, mean0, var0)


def preset(name):
    """A preset problem: "paper" (1000 coordinates, sigma2 = 1/h) or "paper-deterministic" (sigma2 = 0)."""
    from shb.numeric.nqm.problem import preset as make

    return make(name)


def rule(name="heavy-ball", **options):
    """The update rule `name` of the registry (symbolic/optimizers/) with `options` bound (e.g. B=100)."""
    from shb.numeric.nqm import optimizers

    return optimizers.get(name, **options)


def rules():
    """The names of the registered update rules, the default first."""
    from shb.numeric.nqm import optimizers

    return optimizers.names()


def _rule(which, options):
    return rule(which, **options) if isinstance(which, str) else which


def rollout(problem, alpha, mu, rule="heavy-ball", **options):
    """The rule's exact means and covariances for t = 0..T and "loss" (the rule's Theorem 1)."""
    return _rule(rule, options).rollout(problem, alpha, mu)


def loss(problem, alpha, mu, rule="heavy-ball", **options):
    """L(T), the expected excess loss after the schedule (alpha_t, mu_t); Autograd differentiates it."""
    return _rule(rule, options).final_loss(problem, alpha, mu)


def greedy(problem, T, rule="heavy-ball", mu=None, **options):
    """The greedy schedule (Theorem 2 for the rule): {"alpha", "mu", "loss"}; mu given: the greedy alpha at it."""
    return _rule(rule, options).greedy(problem, T, mu=mu)


def optimized(problem, T, rule="heavy-ball", steps=500, lr=0.003, **options):
    """One (alpha_t, mu_t) per step fitted on L(T) under the paper's safeguard (Section 2.3)."""
    return _rule(rule, options).optimized(problem, T, steps, lr)


def lookahead(problem, T, K=1, deterministic=False, rule="heavy-ball", **options):
    """Online meta-optimization solved exactly: at each step the constant pair minimizing the loss K steps ahead."""
    return _rule(rule, options).lookahead(problem, T, K, deterministic)


def network(name, input_shape, n_classes, **sizes):
    """The registered network `name` ("mlp", "cnn") for inputs of `input_shape` and `n_classes` classes."""
    from shb.numeric import networks

    return networks.make(name, input_shape, n_classes, **sizes)


def hypergradient(net, log_hypers, theta, v, batches, meta_batch, mu=0.9, k=5000.0):
    """(J, dJ/d(log alpha0, log beta)): the loss on meta_batch after training on `batches` with the schedule
    alpha_t = alpha0 (1 + t/k)^(-beta), and its exact forward-mode gradient (Eqs. 8-9)."""
    from shb.numeric.meta.hypergrad import hypergrad_run

    return hypergrad_run(net, log_hypers, theta, v, batches, meta_batch, mu, k)


def experiments():
    """The names of the registered figures and experiments (experiments/registry.py)."""
    from shb.experiments.registry import EXPERIMENTS

    return list(EXPERIMENTS)


def run(name, out_dir, scale="quick", **options):
    """Run the registered figure or experiment `name` into out_dir (as `shb figure NAME`); returns its Result."""
    import os

    from shb.experiments.registry import EXPERIMENTS
    from shb.ground.errors import InputError

    if name not in EXPERIMENTS:
        raise InputError(f"unknown experiment {name!r}; choose one of: {', '.join(EXPERIMENTS)}")
    os.makedirs(out_dir, exist_ok=True)
    return EXPERIMENTS[name].run(out_dir, scale, **options)


NAMES = ("problem", "preset", "rule", "rules", "rollout", "loss", "greedy", "optimized", "lookahead", "network",
         "hypergradient", "experiments", "run")
