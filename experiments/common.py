"""Pieces every experiment script shares: the checks that do not depend on a figure, and the report's paper rows."""
from shb.experiments.verified import check


def generated_code_check(root=None):
    """The numbers were computed by code that matches the derivations (`shb derive --check`).

    root: a source tree to check instead of the installed package (tests check a copy of the tree)."""
    from shb.symbolic import codegen

    stale = codegen.stale(root)
    return check("generated code is current (shb derive --check)", not stale,
                 "stale: " + ", ".join(stale) if stale else "numeric/nqm_generated.py matches symbolic/")


def relative_difference(ours, paper):
    return (ours - paper) / abs(paper)


def paper_row(quantity, paper, ours, command, tolerance=None, note=""):
    """One row of the report's 'paper vs this toolkit' table."""
    row = {"quantity": quantity, "paper": paper, "ours": ours, "command": command, "note": note}
    if isinstance(paper, (int, float)) and isinstance(ours, (int, float)):
        row["relative_difference"] = relative_difference(ours, paper)
        if tolerance is not None:
            row["within_tolerance"] = abs(row["relative_difference"]) <= tolerance
            row["tolerance"] = tolerance
    return row
