"""The configuration type (shb/ground/config.py): the JSON it stands for, frozen, checked once when made."""
import copy
import json
import pickle

import pytest

from shb.ground import schema
from shb.ground.config import Config
from shb.ground.errors import InputError


class Positive(Config):
    what = "the test configuration"

    def check(self):
        schema.integer(self["n"], "n", low=1)


RAW = {"n": 3, "pairs": [(1, 2), (3, 4)], "by_horizon": {5: 6}, "name": "x", "none": None}


def test_a_config_is_its_json_and_compares_as_it_reads_back():
    # Catches a configuration written differently from the dict it replaces (offline.json, saved progress), and one
    # that compares unequal to the configuration saved with progress (tuples vs lists, integer keys).
    config = Positive(RAW)
    back = json.loads(json.dumps(RAW))
    assert json.dumps(config) == json.dumps(back) and config == back and isinstance(config, dict)
    assert config["pairs"] == [[1, 2], [3, 4]] and config["by_horizon"] == {"5": 6}


@pytest.mark.parametrize("change", [
    lambda c: c.__setitem__("n", 4), lambda c: c.update(n=4), lambda c: c.pop("n"), lambda c: c.setdefault("m", 1),
    lambda c: c["pairs"].append([5, 6]), lambda c: c["pairs"][0].__setitem__(0, 9), lambda c: c["by_horizon"].clear(),
    lambda c: c.__delitem__("n"), lambda c: c["pairs"].sort(),
], ids=["set", "update", "pop", "setdefault", "append inside", "set deep inside", "clear inside", "delete", "sort"])
def test_a_config_and_what_it_holds_are_frozen(change):
    config = Positive(RAW)
    before = json.dumps(config)
    with pytest.raises(TypeError, match="frozen"):
        change(config)
    assert json.dumps(config) == before


def test_a_config_is_checked_when_made_and_when_changed():
    with pytest.raises(InputError, match=r"^the test configuration: n must be an integer from 1 up, got the number 0$"):
        Positive(dict(RAW, n=0))
    with pytest.raises(InputError, match="n must be"):
        Positive(RAW).replace(n=-1)
    assert Positive(RAW).replace(n=5)["n"] == 5 and Positive(RAW)["n"] == 3


def test_a_config_survives_pickling_and_copies_unchecked_and_equal():
    # Dask pickles a unit's arguments; a per-process cache keys on the configuration: catches a frozen type that
    # pickle cannot rebuild (it restores a dict item by item) and a hash that differs between equal configurations.
    config = Positive(RAW)
    for twin in (pickle.loads(pickle.dumps(config)), copy.deepcopy(config), copy.copy(config)):
        assert type(twin) is Positive and twin == config and hash(twin) == hash(config)
        with pytest.raises(TypeError):
            twin["pairs"].append(1)
    assert hash(Positive(dict(RAW, n=4))) != hash(config)


def test_a_config_is_read_once():
    # Catches a configuration checked again (and copied) each time a function reads it, and a plain dict taken as
    # checked.
    config = Positive(RAW)
    assert Positive.read(config) is config
    with pytest.raises(InputError):
        Positive.read(dict(RAW, n=0))
    assert type(Positive.read(RAW)) is Positive
