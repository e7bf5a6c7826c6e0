"""What every experiment returns: one result type for `shb figure`, `shb reproduce` and the report."""
from dataclasses import dataclass, field


@dataclass
class Result:
    """The outcome of one figure or experiment.

    title          the heading of its section in REPORT.md
    passed         every check passed (the figures are stamped "verified")
    figures        names of the verified figures written (NAME.png/.pdf/.json in the output directory)
    checks         [{"name", "passed", "detail"}], the checks that certify the numbers
    paper_vs_ours  rows of the report's "paper vs this toolkit" table (experiments.common.paper_row)
    report         the Markdown section for REPORT.md
    complete       False when a run stopped early (a `stop_after` limit) with its progress saved
    seconds        wall time, filled in by whoever timed it
    scale          the scale it ran at (experiments/registry.py fills it in; another when the asked one falls back)
    chapter        the REPORT.md chapter it goes in (None: the paper's), filled in from its registry entry
    lane           `shb reproduce`'s lane it ran in ("main" or "beside", experiments/reproduce.py); None: run alone
    """

    title: str
    passed: bool
    figures: list = field(default_factory=list)
    checks: list = field(default_factory=list)
    paper_vs_ours: list = field(default_factory=list)
    report: str = ""
    complete: bool = True
    seconds: float = None
    scale: str = None
    chapter: str = None
    lane: str = None


def incomplete(title):
    """The result of a run that stopped before the end (its progress is saved; rerun to resume)."""
    return Result(title, passed=False, complete=False)
