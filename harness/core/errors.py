"""User-facing errors: the CLI prints their message on one line and exits non-zero, no traceback."""


class BenchError(Exception):
    """Bad input or state the user can fix; the message names the problem."""


class UnknownNameError(BenchError, KeyError):
    """A name not in a registry (method, space, profile, metric, GT column...)."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else ""


class DataError(BenchError):
    """A data or ground-truth file is missing, truncated or malformed."""


class UnsupportedError(BenchError):
    """A method (or one of its policies) needs something the chosen space does not offer."""
