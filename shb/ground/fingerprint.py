"""What saved progress was made from: content hashes of arrays, and the differences between two records.

A run's saved progress records the fingerprint of its inputs (the data set's name, where it was read, its sizes
and a SHA-256 of the arrays used) beside its configuration; a resume compares both with the run's own and refuses,
in one line naming what differs, progress made from anything else (experiments/runner.py, load_progress).
"""
import hashlib

SHOWN = 3          # differences named in a message; the rest are counted
VALUE_CHARS = 20   # a longer value (a hash) is shortened in a message


def digest(*arrays):
    """SHA-256 (hex) of the arrays' dtypes, shapes and contents, in order (numpy arrays or anything alike)."""
    h = hashlib.sha256()
    for array in arrays:
        h.update(f"{array.dtype.str}{tuple(array.shape)};".encode("ascii"))
        h.update(array if array.flags.c_contiguous else array.tobytes())  # hashlib reads a contiguous buffer as is
    return h.hexdigest()


def differences(saved, now, ignore=(), path=""):
    """['train.sha256: saved 1a2b..., now 9f8e...', ...]: every place where the records `saved` and `now` (JSON-like
    values) differ, by dotted path; keys named in `ignore` are left out at any depth."""
    if isinstance(saved, dict) and isinstance(now, dict):
        found = []
        for key in sorted(set(saved) | set(now), key=str):
            if key in ignore:
                continue
            where = f"{path}.{key}" if path else str(key)
            if key not in saved:
                found.append(f"{where}: not recorded, now {_short(now[key])}")
            elif key not in now:
                found.append(f"{where}: recorded {_short(saved[key])}, now absent")
            else:
                found += differences(saved[key], now[key], ignore, where)
        return found
    if saved != now:
        return [f"{path or 'the record'}: saved {_short(saved)}, now {_short(now)}"]
    return []


def summary(found):
    """The first SHOWN differences joined, and how many more there are."""
    text = "; ".join(found[:SHOWN])
    return text + (f"; and {len(found) - SHOWN} more" if len(found) > SHOWN else "")


def _short(value):
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= VALUE_CHARS else text[:VALUE_CHARS - 3] + "..."
