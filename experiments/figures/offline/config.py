"""The offline experiment's configuration at each scale, and the problem it defines (Section 3.2).

Defaults follow the paper's text (notes on its public code: ../shared/notes/paper-code-settings.md); where the
text is silent the choice is ours and says so.

The scales' configurations are the MLP's; another network's (`config_for`, `shb offline --net NAME`) is the same
with the network's settings from its registry entry (numeric/networks/__init__.py: its sizes) and its name under
"net" (absent for the MLP, as "dtype" is for float64, so the MLP's offline.json and saved progress are as they
were). A configuration is checked once when a run reads it (OfflineConfig).

Keys that shape the work (experiments/figures/offline/units.py, chains.py):

    horizons               the meta-objectives' horizons T
    surface_samples        random (alpha0, beta), log-uniform in the ranges; one training run of max(horizons)
                           steps each gives every horizon's J_T (Figure 5), all on one minibatch sequence
    smd_inits              where the chains of the horizons not in surface_starts start
    surface_starts         horizons whose two chains start from the surface instead: at the best of the first
                           surface_start_samples samples and at the centre (geometric mean) of their best 10%
    meta_steps, meta_lr    per horizon: the most meta-steps a chain takes, Adam's step size in log space
    stop_window            per horizon W (absent: a chain takes all meta_steps): a chain stops after meta-step m
                           >= 2W when the mean of its last W meta-objective samples is no lower than the mean of
                           the W before them (chains.chain_finished)
    curve_steps            Figure 6 trains each horizon's schedule this long (the paper: 20k)
    curve_seeds            ... on this many minibatch sequences (two or more; the same ones for every horizon): the
                           figure and the report give the mean and the spread over them (noise.py)
    eval_seeds             sequences on which a chain's start and end point are evaluated (two or more where a
                           chain starts from the surface: its check compares them within the noise, noise.py)
    curve_dtype            ... in this arithmetic, whatever the rest trains in
    endpoint_quantile      the SMD end point must lie in this best fraction of its horizon's surface samples
    tuned                  {key: entry of experiments/sensitivity.py's TUNED}: settings chosen after seeing the
                           outcome of the check they feed (REPORT.md's "Tuned settings" gives every value tried)
"""
import json

from shb.ground import schema as s
from shb.ground.config import Config, size
from shb.ground.errors import InputError
from shb.numeric import networks
from shb.numeric.meta import smd
from shb.numeric.networks import datasets

