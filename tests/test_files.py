"""Result files are readable by others under the usual umask, and every JSON output is strict JSON.

Bugs caught: files left with the private mode of the temporary file they were written to (0600 whatever the
umask), and NaN or Infinity tokens in JSON (a diverging point of a sweep, a diverged loss), which strict parsers
reject.
"""
import json
import os
import stat
import subprocess
import sys

import numpy as np
import pytest

from shb.ground.io import atomic_write_json, read_json, to_json
from strict_json import strict_loads  # a sibling module: tests/ is on sys.path under pytest


@pytest.mark.slow
def test_results_follow_the_umask_and_their_json_is_strict(tmp_path):
    # Figure 2 sweeps learning rates up to where the loss grows without bound.
    run = subprocess.run([sys.executable, "-m", "shb.cli", "figure", "fig2", "--scale", "tiny", "--out", "out"],
                         cwd=tmp_path, capture_output=True, text=True, preexec_fn=lambda: os.umask(0o022))
    assert run.returncode == 0, run.stderr
    files = sorted((tmp_path / "out").iterdir())
    assert {f.suffix for f in files} == {".png", ".pdf", ".json"}
    for f in files:
        assert stat.S_IMODE(f.stat().st_mode) == 0o644, f
    sidecar = strict_loads((tmp_path / "out" / "fig2.json").read_text())
    assert sidecar["all_checks_passed"] and len(sidecar["data"]["solid"]["30"]) == 12


def test_the_mode_is_the_umask_s(tmp_path):
    old = os.umask(0o077)
    try:
        atomic_write_json(str(tmp_path / "private.json"), {"x": 1})
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "private.json").stat().st_mode) == 0o600


def test_non_finite_numbers_are_null_and_reading_refuses_nan(tmp_path):
    text = to_json({"a": [1.0, float("nan"), float("inf")], "b": np.array([-np.inf, 2.0]), "c": np.float64("nan")})
    assert strict_loads(text) == {"a": [1.0, None, None], "b": [None, 2.0], "c": None}
    path = tmp_path / "p.json"
    path.write_text('{"h": [NaN]}')
    try:
        read_json(str(path), "problem file")
    except ValueError as err:
        assert "NaN" in str(err) and "p.json" in str(err)
    else:
        raise AssertionError("NaN was read")


def test_nqm_and_prove_json_is_strict(tmp_path):
    out = subprocess.run([sys.executable, "-m", "shb.cli", "nqm", "greedy", "--preset", "paper", "--steps", "20",
                          "--json"], capture_output=True, text=True, check=True).stdout
    assert len(strict_loads(out)["alpha"]) == 20


def test_json_nesting_is_limited_before_parsing_and_brackets_in_strings_do_not_count():
    # Catches a depth check off by one, one that counts brackets inside strings (a string "[[[" is not nesting; an
    # escaped quote does not end a string), and the parser's own RecursionError escaping as a traceback.
    from shb.ground.errors import InputError
    from shb.ground.io import MAX_JSON_DEPTH, parse_json

    deepest = []
    for _ in range(MAX_JSON_DEPTH - 1):
        deepest = [deepest]
    assert parse_json("[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH) == deepest
    with pytest.raises(InputError, match=rf"nested more than {MAX_JSON_DEPTH} levels deep \(at line 2 column 66\)"):
        parse_json("\n " + "[" * (MAX_JSON_DEPTH + 1) + "]" * (MAX_JSON_DEPTH + 1))
    text = json.dumps({"k": ['"' + "[" * 200, "{" * 200 + '\\"']})
    assert parse_json(text) == json.loads(text)
    with pytest.raises(InputError, match="nested more than"):
        parse_json("[" * 100000 + "]" * 100000)


def test_a_key_twice_in_one_object_is_refused_at_any_depth(tmp_path):
    from shb.ground.errors import InputError
    from shb.ground.io import parse_json

    assert parse_json('[{"a": 1}, {"a": 2}]') == [{"a": 1}, {"a": 2}]  # the same key in two objects is fine
    with pytest.raises(InputError, match="key 'a' appears twice in one object"):
        parse_json('{"x": [{"a": 1, "b": 0, "a": 2}]}')
    path = tmp_path / "p.json"
    path.write_text('{"h": [1], "h": [2]}')
    with pytest.raises(InputError, match=f"problem file {path} .*key 'h' appears twice"):
        read_json(str(path), "problem file")


def test_the_writable_probes_create_and_remove_everything(tmp_path):
    # Catches a probe that only looks (os.access: it passed a dangling link or a name too long, and the error came
    # after the work), and one that leaves its directories or probe file behind.
    from shb.ground.io import writable_directory, writable_file

    assert writable_directory(str(tmp_path / "a" / "b" / "c")) == str(tmp_path / "a" / "b" / "c")
    assert writable_file(str(tmp_path / "d" / "report.md")) == str(tmp_path / "d" / "report.md")
    existing = tmp_path / "kept.md"
    existing.write_text("old")
    writable_file(str(existing))
    assert existing.read_text() == "old" and sorted(os.listdir(tmp_path)) == ["kept.md"]
