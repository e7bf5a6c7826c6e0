"""The experiment registry: every figure and experiment the toolkit makes, by name.

`shb figure NAME`, `shb reproduce` and tests/test_registry.py iterate EXPERIMENTS, so a new figure is one new
module in experiments/ plus one line below (docs/extending.md). An entry names the module that holds it; the
module defines

    CONFIGS = {scale: configuration}        "tiny" (seconds, for the tests), "quick", "paper"; optionally "medium"
    run(out_dir, config, scale, **options) -> experiments.result.Result

and, where a configuration depends on an option (the online experiment's network), config_for(scale, **options).
The options a module's run() accepts beyond the entry's own (data_dir, scheduler, ...) are passed through from
the command line; others are dropped.

Scales every entry has: tiny, quick, paper. A scale only some entries have (medium: the offline experiment's
paper horizons within an hour) falls back for the others (FALLBACK: medium runs them at quick), so
`shb reproduce --scale medium` runs each entry at the largest scale up to medium that it has.

An entry's `least_scale` (None: every scale) is the smallest scale at which `shb reproduce` runs it; `shb figure` runs
it at any scale. The offline experiment's fit variant has "medium": `make reproduce` (quick) keeps its ten minutes.

An entry's `chapter` places it in REPORT.md: None for the paper's figures, or the heading of a later chapter
("Beyond the paper": figures the paper does not have), which the report opens before its first entry.
"""
import importlib
import inspect
from dataclasses import dataclass, field

from shb.ground.errors import InputError

SCALES = ("tiny", "quick", "medium", "paper")
FALLBACK = {"medium": "quick"}  # an entry without this scale runs at that one


@dataclass(frozen=True)
class Experiment:
    """One registry entry: `name` for `shb figure`, `label` for `shb reproduce`'s progress lines, the module
    that computes it, the part of `shb reproduce --only` it belongs to, fixed options of its run(), and the
    chapter of REPORT.md it goes in (None: the paper's; else a key of CHAPTERS)."""

    name: str
    label: str
    module: str
    part: str
    options: dict = field(default_factory=dict)
    chapter: str = None
    least_scale: str = None
    heavy: bool = False  # among the longest NQM parts at quick scale: `shb reproduce` starts it early (reproduce.py)

    def in_reproduce(self, scale):
        """`shb reproduce --scale scale` runs this entry (see `least_scale`)."""
        return self.least_scale is None or SCALES.index(scale) >= SCALES.index(self.least_scale)

    def code(self):
        return importlib.import_module(self.module)

    def scale_for(self, scale):
        """The scale this entry runs at when `scale` is asked for: its own, or FALLBACK's when it lacks it; an unknown
        scale is an InputError naming the choices."""
        configs = self.code().CONFIGS
        if scale not in configs and FALLBACK.get(scale) in configs:
            return FALLBACK[scale]
        if scale not in configs:
            raise InputError(f"unknown scale {scale!r} for {self.name}; choose one of: {', '.join(configs)}")
        return scale

    def config(self, scale, **options):
        """The configuration at `scale` (a copy; see scale_for); options its config_for does not take are dropped."""
        code = self.code()
        scale = self.scale_for(scale)
        if hasattr(code, "config_for"):
            return code.config_for(scale, **taken(code.config_for, {**options, **self.options}))
        return dict(code.CONFIGS[scale])

    def run(self, out_dir, scale="quick", config=None, **options):
        """Run at `scale` (or with an explicit `config`) into out_dir; options that neither the module's run nor its
        config_for takes are dropped (`net` chooses the offline experiment's network through its configuration).
        The result records the scale it ran at (scale_for)."""
        code = self.code()
        if config is None:
            scale = self.scale_for(scale)
            config = self.config(scale, **options)
        result = code.run(out_dir, config, scale=scale, **taken(code.run, {**options, **self.options}))
        result.scale = scale
        return result


def taken(function, options):
    """The options `function` takes (all of them if it takes **options)."""
    parameters = inspect.signature(function).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        return options
    return {k: v for k, v in options.items() if k in parameters}


EXPERIMENTS = {e.name: e for e in [
    Experiment("fig1", "Figure 1", "shb.experiments.figures.fig1_trajectories", "nqm"),
    Experiment("fig2", "Figure 2", "shb.experiments.figures.fig2_short_horizon", "nqm", heavy=True),
    Experiment("fig3a", "Figure 3a", "shb.experiments.figures.fig3_schedules", "nqm", {"preset": "paper"}, heavy=True),
    Experiment("fig3b", "Figure 3b", "shb.experiments.figures.fig3_schedules", "nqm", {"preset": "paper-deterministic"}),
    Experiment("offline", "Offline meta-optimization", "shb.experiments.figures.offline", "mlp"),
    Experiment("offline-fit", "Offline meta-optimization on a subset the MLP can fit",
               "shb.experiments.figures.offline_fit", "mlp", least_scale="medium"),
    Experiment("online", "Online meta-optimization", "shb.experiments.figures.online", "mlp"),
    Experiment("lookahead", "Lookahead on the NQM", "shb.experiments.figures.lookahead", "nqm", chapter="Beyond the paper"),
    Experiment("atlas", "Atlas of short-horizon bias", "shb.experiments.figures.atlas", "nqm", chapter="Beyond the paper"),
    Experiment("optimizers", "Optimizers beyond heavy ball", "shb.experiments.figures.fig_optimizers", "nqm",
               chapter="Beyond the paper"),
    Experiment("corrections", "Correcting the bias", "shb.experiments.figures.corrections", "nqm",
               chapter="Correcting the bias", heavy=True),
    Experiment("online-trace", "Online traces on a network", "shb.experiments.figures.online_trace", "mlp",
               chapter="Correcting the bias"),
]}
PARTS = ("nqm", "mlp")
# The chapters of REPORT.md after the paper's: heading -> its opening paragraph.
CHAPTERS = {
    "Beyond the paper": "Figures the paper does not have: its claims computed exactly where it could only sample "
                        "(online meta-optimization on the NQM) or did not look (where in condition number and noise "
                        "short-horizon bias lives, and whether other optimizers than heavy-ball momentum shrink it). "
                        "Verified like the paper's figures.",
    "Correcting the bias": "The paper ends by calling short-horizon bias a fundamental problem. The remedies proposed "
                           "since (hypergradient traces with forgetting, persistent evolution strategies, a receding "
                           "horizon, hyperparameters shared over the run) were each shown on their authors' benchmarks, "
                           "with sampling noise. Here each is computed exactly on the NQM: how much of the bias it "
                           "removes, where, and at what cost.",
}