# Surface ranges (log-uniform): alpha0 in [1e-3, 1], beta in [1e-2, 1e3]. With K = 5000,
# beta only matters at horizon T once beta log(1 + T/K) is of order 1, i.e. beta ~ 50
# at T = 100 and beta ~ 0.2 at T = 20k, so the beta range covers all four horizons.
QUICK = dict(
    horizons=[100, 1000],
    hidden_sizes=[100, 100],
    n_train=None,              # all 60,000 training examples
    eval_examples=10000,       # evaluation subset for surface values and curves
    test_examples=10000,       # test examples for Figure 6's test error (all of them)
    meta_batch=1000,           # SMD meta-loss minibatch, drawn fresh after step T
    batch_size=100,
    mu=0.9,
    k=5000.0,
    warm_seed=0,
    seed=0,
    surface_samples=30,
    alpha0_range=[1e-3, 1.0],
    beta_range=[1e-2, 1e3],
    smd_inits=[[0.01, 1.0]],   # (alpha0, beta) where SMD starts: in the stable regime (see smd_meta_step)
    surface_starts=[],
    surface_start_samples=0,
    meta_steps={"100": 60, "1000": 16},  # SMD meta-steps per horizon (a T=1000 one costs ~4 s)
    meta_lr={"100": 0.2, "1000": 0.2},   # Adam step size in log space
    stop_window={},
    meta_grad_clip=1.0,        # meta-gradient norm clip (typical norms ~1e-2; outliers reach 1e7)
    eval_seeds=3,              # runs averaged for the SMD start/end comparison
    curve_steps=20000,         # Figure 6: each horizon's schedule trained for the paper's 20k steps
    curve_seeds=3,             # ... on 3 minibatch sequences (issue 28: the noise of the ordering, measured);
                               # sequence 0 is the one earlier versions' single curve used
    curve_dtype="float32",     # in float32, as the paper's code (TensorFlow's default): half the cost of float64,
                               # and the curves are compared at the percent level, not to the last digit
    curve_points=60,
    endpoint_quantile=None,    # 30 samples are too few to rank SMD's end point at quick scale
    check_horizon=20,          # hypergradient check against finite differences
    check_eps=1e-6,            # central-difference step in log space: J is only piecewise smooth
                               # (ReLU), and at 1e-5 a kink inside the stencil was seen to cost 4e-3
    dask=True,                 # run units on Dask workers (False: in this process)
    tuned={"check_eps": "offline-check-eps"},  # chosen after seeing its check (experiments/sensitivity.py)
)
# Medium: the paper's four horizons, sized for the hour on two idle cores (README: what it costs, as measured; 300
# surface samples took over the hour, so issue 28 set 200).
# The short horizons start far from their optimum (as the paper's random starts); the long ones refine the
# surface's best region, whose first 100 samples are done early, and stop when their meta-objective stops
# improving. Training in float32, as the paper's code (TensorFlow's default): half the time of float64.
MEDIUM = dict(
    QUICK,
    horizons=[100, 1000, 5000, 20000],
    dtype="float32",
    meta_batch=10000,          # less meta-loss noise for the stopping rule (the paper's code: all 60k examples)
    surface_samples=200,       # issue 28 (a): 300 took about 1.3 h on 2 cores; the surface is most of the cost
    smd_inits=[[0.01, 1.0], [0.1, 30.0]],
    surface_starts=[5000, 20000],
    surface_start_samples=100,
    meta_steps={"100": 400, "1000": 90, "5000": 20, "20000": 10},
    meta_lr={"100": 0.1, "1000": 0.1, "5000": 0.05, "20000": 0.05},
    stop_window={"100": 50, "1000": 15, "5000": 3, "20000": 2},
    eval_seeds=3,              # the surface-started chains' check needs the evaluation noise (issue 28 (b))
    endpoint_quantile=0.1,
)
PAPER = dict(
    QUICK,
    horizons=[100, 1000, 5000, 20000],
    surface_samples=2500,
    smd_inits=[[0.01, 1.0], [0.003, 0.1], [0.03, 10.0], [0.01, 100.0]],
    meta_steps={"100": 5000, "1000": 5000, "5000": 5000, "20000": 5000},  # the paper: 5k meta-steps
    meta_lr={"100": 0.05, "1000": 0.05, "5000": 0.05, "20000": 0.05},
    eval_seeds=5,
    endpoint_quantile=0.1,
)
# Tiny (seconds, for the tests; synthetic data): every unit kind and both kinds of chain start, in this process.
TINY = dict(
    QUICK, horizons=[5, 15], hidden_sizes=[10], eval_examples=200, test_examples=100, meta_batch=50, batch_size=20,
    surface_samples=6, smd_inits=[[0.01, 1.0], [0.05, 3.0]], surface_starts=[15], surface_start_samples=4,
    meta_steps={"5": 6, "15": 2}, meta_lr={"5": 0.2, "15": 0.2}, stop_window={"5": 2}, eval_seeds=2,
    curve_steps=30, curve_points=8, endpoint_quantile=0.5,
    check_horizon=4, check_eps=1e-4, dask=False, meta_grad_clip=3e-3, tuned={},  # clip: some steps, not all
)  # check_eps: here d J / d log beta ~ 1e-7 (T = 4 << K), so a smaller step drowns in round-off
CONFIGS = {"tiny": TINY, "quick": QUICK, "medium": MEDIUM, "paper": PAPER}
# The `fit` variant (`shb offline --fit`, issue 28 item 2): the same experiment on the first FIT_N_TRAIN training
# examples, a set the network can drive near zero train loss within 20k steps, to test whether the paper's ">1000x"
# train-loss ratio is a property of the data set. 2000, within the guess of 1000-5000 (an MLP of 2 x 100
# hidden units has ~90k weights), measured to fit: the longest horizon's schedule ends near zero train loss at 20k
# steps (README, REPORT.md's fit section: `shb offline --fit --scale quick`). Tiny's synthetic data hold 300.
FIT_N_TRAIN = {"tiny": 150}
FIT_N_TRAIN_DEFAULT = 2000
DTYPES = ("float64", "float32")  # training arithmetic; float32 runs carry "dtype": "float32" in their configuration
OPTIONAL = ("dtype", "net", "variant")  # absent: float64, the MLP, the full data (offline.json and saved progress
                                        # as before the CNN and the fit variant)
