"""The online experiment's configuration at each scale and network, and its runs (Section 3.3).

Burst shape. The paper's text says 100 Adam meta-steps every 10 training steps; its public
code's command-line defaults are 10 meta-steps every 100 steps (its function defaults are
10 every 10). Both are configurable. The default at paper scale is the text's 100 every 10:
it is what the paper states, and it matches the paper's stated aim of optimizing the
meta-objective thoroughly so that what remains is the meta-objective's bias, not
incomplete meta-optimization (Section 3). Quick scale keeps the text's density of adaptation
per training step as far as its time budget allows (see QUICK).
"""
import json

import numpy as np

from shb.ground.errors import InputError
from shb.numeric.meta.online_smd import RunSpec

# "tuned": {key: entry of experiments/sensitivity.py's TUNED} marks a setting chosen after seeing the outcome of the
# check it feeds; REPORT.md's "Tuned settings" gives that check's outcome at every value tried.
# Quick: 2000 adaptation steps with a burst of 10 meta-steps
# every 25 steps (0.4 meta-steps per training step; the paper's text has 10, its public code's
# command line 0.1), then 1000 steps of decay; train loss and test error on 2,000-example subsets
# every 50 steps. With ~40x fewer meta-steps per training step than the paper's text, Adam's
# step size is 0.05 instead of the public code's 0.01, so the hyperparameters can follow the
# meta-objective as closely: chosen after seeing the stochastic-lookahead lr barely move at 0.01, so marked
# tuned below (its alpha fall at 0.01, 0.03, 0.05 and 0.1: `shb sensitivity online-mlp-meta-lr`, REPORT.md).
QUICK = dict(
    hidden_sizes=[100, 100],
    batch_size=100,
    meta_batch=100,
    lookahead=5,
    steps=3000,
    adapt_steps=2000,
    final_lr=1e-4,
    burst_every=25,
    meta_steps_per_burst=10,
    meta_lr=0.05,
    alpha_eff_bounds=[1e-6, 10.0],
    one_minus_mu_bounds=[1e-4, 1.0],
    log_every=50,
    eval_train=2000,
    eval_test=2000,
    save_every=250,
    check_step=1000,           # the hypergradient of the first meta-step at/after this step is checked
    audit_step=1050,           # this step's update is recomputed from the logged lr and mu
    check_eps=1e-6,
    fixed_lr=0.1,
    mu0=0.9,
    init_lrs=[0.1, 0.01],      # stochastic SMD runs ("stochastic" is the first), Figure 7
    deterministic_lr=0.1,      # Figure 8
    cnn_filters=[32, 32, 64],
    cnn_hidden=100,
    init_seed=0,
    seed=0,
    workers=2,
    tuned={"meta_lr": "online-mlp-meta-lr"},  # chosen after seeing its check: experiments/sensitivity.py, REPORT.md
)
PAPER = dict(
    QUICK,
    steps=50000,
    adapt_steps=25000,
    burst_every=10,
    meta_steps_per_burst=100,
    meta_lr=0.01,              # the public code's Adam step size
    log_every=100,
    eval_train=60000,
    eval_test=10000,
    save_every=500,
    check_step=12500,
    audit_step=12600,
    init_lrs=[0.1, 0.05, 0.01, 0.005, 0.001],
    tuned={},
)
# The CNN: the public code's hand-tuned CIFAR-10 lr 5e-3 and its initial lrs for SMD.
CNN_PAPER = dict(PAPER, fixed_lr=0.005, deterministic_lr=0.005, init_lrs=[0.005, 0.01, 0.001, 0.0005])
# CNN at quick scale, sized from measured costs (one BLAS thread, float64, Fashion-MNIST; `shb bench cnn` for the
# step against its floor): a training step and a T=5 lookahead meta-step scale with the batch, so batch 10 buys 900
# training steps and 140 meta-steps (2 every 10 steps for the first 700) per SMD run, within `make reproduce`'s ten
# minutes beside everything else (README: timings). Initial lr 0.05 for both lookaheads (at 0.1 with mu 0.9 the CNN
# stops learning within 100 steps). Adam's step 0.15: the stochastic lookahead lowers mu as well as alpha_eff, and
# alpha = alpha_eff (1 - mu) fell short of 3x with step 0.05 or 0.1 (also with batch 25, meta-batch 100, or 1000 and
# 1200 adaptation steps); at 0.2 its lr overshot and the CNN stopped learning: a tuned setting, marked below (the
# alpha fall at 0.05, 0.1, 0.15 and 0.2: `shb sensitivity online-cnn-meta-lr`). The fixed baseline keeps the public
# code's hand-tuned CIFAR-10 lr 5e-3.
CNN_QUICK = dict(
    CNN_PAPER,
    batch_size=10,
    meta_batch=10,
    steps=900,
    adapt_steps=700,
    burst_every=10,
    meta_steps_per_burst=2,
    meta_lr=0.15,
    log_every=100,
    eval_train=500,
    eval_test=500,
    save_every=250,
    check_step=300,
    audit_step=200,            # a logged step (the audit reads the logged lr)
    init_lrs=[0.05],
    deterministic_lr=0.05,
    tuned={"meta_lr": "online-cnn-meta-lr"},  # chosen after seeing its check: experiments/sensitivity.py, REPORT.md
)
# Tiny (seconds, for the tests; synthetic data), in this process.
TINY = dict(
    QUICK, hidden_sizes=[6], steps=40, adapt_steps=20, burst_every=5, meta_steps_per_burst=2,
    log_every=5, eval_train=100, eval_test=100, save_every=10, check_step=5, audit_step=10,
    init_lrs=[0.1, 0.01], cnn_filters=[2, 2, 2], cnn_hidden=4, workers=1, tuned={},
)
CNN_TINY = dict(TINY, steps=12, adapt_steps=6, burst_every=3, audit_step=5, check_step=3, save_every=6,
                batch_size=4, meta_batch=4, init_lrs=[0.1])
