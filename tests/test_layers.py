"""The floors of the house: no module imports a floor above its own (shb/__init__.py lists them).

Read from the source, not from what happens to be imported: every `import` and `from ... import` statement of
every module of the installed `shb` package, function-level imports included. The bug this catches: a lower
floor reaching up (numeric importing the front end's helpers, symbolic importing numeric), and code importing a
source folder by its folder name (`from numeric import mlp`), which works in a checkout and fails once installed.
"""
import ast
import importlib.util
import os

import pytest

from shb.ground.resources import package_dir

FLOORS = {  # package prefix -> floor, bottom to top
    "shb.ground": 0,
    "shb.docs": 0,
    "shb.symbolic": 1,
    "shb.numeric": 2,
    "shb.proofs": 3,
    "shb.experiments": 4,
    "shb.cli": 5,
    "shb.api": 5,
}
SOURCE_FOLDER_NAMES = ("symbolic", "numeric", "proofs", "experiments", "commands")


def floor(module):
    """The floor of a module name: that of its longest prefix in FLOORS (None outside the project)."""
    for prefix in sorted(FLOORS, key=len, reverse=True):
        if module == prefix or module.startswith(prefix + "."):
            return FLOORS[prefix]
    return 0 if module == "shb" else None


def imported_names(source, module, is_package):
    """The absolute names each import statement of `source` (module `module`) brings in."""
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolve against the importing package
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
            # `from shb import proofs` brings in shb.proofs: judge the most specific name
            yield from (f"{base}.{alias.name}" for alias in node.names)


def violations(modules):
    """[(importer, imported, why)] for modules = {name: (source, is_package)}."""
    found = []
    for module, (source, is_package) in modules.items():
        for name in imported_names(source, module, is_package):
            top = name.split(".")[0]
            if top in SOURCE_FOLDER_NAMES:
                found.append((module, name, "imports a source folder by its folder name, not as shb.*"))
            elif top == "shb" and floor(name) is not None and floor(name) > floor(module):
                found.append((module, name, f"floor {floor(module)} imports floor {floor(name)}"))
    return found


def project_modules():
    """{module name: (source, is_package)} of every .py file of every package in FLOORS (found where installed)."""
    modules = {}
    for prefix in FLOORS:
        spec = importlib.util.find_spec(prefix)
        assert spec is not None, f"{prefix} is not installed"
        if not spec.submodule_search_locations:  # a module, not a package (shb.api)
            with open(spec.origin, encoding="utf-8") as handle:
                modules[prefix] = (handle.read(), False)
            continue
        root = package_dir(prefix)
        for directory, subdirs, files in os.walk(root):
            subdirs[:] = [d for d in subdirs if d != "__pycache__"]
            rel = os.path.relpath(directory, root)
            package = prefix if rel == "." else prefix + "." + rel.replace(os.sep, ".")
            for name in files:
                if name.endswith(".py"):
                    with open(os.path.join(directory, name), encoding="utf-8") as handle:
                        source = handle.read()
                    is_package = name == "__init__.py"
                    modules[package if is_package else f"{package}.{name[:-3]}"] = (source, is_package)
    with open(os.path.join(package_dir("shb"), "__init__.py"), encoding="utf-8") as handle:
        modules["shb"] = (handle.read(), True)
    return modules


def test_no_floor_imports_a_floor_above_it():
    modules = project_modules()
    for prefix in ("shb.ground", "shb.symbolic", "shb.numeric", "shb.proofs", "shb.experiments", "shb.cli"):
        assert sum(m.startswith(prefix + ".") for m in modules) >= 2, f"found no modules of {prefix}: is it installed?"
    assert "shb.api" in modules
    assert violations(modules) == []


@pytest.mark.parametrize("module, source, offending", [
    ("shb.numeric.networks.mlp", "from shb.cli.commands import bench\n", "shb.cli.commands.bench"),
    ("shb.symbolic.model", "def f():\n    from shb.numeric.networks import mlp\n", "shb.numeric.networks.mlp"),
    ("shb.ground.io", "import shb.experiments.report\n", "shb.experiments.report"),
    ("shb.numeric.meta.smd", "from ...experiments import registry\n", "shb.experiments.registry"),
    ("shb.proofs.nqm", "from shb import experiments\n", "shb.experiments"),
    ("shb.experiments.fig1", "from numeric import mlp\n", "numeric.mlp"),
])
def test_the_rule_catches_an_upward_import(module, source, offending):
    # Each case is one way the rule is broken: a function-level import, a relative one, `from shb import X`.
    found = violations({module: (source, False)})
    assert [name for _, name, _ in found] == [offending]


def test_the_rule_allows_imports_downward_and_within_a_floor():
    sources = {"shb.cli.commands.nqm": ("from shb.numeric import nqm_schedules\nfrom shb.cli import main\n", False),
               "shb.numeric.meta.smd": ("from . import hypergrad\nfrom ..networks import mlp\nfrom shb.ground.errors import InputError\nimport numpy\n", False),
               "shb.experiments": ("from shb.experiments.registry import EXPERIMENTS\n", True)}
    assert violations(sources) == []