VARIANTS = ("fit",)
PROGRESS_FILE = "offline_progress.json"
TIMINGS_FILE = "offline_timings.json"
TITLE = "Offline meta-optimization (Figures 5 and 6)"
HYPERGRAD_TOLERANCE = 1e-4
BIAS_RATIO = 3.0              # done-when: beta(shortest T) >= 3 beta(next T), i.e. T=100 vs T=1000
PAPER_BETA_RATIO = 100.0      # paper: beta differs by over two orders of magnitude (100 vs 20k)
PAPER_LOSS_RATIO = 1000.0     # paper: train loss at 20k steps over three orders of magnitude apart (100 vs 20k)


class OfflineConfig(Config):
    """The offline experiment's configuration (the keys of QUICK, "dtype" and "net" where not float64 and the MLP,
    and the network's size keys), checked once when made (shb.ground.config)."""

    what = "the offline configuration"

    @property
    def net(self):
        """The network's name in the registry (numeric/networks/__init__.py)."""
        return self.get("net", "mlp")

    def check(self):
        if not isinstance(self.net, str) or self.net not in networks.NETWORKS:
            raise s.Invalid(f"unknown network {self.net!r}; choose one of: {', '.join(networks.NETWORKS)}")
        sizes = tuple(networks.entry(self.net).sizes.values())
        allowed = set(QUICK) | set(OPTIONAL) | set(sizes)
        unknown = sorted(set(self) - allowed)
        if unknown:
            raise s.Invalid(f"{unknown[0]!r} is not one of its keys")
        s.obj(self, "it", required=tuple(QUICK) + sizes)
        if self.get("variant", "fit") not in VARIANTS:
            raise s.Invalid(f"unknown variant {self['variant']!r}; choose one of: {', '.join(VARIANTS)}")
        for key in ("dtype", "curve_dtype"):
            if self.get(key, "float64") not in DTYPES:
                raise s.Invalid(f"unknown {key} {self[key]!r}; choose one of: {', '.join(DTYPES)}")
        for key in ("eval_examples", "test_examples", "meta_batch", "batch_size", "surface_samples", "eval_seeds",
                    "curve_steps", "curve_points", "check_horizon"):
            s.integer(self[key], key, low=1)
        s.integer(self["curve_seeds"], "curve_seeds", low=2)  # one sequence has no measured spread
        if self["surface_starts"]:
            s.integer(self["eval_seeds"], "eval_seeds (with surface_starts)", low=2)
        for key in ("warm_seed", "seed"):
            s.integer(self[key], key)
        s.integer(self["n_train"], "n_train", low=1, nullable=True)
        for key in ("k", "meta_grad_clip", "check_eps"):
            s.number(self[key], key, positive=True)
        fraction(self["mu"], "mu")
        if self["endpoint_quantile"] is not None:
            s.number(self["endpoint_quantile"], "endpoint_quantile", positive=True)
            if self["endpoint_quantile"] > 1:
                s.fail("endpoint_quantile", "a fraction in (0, 1] or null", self["endpoint_quantile"])
        if not isinstance(self["dask"], bool):
            s.fail("dask", "true or false", self["dask"])
        for key in sizes:
            size(self[key], key)
        self.check_search()

    def check_search(self):
        """The horizons, the surface and the chains: horizons increasing (at least two: the checks compare the
        shortest with the next), ranges increasing and positive, every horizon's meta-steps and step size given."""
        horizons = s.listing(self["horizons"], "horizons")
        for i, h in enumerate(horizons):
            s.integer(h, f"horizons[{i}]", low=1)
        if len(horizons) < 2 or any(a >= b for a, b in zip(horizons, horizons[1:])):
            s.fail("horizons", "two or more increasing horizons", horizons)
        for key in ("alpha0_range", "beta_range"):
            low, high = s.numbers(self[key], key, 2, positive=True)
            if low >= high:
                s.fail(key, "a range [low, high] with low < high", self[key])
        for i, point in enumerate(s.listing(self["smd_inits"], "smd_inits")):
            s.numbers(point, f"smd_inits[{i}]", 2, positive=True)
        starts = s.listing(self["surface_starts"], "surface_starts")
        if any(h not in horizons for h in starts):
            s.fail("surface_starts", "a list of horizons", starts)
        if not self["smd_inits"] and len(starts) < len(horizons):
            s.fail("smd_inits", "at least one (alpha0, beta) for the chains of the horizons not in surface_starts",
                   self["smd_inits"])
        s.integer(self["surface_start_samples"], "surface_start_samples", 1 if starts else 0, self["surface_samples"])
        keys = [str(h) for h in horizons]
        for key, check in (("meta_steps", lambda v, w: s.integer(v, w, low=1)),
                           ("meta_lr", lambda v, w: s.number(v, w, positive=True))):
            for h, value in s.obj(self[key], key, keys).items():
                check(value, f"{key}.{h}")
        for h, value in s.keys_within(self["stop_window"], "stop_window", set(keys)).items():
            s.integer(value, f"stop_window.{h}", low=1)


