"""Issue 26, item 1: a check never passes on NaN, from the command line too (shb.ground.checks.check is the one rule).

`shb hypergrad-check` at --alpha0 1e308 overflows every gradient to NaN. It used to report max_rel_error 0.0 (the
relative error of NaN against NaN computed as 0), "passed": true, exit 0, and 16 RuntimeWarning lines. (Its right
counterpart, a passing check where the gradients agree: tests/test_hypergrad.py, test_cli_hypergrad_check_json.)
"""
import subprocess
import sys

import pytest

from strict_json import strict_loads  # a sibling module: tests/ is on sys.path under pytest


@pytest.mark.slow
def test_hypergrad_check_reports_a_failure_on_overflowing_gradients_without_warnings(data_dir):
    run = subprocess.run([sys.executable, "-m", "shb.cli", "hypergrad-check", "--alpha0", "1e308", "--horizon", "2",
                          "--n-train", "50", "--json", "--data-dir", data_dir], capture_output=True, text=True)
    assert run.returncode == 1, run.stdout + run.stderr
    assert run.stderr == ""  # no RuntimeWarning spam, no traceback
    result = strict_loads(run.stdout)  # strict JSON: no NaN token
    assert result["passed"] is False and result["max_rel_error"] is None
    assert result["forward"] == [None, None] and "not finite" in result["detail"]
