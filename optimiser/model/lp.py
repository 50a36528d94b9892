"""A solver-neutral mixed-integer linear programme, built in vectorised blocks.

The formulation adds *families* of variables and constraints as numpy arrays (one call per
family, never one per element) and names every column and row so that a person can read
them (``serve_demand_zone_E01013600_rehab``). Backends (:mod:`optimiser.model.backends`)
translate the frozen programme to PuLP/CBC or OR-Tools in one pass.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

INF = np.inf


@dataclass
class _Block:
    family: str
    start: int
    size: int


@dataclass(frozen=True)
class FrozenProgram:
    """Arrays ready for a backend. Rows are ``row_lower <= A x <= row_upper``."""

    var_names: np.ndarray
    var_lower: np.ndarray
    var_upper: np.ndarray
    var_integer: np.ndarray
    objective: np.ndarray
    objective_offset: float
    matrix: sp.csr_matrix
    row_names: np.ndarray
    row_lower: np.ndarray
    row_upper: np.ndarray
    var_families: dict[str, slice]
    row_families: dict[str, slice]
    objective_terms: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def shape(self) -> tuple[int, int]:
        return self.matrix.shape

    def family_values(self, values: np.ndarray, family: str) -> np.ndarray:
        return values[self.var_families[family]]

    def term_value(self, values: np.ndarray, term: str) -> float:
        return float(self.objective_terms[term] @ values)


class LinearProgram:
    """Collects variable and constraint families; :meth:`freeze` turns them into arrays."""

    def __init__(self, name: str = "model") -> None:
        self.name = name
        self._names: list[np.ndarray] = []
        self._lower: list[np.ndarray] = []
        self._upper: list[np.ndarray] = []
        self._integer: list[np.ndarray] = []
        self._var_blocks: dict[str, _Block] = {}
        self.n_vars = 0
        self._rows: list[np.ndarray] = []
        self._cols: list[np.ndarray] = []
        self._vals: list[np.ndarray] = []
        self._row_names: list[np.ndarray] = []
        self._row_lower: list[np.ndarray] = []
        self._row_upper: list[np.ndarray] = []
        self._row_blocks: dict[str, _Block] = {}
        self.n_rows = 0
        self._terms: dict[str, tuple[list[np.ndarray], list[np.ndarray]]] = {}
        self.objective_weights: dict[str, float] = {}
        self.objective_offset = 0.0

    # ---- variables -------------------------------------------------------------------
    def add_variables(self, family: str, names, lower=0.0, upper=INF, integer: bool = False) -> np.ndarray:
        """Add a family of variables; returns their column indices."""
        names = np.asarray(names, dtype=object)
        n = len(names)
        if family in self._var_blocks:
            raise ValueError(f"variable family {family!r} added twice")
        self._names.append(names)
        self._lower.append(np.broadcast_to(np.asarray(lower, float), (n,)).copy())
        self._upper.append(np.broadcast_to(np.asarray(upper, float), (n,)).copy())
        self._integer.append(np.full(n, bool(integer)))
        self._var_blocks[family] = _Block(family, self.n_vars, n)
        idx = np.arange(self.n_vars, self.n_vars + n)
        self.n_vars += n
        return idx

    def variables(self, family: str) -> np.ndarray:
        b = self._var_blocks[family]
        return np.arange(b.start, b.start + b.size)

    def has_family(self, family: str) -> bool:
        return family in self._var_blocks

    def set_bounds(self, cols, lower=None, upper=None) -> None:
        """Change bounds of existing variables (e.g. to fix a configuration)."""
        lo = np.concatenate(self._lower)
        hi = np.concatenate(self._upper)
        cols = np.asarray(cols, int)
        if lower is not None:
            lo[cols] = lower
        if upper is not None:
            hi[cols] = upper
        self._lower, self._upper = [lo], [hi]

    # ---- constraints -----------------------------------------------------------------
    def add_constraints(self, family: str, names, rows, cols, coefs, lower=-INF, upper=INF) -> np.ndarray:
        """Add ``len(names)`` rows ``lower <= sum(coefs * x[cols]) <= upper``; ``rows`` gives the
        local row (0-based within the family) of each (col, coef) entry."""
        names = np.asarray(names, dtype=object)
        m = len(names)
        if family in self._row_blocks:
            raise ValueError(f"constraint family {family!r} added twice")
        rows = np.asarray(rows, int)
        if m and rows.size and (rows.min() < 0 or rows.max() >= m):
            raise ValueError(f"constraint family {family!r}: row index out of range")
        self._rows.append(rows + self.n_rows)
        self._cols.append(np.asarray(cols, int))
        self._vals.append(np.broadcast_to(np.asarray(coefs, float), rows.shape).copy())
        self._row_names.append(names)
        self._row_lower.append(np.broadcast_to(np.asarray(lower, float), (m,)).copy())
        self._row_upper.append(np.broadcast_to(np.asarray(upper, float), (m,)).copy())
        self._row_blocks[family] = _Block(family, self.n_rows, m)
        out = np.arange(self.n_rows, self.n_rows + m)
        self.n_rows += m
        return out

    # ---- objective -------------------------------------------------------------------
    def add_objective_term(self, term: str, cols, coefs) -> None:
        """Add ``sum(coefs * x[cols])`` to the named objective term (cost, travel, ...)."""
        cols_list, vals_list = self._terms.setdefault(term, ([], []))
        cols = np.asarray(cols, int)
        cols_list.append(cols)
        vals_list.append(np.broadcast_to(np.asarray(coefs, float), cols.shape).copy())

    def term_vector(self, term: str) -> np.ndarray:
        vec = np.zeros(self.n_vars)
        if term in self._terms:
            cols, vals = self._terms[term]
            np.add.at(vec, np.concatenate(cols), np.concatenate(vals))
        return vec

    @property
    def terms(self) -> tuple[str, ...]:
        return tuple(self._terms)

    # ---- freeze ----------------------------------------------------------------------
    def freeze(self, weights: dict[str, float] | None = None) -> FrozenProgram:
        """Arrays for a backend; the objective is ``sum(weights[t] * term_t)``."""
        weights = dict(self.objective_weights if weights is None else weights)
        n, m = self.n_vars, self.n_rows
        terms = {t: self.term_vector(t) for t in self._terms}
        objective = np.zeros(n)
        for t, vec in terms.items():
            w = weights.get(t, 0.0)
            if w:
                objective += w * vec
        if self._rows:
            rows = np.concatenate(self._rows)
            cols = np.concatenate(self._cols)
            vals = np.concatenate(self._vals)
        else:
            rows = cols = np.zeros(0, int)
            vals = np.zeros(0)
        matrix = sp.csr_matrix((vals, (rows, cols)), shape=(m, n))
        matrix.sum_duplicates()
        cat = lambda parts, dtype=float: np.concatenate(parts) if parts else np.zeros(0, dtype)  # noqa: E731
        return FrozenProgram(
            var_names=cat(self._names, object),
            var_lower=cat(self._lower),
            var_upper=cat(self._upper),
            var_integer=cat(self._integer, bool),
            objective=objective,
            objective_offset=self.objective_offset,
            matrix=matrix,
            row_names=cat(self._row_names, object),
            row_lower=cat(self._row_lower),
            row_upper=cat(self._row_upper),
            var_families={k: slice(b.start, b.start + b.size) for k, b in self._var_blocks.items()},
            row_families={k: slice(b.start, b.start + b.size) for k, b in self._row_blocks.items()},
            objective_terms=terms,
        )
