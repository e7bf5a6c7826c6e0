"""Where the installed toolkit keeps the files that verification compares.

A file is named by its path relative to a source tree, e.g. `numeric/nqm/generated.py` or `docs/derivations.md`.
Without an explicit root, the first folder names an installed package (`numeric` -> `shb.numeric`, `docs` ->
`shb.docs`) and the file is looked up where the import system finds that package: the source folder of an editable
install, or site-packages for a wheel. So a wheel outside any checkout checks its own generated files, and nothing
here depends on where this module sits on disk. With a root (`shb derive --root DIR`), the path is DIR/relative.
"""
import importlib.util
import os

from shb.ground.errors import InputError


def package_dir(package):
    """The directory of an installed package, without importing (executing) it."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise InputError(f"package {package} is not installed")
    return list(spec.submodule_search_locations)[0]


def path(relative, root=None):
    """The file `relative` (e.g. 'docs/proofs.md') under `root`, or in the installed `shb.<first folder>` package."""
    if root is not None:
        return os.path.join(root, relative)
    folder, _, rest = relative.replace(os.sep, "/").partition("/")
    return os.path.join(package_dir(f"shb.{folder}"), *rest.split("/"))
