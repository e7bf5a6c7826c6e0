"""`shb bench nqm-grad` runs and reports what it claims (speed itself is never asserted)."""
import json
import subprocess
import sys


def test_bench_nqm_grad_reports_json():
    out = subprocess.run([sys.executable, "-m", "shb.cli", "bench", "nqm-grad", "--json", "--repeats", "1",
                          "--steps", "5"], capture_output=True, text=True, check=True).stdout
    result = json.loads(out)
    assert result["T"] == 5 and result["d"] == 1000
    assert result["ms_per_value_and_grad"] > 0 and result["ms_taped_autograd"] > 0


def test_bench_rejects_bad_repeats_in_one_line():
    run = subprocess.run([sys.executable, "-m", "shb.cli", "bench", "nqm-grad", "--repeats", "0"],
                         capture_output=True, text=True)
    assert run.returncode == 2 and "Traceback" not in run.stderr and "--repeats" in run.stderr
