"""A figure's conclusions, each printed only while the checks it rests on pass.

A claim is {"topic", "text", "supported_by"}: `text` is the sentence saying what the figure shows, written from its
numbers, `topic` the same in a few words, and `supported_by` the names of the checks it rests on. `conclude` turns
the claims into the sentences REPORT.md and the sidecar print:

- every supporting check passed, at least one of them evidence: `text`;
- some supporting check failed: "Not shown: <topic>." and, for each failed check, its name and detail;
- no supporting check, or invariants only (true by construction, experiments/verified.py): the sentence, marked
  as not verified by an independent check.

A claim that names a check the figure did not make is a programming error (ValueError), so a renamed check cannot
silently leave a sentence unsupported.
"""
from shb.experiments.verified import EVIDENCE

NOT_VERIFIED = "Not verified by an independent check"


def claim(topic, text, *supported_by):
    """A conclusion: `text` printed while the checks named in `supported_by` pass (see the module docstring)."""
    return {"topic": topic, "text": text, "supported_by": list(supported_by)}


def conclude(claims, checks):
    """[{"topic", "text", "supported_by", "holds", "statement"}]: each claim with the sentence to print."""
    by_name = {c["name"]: c for c in checks}
    out = []
    for c in claims:
        missing = [name for name in c["supported_by"] if name not in by_name]
        if missing:
            raise ValueError(f"the claim {c['topic']!r} rests on checks that were not made: {missing}")
        support = [by_name[name] for name in c["supported_by"]]
        failed = [s for s in support if not s["passed"]]
        if failed:
            statement = f"Not shown: {c['topic']}. " + " ".join(
                f"The check \"{s['name']}\" failed: {s['detail'].rstrip('.')}." for s in failed)
        elif not any(s.get("kind") == EVIDENCE for s in support):
            why = "it holds by construction" if support else "it is a reading of the numbers, not a checked claim"
            statement = f"{NOT_VERIFIED} ({why}): {c['text']}"
        else:
            statement = c["text"]
        out.append({**c, "holds": not failed and any(s.get("kind") == EVIDENCE for s in support),
                    "statement": statement})
    return out


def paragraph(concluded, heading="What it shows"):
    """The conclusions as one Markdown paragraph opening with `heading`, or "" when there are none."""
    if not concluded:
        return ""
    return f"**{heading}.** " + " ".join(c["statement"] for c in concluded)
