"""The offline experiment's configuration at each scale, and the problem it defines (Section 3.2).

Defaults follow the paper's text (notes on its public code: ../shared/notes/paper-code-settings.md); where the
text is silent the choice is ours and says so.
"""
import json

from shb.ground.errors import InputError
from shb.numeric import smd

# Surface ranges (log-uniform): alpha0 in [1e-3, 1], beta in [1e-2, 1e3]. With K = 5000,
# beta only matters at horizon T once beta log(1 + T/K) is of order 1, i.e. beta ~ 50
# at T = 100 and beta ~ 0.2 at T = 20k, so the beta range covers all four horizons.
QUICK = dict(
    horizons=[100, 1000],
    hidden_sizes=[100, 100],
    n_train=None,              # all 60,000 training examples
    eval_examples=10000,       # evaluation subset for surface values and curves
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
    meta_steps={"100": 60, "1000": 16},  # SMD meta-steps per horizon (a T=1000 one costs ~10 s)
    meta_lr=0.2,               # Adam step size in log space
    meta_grad_clip=1.0,        # meta-gradient norm clip (typical norms ~1e-2; outliers reach 1e7)
    eval_seeds=3,              # runs averaged for the SMD start/end comparison
    check_horizon=20,          # hypergradient check against finite differences
    check_eps=1e-6,            # central-difference step in log space: J is only piecewise smooth
                               # (ReLU), and at 1e-5 a kink inside the stencil was seen to cost 4e-3
    dask=True,                 # run units on Dask workers (False: in this process)
)
PAPER = dict(
    QUICK,
    horizons=[100, 1000, 5000, 20000],
    surface_samples=2500,
    smd_inits=[[0.01, 1.0], [0.003, 0.1], [0.03, 10.0], [0.01, 100.0]],
    meta_steps={"100": 1000, "1000": 500, "5000": 200, "20000": 100},
    meta_lr=0.05,
    eval_seeds=5,
)
# Cost on one core (1-thread BLAS, `shb bench mlp`): a plain step ~1.15 ms, a hypergradient step ~3.7 ms
# (float32: ~0.55 and ~1.65 ms), so quick is ~2.5 CPU-minutes (~80 s on 2 workers); paper is ~1.5 CPU-days
# (use --scheduler).
# Tiny (seconds, for the tests; synthetic data): every unit kind, in this process.
TINY = dict(
    QUICK, horizons=[5, 15], hidden_sizes=[10], eval_examples=200, meta_batch=50, batch_size=20,
    surface_samples=6, smd_inits=[[0.01, 1.0], [0.05, 3.0]], meta_steps={"5": 3, "15": 2}, eval_seeds=2,
    check_horizon=4, check_eps=1e-4, dask=False, meta_grad_clip=3e-3,  # clips some steps, not all
)  # check_eps: here d J / d log beta ~ 1e-7 (T = 4 << K), so a smaller step drowns in round-off
CONFIGS = {"tiny": TINY, "quick": QUICK, "paper": PAPER}
DTYPES = ("float64", "float32")  # training arithmetic; float32 runs carry "dtype": "float32" in their configuration
PROGRESS_FILE = "offline_progress.json"
TITLE = "Offline meta-optimization (Figures 5 and 6)"
HYPERGRAD_TOLERANCE = 1e-4
BIAS_RATIO = 3.0              # done-when: beta(shortest T) >= 3 beta(next T), i.e. T=100 vs T=1000
PAPER_BETA_RATIO = 100.0      # paper: beta differs by over two orders of magnitude (100 vs 20k)


def problem_spec(config, data_dir):
    return smd.ProblemSpec(
        data_dir, tuple(config["hidden_sizes"]), config["n_train"], config["eval_examples"],
        config["warm_seed"], config["mu"], config["k"], config["batch_size"], config["meta_batch"],
        config.get("dtype", "float64"),
    )


def normalized(config):
    """The configuration as it reads back from JSON (lists, string keys), for comparisons."""
    return json.loads(json.dumps(config))


def resolved(config, dtype="float64"):
    """The configuration a run uses: `dtype` recorded in it when not float64, as it reads back from JSON."""
    config = normalized(config if dtype == "float64" else dict(config, dtype=dtype))
    if config.get("dtype", "float64") not in DTYPES:
        raise InputError(f"unknown dtype {config['dtype']!r}; choose one of: {', '.join(DTYPES)}")
    return config
