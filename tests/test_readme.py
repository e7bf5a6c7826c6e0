"""The README's Python examples ("Using shb from Python") run as written and print what they say.

Catches: an entry point of the Python API (shb/api.py) renamed, removed or changed in meaning without its
documentation, and an example whose claim (a closed form, a gradient against finite differences) no longer holds.
"""
import doctest
import pathlib

import pytest

README = pathlib.Path(__file__).resolve().parents[1] / "README.md"


@pytest.mark.slow
def test_the_readmes_python_examples_run():
    result = doctest.testfile(str(README), module_relative=False, optionflags=doctest.ELLIPSIS, verbose=False)
    assert result.attempted >= 20, "the README's examples were not found"
    assert result.failed == 0


def test_every_api_name_is_documented_in_the_readme():
    # Catches: an entry point added to the API without an example or a mention in the README.
    import shb
    from shb.api import NAMES

    text = README.read_text()
    assert set(dir(shb)) >= set(NAMES)
    assert [name for name in NAMES if f"shb.{name}(" not in text] == []