CONFIGS = {"tiny": {"mlp": TINY, "cnn": CNN_TINY}, "quick": {"mlp": QUICK, "cnn": CNN_QUICK},
           "paper": {"mlp": PAPER, "cnn": CNN_PAPER}}
# Each network's size keywords (shb.numeric.networks) from the configuration.
NET_SIZES = {
    "mlp": lambda config: {"hidden_sizes": tuple(config["hidden_sizes"])},
    "cnn": lambda config: {"filters": tuple(config["cnn_filters"]), "hidden": config["cnn_hidden"]},
}
NETS = tuple(NET_SIZES)     # the columns of Figures 7 and 8, left to right
BOTH = "both"               # --net both: every network, one panel each (as the paper's figures; shb online's default)
# The panels `make reproduce` and `shb figure online` run: the MLP and the CNN, as the paper's Figures 7 and 8.
REPRODUCE_NET = BOTH
DATASETS = ("fashion-mnist", "mnist", "cifar10")
# Each network's data set by scale when none is given: the paper trains the MLP on MNIST and the CNN on CIFAR-10
# (Section 3.3). Quick and tiny use the embedded Fashion-MNIST for both; at paper scale the CNN reads CIFAR-10 from
# --data-dir, and the MLP keeps Fashion-MNIST (MNIST with --dataset mnist --data-dir DIR).
DATASET = {"tiny": {"mlp": "fashion-mnist", "cnn": "fashion-mnist"},
           "quick": {"mlp": "fashion-mnist", "cnn": "fashion-mnist"},
           "paper": {"mlp": "fashion-mnist", "cnn": "cifar10"}}
TITLE = "Online meta-optimization (Figures 7 and 8)"
HYPERGRAD_TOLERANCE = 1e-4
LR_RATIO = 3.0             # done-when: stochastic lr falls >= 3x and ends >= 3x below deterministic
AUDIT_TOLERANCE = 1e-12


def nets_of(net):
    """The networks of `--net`: one, or all of them for "both"."""
    if net not in NETS + (BOTH,):
        raise InputError(f"unknown net {net!r}; choose one of: {', '.join(NETS + (BOTH,))}")
    return NETS if net == BOTH else (net,)


def config_for(scale, net=REPRODUCE_NET, **options):
    """The configuration of `net` at `scale` (the registry has checked the scale); for "both", {net: configuration}."""
    configs = {name: json.loads(json.dumps(CONFIGS[scale][name])) for name in nets_of(net)}
    return configs if net == BOTH else configs[net]


def panel_configs(config, net):
    """{net: configuration} of a run given `config` for `net` (one configuration, or {net: ...} for "both")."""
    nets = nets_of(net)
    if net != BOTH:
        return {net: config}
    if not isinstance(config, dict) or set(config) != set(nets):
        raise InputError(f"--net {BOTH} needs one configuration per network ({', '.join(nets)})")
    return dict(config)


def run_specs(config):
    """The runs of one experiment: fixed, stochastic SMD from each initial lr, deterministic SMD."""
    if config["audit_step"] % config["log_every"] or config["audit_step"] >= config["steps"]:
        raise InputError(f"audit_step {config['audit_step']} must be a logged step (a multiple of log_every "
                         f"{config['log_every']}) before the last step {config['steps']}: the audit reads its logged "
                         "lr")
    mu = config["mu0"]
    seed = lambda k: int(np.random.SeedSequence([config["seed"], k]).generate_state(1)[0])  # noqa: E731
    specs = [RunSpec("stochastic", "stochastic", config["init_lrs"][0], mu, seed(1)),
             RunSpec("deterministic", "deterministic", config["deterministic_lr"], mu, seed(100))]
    for j, lr in enumerate(config["init_lrs"][1:], start=2):
        specs.append(RunSpec(f"stochastic_lr{lr:g}", "stochastic", lr, mu, seed(j)))
    specs.append(RunSpec("fixed", "fixed", config["fixed_lr"], mu, seed(0)))  # cheapest last: workers stay busy
    return specs
