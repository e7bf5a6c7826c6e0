"""experiments/verified.py and experiments/report.py: the stamp and sidecar tell the truth."""
import json

import matplotlib.pyplot as plt

from shb.experiments import report
from shb.experiments.verified import check, save_verified_figure, stamp_text


def _figure():
    fig, ax = plt.subplots()
    ax.plot([0, 1], [1, 0])
    return fig


def test_all_passing_checks_are_stamped_verified(tmp_path):
    checks = [check("a", True, "fine"), check("b", True)]
    assert save_verified_figure(_figure(), "f", str(tmp_path), {"x": [1, 2]}, {"k": 1}, checks, seed=3)
    sidecar = json.loads((tmp_path / "f.json").read_text())
    assert sidecar["all_checks_passed"] is True and sidecar["seed"] == 3 and sidecar["data"] == {"x": [1, 2]}
    assert {"versions", "git_commit", "checks", "config"} <= set(sidecar)
    assert (tmp_path / "f.png").stat().st_size > 0 and (tmp_path / "f.pdf").stat().st_size > 0
    assert stamp_text(checks) == "verified: 2/2 checks"


def test_one_failing_check_makes_the_figure_unverified(tmp_path):
    # Catches: a stamp or return value that ignores a failed check.
    checks = [check("a", True), check("b", False, "off by 3%")]
    assert not save_verified_figure(_figure(), "g", str(tmp_path), {}, {}, checks)
    assert json.loads((tmp_path / "g.json").read_text())["all_checks_passed"] is False
    assert stamp_text(checks).startswith("UNVERIFIED")


def test_no_checks_is_not_verified():
    assert stamp_text([]).startswith("UNVERIFIED")


def test_report_table_marks_values_outside_tolerance():
    from shb.experiments.common import paper_row

    inside = paper_row("greedy", 63.86, 64.0, "cmd", 0.02)
    outside = paper_row("fixed", 42.19, 45.0, "cmd", 0.03)
    text = report.paper_table([inside, outside])
    assert "+0.2% (within 2%)" in text and "(OUTSIDE 3%)" in text


def test_write_report_lists_failures(tmp_path):
    from shb.experiments.result import Result

    sections = [Result("A", True, report="ok"), Result("B", False, report="bad")]
    report.write_report(str(tmp_path), "quick", "shb reproduce", sections, 1.0)
    text = (tmp_path / "REPORT.md").read_text()
    assert "SOME CHECKS FAIL" in text and "| B | **FAIL**" in text


def test_unwritable_out_dir_is_a_one_line_error(tmp_path):
    # Catches: a traceback when --out cannot be created (here: a path below a regular file).
    import subprocess
    import sys

    blocker = tmp_path / "file"
    blocker.write_text("x")
    run = subprocess.run([sys.executable, "-m", "shb.cli", "figure", "fig1", "--out", str(blocker / "sub")],
                         capture_output=True, text=True)
    assert run.returncode == 2 and "Traceback" not in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1 and "cannot be created below a file" in run.stderr
    assert not (blocker.parent / "sub").exists()
