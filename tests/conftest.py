"""Hypothesis profiles: `ci` (default; deterministic, few examples) and `thorough` (many random examples).

Select with the environment variable HYPOTHESIS_PROFILE=ci|thorough (or mutate, for `make mutate`).
"""
import os

from hypothesis import HealthCheck, Phase, settings

settings.register_profile(
    "ci", derandomize=True, max_examples=8, deadline=None, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "thorough", max_examples=200, deadline=None, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
# `make mutate` (tests/mutation/): the `ci` examples without shrinking, so a killed mutant costs one failing example.
settings.register_profile("mutate", parent=settings.get_profile("ci"), phases=[Phase.explicit, Phase.reuse, Phase.generate])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


import importlib.util  # noqa: E402
import pathlib  # noqa: E402

import pytest  # noqa: E402

from shb.ground import resources  # noqa: E402

GENERATED = pathlib.Path(resources.path("numeric/nqm/generated.py"))  # the installed toolkit's generated module


@pytest.fixture
def mutant(tmp_path):
    """mutant(old, new) -> a copy of numeric/nqm/generated.py with the one occurrence of `old` replaced by `new`,
    loaded as a separate temporary module (the generated file itself is never touched).

    The generated file holds every rule's functions, and the rules share much of their text (heavy ball's step is
    preconditioning's with p = 1): `old` must occur exactly once in the whole file, so a pattern meant for
    heavy_ball_step carries the line that tells it apart (tests/nqm/test_montecarlo.py). Monkeypatch the copy in
    where the engine reads the generated module: shb.numeric.nqm.rules.gen (every `<rule>_<kind>` function),
    shb.numeric.nqm.greedy.gen (Theorem 2's solution)."""
    counter = iter(range(1000))

    def make(old, new):
        text = GENERATED.read_text()
        assert text.count(old) == 1, f"mutation pattern {old!r} must occur exactly once in {GENERATED.name}"
        path = tmp_path / f"nqm_mutant_{next(counter)}.py"
        path.write_text(text.replace(old, new))
        spec = importlib.util.spec_from_file_location(path.stem, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    return make


@pytest.fixture(scope="session")
def generated_outputs():
    """{relative path: text} of every generated file, generated once per session (a few seconds each time)."""
    from shb.symbolic import codegen

    return codegen.outputs()


@pytest.fixture
def tree_copy(tmp_path):
    """A copy of the installed toolkit's generated files (codegen.PATHS: numeric/nqm/generated.py, the documents and
    the stamp) under tmp_path, laid out as in a source tree, for `shb derive --check --root` and codegen.stale(root).
    No derivation: tests that compare with the derivations ask for `generated_outputs` themselves."""
    import os
    import shutil

    from shb.symbolic import codegen

    for rel in codegen.PATHS:
        os.makedirs(tmp_path / os.path.dirname(rel), exist_ok=True)
        shutil.copy(resources.path(rel), tmp_path / rel)
    return tmp_path


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory):
    """IDX files of a synthetic data set (8x8 images, 3 classes; 300 training and 100 test examples), read only:
    the tiny MLP/CNN runs' data (tests/test_offline.py has its own, of another shape)."""
    from data_writers import write_synthetic_split  # a sibling module: tests/ is on sys.path under pytest

    directory = str(tmp_path_factory.mktemp("data"))
    write_synthetic_split(directory, "train", n=300, shape=(8, 8), n_classes=3, seed=0)
    write_synthetic_split(directory, "test", n=100, shape=(8, 8), n_classes=3, seed=1)
    return directory
