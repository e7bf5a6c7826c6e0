"""The toolkit installed as a wheel, outside any checkout, verifies itself.

Builds the wheel from a copy of the source tree, installs it into a scratch virtual environment (its dependencies
come from this environment's site-packages, added as a plain path so that the editable install's finder is not),
and from an unrelated directory runs `shb derive --check`, `shb prove` and `shb figure fig1 --scale quick`.
Bugs caught: code that finds the generated module, the derivations or docs through a checkout's __file__ (derive
--check and the figure's "generated code is current" check fail), generated documents left out of the wheel,
provenance that fails outside a git checkout, and an install that adds top-level packages besides `shb`.
"""
import json
import os
import shutil
import site
import subprocess
import sys
import sysconfig

import pytest

from shb.experiments.registry import EXPERIMENTS

# Run alone (make test's serial pass): it builds a wheel and a scratch environment, then runs `shb prove` there.
pytestmark = [pytest.mark.slow, pytest.mark.serial]

SOURCE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SKIP = shutil.ignore_patterns(".git", ".venv", "results", "build", "dist", "*.egg-info", "__pycache__",
                              ".hypothesis", ".pytest_cache")


def run(argv, cwd, env):
    return subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """(bin directory of the scratch venv, environment, site-packages entries the wheel added)."""
    tmp = tmp_path_factory.mktemp("wheel")
    tree = tmp / "source"
    shutil.copytree(SOURCE, tree, ignore=SKIP)  # the build writes build/ and *.egg-info: never into the checkout
    built = run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
                 "-w", str(tmp / "dist"), str(tree)], tmp, os.environ)
    assert built.returncode == 0, built.stdout + built.stderr
    (wheel,) = (tmp / "dist").iterdir()
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    scratch_python = venv / "bin" / "python"
    purelib = run([str(scratch_python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                  tmp, os.environ).stdout.strip()
    before = set(os.listdir(purelib))
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    installed = run([str(scratch_python), "-m", "pip", "install", "--no-deps", "--no-index", str(wheel)], tmp, env)
    assert installed.returncode == 0, installed.stdout + installed.stderr
    added = set(os.listdir(purelib)) - before
    # numpy, sympy, ... from this environment: a plain path line (its .pth files, the editable finder's among
    # them, are not processed), after the scratch site-packages
    deps = [p for p in site.getsitepackages() + [sysconfig.get_paths()["purelib"]] if os.path.isdir(p)]
    with open(os.path.join(purelib, "zz_test_dependencies.pth"), "w") as handle:
        handle.write("\n".join(dict.fromkeys(deps)) + "\n")
    elsewhere = tmp / "elsewhere"
    elsewhere.mkdir()
    return venv / "bin", env, added, elsewhere


def test_the_wheel_adds_exactly_one_top_level_package(installed):
    _, _, added, _ = installed
    assert {name for name in added if not name.endswith(".dist-info")} == {"shb"}
    assert len(added) == 2


def test_derive_check_passes_outside_the_checkout(installed):
    bin_dir, env, _, elsewhere = installed
    where = run([str(bin_dir / "python"), "-c", "import shb.numeric, shb.symbolic; print(shb.numeric.__file__)"],
                elsewhere, env)
    assert where.returncode == 0 and not where.stdout.strip().startswith(SOURCE + os.sep), where.stdout + where.stderr
    result = run([str(bin_dir / "shb"), "derive", "--check"], elsewhere, env)
    assert result.returncode == 0 and "current" in result.stdout, result.stdout + result.stderr


def test_prove_holds_outside_the_checkout(installed):
    bin_dir, env, _, elsewhere = installed
    result = run([str(bin_dir / "shb"), "prove", "--json"], elsewhere, env)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["all_hold"] is True


def test_figure_is_verified_outside_the_checkout_with_the_same_numbers(installed, tmp_path):
    bin_dir, env, _, elsewhere = installed
    result = run([str(bin_dir / "shb"), "figure", "fig1", "--scale", "quick", "--out", "out"], elsewhere, env)
    assert result.returncode == 0 and "verified" in result.stdout and "UNVERIFIED" not in result.stdout, \
        result.stdout + result.stderr
    sidecar = json.loads((elsewhere / "out" / "fig1.json").read_text())
    assert sidecar["all_checks_passed"] and sidecar["provenance"]["git_commit"] == "not a git checkout"
    # The wheel carries the generated files' stamp and hashes its own symbolic sources: the check needs no derivation.
    assert "by its stamp" in sidecar["provenance"]["checks"][0]["detail"], sidecar["provenance"]
    here = EXPERIMENTS["fig1"].run(str(tmp_path), scale="quick")  # the same figure from this (editable) install
    ours = json.loads((tmp_path / "fig1.json").read_text())
    assert here.passed and sidecar["data"] == ours["data"]
    assert [sidecar[group] for group in ("evidence", "invariants")] == [ours[group] for group in ("evidence", "invariants")]
