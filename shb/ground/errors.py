"""Library errors: a condition the caller can fix, said in one line.

Library code (symbolic, numeric, proofs, experiments) raises these; it never prints or exits. The front end
(shb.cli) turns them into `shb: <message>` on stderr and exit status `status`, never a traceback.
"""


class ShbError(Exception):
    """The base of the toolkit's errors: one line of text for the user, and the exit status the front end uses."""

    status = 2


class InputError(ShbError, ValueError):
    """A bad value, file or name: a malformed problem, a corrupt data file, an unknown scale, an unwritable path."""


class ProgressError(ShbError):
    """Saved progress that cannot be resumed: made with another configuration, or unreadable."""


class Busy(ShbError):
    """Another run holds the output folder (its lock file, shb.ground.lock): the message names that run's process."""


class NotFiniteError(ShbError):
    """A computation whose result is not a number (a diverging schedule): said, never printed as NaN. Exit 1."""

    status = 1


class Interrupted(ShbError):
    """Ctrl-C (exit 130) or SIGTERM (exit 143) stopped a run; the message says where its progress is saved."""

    status = 130

    def __init__(self, message, status=130):
        super().__init__(message)
        self.status = status


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where Ctrl-C's KeyboardInterrupt would be (the front end installs it); exit 143."""

    status = 143
