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


class BudgetTooSmall(BenchError):
    """The run's budget cannot pay for what the method is configured to do (GM-NAS's gradient matching): a
    property of the (method, budget) pair, so a suite records it as infeasible rather than failed."""


class StorageError(BenchError):
    """A file or folder could not be written or created (disk full, read-only, a file in the way...)."""


def describe_os_error(e: OSError, path: object | None = None) -> str:
    """``<path>: <reason>`` for an OSError, naming the path the user gave when the error has none."""
    where = path if path is not None else (e.filename if e.filename is not None else "")
    reason = e.strerror or type(e).__name__
    return f"{where}: {reason}" if where != "" else reason
