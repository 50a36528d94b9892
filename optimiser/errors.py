"""One family of domain exceptions, each carrying a message a user can act on.

Every error the tool raises for bad input names *what* was wrong and *where*: the file,
the row or feature, the column or key, and what was expected. The CLI and the app print
``str(error)`` and never a traceback.
"""

from __future__ import annotations

import warnings
from pathlib import Path

# Messages name what was wrong; they never echo a whole input (a 300 MB error message is
# itself a denial of service). Values quoted in a message are cut to this many characters,
# and a whole message to MAX_MESSAGE.
MAX_QUOTED = 80
MAX_MESSAGE = 1_000


def shorten(value, limit: int = MAX_QUOTED) -> str:
    """``value`` as text of at most ``limit`` characters (cut in the middle of long text)."""
    text = value if isinstance(value, str) else str(value)
    if len(text) <= limit:
        return text
    return f"{text[:limit - 20]}…[{len(text):,} characters]"


def short_repr(value, limit: int = MAX_QUOTED) -> str:
    """``repr(value)`` of at most about ``limit`` characters, for quoting input in messages."""
    try:
        text = repr(value) if not isinstance(value, (dict, list, tuple, set)) or len(value) < 50 \
            else f"<{type(value).__name__} of {len(value):,} items>"
    except Exception:  # a repr that fails must not hide the real problem
        text = f"<{type(value).__name__}>"
    return shorten(text, limit)


def _capped(message: str) -> str:
    return shorten(message, MAX_MESSAGE)



class OptimiserError(Exception):
    """Base class for every error the tool reports to a user."""


class InputError(OptimiserError):
    """A data file is malformed.

    ``file``, ``row`` (1-based data row, as a spreadsheet shows it, or a feature number),
    ``column`` and ``expected`` are kept as attributes so that tests and the UI can use
    them, and are folded into the message.
    """

    def __init__(
        self,
        problem: str,
        *,
        file: str | Path | None = None,
        row: int | str | None = None,
        column: str | None = None,
        expected: str | None = None,
    ) -> None:
        self.problem = problem = _capped(problem)
        self.file = str(file) if file is not None else None
        self.row = row = shorten(row) if isinstance(row, str) else row
        self.column = column = shorten(column) if column is not None else None
        self.expected = expected = _capped(expected) if expected is not None else None
        where = []
        if self.file:
            where.append(f"file '{Path(self.file).name}'")
        if row is not None:
            where.append(f"row {row}" if isinstance(row, int) else str(row))
        if column:
            where.append(f"column '{column}'")
        message = problem
        if where:
            message = f"{', '.join(where)}: {problem}"
        if expected:
            message += f" (expected {expected})"
        super().__init__(_capped(message))


class ScenarioError(OptimiserError):
    """A scenario or option file is malformed; ``key`` is the dotted path of the setting."""

    def __init__(self, problem: str, *, key: str | None = None, file: str | Path | None = None):
        self.problem = problem = _capped(problem)
        self.key = key = shorten(key) if key is not None else None
        self.file = str(file) if file is not None else None
        parts = []
        if self.file:
            parts.append(f"file '{Path(self.file).name}'")
        if key:
            parts.append(f"setting '{key}'")
        super().__init__(_capped(f"{', '.join(parts)}: {problem}" if parts else problem))


class SolveError(OptimiserError):
    """The solver did not return a usable answer (time limit with no solution, crash, ...)."""


class InfeasibleError(OptimiserError):
    """No configuration meets every hard limit; ``explanation`` says what would."""

    def __init__(self, explanation):  # explanation: optimiser.model.diagnose.Explanation
        self.explanation = explanation
        super().__init__(explanation.summary())


class DataWarning(UserWarning):
    """Something in the input was repaired or assumed; the data are usable."""


def warn_data(message: str) -> None:
    warnings.warn(message, DataWarning, stacklevel=3)
