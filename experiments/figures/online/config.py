"""The online experiment's configuration at each scale and network, and its runs (Section 3.3).

Burst shape. The paper's text says 100 Adam meta-steps every 10 training steps; its public
code's command-line defaults are 10 meta-steps every 100 steps (its function defaults are
10 every 10). Both are configurable. The default at paper scale is the text's 100 every 10:
it is what the paper states, and it matches the paper's stated aim of optimizing the
meta-objective thoroughly so that what remains is the meta-objective's bias, not
incomplete meta-optimization (Section 3). Quick scale keeps the text's density of adaptation
per training step as far as its time budget allows (see QUICK).

Networks. QUICK, PAPER and TINY are the MLP's configurations and every network's starting point: a network's
registry entry (numeric/networks/__init__.py) changes what it needs at each scale (the CNN's: numeric/networks/cnn.py)
and names its data set there. Every configuration holds the CNN's sizes (cnn_filters, cnn_hidden), as the MLP's
online.json has since the CNN joined. `--net both` runs the paper's pair, the MLP and the CNN (PAPER_PAIR), by name.
A configuration is checked once when it is read (OnlineConfig).
"""
import numpy as np

from shb.ground import schema as s
from shb.ground.config import Config, size
from shb.ground.errors import InputError
from shb.numeric import networks
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
    cnn_filters=[32, 32, 64],  # the CNN's sizes (numeric/networks/cnn.py)
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
# Tiny (seconds, for the tests; synthetic data), in this process.
TINY = dict(
    QUICK, hidden_sizes=[6], steps=40, adapt_steps=20, burst_every=5, meta_steps_per_burst=2,
    log_every=5, eval_train=100, eval_test=100, save_every=10, check_step=5, audit_step=10,
    init_lrs=[0.1, 0.01], cnn_filters=[2, 2, 2], cnn_hidden=4, workers=1, tuned={},
)
# Every network's configuration at each scale: this, with the network's settings for the scale (its registry entry,
# numeric/networks/__init__.py: the CNN's batches, steps and learning rates are in numeric/networks/cnn.py).
CONFIGS = {"tiny": TINY, "quick": QUICK, "paper": PAPER}
PAPER_PAIR = ("mlp", "cnn")  # the columns of the paper's Figures 7 and 8, left to right
BOTH = "both"                # --net both: the paper's pair, one panel each (shb online's default)
# The panels `make reproduce` and `shb figure online` run: the MLP and the CNN, as the paper's Figures 7 and 8.
REPRODUCE_NET = BOTH
DATASETS = ("fashion-mnist", "mnist", "cifar10")
TITLE = "Online meta-optimization (Figures 7 and 8)"
HYPERGRAD_TOLERANCE = 1e-4
LR_RATIO = 3.0             # done-when: stochastic lr falls >= 3x and ends >= 3x below deterministic
AUDIT_TOLERANCE = 1e-12


class OnlineConfig(Config):
    """One network's online configuration (the keys of QUICK, and the size keys of registered networks), checked once
    when made (shb.ground.config)."""

    what = "the online configuration"

    def check(self):
        sizes = {key for entry in networks.NETWORKS.values() for key in entry.sizes.values()}
        unknown = sorted(set(self) - set(QUICK) - sizes)
        if unknown:
            raise s.Invalid(f"{unknown[0]!r} is not one of its keys")
        s.obj(self, "it", required=tuple(QUICK))
        for key in ("batch_size", "meta_batch", "lookahead", "steps", "burst_every", "meta_steps_per_burst",
                    "log_every", "eval_train", "eval_test", "save_every"):
            s.integer(self[key], key, low=1)
        for key in ("init_seed", "seed", "workers", "check_step", "audit_step"):
            s.integer(self[key], key)
        s.integer(self["adapt_steps"], "adapt_steps", 0, self["steps"])
        for key in ("final_lr", "meta_lr", "check_eps", "fixed_lr", "deterministic_lr"):
            s.number(self[key], key, positive=True)
        s.number(self["mu0"], "mu0", low=0)
        if self["mu0"] >= 1:
            s.fail("mu0", "a number in [0, 1)", self["mu0"])
        for key, most in (("alpha_eff_bounds", None), ("one_minus_mu_bounds", 1.0)):
            low, high = s.numbers(self[key], key, 2, positive=True)
            if low >= high or (most is not None and high > most):
                s.fail(key, "bounds [low, high] with 0 < low < high" + (f" <= {most:g}" if most else ""), self[key])
        if not s.numbers(self["init_lrs"], "init_lrs", positive=True):
            s.fail("init_lrs", "one initial learning rate or more", self["init_lrs"])
        for key in sorted(sizes & set(self)):  # every network's sizes it holds (the MLP's and the CNN's at least)
            size(self[key], key)
        if self["audit_step"] % self["log_every"] or self["audit_step"] >= self["steps"]:
            raise s.Invalid(f"audit_step {self['audit_step']} must be a logged step (a multiple of log_every "
                            f"{self['log_every']}) before the last step {self['steps']}: the audit reads its logged lr")


def nets_of(net):
    """The networks of `--net`: one registered network, or the paper's pair (MLP and CNN) for "both"."""
    if net == BOTH:
        return PAPER_PAIR
    if net not in networks.NETWORKS:
        raise InputError(f"unknown net {net!r}; choose one of: {', '.join((*networks.NETWORKS, BOTH))}")
    return (net,)


def config_for(scale, net=REPRODUCE_NET, **options):
    """The configuration of `net` at `scale` (the registry has checked the scale): the scale's, with the network's
    settings for it (its registry entry); for "both", {net: configuration}."""
    configs = {name: OnlineConfig(networks.configured(name, "online", scale, CONFIGS[scale])) for name in nets_of(net)}
    return configs if net == BOTH else configs[net]


def panel_configs(config, net):
    """{net: checked configuration} of a run given `config` for `net` (one configuration, or {net: ...} for
    "both")."""
    nets = nets_of(net)
    if net != BOTH:
        return {net: OnlineConfig.read(config)}
    if not isinstance(config, dict) or set(config) != set(nets):
        raise InputError(f"--net {BOTH} needs one configuration per network ({', '.join(nets)})")
    return {name: OnlineConfig.read(config[name]) for name in nets}


def run_specs(config):
    """The runs of one experiment: fixed, stochastic SMD from each initial lr, deterministic SMD."""
    mu = config["mu0"]
    seed = lambda k: int(np.random.SeedSequence([config["seed"], k]).generate_state(1)[0])  # noqa: E731
    specs = [RunSpec("stochastic", "stochastic", config["init_lrs"][0], mu, seed(1)),
             RunSpec("deterministic", "deterministic", config["deterministic_lr"], mu, seed(100))]
    for j, lr in enumerate(config["init_lrs"][1:], start=2):
        specs.append(RunSpec(f"stochastic_lr{lr:g}", "stochastic", lr, mu, seed(j)))
    specs.append(RunSpec("fixed", "fixed", config["fixed_lr"], mu, seed(0)))  # cheapest last: workers stay busy
    return specs