def fraction(value, where):
    """A number in [0, 1) (momentum)."""
    s.number(value, where, low=0)
    if value >= 1:
        s.fail(where, "a number in [0, 1)", value)


def config_for(scale, net="mlp", fit=False, **options):
    """The configuration of network `net` at `scale` (the registry has checked the scale): the scale's, with the
    network's settings for it (numeric/networks/__init__.py) and its name where it is not the MLP; with `fit`, the
    fit variant's (`fit_config`)."""
    config = networks.configured(net, "offline", scale, CONFIGS[scale])
    config = config if net == "mlp" else dict(config, net=net)
    return OfflineConfig(fit_config(config, scale) if fit else config)


def fit_config(config, scale):
    """The fit variant of a configuration: training on the first FIT_N_TRAIN examples (FIT_N_TRAIN_DEFAULT at the
    scales FIT_N_TRAIN does not name), its meta-loss minibatch no larger than them; "variant": "fit" names its
    outputs apart (`outputs`), so it can share an output folder with the full-data run."""
    n = FIT_N_TRAIN.get(scale, FIT_N_TRAIN_DEFAULT)
    return dict(config, n_train=n, meta_batch=min(config["meta_batch"], n), variant="fit")


def outputs(config):
    """The files a run of `config` writes, by role: the full-data run's names (offline.json, fig5, fig6,
    offline_progress.json, offline_timings.json), a variant's with "-VARIANT" after the stem."""
    tag = f"-{config['variant']}" if config.get("variant") else ""
    return {"summary": f"offline{tag}.json", "fig5": f"fig5{tag}", "fig6": f"fig6{tag}",
            "progress": PROGRESS_FILE.replace(".json", f"{tag}.json"),
            "timings": TIMINGS_FILE.replace(".json", f"{tag}.json")}


def problem_spec(config, data_dir):
    """The problem a configuration defines on the data in `data_dir`."""
    net = config.get("net", "mlp")
    return smd.ProblemSpec(
        data_dir, tuple(sorted(networks.sizes(net, config).items())), config["n_train"], config["eval_examples"],
        config["warm_seed"], config["mu"], config["k"], config["batch_size"], config["meta_batch"],
        config.get("dtype", "float64"), net,
    )


def read_data(spec, config):
    """(splits, fingerprint) of the data set the run reads, checked before any work (numeric/networks/datasets.py):
    its shapes and labels, n_train against its size, its minibatches (batch_size, meta_batch) against the
    training examples used, and its images against the network (a CNN needs images it can pool three times)."""
    splits = datasets.load("idx", spec.data_dir)
    if spec.n_train and spec.n_train > len(splits.train[1]):
        raise InputError(f"n_train = {spec.n_train} asks for more training examples than the {len(splits.train[1])} "
                         f"in {spec.data_dir}")
    datasets.check_sizes(splits, {"batch_size": spec.batch_size, "meta_batch": spec.meta_batch}, spec.n_train)
    shape = datasets.input_shape(splits.shape)
    try:
        networks.make(spec.net, shape, datasets.n_classes(splits), **dict(spec.sizes))
    except InputError:
        raise
    except ValueError as err:  # e.g. images too small for the CNN's poolings
        raise InputError(f"network {spec.net!r} cannot take the inputs of shape {shape} in {spec.data_dir}: "
                         f"{err}") from None
    return splits, datasets.fingerprint(splits, spec.n_train)


def normalized(config):
    """The configuration as it reads back from JSON (lists, string keys), for comparisons."""
    return json.loads(json.dumps(config))


def resolved(config, dtype="float64"):
    """The configuration a run uses, checked (OfflineConfig): `dtype` recorded in it when not float64."""
    return OfflineConfig.read(config) if dtype == "float64" else OfflineConfig(dict(config, dtype=dtype))
