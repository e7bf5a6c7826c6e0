"""File I/O that never leaves a half-written result, strict JSON, and reading with one-line errors.

Results are written with the permissions the user's umask gives new files (0644 under umask 022), though they
are first written to a private temporary file and renamed into place. JSON output is strict: a non-finite
number is written as null (json.dumps would write the tokens NaN and Infinity, which strict parsers reject);
callers for whom a non-finite number is an error say so before they write.
"""
import errno
import json
import math
import os
import re
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


MAX_JSON_DEPTH = 64  # deeper nesting is refused (every JSON the toolkit reads is a few levels deep)


def read_json(path, what="file"):
    """Read a JSON file; a missing or malformed file, one with NaN or Infinity, nesting deeper than MAX_JSON_DEPTH
    or a key twice in one object is an InputError naming it."""
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except FileNotFoundError:
        raise InputError(f"{what} not found: {path}") from None
    except IsADirectoryError:
        raise InputError(f"{what} is a directory, not a file: {path}") from None
    except UnicodeDecodeError:
        raise InputError(f"{what} {path} is not UTF-8 text") from None
    return parse_json(text, f"{what} {path}")


def parse_json(text, what="JSON text"):
    """Strict JSON `text`, or an InputError naming `what`: no NaN or Infinity, no key twice in one object (Python's
    json keeps the last silently), nesting at most MAX_JSON_DEPTH deep (checked before parsing: the parser recurses
    and would fail with RecursionError)."""
    deep = _too_deep(text, MAX_JSON_DEPTH)
    if deep is not None:
        raise InputError(f"{what} is nested more than {MAX_JSON_DEPTH} levels deep (at line {deep[0]} column "
                         f"{deep[1]})")
    try:
        return json.loads(text, parse_constant=_reject_constant, object_pairs_hook=_unique_keys)
    except _NonStandard as err:
        raise InputError(f"{what} is not valid JSON: {err} is not a JSON number (strict JSON has no NaN or "
                         "Infinity)") from None
    except _Duplicate as err:
        raise InputError(f"{what} is not valid JSON here: key {err} appears twice in one object") from None
    except json.JSONDecodeError as err:
        raise InputError(f"{what} is not valid JSON: {err.msg} at line {err.lineno} column {err.colno}") from None


class _NonStandard(ValueError):
    pass


class _Duplicate(ValueError):
    pass


def _reject_constant(token):
    raise _NonStandard(token)


def _unique_keys(pairs):
    obj = {}
    for key, value in pairs:
        if key in obj:
            raise _Duplicate(repr(key))
        obj[key] = value
    return obj


_TOKENS = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]')  # a string (skipped: brackets inside do not nest) or a bracket


def _too_deep(text, limit):
    """(line, column) of the first bracket that opens level limit + 1, None if the text nests no deeper."""
    depth = 0
    for match in _TOKENS.finditer(text):
        token = match.group()
        if token in "[{":
            depth += 1
            if depth > limit:
                start = match.start()
                return text.count("\n", 0, start) + 1, start - text.rfind("\n", 0, start)
        elif token in "]}":
            depth -= 1
    return None


def writable_directory(path, what="--out"):
    """Prove, before any long computation, that `path` is or can become a writable directory: the directories that
    are missing are made, a probe file is created in the last and removed, and the directories made are removed
    again, so nothing is left. An InputError naming the path and the reason otherwise (a file, a dangling link or a
    link loop, a name too long, no permission)."""
    path = _absolute(path, what, "a directory")
    _probe(path, None, what, what)
    return path


def writable_file(path, what="--report"):
    """Prove, before any long computation, that the file `path` can be written (atomically, as atomic_write_bytes
    writes it): its directory as writable_directory proves it, and, when the file does not exist yet, its name by
    creating and removing it. Nothing is left; an InputError naming the path and the reason otherwise."""
    if path and (path.endswith(os.sep) or os.path.isdir(path)):
        raise InputError(f"{what} names a directory, not a file: {path}")
    path = _absolute(path, what, "a file")
    directory, name = os.path.split(path)
    if os.path.islink(path) and not os.path.exists(path):
        raise InputError(f"{what} is {_broken_link(path)}: {path}")
    _probe(directory, None if os.path.lexists(path) else name, f"the {what} directory", what)
    return path


def _absolute(path, what, kind):
    if not path:
        raise InputError(f"{what} is empty: name {kind}")
    return os.path.abspath(path)


def _broken_link(path):
    """'a symbolic link loop' or 'a dangling symbolic link (to TARGET)'."""
    try:
        os.stat(path)
    except OSError as err:
        if err.errno == errno.ELOOP:
            return "a symbolic link loop"
    return f"a dangling symbolic link (to {os.readlink(path)})"


def _probe(directory, name, what, option):
    """Make the missing directories down to `directory`, create and remove a probe file there (the file `name`, or
    a temporary one), then remove the directories made; an InputError if any step fails, naming the directory as
    `what` and, when writing fails, the `option`."""
    missing = []
    existing = directory
    while not os.path.lexists(existing):
        missing.append(existing)
        existing = os.path.dirname(existing)
    if os.path.islink(existing) and not os.path.exists(existing):
        raise InputError(f"{what} cannot be created: {existing} is {_broken_link(existing)}")
    if not os.path.isdir(existing):
        if existing == directory:
            raise InputError(f"{what} names a file, not a directory: {directory}")
        raise InputError(f"{what} cannot be created below a file: {existing}")
    made = []
    try:
        for parent in reversed(missing):
            os.mkdir(parent)
            made.append(parent)
        if name is None:
            fd, probe = tempfile.mkstemp(prefix=".shb-probe-", dir=directory)
        else:
            probe = os.path.join(directory, name)
            fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.close(fd)
        os.unlink(probe)
    except OSError as err:
        failed = err.filename or directory
        raise InputError(f"{option} cannot be written: {failed}: {err.strerror or err}") from None
    finally:
        for made_dir in reversed(made):
            try:
                os.rmdir(made_dir)
            except OSError:  # another process put something there meanwhile: it stays
                pass
