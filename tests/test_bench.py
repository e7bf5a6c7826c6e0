"""`shb bench nqm-grad` and `shb bench mlp` run and report what they claim (speed itself is never asserted)."""
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


def test_bench_mlp_reports_both_dtypes_against_their_own_floors():
    # Catches: a missing dtype or key, a ratio formed from the wrong timings, the one-thread claim dropped.
    out = subprocess.run([sys.executable, "-m", "shb.cli", "bench", "mlp", "--json", "--repeats", "1", "--steps", "1"],
                         capture_output=True, text=True, check=True).stdout
    result = json.loads(out)
    assert result["blas_threads"] == 1 and result["layer_sizes"] == [784, 100, 100, 10]
    for s in ("", "_float32"):
        plain, hyper, floor = (result[f"ms_{k}{s}"] for k in ("plain_step", "hyper_step", "matmul_floor"))
        assert min(plain, hyper, floor, result[f"ms_hyper_matmul_floor{s}"]) > 0
        assert result[f"plain_over_floor{s}"] == plain / floor
        assert result[f"hyper_over_plain{s}"] == hyper / plain
        assert result[f"hyper_floor_over_floor{s}"] == result[f"ms_hyper_matmul_floor{s}"] / floor
    text = subprocess.run([sys.executable, "-m", "shb.cli", "bench", "mlp", "--repeats", "1", "--steps", "1"],
                          capture_output=True, text=True, check=True).stdout
    assert "float64: plain step" in text and "float32: plain step" in text
    run = subprocess.run([sys.executable, "-m", "shb.cli", "bench", "mlp", "--repeats", "0"], capture_output=True, text=True)
    assert run.returncode == 2 and "Traceback" not in run.stderr and "--repeats" in run.stderr
