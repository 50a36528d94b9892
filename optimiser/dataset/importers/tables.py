"""Reading tables: CSV (any of the usual encodings, .gz too) and workbooks, with the header found under title rows."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from optimiser.dataset.importers.columns import _Role
from optimiser.dataset.importers.constants import HEADER_SEARCH_ROWS
from optimiser.errors import InputError


@dataclass
class _Table:
    """Text cells (NaN when empty) indexed by data-row number (1 = first row under the header)."""

    frame: pd.DataFrame
    file: Path
    sheet: str = ""
    header_line: int = 1
    title: str = ""
    row_word: str = "row"

    @property
    def headers(self) -> list[str]:
        return list(self.frame.columns)

    def where(self, row: int) -> str:
        """Where a data row is in the file as a spreadsheet shows it, if that is not obvious."""
        if not self.sheet and self.header_line == 1:
            return ""
        sheet = f"sheet '{self.sheet}', " if self.sheet else ""
        return f" ({sheet}line {self.header_line + row})"


def _label(value) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return "" if value is None or (isinstance(value, float) and np.isnan(value)) else str(value).strip()


def _header_index(rows: list[list], key: _Role | None) -> int | None:
    """Index of the first row holding a column that ``key`` recognises."""
    if key is None:
        return 0
    for i, row in enumerate(rows):
        if key.find([_label(v) for v in row if _label(v)]) is not None:
            return i
    return None


def _read_table(path, key: _Role | None = None) -> _Table:
    path = Path(path)
    if not path.is_file():
        raise InputError("file not found", file=path, expected="an existing file")
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        table = _read_workbook(path, key)
    elif suffix == ".xls":
        raise InputError("old .xls workbooks cannot be read", file=path,
                         expected="the file saved as .xlsx or .csv")
    else:
        table = _read_csv(path, key)
    if table.frame.empty:
        raise InputError("has no data rows under its header" if len(table.frame.columns) else
                         "is empty", file=path, expected="a header row and one row per item")
    return table


def _raw_bytes(path: Path) -> bytes:
    """The file's bytes (a .gz file decompressed)."""
    data = path.read_bytes()
    if path.suffix.lower() == ".gz":
        import gzip

        try:
            return gzip.decompress(data)
        except (OSError, EOFError) as exc:
            raise InputError(f"cannot be read as a gzip file ({exc})", file=path,
                             expected="a .csv.gz file") from None
    return data


def _encoding(data: bytes, path: Path) -> str:
    """utf-8-sig or cp1252 (Excel's "CSV" on Windows); anything else is refused plainly."""
    head = data[:4096]
    if head[:2] in (b"\xff\xfe", b"\xfe\xff") or b"\x00" in head:
        halves = (head[0::2], head[1::2])
        utf16 = head[:2] in (b"\xff\xfe", b"\xfe\xff") or (
            len(head) >= 8 and any(h.count(0) >= 0.8 * len(h) for h in halves))
        kind = "UTF-16 text (Excel's 'Unicode text')" if utf16 else "a binary file, not text"
        raise InputError(f"is {kind}", file=path,
                         expected="a CSV saved as 'CSV UTF-8 (Comma delimited)'")
    try:
        data.decode("utf-8")
        return "utf-8-sig"
    except UnicodeDecodeError:
        pass
    try:
        data.decode("cp1252")
        return "cp1252"
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise InputError(f"is neither UTF-8 nor Windows (cp1252) text: byte {exc.start + 1} "
                         f"(line {line}) cannot be read", file=path,
                         expected="a CSV saved as 'CSV UTF-8 (Comma delimited)'") from None


