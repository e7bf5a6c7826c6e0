"""The experiment registry: every figure and experiment the toolkit makes, by name.

`shb figure NAME`, `shb reproduce` and tests/test_registry.py iterate EXPERIMENTS, so a new figure is one new
module in experiments/ plus one line below (docs/extending.md). An entry names the module that holds it; the
module defines

    CONFIGS = {scale: configuration}        "tiny" (seconds, for the tests), "quick", "paper"
    run(out_dir, config, scale, **options) -> experiments.result.Result

and, where a configuration depends on an option (the online experiment's network), config_for(scale, **options).
The options a module's run() accepts beyond the entry's own (data_dir, scheduler, ...) are passed through from
the command line; others are dropped.

An entry's `chapter` places it in REPORT.md: None for the paper's figures, or the heading of a later chapter
("Beyond the paper": figures the paper does not have), which the report opens before its first entry.
"""
import importlib
import inspect
from dataclasses import dataclass, field

from shb.ground.errors import InputError

SCALES = ("tiny", "quick", "paper")


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

    def code(self):
        return importlib.import_module(self.module)

    def config(self, scale, **options):
        """The configuration at `scale` (a copy); an unknown scale is an InputError naming the choices."""
        code = self.code()
        if scale not in code.CONFIGS:
            raise InputError(f"unknown scale {scale!r} for {self.name}; choose one of: {', '.join(code.CONFIGS)}")
        if hasattr(code, "config_for"):
            return code.config_for(scale, **{**self.options, **options})
        return dict(code.CONFIGS[scale])

    def run(self, out_dir, scale="quick", config=None, **options):
        """Run at `scale` (or with an explicit `config`) into out_dir; options the module does not take are dropped."""
        code = self.code()
        accepted = inspect.signature(code.run).parameters
        options = {k: v for k, v in {**options, **self.options}.items() if k in accepted}
        if config is None:
            config = self.config(scale, **options)
        return code.run(out_dir, config, scale=scale, **options)


EXPERIMENTS = {e.name: e for e in [
    Experiment("fig1", "Figure 1", "shb.experiments.fig1_trajectories", "nqm"),
    Experiment("fig2", "Figure 2", "shb.experiments.fig2_short_horizon", "nqm"),
    Experiment("fig3a", "Figure 3a", "shb.experiments.fig3_schedules", "nqm", {"preset": "paper"}),
    Experiment("fig3b", "Figure 3b", "shb.experiments.fig3_schedules", "nqm", {"preset": "paper-deterministic"}),
    Experiment("offline", "Offline meta-optimization", "shb.experiments.offline", "mlp"),
    Experiment("online", "Online meta-optimization", "shb.experiments.online", "mlp"),
    Experiment("lookahead", "Lookahead on the NQM", "shb.experiments.lookahead", "nqm", chapter="Beyond the paper"),
    Experiment("atlas", "Atlas of short-horizon bias", "shb.experiments.atlas", "nqm", chapter="Beyond the paper"),
]}
PARTS = ("nqm", "mlp")
# The chapters of REPORT.md after the paper's: heading -> its opening paragraph.
CHAPTERS = {
    "Beyond the paper": "Figures the paper does not have: its claims computed exactly where it could only sample "
                        "(online meta-optimization on the NQM) or did not look (where in condition number and noise "
                        "short-horizon bias lives). Verified like the paper's figures.",
}
