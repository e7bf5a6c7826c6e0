"""File I/O that never leaves a half-written result, strict JSON, and reading with one-line errors.

Results are written with the permissions the user's umask gives new files (0644 under umask 022), though they
are first written to a private temporary file and renamed into place. JSON output is strict: a non-finite
number is written as null (json.dumps would write the tokens NaN and Infinity, which strict parsers reject);
callers for whom a non-finite number is an error say so before they write.
"""
import json
import math
import os
import tempfile

from shb.ground.errors import InputError


def atomic_write_bytes(path, data):
    """Write `data` to `path` via a temporary file in the same directory and os.replace."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=directory)
    try:
        os.chmod(tmp, 0o666 & ~current_umask())
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def current_umask():
    """The process's umask (read by setting and restoring it)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_write_text(path, text):
    atomic_write_bytes(path, text.encode("utf-8"))


def strict(value):
    """`value` with numpy arrays and scalars as lists and Python numbers, and every non-finite float as None."""
    if hasattr(value, "tolist"):
        value = value.tolist()
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: strict(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [strict(v) for v in value]
    return value


def to_json(obj):
    """Strict JSON text of `obj` (see the module docstring)."""
    return json.dumps(strict(obj), indent=1, allow_nan=False)


def atomic_write_json(path, obj):
    atomic_write_text(path, to_json(obj) + "\n")


def read_json(path, what="file"):
    """Read a JSON file; a missing or malformed file, or one with NaN or Infinity, is an InputError naming it."""
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle, parse_constant=_reject_constant)
    except FileNotFoundError:
        raise InputError(f"{what} not found: {path}") from None
    except IsADirectoryError:
        raise InputError(f"{what} is a directory, not a file: {path}") from None
    except _NonStandard as err:
        raise InputError(f"{what} {path} is not valid JSON: {err} is not a JSON number (strict JSON has no NaN or "
                         "Infinity)") from None
    except json.JSONDecodeError as err:
        raise InputError(f"{what} {path} is not valid JSON: {err.msg} at line {err.lineno} column {err.colno}") from None
    except UnicodeDecodeError:
        raise InputError(f"{what} {path} is not UTF-8 text") from None


class _NonStandard(ValueError):
    pass


def _reject_constant(token):
    raise _NonStandard(token)


def writable_directory(path, what="--out"):
    """Check, before any long computation, that `path` is or can become a writable directory (nothing is
    created); an InputError naming it otherwise."""
    path = os.path.abspath(path)
    if os.path.exists(path):
        if not os.path.isdir(path):
            raise InputError(f"{what} names a file, not a directory: {path}")
        if not os.access(path, os.W_OK | os.X_OK):
            raise InputError(f"{what} is not writable: {path}")
        return path
    parent = path
    while not os.path.exists(parent):
        parent = os.path.dirname(parent)
    if not os.path.isdir(parent):
        raise InputError(f"{what} cannot be created below a file: {parent}")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise InputError(f"{what} cannot be created: {parent} is not writable")
    return path
