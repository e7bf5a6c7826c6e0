"""`shb bench nqm-grad` and `shb bench mlp` run and report what they claim (speed itself is never asserted)."""
import json
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow  # each test runs `shb bench` in a new process


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


def test_bench_cnn_reports_steps_floors_and_autograd_speedup():
    # Catches: a missing dtype or key, a ratio formed from the wrong timings, the Autograd reference or the
    # one-thread claim dropped, a bad --batch taken silently.
    run = lambda *extra: subprocess.run([sys.executable, "-m", "shb.cli", "bench", "cnn", "--repeats", "1", "--steps",  # noqa: E731
                                         "1", "--batch", "4", *extra], capture_output=True, text=True)
    result = json.loads(run("--json").stdout)
    assert result["blas_threads"] == 1 and result["input_shape"] == [28, 28, 1] and result["batch_size"] == 4
    assert result["filters"] == [32, 32, 64] and result["hidden"] == 100
    for s in ("", "_float32"):
        plain, hyper, floor, hyper_floor = (result[f"ms_{k}{s}"] for k in ("plain_step", "hyper_step", "matmul_floor",
                                                                            "hyper_matmul_floor"))
        assert min(plain, hyper, floor, hyper_floor) > 0
        assert result[f"plain_over_floor{s}"] == plain / floor
        assert result[f"hyper_over_hyper_floor{s}"] == hyper / hyper_floor
        assert result[f"hyper_over_plain{s}"] == hyper / plain
    assert result["hyper_speedup_over_autograd"] == result["ms_hyper_step_autograd"] / result["ms_hyper_step"]
    assert result["plain_speedup_over_autograd"] == result["ms_plain_step_autograd"] / result["ms_plain_step"]
    text = run("--input", "cifar10", "--no-autograd").stdout
    assert "float64: plain step" in text and "32x32x3 inputs" in text and "Autograd" not in text
    bad = run("--batch", "0")
    assert bad.returncode == 2 and "Traceback" not in bad.stderr and "--batch" in bad.stderr


def test_the_cnn_bench_memory_estimate_is_the_size_of_its_operands():
    # The size check of `shb bench cnn --batch B` counts the arrays the benchmark allocates: catches an estimate that
    # drifts from `operands` (a refusal of what fits, or a benchmark that runs out of memory instead of refusing).
    import numpy as np

    from shb.cli.commands.bench_cnn import operand_bytes, operands
    from shb.numeric.networks import cnn

    for shape, batch in (((28, 28, 1), 3), ((32, 32, 3), 2)):
        layout = cnn.make_net(shape, 10).layout
        convs, dense = operands(layout, batch, 2, np.float64, np.random.default_rng(0))
        allocated = sum(a.nbytes for part in convs + dense for a in part.values())
        assert operand_bytes(layout, batch, 2) == allocated
