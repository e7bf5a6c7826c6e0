"""experiments/verified.py and experiments/report.py: the stamp and sidecar tell the truth, and count evidence only."""
import json
import math

import matplotlib.pyplot as plt
import numpy as np
import pytest

from shb.experiments import report
from shb.experiments.verified import (EVIDENCE, INVARIANT, PROVENANCE, check, grouped, save_verified_figure,
                                      sidecar_checks, stamp_text, verdict)


def evidence(name, passed, detail=""):
    return check(name, passed, detail, kind=EVIDENCE, values=())


def _figure():
    fig, ax = plt.subplots()
    ax.plot([0, 1], [1, 0])
    return fig


def test_all_passing_checks_are_stamped_verified_and_only_evidence_is_counted(tmp_path):
    # Catches: a stamp that counts invariants or provenance as if they could have shown the numbers wrong.
    checks = [evidence("a", True, "fine"), evidence("b", True),
              check("by construction", True, kind=INVARIANT, values=()),
              check("generated code", True, kind=PROVENANCE, values=())]
    assert save_verified_figure(_figure(), "f", str(tmp_path), {"x": [1, 2]}, {"k": 1}, checks, seed=3)
    sidecar = json.loads((tmp_path / "f.json").read_text())
    assert sidecar["all_checks_passed"] is True and sidecar["seed"] == 3 and sidecar["data"] == {"x": [1, 2]}
    assert [c["name"] for c in sidecar["evidence"]] == ["a", "b"]
    assert [c["name"] for c in sidecar["invariants"]] == ["by construction"]
    assert [c["name"] for c in sidecar["provenance"]["checks"]] == ["generated code"]
    assert {"versions", "git_commit"} <= set(sidecar["provenance"]) and "config" in sidecar
    assert sidecar_checks(sidecar) == checks
    assert (tmp_path / "f.png").stat().st_size > 0 and (tmp_path / "f.pdf").stat().st_size > 0
    assert stamp_text(checks) == sidecar["stamp"] == "verified: 2/2 evidence checks"


def test_an_invariant_only_check_list_is_unverified(tmp_path):
    # Catches: a figure whose every check holds by construction stamped "verified" (the issue's done-when).
    checks = [check("optimized <= its start", True, kind=INVARIANT, values=()),
              check("safeguard after the cap", True, kind=INVARIANT, values=()),
              check("generated code", True, kind=PROVENANCE, values=())]
    assert stamp_text(checks) == "UNVERIFIED: no evidence checks"
    assert not verdict(checks)
    assert not save_verified_figure(_figure(), "i", str(tmp_path), {}, {}, checks)
    assert json.loads((tmp_path / "i.json").read_text())["stamp"] == "UNVERIFIED: no evidence checks"


def test_one_failing_check_of_any_kind_makes_the_figure_unverified(tmp_path):
    # Catches: a stamp or return value that ignores a failed check, evidence or not.
    checks = [evidence("a", True), evidence("b", False, "off by 3%")]
    assert not save_verified_figure(_figure(), "g", str(tmp_path), {}, {}, checks)
    assert json.loads((tmp_path / "g.json").read_text())["all_checks_passed"] is False
    assert stamp_text(checks) == "UNVERIFIED: 1/2 evidence checks pass"
    broken = [evidence("a", True), check("stale", False, kind=PROVENANCE, values=())]
    assert stamp_text(broken) == "UNVERIFIED: 1/1 evidence checks pass; failed: provenance check"
    broken = [evidence("a", True), check("cap", False, kind=INVARIANT, values=())]
    assert not verdict(broken) and stamp_text(broken).endswith("failed: invariant check")


def test_no_checks_is_not_verified():
    assert stamp_text([]).startswith("UNVERIFIED")


def test_every_check_has_a_kind():
    # Catches: an unclassified check slipping into a stamp.
    with pytest.raises(ValueError, match="no kind"):
        grouped([{"name": "x", "passed": True, "detail": ""}])
    with pytest.raises(ValueError, match="unknown kind"):
        check("x", True, kind="proof", values=())


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf, None, np.array([1.0, np.nan]), [1.0, None],
                                 {"error": math.nan}, [("label", math.inf)]])
def test_a_check_fails_on_a_non_finite_number_whatever_the_comparison_said(bad):
    # Catches: a NaN comparison counted as a pass (issue 26, item 1): `not error > tol`, max(0.0, nan) and the like.
    c = check("error below tolerance", True, "error nan", kind=EVIDENCE, values=bad)
    assert not c["passed"]
    assert "not finite" in c["detail"] and c["detail"].startswith("error nan")
    assert check("error below tolerance", True, kind=EVIDENCE, values=[1.0, 2, np.zeros(3), "text"])["passed"]


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


def test_the_report_lists_every_monte_carlo_checks_power_and_flags_those_above_5_percent(tmp_path):
    # Catches: a weak Monte-Carlo check (the issue's 10% variance at N = 1000) passing without the report saying so.
    from shb.experiments.result import Result

    strong = dict(evidence("exact moments agree with Monte-Carlo", True),
                  power={"runs": 1000, "mean_error": 0.001, "variance_error": 0.011, "entry_variance_error": 0.45})
    weak = dict(evidence("exact moments agree with Monte-Carlo: weak", True),
                power={"runs": 300, "mean_error": 0.02, "variance_error": 0.12, "entry_variance_error": None})
    exact = dict(evidence("exact moments agree with Monte-Carlo: deterministic", True),
                 power={"runs": 1000, "deterministic": True, "mean_error": None, "variance_error": None,
                        "entry_variance_error": None})
    report.write_report(str(tmp_path), "quick", "shb reproduce", [Result("A", True, checks=[strong, weak, exact])], 1.0)
    text = (tmp_path / "REPORT.md").read_text()
    assert "| A | exact moments agree with Monte-Carlo | 1000 | 0.1% | 1.1% | 45% |" in text
    assert "| 300 | 2% | 12% (**above 5%**) | none |" in text
    assert "| 1000 | deterministic: compared to rounding |" in text
    assert "Above 5% in every mean or every variance: exact moments agree with Monte-Carlo: weak (A)." in text
