"""Checks that data read back from a file (saved progress) has the structure the code expects, before it is used.

Each check takes the value and its place in the file (a dotted path such as `smd.100[0].trajectory`) and returns the
value, or raises Invalid saying in one line where it is wrong and how: `surface must be an object, got a string`.
The callers (the experiments' progress readers) turn Invalid into a ProgressError naming the file.
"""
import math
from numbers import Integral, Real


class Invalid(ValueError):
    """A value read back that does not have the expected structure; the message names its place."""


def kind(value):
    """'a string', 'an object', 'a list of 3', 'the number 2.5', 'null', ... for a message."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, (list, tuple)):
        return f"a list of {len(value)}"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, Real):
        return f"the number {value!r}"
    return f"a {type(value).__name__}"


def fail(path, expected, value):
    raise Invalid(f"{path} must be {expected}, got {kind(value)}")


def number(value, path, nullable=False, low=None, positive=False):
    """A finite real number (not a boolean), at least `low` if given, above 0 if `positive`; None too if
    `nullable`."""
    if value is None and nullable:
        return value
    if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(value):
        fail(path, "a finite number" + (" or null" if nullable else ""), value)
    if low is not None and value < low:
        fail(path, f"a number >= {low:g}", value)
    if positive and value <= 0:
        fail(path, "a number > 0", value)
    return value


def integer(value, path, low=0, high=None, nullable=False):
    """An integer in [low, high] (high None: no upper bound); None too if `nullable`."""
    if value is None and nullable:
        return value
    if isinstance(value, bool) or not isinstance(value, Integral) or value < low or (high is not None and value > high):
        fail(path, f"an integer from {low}" + (f" to {high}" if high is not None else " up"), value)
    return value


def obj(value, path, keys=None, required=()):
    """A JSON object; with `keys` exactly those keys; `required` keys at least."""
    if not isinstance(value, dict):
        fail(path, "an object", value)
    if keys is not None and set(value) != set(keys):
        extra, missing = sorted(set(value) - set(keys), key=str), sorted(set(keys) - set(value), key=str)
        raise Invalid(f"{path} has " + (f"the unexpected key {extra[0]!r}" if extra else f"no key {missing[0]!r}")
                      + f" (its keys must be {sorted(keys, key=str)})")
    for key in required:
        if key not in value:
            raise Invalid(f"{path} has no key {key!r}")
    return value


def keys_within(value, path, allowed):
    """An object whose keys are all in `allowed` (a set of strings)."""
    obj(value, path)
    extra = sorted(set(value) - set(allowed), key=str)
    if extra:
        raise Invalid(f"{path} has the unexpected key {extra[0]!r} (allowed: {sorted(allowed, key=str)})")
    return value


def listing(value, path, length=None, most=None):
    """A list (of `length` items, or at most `most`)."""
    if not isinstance(value, list):
        fail(path, "a list", value)
    if length is not None and len(value) != length:
        fail(path, f"a list of {length}", value)
    if most is not None and len(value) > most:
        fail(path, f"a list of at most {most}", value)
    return value


def numbers(value, path, length=None, nullable=False, low=None, positive=False):
    """A list of numbers (see `number`)."""
    for i, item in enumerate(listing(value, path, length)):
        number(item, f"{path}[{i}]", nullable, low, positive)
    return value
