"""Verified plots: a figure plus the evidence that its numbers are right.

Every figure is written as NAME.png, NAME.pdf and a JSON sidecar NAME.json with the plotted data, the
configuration, the seed, and its checks {"name", "passed", "detail", "kind"} in three groups (docs/checks.md argues
each check's group):

    evidence     could fail if the mathematics or the computation behind the figure's numbers were wrong: an
                 independent reference, Monte-Carlo, finite differences, a paper's claim tested on numbers computed
                 without assuming it. Only these are counted.
    invariants   hold by construction of the pipeline (a fit that keeps its best iterate ends no higher than its
                 start). Kept in the sidecar and as tests, never counted.
    provenance   the generated code is current; with it the package versions and the git commit.

The figure carries a stamp, "verified: k/k evidence checks" when every one of its k >= 1 evidence checks passed
and no invariant or provenance check failed, else "UNVERIFIED: ..." (a figure with no evidence is unverified), so
a copy that travels without its sidecar still says whether its numbers were certified. The sidecar also holds the
figure's conclusions, each stated only while the checks it rests on pass (experiments/conclusions.py).

A check is made by `check` (shb.ground.checks): it is given the numbers it compares, and any NaN or infinity among
them fails it.
"""
import io
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from shb.ground import checks as ground_checks  # noqa: E402
from shb.ground.io import atomic_write_bytes, atomic_write_json  # noqa: E402
from shb.ground.provenance import provenance  # noqa: E402

EVIDENCE, INVARIANT, PROVENANCE = "evidence", "invariant", "provenance"
KINDS = (EVIDENCE, INVARIANT, PROVENANCE)
GROUPS = {EVIDENCE: "evidence", INVARIANT: "invariants", PROVENANCE: "provenance"}  # kind -> sidecar key


def check(name, passed, detail="", *, kind, values):
    """One statement about a figure's numbers, of `kind` (KINDS); `values`: the numbers it compares (any NaN or
    infinity among them fails it, shb.ground.checks)."""
    return classify(ground_checks.check(name, passed, detail, values=values), kind)


def classify(c, kind):
    """A check made elsewhere (the numeric floor's certificates) with its kind."""
    if kind not in KINDS:
        raise ValueError(f"unknown kind of check {kind!r}; choose one of {KINDS}")
    return dict(c, kind=kind)


def evidence(c):
    return classify(c, EVIDENCE)


def invariant(c):
    return classify(c, INVARIANT)


def grouped(checks):
    """{kind: [checks]} in KINDS order; a check without a kind is a ValueError (every check is classified)."""
    out = {kind: [] for kind in KINDS}
    for c in checks:
        if c.get("kind") not in out:
            raise ValueError(f"check {c.get('name')!r} has no kind (one of {KINDS})")
        out[c["kind"]].append(c)
    return out


NEGATION = {"<": ">=", "<=": ">", ">": "<=", ">=": "<"}


def relation(holds, op):
    """`op` where the comparison holds, its negation where not: a check's detail then reads true either way."""
    return op if holds else NEGATION[op]


def verdict(checks):
    """True iff there is evidence, all of it passed, and no invariant or provenance check failed."""
    groups = grouped(checks)
    return bool(groups[EVIDENCE]) and all(c["passed"] for c in checks)


def stamp_text(checks):
    """"verified: k/k evidence checks" (see `verdict`), else "UNVERIFIED: ..." saying what is missing or failed."""
    groups = grouped(checks)
    k, passed = len(groups[EVIDENCE]), sum(c["passed"] for c in groups[EVIDENCE])
    if verdict(checks):
        return f"verified: {k}/{k} evidence checks"
    if not k:
        return "UNVERIFIED: no evidence checks"
    failing = [kind for kind in (INVARIANT, PROVENANCE) if not all(c["passed"] for c in groups[kind])]
    return f"UNVERIFIED: {passed}/{k} evidence checks pass" + ("; failed: " + " and ".join(
        f"{kind} check" for kind in failing) if failing else "")


def save_verified_figure(fig, name, out_dir, data, config, checks, seed=None, conclusions=()):
    """Stamp `fig`, write NAME.png/.pdf/.json atomically into out_dir; return the verdict (`verdict`).
    conclusions: experiments.conclusions.conclude(...) of the figure's claims."""
    passed, stamp, groups = verdict(checks), stamp_text(checks), grouped(checks)
    fig.text(0.995, 0.005, stamp, ha="right", va="bottom", fontsize=7, color="darkgreen" if passed else "red",
             weight="bold")
    for ext in ("png", "pdf"):
        buffer = io.BytesIO()
        fig.savefig(buffer, format=ext, dpi=150 if ext == "png" else None, bbox_inches="tight")
        atomic_write_bytes(os.path.join(out_dir, f"{name}.{ext}"), buffer.getvalue())
    plt.close(fig)
    sidecar = {
        "figure": name,
        "stamp": stamp,
        "all_checks_passed": passed,
        **{GROUPS[kind]: groups[kind] for kind in (EVIDENCE, INVARIANT)},
        "provenance": {"checks": groups[PROVENANCE], **provenance()},
        "conclusions": list(conclusions),
        "config": config,
        "seed": seed,
        "data": data,
    }
    atomic_write_json(os.path.join(out_dir, f"{name}.json"), sidecar)
    return passed


def sidecar_checks(sidecar):
    """Every check of a sidecar written by save_verified_figure, evidence first."""
    return sidecar["evidence"] + sidecar["invariants"] + sidecar["provenance"]["checks"]
