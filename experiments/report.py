"""REPORT.md: every figure with its checks, every number the paper states beside ours, every Monte-Carlo check's
power, and every tuned setting with the outcome of its check at each value tried (experiments/sensitivity.py)."""
import datetime
import os

from shb.experiments import sensitivity
from shb.experiments.registry import CHAPTERS
from shb.experiments.verified import grouped, stamp_text
from shb.ground.io import atomic_write_text


def _fmt(value):
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def paper_table(rows):
    lines = [
        "| quantity | paper | this toolkit | relative difference | regenerate with |",
        "|---|---|---|---|---|",
    ]
    for row in rows:
        rel = row.get("relative_difference")
        rel_text = "" if rel is None else f"{100 * rel:+.1f}%"
        if "tolerance" in row:
            verdict = "within" if row["within_tolerance"] else "OUTSIDE"
            rel_text += f" ({verdict} {100 * row['tolerance']:.0f}%)"
        note = f" ({row['note']})" if row.get("note") else ""
        lines.append(
            f"| {row['quantity']}{note} | {_fmt(row['paper'])} | {_fmt(row['ours'])} | {rel_text} | `{row['command']}` |"
        )
    return "\n".join(lines)


def stamp_line(checks, figure=None):
    """The stamp `checks` earn (experiments/verified.py), as a line of the report."""
    return (f"Stamp{f' of {figure}' if figure else ''}: **{stamp_text(checks)}** (evidence is counted; invariants "
            "hold by construction and provenance records what computed the numbers: neither is counted).")


def checks_table(checks, stamp=True):
    """The checks, evidence first, each with its kind (docs/checks.md); with `stamp`, under the stamp they earn."""
    groups = grouped(checks)
    lines = ([stamp_line(checks), ""] if stamp else []) + ["| check | kind | passed | detail |", "|---|---|---|---|"]
    for c in [c for kind in groups for c in groups[kind]]:
        detail = c["detail"].replace("|", "\\|").replace("\n", " ")
        lines.append(f"| {c['name']} | {c['kind']} | {'PASS' if c['passed'] else '**FAIL**'} | {detail} |")
    return "\n".join(lines)


POWER_BAR = 0.05  # issue 27: a Monte-Carlo check at quick scale should detect a 5% error in every mean and variance


def power_section(sections):
    """Every Monte-Carlo check's power (numeric/nqm/montecarlo_power.py): the smallest relative error in every mean
    and in every variance it detects with probability 0.99, those above POWER_BAR flagged."""
    rows = [(s.title, c) for s in sections for c in s.checks if "power" in c]
    lines = ["## Monte-Carlo power", "",
             "The smallest relative error in every mean and in every variance each Monte-Carlo check detects with "
             f"probability 0.99 at its number of runs N (pooled over the coordinates of a step); above "
             f"{POWER_BAR:.0%} it is flagged.", ""]
    if not rows:
        return "\n".join(lines + ["(no Monte-Carlo check at this selection)"])

    def cell(e, flag=True):
        if e is None or e == float("inf"):
            return "none"
        return f"{100 * e:.2g}%" + (" (**above 5%**)" if flag and e > POWER_BAR else "")

    lines += ["| part | check | N | every mean | every variance | one entry's variance |", "|---|---|---|---|---|---|"]
    exact = "deterministic: compared to rounding"
    lines += [f"| {title} | {c['name']} | {c['power']['runs']} | " + (f"{exact} | {exact} | {exact} |" if c["power"].get(
        "deterministic") else f"{cell(c['power']['mean_error'])} | {cell(c['power']['variance_error'])} | "
                             f"{cell(c['power']['entry_variance_error'], False)} |") for title, c in rows]
    flagged = [f"{c['name']} ({title})" for title, c in rows if not c["power"].get("deterministic") and any(
        e is None or e > POWER_BAR for e in (c["power"]["mean_error"], c["power"]["variance_error"]))]
    lines += ["", f"Above {POWER_BAR:.0%} in every mean or every variance: " + (", ".join(flagged) if flagged else
              "none") + ". A single entry's variance is resolved more coarsely (last column): an error confined to "
              "a few coordinates must be larger to be seen."]
    return "\n".join(lines)


LANES = {"main": "the neural-network experiments on the Dask workers, then the NQM parts not yet started",
         "beside": "the derivations, the proofs and the NQM figures, in a second process at a lower priority"}


def timing_table(sections):
    """The parts' status and wall time; with lanes (`shb reproduce`'s two processes, experiments/reproduce.py), each
    part's lane and each lane's total, whose larger is what one waits (the lanes share the cores, so a part takes
    longer than alone)."""
    laned = any(s.lane for s in sections)
    lines = ["| part | status | scale | time |" + (" lane |" if laned else ""),
             "|---|---|---|---|" + ("---|" if laned else "")]
    lines += [f"| {s.title} | {'PASS' if s.passed else '**FAIL**'} | {s.scale or '-'} | {s.seconds or 0:.1f} s |"
              + (f" {s.lane or '-'} |" if laned else "") for s in sections]
    if laned:
        totals = {lane: sum(s.seconds or 0 for s in sections if s.lane == lane) for lane in LANES}
        lines += [""] + [f"- {lane} lane ({what}): {totals[lane]:.0f} s" for lane, what in LANES.items()]
        longer = max(totals, key=totals.get)
        lines += [f"- the critical path is the {longer} lane: the lanes ran side by side on the same cores"]
    return lines


def write_report(out_dir, scale, command, sections, elapsed):
    """REPORT.md from the sections (experiments.result.Result, each with its `seconds`), in order."""
    rows = [row for s in sections for row in s.paper_vs_ours]
    status = "all checks pass" if all(s.passed for s in sections) else "SOME CHECKS FAIL"
    lines = [
        "# shb reproduction report",
        "",
        "Wu, Ren, Liao & Grosse, *Understanding Short-Horizon Bias in Stochastic Meta-Optimization* (ICLR 2018),",
        f"regenerated by `{command}` at scale **{scale}** on {datetime.date.today().isoformat()} "
        f"in {elapsed:.0f} s: **{status}**.",
        "",
    ]
    lines += timing_table(sections)
    lines += ["", "## Paper vs this toolkit", "", paper_table(rows) if rows else "(no numbers at this selection)", ""]
    lines += [power_section(sections), "", sensitivity.section(), ""]
    chapter = None
    for s in sections:
        if s.chapter is not None and s.chapter != chapter:  # a later chapter opens before its first section
            chapter = s.chapter
            lines += [f"# {chapter}", "", CHAPTERS.get(chapter, ""), ""]
        body = s.report.strip()
        lines += ([] if body.startswith("## ") else [f"## {s.title}", ""]) + [body, ""]
    atomic_write_text(os.path.join(out_dir, "REPORT.md"), "\n".join(lines))
