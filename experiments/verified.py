"""Verified plots: a figure plus the evidence that its numbers are right.

Every figure is written as NAME.png, NAME.pdf and a JSON sidecar NAME.json with
the plotted data, the configuration, the seed, package versions, the git
commit and a list of checks [{"name", "passed", "detail"}]. The figure carries
a stamp, "verified: k/k checks" or "UNVERIFIED", so a copy that travels without
its sidecar still says whether its numbers were certified.
"""
import io
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from shb.ground.io import atomic_write_bytes, atomic_write_json  # noqa: E402
from shb.ground.provenance import provenance  # noqa: E402


def check(name, passed, detail=""):
    """One certified statement about a figure's numbers."""
    return {"name": name, "passed": bool(passed), "detail": str(detail)}


NEGATION = {"<": ">=", "<=": ">", ">": "<=", ">=": "<"}


def relation(holds, op):
    """`op` where the comparison holds, its negation where not: a check's detail then reads true either way."""
    return op if holds else NEGATION[op]


def stamp_text(checks):
    passed = sum(c["passed"] for c in checks)
    if checks and passed == len(checks):
        return f"verified: {passed}/{len(checks)} checks"
    return f"UNVERIFIED: {passed}/{len(checks)} checks pass"


def save_verified_figure(fig, name, out_dir, data, config, checks, seed=None):
    """Stamp `fig`, write NAME.png/.pdf/.json atomically into out_dir; return True iff all checks pass."""
    all_passed = bool(checks) and all(c["passed"] for c in checks)
    fig.text(
        0.995, 0.005, stamp_text(checks), ha="right", va="bottom", fontsize=7,
        color="darkgreen" if all_passed else "red", weight="bold",
    )
    for ext in ("png", "pdf"):
        buffer = io.BytesIO()
        fig.savefig(buffer, format=ext, dpi=150 if ext == "png" else None, bbox_inches="tight")
        atomic_write_bytes(os.path.join(out_dir, f"{name}.{ext}"), buffer.getvalue())
    plt.close(fig)
    sidecar = {
        "figure": name,
        "all_checks_passed": all_passed,
        "checks": checks,
        "config": config,
        "seed": seed,
        "data": data,
        **provenance(),
    }
    atomic_write_json(os.path.join(out_dir, f"{name}.json"), sidecar)
    return all_passed
