"""File I/O that never leaves a half-written result, and JSON reading with one-line errors."""
import json
import os
import tempfile

from shb.ground.errors import InputError


def atomic_write_bytes(path, data):
    """Write `data` to `path` via a temporary file in the same directory and os.replace."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=directory)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_write_text(path, text):
    atomic_write_bytes(path, text.encode("utf-8"))


def _jsonable(value):
    """json.dumps fallback: numpy arrays and scalars become lists and Python numbers."""
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


def to_json(obj):
    return json.dumps(obj, indent=1, default=_jsonable)


def atomic_write_json(path, obj):
    atomic_write_text(path, to_json(obj) + "\n")


def read_json(path, what="file"):
    """Read a JSON file; a missing or malformed file is an InputError naming it."""
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except FileNotFoundError:
        raise InputError(f"{what} not found: {path}") from None
    except IsADirectoryError:
        raise InputError(f"{what} is a directory, not a file: {path}") from None
    except json.JSONDecodeError as err:
        raise InputError(f"{what} {path} is not valid JSON: {err.msg} at line {err.lineno} column {err.colno}") from None
    except UnicodeDecodeError:
        raise InputError(f"{what} {path} is not UTF-8 text") from None
