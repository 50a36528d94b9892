"""Spreadsheet exports that cannot carry formulas in, and sheet names Excel accepts.

Names come from people and files (option names, hospital and area names from an import). A
name that begins with ``=``, ``+``, ``-`` or ``@`` becomes a live formula when a spreadsheet
opens it (``=HYPERLINK(...)``, or worse over DDE). So:

* Excel workbooks keep every text exactly, but as text: a cell a writer would store as a
  formula is stored as a string (:func:`excel_workbook`).
* CSV files put an apostrophe before such text (OWASP's advice; spreadsheets hide it)
  (:func:`safe_csv`). Numbers are never changed.
* Sheet names lose the characters Excel forbids (``: \\ / ? * [ ]``), fit in 31 characters
  and are numbered, so two options never share a sheet (:func:`sheet_names`).
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable, Sequence

import pandas as pd

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_FORBIDDEN_IN_SHEET_NAME = re.compile(r"[:\\/?*\[\]\x00-\x1f]")
SHEET_NAME_LENGTH = 31


def neutral(value):
    """Text that a spreadsheet would run as a formula, with an apostrophe in front."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def neutralised(frame: pd.DataFrame, *, index: bool = True) -> pd.DataFrame:
    """A copy of ``frame`` whose text cells, column names and index labels cannot be
    formulas."""
    out = frame.copy()
    for column in out.columns:
        if not pd.api.types.is_numeric_dtype(out[column]):
            out[column] = out[column].map(neutral)
    out.columns = _neutral_index(out.columns)
    if index:
        out.index = _neutral_index(out.index)
    return out


def _neutral_index(index: pd.Index) -> pd.Index:
    if isinstance(index, pd.MultiIndex):
        return index.set_levels([_neutral_index(level) for level in index.levels])
    if index.dtype == object or pd.api.types.is_string_dtype(index):
        return pd.Index([neutral(v) for v in index], name=neutral(index.name))
    return index.rename(neutral(index.name))


def safe_csv(frame: pd.DataFrame, **kwargs) -> str:
    """``frame.to_csv(**kwargs)`` with formula-like text neutralised."""
    return neutralised(frame, index=kwargs.get("index", True)).to_csv(**kwargs)


def sheet_names(labels: Sequence[str], prefix: str = "", reserved: Iterable[str] = ()) -> list[str]:
    """A distinct valid Excel sheet name for each label: ``"<prefix><n> <label>"`` without the
    characters Excel forbids, cut to 31 characters."""
    taken = {r.lower() for r in reserved}
    out = []
    for n, label in enumerate(labels, 1):
        clean = _FORBIDDEN_IN_SHEET_NAME.sub(" ", str(label))
        clean = re.sub(r"\s+", " ", clean).strip().strip("'")
        name = f"{prefix}{n} {clean}".strip()[:SHEET_NAME_LENGTH].strip().strip("'")
        k = 2
        while name.lower() in taken:   # only if a reserved name collides
            name = f"{prefix}{n}.{k}"[:SHEET_NAME_LENGTH]
            k += 1
        taken.add(name.lower())
        out.append(name)
    return out


def excel_workbook(sheets: Sequence[tuple[str, pd.DataFrame, bool]]) -> bytes:
    """An .xlsx workbook of ``(sheet name, table, write the index?)``; every text cell is
    stored as text, never as a formula."""
    buf = io.BytesIO()
    with pd.ExcelWriter(buf, engine="openpyxl") as xl:
        for name, table, index in sheets:
            table.to_excel(xl, sheet_name=name, index=index)
        for sheet in xl.book.worksheets:
            for row in sheet.iter_rows():
                for cell in row:
                    if cell.data_type == "f":      # text the writer took for a formula
                        cell.data_type = "s"
    return buf.getvalue()


def comparison_workbook(labelled_table: pd.DataFrame, scores: pd.DataFrame | None,
                        labelled_sites: Sequence[tuple[str, pd.DataFrame]]) -> bytes:
    """The Compare page's workbook: the comparison (formatted), the appraisal, and each
    option's beds per site on a sheet of its own (the option's full name in its first
    column)."""
    sheets: list[tuple[str, pd.DataFrame, bool]] = [("comparison", labelled_table, True)]
    if scores is not None:
        sheets.append(("appraisal", scores, True))
    names = sheet_names([label for label, _ in labelled_sites], "beds ", reserved=("comparison", "appraisal"))
    for name, (label, sites) in zip(names, labelled_sites, strict=True):
        sheets.append((name, sites.assign(option=label)[["option", *sites.columns]], False))
    return excel_workbook(sheets)
