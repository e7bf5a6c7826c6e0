"""Provenance of a result: the versions of the packages that computed it and the git commit of the toolkit's code.

The commit is asked of git where this installation's code sits (the package directory, found through the import
system). It counts only if git tracks that code there: a wheel installed into a virtual environment that happens to
lie inside some checkout is not that checkout's code. Otherwise the commit is "not a git checkout".
"""
import os
import subprocess
from importlib import metadata

from shb.ground.resources import package_dir

PACKAGES = ("shb", "sympy", "numpy", "autograd", "matplotlib")
NOT_A_CHECKOUT = "not a git checkout"


def versions():
    """{package: version or None} of the toolkit and what computes its numbers."""
    out = {}
    for package in PACKAGES:
        try:
            out[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            out[package] = None
    return out


def _git(directory, *args):
    run = subprocess.run(["git", *args], cwd=directory, capture_output=True, text=True, timeout=10)
    return run.returncode, run.stdout.strip()


def git_state(package="shb.ground"):
    """(commit, dirty) of the checkout that holds `package`'s code; (NOT_A_CHECKOUT, None) when git does not track it."""
    directory = package_dir(package)
    try:
        code, _ = _git(directory, "ls-files", "--error-unmatch", "--", os.path.join(directory, "__init__.py"))
        if code != 0:
            return NOT_A_CHECKOUT, None
        _, commit = _git(directory, "rev-parse", "HEAD")
        _, status = _git(directory, "status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.SubprocessError):
        return NOT_A_CHECKOUT, None
    return commit or NOT_A_CHECKOUT, bool(status)


def provenance():
    """{"versions", "git_commit", "git_dirty"} for a result's sidecar."""
    commit, dirty = git_state()
    return {"versions": versions(), "git_commit": commit, "git_dirty": dirty}
