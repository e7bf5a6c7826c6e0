"""symbolic/stamp.py: the generated files' stamp, by which a figure checks its provenance without deriving.

- the installed files are current by their stamp, and a figure's check then does not derive;
- a hand edit of a generated file, another symbolic source, another SymPy, a stamp naming fewer files, a missing
  or corrupt stamp: each makes the stamp not current (the check then derives and names the stale file:
  tests/test_paper_figures.py).
"""
import json

import pytest

from shb.experiments import common
from shb.symbolic import codegen, stamp


def test_the_installed_files_are_current_by_their_stamp():
    # Catches: a stamp check that never matches (every figure would derive: seconds per process), or a committed
    # stamp left behind by a change of symbolic/ (`shb derive` not run).
    assert codegen.current_by_stamp()


def test_a_figure_check_does_not_derive_when_the_stamp_matches(monkeypatch):
    # Catches: the figures' provenance check deriving although the stamp matches.
    def derive():
        raise AssertionError("derived although the stamp matches")

    monkeypatch.setattr(codegen, "outputs", derive)
    common.derived_files.cache_clear()
    try:
        result = common.generated_code_check()
    finally:
        common.derived_files.cache_clear()
    assert result["passed"] and "by its stamp" in result["detail"], result


def test_a_hand_edit_of_a_generated_file_breaks_the_stamp(tree_copy):
    # Catches: a stamp that does not hash the files on disk (a hand edit would pass unseen).
    assert codegen.current_by_stamp(str(tree_copy))
    path = tree_copy / codegen.GENERATED_MODULE
    path.write_text(path.read_text().replace("sigma2", "1.01*sigma2", 1))
    assert not codegen.current_by_stamp(str(tree_copy))


def test_another_symbolic_source_breaks_the_stamp(tree_copy, monkeypatch):
    # Catches: a stamp that ignores the sources (an edited derivation would keep passing on the old files).
    sources = stamp.sources()
    assert "symbolic/optimizers/heavy_ball.py" in sources  # sub-packages are hashed too
    changed = dict(sources, **{"symbolic/optimizers/heavy_ball.py": "0" * 64})
    monkeypatch.setattr(stamp, "sources", lambda: changed)
    assert not codegen.current_by_stamp(str(tree_copy))


def test_another_sympy_breaks_the_stamp(tree_copy, monkeypatch):
    # Catches: a stamp that ignores SymPy's version (its printers change between releases).
    monkeypatch.setattr(stamp.sympy, "__version__", "0.0.1")
    assert not codegen.current_by_stamp(str(tree_copy))


@pytest.mark.parametrize("damage", ["drop a file", "missing", "corrupt"])
def test_an_incomplete_or_unreadable_stamp_is_not_current(tree_copy, damage):
    # Catches: a stamp that vouches for the files it names only (one removed from it would go unchecked), or an
    # unreadable stamp taken as current (or raising instead of falling back to the derivations).
    path = tree_copy / stamp.STAMP
    if damage == "drop a file":
        data = json.loads(path.read_text())
        del data["generated"][codegen.GENERATED_MODULE]
        path.write_text(json.dumps(data))
    elif damage == "missing":
        path.unlink()
    else:
        path.write_text("{not json")
    assert not codegen.current_by_stamp(str(tree_copy))
