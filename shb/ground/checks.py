"""A check: one certified statement about a result's numbers, {"name", "passed", "detail"}.

A check passes only when its comparison held and every number it compared is finite. Every comparison with NaN is
false, so a check written as `error <= tolerance` fails on NaN, but one written as `not error > tolerance`, or as
`max(0.0, nan) <= tolerance` (Python's max keeps its first argument when the second is NaN), passes on it; an
infinite loss or error is an overflow or a divergence, not a measurement. So a check is given the numbers it compares
(`values`), and any that is NaN, infinite or missing (None: how strict JSON writes a NaN) fails it, whatever the
comparison said, and its detail names them. This is the one place that rule lives: every check of the toolkit is
made here, and so inherits it.
"""
import numpy as np


def _entries(values, label):
    """(label, value) pairs of `values`: a number, None, an array, a (nested) list or tuple, or a dict
    {label: values}; text is not a number and is passed over."""
    if isinstance(values, dict):
        for key, value in values.items():
            yield from _entries(value, f"{label}.{key}" if label else str(key))
    elif isinstance(values, (list, tuple)) and not all(isinstance(v, (int, float, np.number)) for v in values):
        for i, value in enumerate(values):
            yield from _entries(value, f"{label}[{i}]" if label else f"[{i}]")
    elif not isinstance(values, (str, bytes)):
        yield label, values


def nonfinite(values):
    """The labels of the entries of `values` that are NaN, infinite or None (how many, for an array), in order."""
    bad = []
    for label, value in _entries(values, ""):
        if value is None:
            bad.append(f"{label or 'a value'} (missing)")
            continue
        array = np.asarray(value)
        if array.dtype == bool or not np.issubdtype(array.dtype, np.number):
            continue
        count = int(np.size(array) - np.count_nonzero(np.isfinite(array)))
        if count:
            bad.append(f"{label or 'a value'}" + (f" ({count} of {array.size} entries)" if array.size > 1 else
                                                  f" = {array.item()}"))
    return bad


def check(name, passed, detail="", *, values):
    """One certified statement: passed iff `passed` is true and every number in `values` (the numbers the statement
    compares: a number, an array, a list or a dict of them; () when it compares none) is finite."""
    bad = nonfinite(values)
    detail = str(detail)
    if bad:
        detail += ("; " if detail else "") + ("FAILED: not finite: " + ", ".join(bad)
                                              + " (a comparison with NaN or infinity is never a pass)")
    return {"name": name, "passed": bool(passed) and not bad, "detail": detail}
