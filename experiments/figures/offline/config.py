"""The offline experiment's configuration at each scale, and the problem it defines (Section 3.2).

Defaults follow the paper's text (notes on its public code: ../shared/notes/paper-code-settings.md); where the
text is silent the choice is ours and says so.

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
    curve_dtype            ... in this arithmetic, whatever the rest trains in
    endpoint_quantile      the SMD end point must lie in this best fraction of its horizon's surface samples
    tuned                  {key: entry of experiments/sensitivity.py's TUNED}: settings chosen after seeing the
                           outcome of the check they feed (REPORT.md's "Tuned settings" gives every value tried)
"""
import json

from shb.ground.errors import InputError
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
# Medium: the paper's four horizons, more than the hour on two cores it was sized for (README: costs, as measured).
# The short horizons start far from their optimum (as the paper's random starts); the long ones refine the
# surface's best region, whose first 100 samples are done early, and stop when their meta-objective stops
# improving. Training in float32, as the paper's code (TensorFlow's default): half the time of float64.
MEDIUM = dict(
    QUICK,
    horizons=[100, 1000, 5000, 20000],
    dtype="float32",
    meta_batch=10000,          # less meta-loss noise for the stopping rule (the paper's code: all 60k examples)
    surface_samples=300,
    smd_inits=[[0.01, 1.0], [0.1, 30.0]],
    surface_starts=[5000, 20000],
    surface_start_samples=100,
    meta_steps={"100": 400, "1000": 90, "5000": 20, "20000": 10},
    meta_lr={"100": 0.1, "1000": 0.1, "5000": 0.05, "20000": 0.05},
    stop_window={"100": 50, "1000": 15, "5000": 3, "20000": 2},
    eval_seeds=2,
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
DTYPES = ("float64", "float32")  # training arithmetic; float32 runs carry "dtype": "float32" in their configuration
PROGRESS_FILE = "offline_progress.json"
TIMINGS_FILE = "offline_timings.json"
TITLE = "Offline meta-optimization (Figures 5 and 6)"
HYPERGRAD_TOLERANCE = 1e-4
BIAS_RATIO = 3.0              # done-when: beta(shortest T) >= 3 beta(next T), i.e. T=100 vs T=1000
PAPER_BETA_RATIO = 100.0      # paper: beta differs by over two orders of magnitude (100 vs 20k)
PAPER_LOSS_RATIO = 1000.0     # paper: train loss at 20k steps over three orders of magnitude apart (100 vs 20k)


def problem_spec(config, data_dir):
    return smd.ProblemSpec(
        data_dir, tuple(config["hidden_sizes"]), config["n_train"], config["eval_examples"],
        config["warm_seed"], config["mu"], config["k"], config["batch_size"], config["meta_batch"],
        config.get("dtype", "float64"),
    )


def read_data(spec, config):
    """(splits, fingerprint) of the data set the run reads, checked before any work (numeric/networks/datasets.py):
    its shapes and labels, n_train against its size, and its minibatches (batch_size, meta_batch) against the
    training examples used."""
    splits = datasets.load("idx", spec.data_dir)
    if spec.n_train and spec.n_train > len(splits.train[1]):
        raise InputError(f"n_train = {spec.n_train} asks for more training examples than the {len(splits.train[1])} "
                         f"in {spec.data_dir}")
    datasets.check_sizes(splits, {"batch_size": spec.batch_size, "meta_batch": spec.meta_batch}, spec.n_train)
    return splits, datasets.fingerprint(splits, spec.n_train)


def normalized(config):
    """The configuration as it reads back from JSON (lists, string keys), for comparisons."""
    return json.loads(json.dumps(config))


def resolved(config, dtype="float64"):
    """The configuration a run uses: `dtype` recorded in it when not float64, as it reads back from JSON."""
    config = normalized(config if dtype == "float64" else dict(config, dtype=dtype))
    for key in ("dtype", "curve_dtype"):
        if config.get(key, "float64") not in DTYPES:
            raise InputError(f"unknown {key} {config[key]!r}; choose one of: {', '.join(DTYPES)}")
    return config
