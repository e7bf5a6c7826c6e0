"""A command-line option as data: its name, kind, default, rule and help, and the check of a given value.

The schedules (numeric/nqm/schedule_registry.py) and the update rules (symbolic/optimizers/) declare their options
this way; the front end builds the flags from them and reports a bad value in one line naming the flag.
"""
import math
from dataclasses import dataclass

from shb.ground.errors import InputError

KINDS = ("int", "float", "flag")


@dataclass(frozen=True)
class Option:
    """One option of a schedule, as data.

    name: its key in `options` (a Python identifier); kind: "int", "float" or "flag" (a switch: True when
    given, else False); default: its value when not given (None: the function receives None);
    the rule: for "int", `minimum` (values >= minimum; None: any integer), for "float", `positive`
    (True: finite and > 0; False: finite); help: the help text; flag: the command-line flag (default
    "--" + name with "_" -> "-"); metavar: the flag's value in the usage line (default name in capitals).
    """

    name: str
    kind: str
    default: object = None
    help: str = ""
    minimum: int = None
    positive: bool = True
    flag: str = None
    metavar: str = None

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"option {self.name!r}: kind must be one of {KINDS}, got {self.kind!r}")
        if self.minimum is not None and self.kind != "int":
            raise ValueError(f"option {self.name!r}: a minimum is a rule of int options, not {self.kind}")
        if self.kind == "flag":
            if self.default not in (None, False):
                raise ValueError(f"option {self.name!r}: a flag is False unless given, got default {self.default!r}")
            object.__setattr__(self, "default", False)
        if self.flag is None:
            object.__setattr__(self, "flag", "--" + self.name.replace("_", "-"))
        if self.metavar is None:
            object.__setattr__(self, "metavar", self.name.upper())

    def parse(self, value):
        """The checked value of `value` (command-line text or a Python value); InputError names the flag."""
        if self.kind == "flag":
            if not isinstance(value, bool):
                raise InputError(f"{self.flag} is a switch (True or False), got {value!r}")
            return value
        if self.kind == "int":
            try:
                if isinstance(value, (bool, float)):  # int() would accept them, quietly: 1.5 -> 1
                    raise TypeError
                number = int(value)
            except (TypeError, ValueError):
                raise InputError(f"{self.flag} must be an integer, got {value!r}") from None
            if self.minimum is not None and number < self.minimum:
                raise InputError(f"{self.flag} must be >= {self.minimum}, got {number}")
            return number
        try:
            if isinstance(value, bool):
                raise TypeError
            number = float(value)
        except (TypeError, ValueError):
            raise InputError(f"{self.flag} must be a number, got {value!r}") from None
        if self.positive and not 0 < number < math.inf:
            raise InputError(f"{self.flag} must be a finite number > 0, got {value!r}")
        elif not math.isfinite(number):
            raise InputError(f"{self.flag} must be a finite number, got {value!r}")
        return number
