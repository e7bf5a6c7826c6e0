"""User-facing errors: one line, a non-zero exit status, never a traceback."""


class UserError(Exception):
    """Bad input from the user (a malformed file, an invalid value).

    The CLI prints `shb: <message>` on one line and exits with `status`.
    """

    def __init__(self, message, status=2):
        super().__init__(message)
        self.status = status