def _read_csv(path: Path, key: _Role | None) -> _Table:
    import io

    data = _raw_bytes(path)
    encoding = _encoding(data, path)
    text = data.decode(encoding)
    rows = [row for _, row in zip(range(HEADER_SEARCH_ROWS), csv.reader(io.StringIO(text)), strict=False)]
    start = _header_index(rows, key) or 0
    try:
        frame = pd.read_csv(io.StringIO(text), dtype=str, skiprows=start, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as exc:
        raise InputError(f"cannot be read as a CSV table ({exc})", file=path,
                         expected="a comma-separated table with one header row") from exc
    title = " ".join(" ".join(r) for r in rows[:start])
    return _Table(_tidy(frame), path, "", start + 1, title)


def _read_workbook(path: Path, key: _Role | None) -> _Table:
    try:
        heads = pd.read_excel(path, sheet_name=None, header=None, nrows=HEADER_SEARCH_ROWS,
                              dtype=str, engine="openpyxl")
    except Exception as exc:  # openpyxl raises many types for a broken workbook
        raise InputError(f"cannot be read as an .xlsx workbook ({exc})", file=path) from exc
    found = {name: _header_index(df.values.tolist(), key) for name, df in heads.items()}
    usable = [name for name, idx in found.items() if idx is not None]
    persons = [name for name in usable if "person" in name.lower()]
    sheet = (persons or usable or list(heads))[0]
    start = found[sheet] or 0
    frame = pd.read_excel(path, sheet_name=sheet, header=start, dtype=str, engine="openpyxl",
                          keep_default_na=False)
    frame.columns = [_label(c) or f"column {i + 1}" for i, c in enumerate(frame.columns)]
    title_cells = heads[sheet].iloc[:start].stack() if start else pd.Series(dtype=str)
    title = " ".join(map(str, title_cells.tolist()))
    return _Table(_tidy(frame), path, sheet, start + 1, title)


def _tidy(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.astype(str).apply(lambda col: col.str.strip())
    frame = frame.mask(frame == "")
    frame.columns = [_label(c) for c in frame.columns]
    frame.index = pd.RangeIndex(1, len(frame) + 1)
    empty_columns = frame.isna().all() & pd.Series(
        [c.startswith(("Unnamed:", "column ")) for c in frame.columns], index=frame.columns)
    frame = frame.loc[:, ~empty_columns.to_numpy()]
    return frame[frame.notna().any(axis=1)]


def _codes(values: pd.Series) -> pd.Series:
    text = values.astype(str).str.strip().str.upper()
    return text.mask(text == "")


def _key(values: pd.Series) -> pd.Series:
    """Loose key for matching names and ids: lower case letters and digits only."""
    return values.astype(str).str.lower().str.replace(r"[^0-9a-z]", "", regex=True)


def _slug(values: pd.Series) -> pd.Series:
    text = values.astype(str).str.lower().str.replace(r"['\u2019]", "", regex=True)
    return text.str.replace(r"[^0-9a-z]+", "_", regex=True).str.strip("_")


def _to_number(column: pd.Series) -> pd.Series:
    values = pd.to_numeric(column.astype(str).str.replace(",", "", regex=False), errors="coerce")
    return values.mask(np.isinf(values))


def _numbers(table: _Table, raw: pd.DataFrame, labels: pd.Series, *, what: str,
             expected: str, minimum: float | None = 0.0, integer: bool = False,
             maximum: float | None = None) -> pd.DataFrame:
    """Numeric values of ``raw`` (cells of ``table``); the first missing, non-numeric, too
    small, implausibly large (above ``maximum``) or, with ``integer``, fractional cell,
    reading row by row, raises InputError."""
    values = raw.apply(_to_number)
    missing = raw.isna().to_numpy()
    non_numeric = (values.isna() & raw.notna()).to_numpy()
    small = (values < minimum).to_numpy() if minimum is not None else np.zeros_like(missing)
    large = (values > maximum).to_numpy() if maximum is not None else np.zeros_like(missing)
    fraction = (values % 1 != 0).to_numpy() & ~values.isna().to_numpy() if integer \
        else np.zeros_like(missing)
    bad = missing | non_numeric | small | large | fraction
    if not bad.any():
        return values
    i, j = np.argwhere(bad)[0]
    row, column, label = int(raw.index[i]), str(raw.columns[j]), labels.iloc[i]
    if missing[i, j]:
        problem = f"no {what} for {label}"
    elif non_numeric[i, j]:
        problem = f"{what} {raw.iat[i, j]!r} for {label} is not a number"
    elif small[i, j]:
        problem = f"{what} {values.iat[i, j]:g} for {label} is " + (
            "negative" if minimum == 0 else f"below {minimum:g}")
    elif large[i, j]:
        problem = (f"{what} {values.iat[i, j]:g} for {label} is not plausible (more than "
                   f"{maximum:,.0f})")
    else:
        problem = f"{what} {values.iat[i, j]:g} for {label} is not a whole number"
    raise InputError(problem + table.where(row), file=table.file, row=row, column=column,
                     expected=expected)


def _first(mask) -> int | None:
    hits = np.flatnonzero(np.asarray(mask, dtype=bool))
    return int(hits[0]) if len(hits) else None


def _check_codes(table: _Table, codes: pd.Series, column: str, what: str) -> None:
    """Every row has a code and no code appears twice."""
    pos = _first(codes.isna())
    if pos is not None:
        row = int(codes.index[pos])
        raise InputError(f"no {what}" + table.where(row), file=table.file, row=row,
                         column=column, expected=f"a {what} on every row")
    pos = _first(codes.duplicated())
    if pos is not None:
        row = int(codes.index[pos])
        first = int(codes.index[_first(codes == codes.iloc[pos])])
        raise InputError(f"duplicate {what} '{codes.iloc[pos]}' (also on {table.row_word} "
                         f"{first})"
                         + table.where(row), file=table.file, row=row, column=column,
                         expected=f"each {what} once")
