"""A configuration as an experiment runs with it: one validated, frozen mapping type.

A `Config` is the JSON object the experiment saves (it is a dict, so `json.dumps` and the result files write it
unchanged: the same JSON on disk as the plain dicts it replaces), made once from a mapping and checked then:

    config = OnlineConfig(mapping)        # normalized as it reads back from JSON, frozen, checked (`check`)
    OnlineConfig.read(config)             # the same object: a configuration is checked once
    config["steps"], config.get("dtype")  # read as any mapping
    config.replace(seed=1)                # a changed copy, checked again

Normalized: tuples are lists and keys are strings, as after a round trip through JSON, so a configuration compares
equal to the one saved with progress. Frozen: assigning to it or to a list or object inside it is a TypeError, so
a configuration checked once cannot change afterwards. Hashable (by its JSON text), so a per-process cache may key
on it. A subclass states its checks in `check()`, raising shb.ground.schema.Invalid; the constructor turns that
into an InputError in one line naming the configuration (`what`).
"""
import json

from shb.ground import schema
from shb.ground.errors import InputError


def size(value, where):
    """A network's size in a configuration: an integer >= 1, or a list of them (schema.Invalid otherwise)."""
    if isinstance(value, list):
        for i, item in enumerate(value):
            schema.integer(item, f"{where}[{i}]", low=1)
    else:
        schema.integer(value, where, low=1)


def _frozen(*args, **kwargs):
    raise TypeError("a configuration is frozen: make a changed copy with .replace(key=value)")


class FrozenList(list):
    """A list inside a configuration: equal to the list it holds, not changeable."""

    __setitem__ = __delitem__ = __iadd__ = __imul__ = _frozen
    append = extend = insert = pop = remove = clear = sort = reverse = _frozen

    def __reduce__(self):
        return FrozenList, (list(self),)

    def __hash__(self):
        return hash(json.dumps(self))


class FrozenDict(dict):
    """An object inside a configuration (or a configuration): equal to the dict it holds, not changeable."""

    __setitem__ = __delitem__ = __ior__ = _frozen
    update = pop = popitem = clear = setdefault = _frozen

    def __reduce__(self):
        return _restore, (type(self), dict(self))

    def __hash__(self):
        return hash(json.dumps(self, sort_keys=True))


def _restore(cls, data):
    """The configuration `data` of type `cls`, as it was checked when made (unpickling does not check it again)."""
    obj = dict.__new__(cls)
    dict.update(obj, data)
    return obj


def freeze(value):
    """`value` (as read from JSON) with every list and object frozen."""
    if isinstance(value, dict):
        return _restore(FrozenDict, {key: freeze(v) for key, v in value.items()})
    if isinstance(value, list):
        return FrozenList(freeze(v) for v in value)
    return value


class Config(FrozenDict):
    """A checked, frozen configuration (module docstring); subclasses give `what` and `check`."""

    what = "the configuration"

    def __init__(self, mapping=(), **changes):
        data = json.loads(json.dumps(dict(mapping, **changes)))  # as it reads back from JSON
        dict.__init__(self, {key: freeze(value) for key, value in data.items()})
        try:
            self.check()
        except schema.Invalid as err:
            raise InputError(f"{self.what}: {err}") from None

    def check(self):
        """schema.Invalid where the configuration is wrong (none here)."""

    @classmethod
    def read(cls, mapping):
        """`mapping` as a checked configuration of this type: itself if it is one already (checked when made), else
        made (and checked) from it."""
        return mapping if type(mapping) is cls else cls(mapping)

    def replace(self, **changes):
        """A copy with `changes`, checked."""
        return type(self)(self, **changes)
