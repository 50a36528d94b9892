"""One family of domain exceptions, each carrying a message a user can act on.

Every error the tool raises for bad input names *what* was wrong and *where*: the file,
the row or feature, the column or key, and what was expected. The CLI and the app print
``str(error)`` and never a traceback.
"""

from __future__ import annotations

import warnings
from pathlib import Path


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
        self.problem = problem
        self.file = str(file) if file is not None else None
        self.row = row
        self.column = column
        self.expected = expected
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
        super().__init__(message)


class ScenarioError(OptimiserError):
    """A scenario or option file is malformed; ``key`` is the dotted path of the setting."""

    def __init__(self, problem: str, *, key: str | None = None, file: str | Path | None = None):
        self.problem = problem
        self.key = key
        self.file = str(file) if file is not None else None
        parts = []
        if self.file:
            parts.append(f"file '{Path(self.file).name}'")
        if key:
            parts.append(f"setting '{key}'")
        super().__init__(f"{', '.join(parts)}: {problem}" if parts else problem)


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
