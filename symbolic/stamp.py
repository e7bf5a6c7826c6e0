"""The generated files' stamp: the symbolic sources and SymPy that derived them, and a SHA-256 of each file.

`shb derive` writes numeric/nqm/generated_stamp.json with the files it derives (it is one of them):

    {"sympy": version, "symbolic": {path: sha256 of every .py file of symbolic/},
     "generated": {path: sha256 of every other generated file}}

`current` reads it: the generated files on disk are the ones derived from the installed symbolic/ when the stamp
names this SymPy, these symbolic sources and these files' hashes. That takes milliseconds where deriving takes
seconds, so a figure checks its provenance by the stamp and derives only when the stamp does not match (then the
derivations say which file is stale). The stamp is a generated file itself: `shb derive --check` (the full
re-derivation, run by `shb reproduce`'s Derivations part and by the tests) proves it true.
"""
import hashlib
import json
import os

import sympy

from shb.ground import resources

STAMP = "numeric/nqm/generated_stamp.json"


def sha256(text):
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _read(path):
    with open(path, encoding="utf-8") as handle:
        return handle.read()


def sources():
    """{path under symbolic/: sha256} of every .py file of the installed shb.symbolic package (sorted paths)."""
    top = resources.package_dir("shb.symbolic")
    found = {}
    for folder, dirs, files in os.walk(top):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for name in sorted(f for f in files if f.endswith(".py")):
            path = os.path.join(folder, name)
            found["symbolic/" + os.path.relpath(path, top).replace(os.sep, "/")] = sha256(_read(path))
    return dict(sorted(found.items()))


def text(generated):
    """The stamp's text for `generated` ({path: text} of the other generated files): deterministic JSON."""
    return json.dumps({"sympy": sympy.__version__, "symbolic": sources(),
                       "generated": {rel: sha256(body) for rel, body in sorted(generated.items())}}, indent=1) + "\n"


def current(names, root=None):
    """True when the stamp (under `root`, or the installed package's) names this SymPy, the installed symbolic
    sources and exactly the generated files `names`, and each of them, read from disk, has its hash. False on any
    mismatch or a missing or unreadable file (the caller then derives to find out which file is stale)."""
    try:
        stamp = json.loads(_read(resources.path(STAMP, root)))
        files = stamp["generated"]
        on_disk = {rel: sha256(_read(resources.path(rel, root))) for rel in files}
    except (OSError, ValueError, KeyError, TypeError):
        return False
    return (stamp.get("sympy") == sympy.__version__ and stamp.get("symbolic") == sources()
            and set(files) == set(names) and files == on_disk)
