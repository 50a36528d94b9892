"""The provenance table: every figure's source, vintage, licence, and whether it is a fact,
an estimate, a derived figure or an assumption a user can change."""

from __future__ import annotations

import pandas as pd

from optimiser.dataset.core import PROVENANCE_COLUMNS, PROVENANCE_KINDS


class ProvenanceLog:
    """Collects provenance rows while a dataset is built."""

    def __init__(self) -> None:
        self._rows: list[dict[str, str]] = []

    def add(self, key: str, description: str, value, unit: str, kind: str, source: str,
            vintage: str = "", licence: str = "", *, citation: str = "", note: str = "") -> None:
        if kind not in PROVENANCE_KINDS:
            raise ValueError(f"provenance kind {kind!r} is not one of {PROVENANCE_KINDS}")
        self._rows.append({
            "key": key, "description": description, "value": str(value), "unit": unit,
            "kind": kind, "source": source, "vintage": str(vintage), "licence": licence,
            "citation": citation, "note": note,
        })

    def add_figure(self, key: str, description: str, figure, value=None, *, note: str = "") -> None:
        """A fact read from the review papers (``seeds/``)."""
        self.add(key, description, figure.value if value is None else value, figure.unit, "fact",
                 figure.source(), "", "", citation=figure.citation, note=note)

    def drop(self, key: str) -> None:
        """Forget the rows of ``key`` (a figure later replaced)."""
        self._rows = [r for r in self._rows if r["key"] != key]

    def table(self) -> pd.DataFrame:
        return pd.DataFrame(self._rows, columns=list(PROVENANCE_COLUMNS))
