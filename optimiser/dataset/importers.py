"""Build a :class:`Dataset` from files a user downloads.

:func:`import_dataset` reads

* small-area population estimates (ONS CSV or the ONS spreadsheet layout),
* zone boundaries (GeoJSON, GeoPackage or shapefile, any coordinate reference system),
* hospital sites (CSV with lat/lon or easting/northing),
* optionally a travel-time matrix from any router (long or wide CSV) and
* optionally ONS sub-national population projections,

checks every value and every link between the files, and returns a validated dataset.

Row numbers in errors
    ``row`` in an :class:`~optimiser.errors.InputError` is the 1-based number of the *data*
    row: row 1 is the first row below the header. In a CSV whose header is its first line,
    row N is line N + 1 of the file (the line a spreadsheet shows). When the header is not on
    the first line (title rows above it, as in ONS spreadsheets) the message also gives the
    sheet and the line as the spreadsheet shows it. For boundaries, ``row`` is the feature
    number: the first feature in the file is 1.
"""

from __future__ import annotations

import csv
import difflib
import logging
import re
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
from pyproj import Transformer

from optimiser.dataset.core import (
    BEDS_PREFIX,
    CRS,
    PROJECTION_BANDS,
    PROJECTION_COLUMNS,
    PROVENANCE_COLUMNS,
    Dataset,
)
from optimiser.dataset.default import DEFAULT_DATASET_PATH
from optimiser.dataset.llr import PATHWAYS
from optimiser.dataset.provenance import ProvenanceLog
from optimiser.dataset.store import load_dataset, save_dataset
from optimiser.errors import InputError, OptimiserError, shorten, warn_data
from optimiser.travel import (
    RoadTimeEstimator,
    estimated_travel_table,
    estimator_from_metadata,
    fit_road_time,
    straight_line_km,
)

USER_LICENCE = "as supplied by the user"
HEADER_SEARCH_ROWS = 30
WGS84 = "EPSG:4326"
# Plausibility bounds: far above any real figure, they stop a typo (or 1e30) reaching the
# solver, which would fail with an internal error.
MAX_ZONE_POPULATION = 20_000_000        # more than any UK region in one zone
MAX_DISTRICT_POPULATION = 100_000_000   # more than the UK
MAX_SITE_BEDS = 10_000                  # more than any hospital
ZONE_TABLE_COLUMNS = ("zone_name", "district_code", "sub_icb_code", "pop_total", "pop_65_74",
                      "pop_75_84", "pop_85_plus", "stroke_admissions", "x", "y")


# ---- recognising columns ------------------------------------------------------------------

def _norm(label) -> str:
    """Compare headers ignoring case, spaces, underscores and punctuation ('+' is 'plus')."""
    return re.sub(r"[^0-9a-z]", "", str(label).strip().lower().replace("+", "plus"))


@dataclass(frozen=True)
class _Role:
    """What a column holds and the headers it goes by (in order of preference)."""

    what: str
    column: str
    aliases: tuple[str, ...] = ()
    pattern: str = ""

    def find(self, headers) -> str | None:
        by_key: dict[str, str] = {}
        for header in headers:
            by_key.setdefault(_norm(header), header)
        for alias in self.aliases:
            if _norm(alias) in by_key:
                return by_key[_norm(alias)]
        if self.pattern:
            return next((h for h in headers if re.fullmatch(self.pattern, _norm(h))), None)
        return None

    def close_matches(self, headers) -> list[str]:
        by_key = {_norm(h): h for h in headers}
        found: list[str] = []
        for alias in self.aliases or (self.column,):
            for key in difflib.get_close_matches(_norm(alias), list(by_key), n=3, cutoff=0.75):
                if by_key[key] not in found:
                    found.append(by_key[key])
        return found

    def examples(self) -> str:
        names = self.aliases[:6] or (self.column,)
        return ", ".join(f"'{a}'" for a in names)


_YEARS_DESC = range(2030, 2010, -1)
ZONE_CODE = _Role("zone code", "zone_code", (
    "LSOA11CD", "LSOA Code", "lsoa11_code", "lsoa_code", "LSOA21CD", "lsoa21_code",
    "LSOA 2021 Code", "LSOA 2011 Code", "MSOA11CD", "msoa11_code", "MSOA Code", "msoa_code",
    "MSOA21CD", "msoa21_code", "OA11CD", "OA21CD", "zone_code", "zone", "code",
), r"(lsoa|msoa|oa)(20)?\d{0,2}(cd|code)")
ZONE_NAME = _Role("zone name", "zone_name", (
    "LSOA11NM", "LSOA Name", "lsoa11_name", "lsoa_name", "LSOA21NM", "lsoa21_name",
    "LSOA 2021 Name", "LSOA 2011 Name", "MSOA11NM", "msoa11_name", "MSOA Name", "msoa_name",
    "MSOA21NM", "msoa21_name", "zone_name", "name",
), r"(lsoa|msoa|oa)(20)?\d{0,2}(nm|name)")
DISTRICT_CODE = _Role("district code", "district_code", (
    "lad_code", "LAD Code", *[f"LAD{y % 100:02d}CD" for y in _YEARS_DESC],
    *[f"LA Code ({y} boundaries)" for y in _YEARS_DESC], "LA Code", "ltla_code",
    *[f"ltla{y % 100:02d}_code" for y in _YEARS_DESC], "district_code", "local_authority_code",
), r"(lad|ltla|la)\d{0,4}(cd|code)\d{0,4}(boundaries)?")
DISTRICT_NAME = _Role("district name", "district_name", (
    "lad_name", "LAD Name", *[f"LAD{y % 100:02d}NM" for y in _YEARS_DESC],
    *[f"LA name ({y} boundaries)" for y in _YEARS_DESC], "LA name", "ltla_name",
    *[f"ltla{y % 100:02d}_name" for y in _YEARS_DESC], "district_name", "local_authority_name",
), r"(lad|ltla|la)\d{0,4}(nm|name)\d{0,4}(boundaries)?")
TOTAL = _Role("total population", "total", (
    "All Ages", "total_population", "total", "pop_total", "population", "all_persons",
    "persons", "total_persons",
))
_AGE_PREFIX = r"(?:pop|age|aged|ages)?"
_AND_OVER = r"(?:plus|andover|over|yearsandover)"
BAND_65_74 = _Role("people aged 65-74", "65_74", pattern=rf"{_AGE_PREFIX}65(?:to)?74(?:years)?")
BAND_75_84 = _Role("people aged 75-84", "75_84", pattern=rf"{_AGE_PREFIX}75(?:to)?84(?:years)?")
BAND_85_PLUS = _Role("people aged 85+", "85_plus", pattern=rf"{_AGE_PREFIX}85{_AND_OVER}")
BAND_65_PLUS = _Role("people aged 65+", "65_plus", pattern=rf"{_AGE_PREFIX}65{_AND_OVER}")
BAND_75_PLUS = _Role("people aged 75+", "75_plus", pattern=rf"{_AGE_PREFIX}75{_AND_OVER}")

SITE_NAME = _Role("site name", "site_name", (
    "site_name", "name", "hospital_name", "hospital", "organisation_name", "org_name", "site"))
SITE_ID = _Role("site id", "site_id", ("site_id", "id"))
ODS_CODE = _Role("ODS code", "ods_code", (
    "ods_code", "ods_site_code", "ods", "org_code", "organisation_code", "site_code"))
POSTCODE = _Role("postcode", "postcode", ("postcode", "post_code", "pcds", "pcd"))
SITE_TYPE = _Role("site type", "site_type", ("site_type", "type", "category"))
LAT = _Role("latitude", "lat", ("lat", "latitude", "lat_onspd"))
LON = _Role("longitude", "lon", ("lon", "longitude", "long", "lon_onspd", "lng"))
EASTING = _Role("easting", "easting", ("easting", "eastings", "east", "bng_e", "oseast1m", "x"))
NORTHING = _Role("northing", "northing", (
    "northing", "northings", "north", "bng_n", "osnrth1m", "y"))
CAN_ADD_BEDS = _Role("whether beds can be added", "can_add_beds", ("can_add_beds",))
MAX_BEDS = _Role("estate limit on beds", "max_beds", ("max_beds", "estate_max_beds"))

TRAVEL_ZONE = _Role("zone", "zone_code", (
    "zone_code", "zone", "origin", "origin_code", "origin_id", "from", "from_code", "from_id",
    *ZONE_CODE.aliases), ZONE_CODE.pattern)
TRAVEL_SITE = _Role("site", "site_id", (
    "site_id", "site", "destination", "destination_code", "destination_id", "dest", "to",
    "to_code", "to_id", "site_name", "ods_code", "ods_site_code"))
TRAVEL_MINUTES = _Role("minutes", "minutes", (
    "minutes", "mins", "time", "duration", "travel_time", "travel_minutes", "time_minutes",
    "duration_minutes", "travel_time_minutes", "drive_minutes", "drive_time"))

PROJECTION_DISTRICT = _Role("district code", "area_code", (
    "area_code", *DISTRICT_CODE.aliases, "code"), DISTRICT_CODE.pattern)
PROJECTION_BAND = _Role("age band", "band", ("band", "age_band", "age_group", "age"))


def _require(role: _Role, headers, file: Path, table: str, also: str = "") -> str:
    found = role.find(headers)
    if found is not None:
        return found
    raise _missing_column(role, headers, file, table, also)


def _missing_column(role: _Role, headers, file: Path, table: str, also: str = "",
                    expected: str = "") -> InputError:
    close = role.close_matches(headers)
    if close:
        hint = f"; columns that look close: {', '.join(repr(c) for c in close)}"
    else:
        shown = [str(h) for h in headers][:12]
        hint = f"; found columns {', '.join(repr(h) for h in shown)}"
        hint += " ..." if len(headers) > 12 else ""
    return InputError(f"no {role.what} column in the {table}{also}{hint}", file=file,
                      column=role.column,
                      expected=expected or f"a {role.what} column such as {role.examples()}")


# ---- reading tables -----------------------------------------------------------------------

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


# ---- population ---------------------------------------------------------------------------

@dataclass
class _Population:
    table: _Table
    code_column: str
    codes: pd.Series              # zone code of each data row
    counts: pd.DataFrame          # pop_total, pop_65_74, pop_75_84, pop_85_plus by data row
    names: pd.Series | None       # zone name by data row
    district_codes: pd.Series | None
    district_names: pd.Series | None
    method: str
    base_year: str


def _single_years(headers) -> tuple[dict[int, str], int, str] | None:
    """Single-year-of-age columns {age: header} with the open-ended top band (e.g. 90+), or
    None unless every age from 65 up to the top band has a column."""
    singles: dict[int, str] = {}
    tops: dict[int, str] = {}
    for header in headers:
        key = _norm(header)
        if m := re.fullmatch(r"(?:age|aged)?(\d{1,3})", key):
            singles.setdefault(int(m.group(1)), header)
        elif m := re.fullmatch(rf"(?:age|aged)?(\d{{1,3}}){_AND_OVER}", key):
            tops.setdefault(int(m.group(1)), header)
    if not singles:
        return None
    top = max(singles) + 1
    if top not in tops or top < 85 or any(a not in singles for a in range(65, top)):
        return None
    return singles, top, tops[top]


Plan = dict[str, tuple[list[str], list[str]]]   # band: (columns to add, columns to subtract)


def _age_plan(table: _Table) -> tuple[Plan, str]:
    """How each 65+ age band is computed from the population file's columns."""
    single = _single_years(table.headers)
    if single:
        singles, top, top_col = single
        plan = {"pop_65_74": ([singles[a] for a in range(65, 75)], []),
                "pop_75_84": ([singles[a] for a in range(75, 85)], []),
                "pop_85_plus": ([singles[a] for a in range(85, top)] + [top_col], [])}
        return plan, f"single years of age (columns {singles[65]} ... {top_col})"
    found = {role.column: role.find(table.headers) for role in
             (BAND_65_74, BAND_75_84, BAND_85_PLUS, BAND_65_PLUS, BAND_75_PLUS)}
    c65_74, c75_84, c85, c65, c75 = found.values()
    plan: Plan = {}
    if c85:
        plan["pop_85_plus"] = ([c85], [])
        if c75_84 or c75:
            plan["pop_75_84"] = ([c75_84], []) if c75_84 else ([c75], [c85])
            over_75 = [c75] if c75 else [c75_84, c85]
            if c65_74 or c65:
                plan["pop_65_74"] = ([c65_74], []) if c65_74 else ([c65], over_75)
    missing = next((role for band, role in (("pop_85_plus", BAND_85_PLUS),
                                            ("pop_75_84", BAND_75_84), ("pop_65_74", BAND_65_74))
                    if band not in plan), None)
    if missing is not None:
        raise _missing_column(
            missing, table.headers, table.file, "population file",
            expected="single-year-of-age columns (0, 1, ... 89, 90+) or age-band columns "
                     "(65_74, 75_84, 85_plus; or the cumulative 65_plus, 75_plus, 85_plus)")
    used = ", ".join(c for c in found.values() if c)
    return plan, f"age-band columns ({used})"


def _total_columns(table: _Table) -> tuple[list[str], str]:
    """The total column, or every single-year column when the file has no total."""
    total = TOTAL.find(table.headers)
    if total is not None:
        return [total], total
    single = _single_years(table.headers)
    if single and all(a in single[0] for a in range(single[1])):
        singles, top, top_col = single
        return [singles[a] for a in range(top)] + [top_col], "the sum of all ages"
    raise _missing_column(TOTAL, table.headers, table.file, "population file",
                          expected=f"a {TOTAL.what} column such as {TOTAL.examples()}, or "
                                   "single-year-of-age columns from 0")


def _population_counts(table: _Table, codes: pd.Series) -> tuple[pd.DataFrame, str]:
    plan, method = _age_plan(table)
    total_cols, total_label = _total_columns(table)
    used = {c for cols in plan.values() for part in cols for c in part} | set(total_cols)
    columns = [h for h in table.headers if h in used]
    labels = "zone '" + codes.astype(str) + "'"
    values = _numbers(table, table.frame[columns], labels, what="population",
                      maximum=MAX_ZONE_POPULATION,
                      expected="a number of people, 0 or more")
    counts = pd.DataFrame({"pop_total": values[total_cols].sum(axis=1)})
    for band, (add, subtract) in plan.items():
        counts[band] = values[add].sum(axis=1) - values[subtract].sum(axis=1)
    counts = counts[["pop_total", "pop_65_74", "pop_75_84", "pop_85_plus"]]
    _check_bands(table, counts, labels, total_cols[0] if len(total_cols) == 1 else None)
    return counts, f"65+ bands from {method}; total from {total_label}"


def _check_bands(table: _Table, counts: pd.DataFrame, labels: pd.Series,
                 total: str | None) -> None:
    bands = counts[["pop_65_74", "pop_75_84", "pop_85_plus"]]
    pos = _first((bands < 0).any(axis=1))
    if pos is not None:
        row = int(counts.index[pos])
        raise InputError(f"the cumulative age bands of {labels.iloc[pos]} give a negative band "
                         f"{bands.iloc[pos].to_dict()}" + table.where(row), file=table.file,
                         row=row, expected="65+ >= 75+ >= 85+")
    pos = _first(bands.sum(axis=1) > counts["pop_total"] + 1e-6)
    if pos is not None:
        row = int(counts.index[pos])
        raise InputError(f"the 65+ population of {labels.iloc[pos]} ({bands.iloc[pos].sum():g}) "
                         f"is more than its total ({counts['pop_total'].iloc[pos]:g})"
                         + table.where(row), file=table.file, row=row, column=total,
                         expected="a total that includes the 65+ age bands")


def _base_year(table: _Table) -> str:
    """'2020' from e.g. 'mid2020' or 'Mid-2020' in the sheet name, the title rows or the
    headers: what the file itself says. Never from the file's name (a renamed file would
    silently change the year); give ``population_year`` to :func:`import_dataset` instead."""
    for text in (table.sheet, table.title, " ".join(table.headers)):
        if m := re.search(r"mid[-_ ]?((?:19|20)\d\d)", text, flags=re.IGNORECASE):
            return m.group(1)
    return "unknown"


def _read_population(path) -> _Population:
    table = _read_table(path, key=ZONE_CODE)
    code_column = _require(ZONE_CODE, table.headers, table.file, "population file")
    codes = _codes(table.frame[code_column])
    _check_codes(table, codes, code_column, "zone code")
    counts, method = _population_counts(table, codes)

    def optional(role: _Role) -> pd.Series | None:
        col = role.find(table.headers)
        return None if col is None else table.frame[col]

    district = optional(DISTRICT_CODE)
    return _Population(table, code_column, codes, counts, optional(ZONE_NAME),
                       None if district is None else _codes(district), optional(DISTRICT_NAME),
                       method, _base_year(table))


# ---- boundaries ---------------------------------------------------------------------------

@dataclass
class _Boundaries:
    table: _Table                 # attributes (no geometry), indexed by feature number
    geometry: gpd.GeoSeries       # in EPSG:27700, indexed by feature number
    code_column: str
    codes: pd.Series
    source_crs: str
    repaired: list[str] = field(default_factory=list)

    @property
    def file(self) -> Path:
        return self.table.file


def _read_boundaries(path) -> _Boundaries:
    path = Path(path)
    if not path.is_file():
        raise InputError("file not found", file=path,
                         expected="a GeoJSON, GeoPackage or shapefile of the zones")
    try:
        frame = pyogrio.read_dataframe(path)
    except Exception as exc:  # pyogrio raises several DataSourceError types
        raise InputError(f"cannot be read as boundaries ({exc})", file=path,
                         expected="a GeoJSON, GeoPackage or shapefile") from exc
    if len(frame) == 0:
        raise InputError("has no features (no zones)", file=path,
                         expected="one polygon feature per zone")
    if frame.crs is None:
        raise InputError("has no coordinate reference system", file=path,
                         expected="a file that states its CRS (for a shapefile, the .prj file "
                                  "beside the .shp)")
    frame.index = pd.RangeIndex(1, len(frame) + 1)
    attributes = pd.DataFrame(frame.drop(columns=frame.geometry.name))
    table = _Table(attributes, path, row_word="feature")
    code_column = _require(ZONE_CODE, table.headers, path, "boundaries file")
    codes = _codes(attributes[code_column])
    _check_codes(table, codes, code_column, "zone code")
    _check_polygons(frame.geometry, codes, path)
    _check_degrees(frame, path)
    geometry = frame.geometry.to_crs(CRS)
    if not np.isfinite(geometry.total_bounds).all():
        raise InputError(f"some coordinates cannot be converted from {frame.crs.to_string()} to "
                         "British National Grid: is the stated coordinate reference system right?",
                         file=path, column="geometry")
    repaired = _repair(geometry, codes, path)
    return _Boundaries(table, geometry, code_column, codes, frame.crs.to_string(), repaired)


def _check_degrees(frame: gpd.GeoDataFrame, path: Path) -> None:
    """A file that says its coordinates are degrees must hold longitudes and latitudes."""
    if not frame.crs.is_geographic:
        return
    x0, y0, x1, y1 = frame.geometry.total_bounds
    if min(x0, y0) < -180 or x1 > 180 or y1 > 90 or y0 < -90:
        raise InputError(f"coordinates reach x {max(abs(x0), abs(x1)):,.0f}, y {max(abs(y0), abs(y1)):,.0f}, "
                         f"but the file says they are degrees ({frame.crs.to_string()}): they look "
                         "like metres; state the file's real coordinate reference system (e.g. "
                         "EPSG:27700, British National Grid)", file=path, column="geometry",
                         expected="longitude -180..180 and latitude -90..90")


def _check_polygons(geometry: gpd.GeoSeries, codes: pd.Series, path: Path) -> None:
    pos = _first(geometry.isna() | geometry.is_empty)
    if pos is not None:
        raise InputError(f"feature {pos + 1} (zone '{codes.iloc[pos]}') has an empty geometry",
                         file=path, row=pos + 1, column="geometry",
                         expected="a polygon for every zone")
    pos = _first(~geometry.geom_type.isin(["Polygon", "MultiPolygon"]))
    if pos is not None:
        raise InputError(f"feature {pos + 1} (zone '{codes.iloc[pos]}') is a "
                         f"{geometry.geom_type.iloc[pos]}, not a polygon", file=path,
                         row=pos + 1, column="geometry", expected="a polygon for every zone")


def _repair(geometry: gpd.GeoSeries, codes: pd.Series, path: Path) -> list[str]:
    """Repair invalid polygons in place (shapely make_valid, keeping polygon parts only);
    return the codes of the zones repaired."""
    invalid = ~geometry.is_valid
    if not invalid.any():
        return []
    fixed = geometry[invalid].make_valid(method="structure", keep_collapsed=False)
    pos = _first(fixed.is_empty | ~fixed.geom_type.isin(["Polygon", "MultiPolygon"]))
    if pos is not None:
        feature = int(fixed.index[pos])
        raise InputError(f"feature {feature} (zone '{codes.loc[feature]}') is invalid and cannot "
                         "be repaired into a polygon", file=path, row=feature, column="geometry",
                         expected="a valid polygon")
    geometry[invalid] = fixed
    return codes[invalid].tolist()


def _reference_points(geometry: gpd.GeoSeries) -> tuple[np.ndarray, np.ndarray]:
    """The centroid where it lies inside the zone, otherwise a point surely inside it."""
    centroid = geometry.centroid
    inside = centroid.within(geometry).to_numpy()
    point = geometry.representative_point()
    return np.where(inside, centroid.x, point.x), np.where(inside, centroid.y, point.y)


# ---- zones and districts ------------------------------------------------------------------

def _match_zones(pop: _Population, bounds: _Boundaries) -> None:
    pos = _first(~pop.codes.isin(bounds.codes))
    if pos is not None:
        row = int(pop.codes.index[pos])
        raise InputError(f"zone '{pop.codes.iloc[pos]}' is not in the boundaries file "
                         f"'{bounds.file.name}'" + pop.table.where(row), file=pop.table.file,
                         row=row, column=pop.code_column,
                         expected="the same zone codes in the population and boundaries files")
    pos = _first(~bounds.codes.isin(pop.codes))
    if pos is not None:
        raise InputError(f"feature {pos + 1}: zone '{bounds.codes.iloc[pos]}' is not in the "
                         f"population file '{pop.table.file.name}'", file=bounds.file,
                         row=pos + 1, column=bounds.code_column,
                         expected="the same zone codes in the population and boundaries files")


def _by_zone(values: pd.Series | None, codes: pd.Series) -> pd.Series | None:
    """Re-index a per-row column by zone code."""
    return None if values is None else pd.Series(values.to_numpy(), index=codes.to_numpy())


def _first_available(index, *sources: pd.Series | None) -> pd.Series:
    """For each label of ``index``, the first source that has a value for it."""
    result = pd.Series(None, index=pd.Index(index), dtype=object)
    for source in sources:
        if source is not None:
            source = source.dropna()
            result = result.fillna(source[~source.index.duplicated()].reindex(result.index))
    return result


def _district_of_zones(pop: _Population, bounds: _Boundaries) -> tuple[pd.Series, str]:
    """District code of every zone (indexed by zone code) from the population file, else from
    the boundaries file; and which file it came from."""
    b_col = DISTRICT_CODE.find(bounds.table.headers)
    if pop.district_codes is not None:
        table, codes, zones = pop.table, pop.district_codes, pop.codes
        column = DISTRICT_CODE.find(pop.table.headers)
    elif b_col is not None:
        table, codes, zones, column = bounds.table, _codes(bounds.table.frame[b_col]), \
            bounds.codes, b_col
    else:
        raise _missing_column(DISTRICT_CODE, pop.table.headers, pop.table.file, "population file",
                              f" (nor in the boundaries file '{bounds.file.name}')")
    pos = _first(codes.isna())
    if pos is not None:
        row = int(codes.index[pos])
        raise InputError(f"no district code for zone '{zones.iloc[pos]}'" + table.where(row),
                         file=table.file, row=row, column=column,
                         expected="a district code on every row")
    return pd.Series(codes.to_numpy(), index=zones.to_numpy()), table.file.name


def _district_names(district: pd.Series, pop: _Population, bounds: _Boundaries,
                    beds_from: Dataset | None) -> pd.Series:
    """Name of each district code: from the population file, the boundaries file,
    ``beds_from``, or else the code itself."""
    b_col = DISTRICT_NAME.find(bounds.table.headers)
    sources = [_by_zone(pop.district_names, pop.codes),
               _by_zone(bounds.table.frame[b_col] if b_col else None, bounds.codes)]
    by_district = [None if s is None else
                   pd.Series(s.to_numpy(), index=district.reindex(s.index).to_numpy())
                   for s in sources]
    if beds_from is not None:
        by_district.append(beds_from.districts["district_name"])
    codes = sorted(set(district))
    names = _first_available(codes, *by_district)
    return names.fillna(pd.Series(codes, index=codes))


def _build_zones(pop: _Population, bounds: _Boundaries, district: pd.Series,
                 beds_from: Dataset | None) -> gpd.GeoDataFrame:
    order = pop.codes.sort_values().to_numpy()
    geometry = bounds.geometry.set_axis(bounds.codes.to_numpy()).loc[order]
    b_name = ZONE_NAME.find(bounds.table.headers)
    names = _first_available(order, _by_zone(pop.names, pop.codes),
                             _by_zone(bounds.table.frame[b_name] if b_name else None, bounds.codes),
                             beds_from.zones["zone_name"] if beds_from is not None else None)
    counts = pop.counts.set_axis(pop.codes.to_numpy()).loc[order]
    x, y = _reference_points(geometry)
    zones = gpd.GeoDataFrame({
        "zone_name": names.fillna(pd.Series(order, index=order)).astype(str),
        "district_code": district.loc[order].astype(str),
        "sub_icb_code": "",
        **{c: counts[c].astype(float) for c in counts.columns},
        "stroke_admissions": np.nan,
        "x": np.round(x, 1), "y": np.round(y, 1),
    }, geometry=geometry.to_numpy(), index=pd.Index(order, name="zone_code"), crs=CRS)
    return zones[[*ZONE_TABLE_COLUMNS, "geometry"]]


def _copy_zone_facts(zones: gpd.GeoDataFrame, beds_from: Dataset | None,
                     log: ProvenanceLog) -> None:
    """stroke_admissions and sub_icb_code from ``beds_from`` where zone codes match."""
    if beds_from is not None:
        source = beds_from.zones.reindex(zones.index)
        zones["stroke_admissions"] = source["stroke_admissions"].astype(float)
        zones["sub_icb_code"] = source["sub_icb_code"].fillna("").astype(str)
    known = zones["stroke_admissions"].notna()
    if known.any():
        log.add("zones.stroke_admissions", "stroke admissions per zone per year, copied by zone "
                "code", round(float(zones["stroke_admissions"].sum()), 1), "admissions/year",
                _source_kind(beds_from, "zones.stroke_admissions"),
                f"dataset '{beds_from.name}'", "", "",
                note=f"{int(known.sum())} of {len(zones)} zones matched")
    if not known.all():
        log.add("zones.stroke_admissions.missing", "stroke admissions per zone not known",
                int((~known).sum()), "zones", "assumption", "not in the imported files", "", "",
                note="left blank (NaN): " + ("no zone of beds_from has the same code"
                                             if beds_from is not None else
                                             "give beds_from with the same zone codes to copy them"))
    matched = int((zones["sub_icb_code"] != "").sum())
    log.add("zones.sub_icb_code", "sub-ICB area of each zone", matched, "zones",
            "derived" if matched else "assumption",
            f"dataset '{beds_from.name}', by zone code" if matched else "not in the imported files",
            "", "", note="" if matched == len(zones) else f"{len(zones) - matched} zones left blank")


def _build_districts(zones: gpd.GeoDataFrame, names: pd.Series, beds_from: Dataset | None,
                     log: ProvenanceLog) -> gpd.GeoDataFrame:
    districts = zones[["district_code", "geometry"]].dissolve(by="district_code")
    districts["district_name"] = names.reindex(districts.index).astype(str)
    virtual = (beds_from.districts["current_virtual_beds"].reindex(districts.index)
               if beds_from is not None else pd.Series(np.nan, index=districts.index))
    districts["current_virtual_beds"] = virtual.fillna(0.0).astype(float)
    copied, absent = virtual.dropna(), list(virtual.index[virtual.isna()])
    if len(copied):
        log.add("districts.current_virtual_beds", "current home-based (virtual) beds per "
                "district, copied by district code", f"{copied.sum():g}", "virtual beds",
                _source_kind(beds_from, "districts.current_virtual_beds"),
                f"dataset '{beds_from.name}'", "", "", note=f"districts {', '.join(copied.index)}")
    if absent:
        log.add("districts.current_virtual_beds.unknown", "current home-based (virtual) beds "
                "not known: set to 0", 0, "virtual beds", "assumption",
                "not in the imported files", "", "", note=f"districts {', '.join(absent)}; "
                "give beds_from with the same district codes to copy them")
    return districts[["district_name", "current_virtual_beds", "geometry"]]


def _source_kind(source: Dataset | None, *keys: str, default: str = "assumption") -> str:
    """The kind ``source``'s provenance gives the first of ``keys`` it has, else ``default``."""
    if source is None:
        return default
    kinds = source.provenance.drop_duplicates("key").set_index("key")["kind"]
    return next((str(kinds[k]) for k in keys if k in kinds.index), default)


# ---- sites --------------------------------------------------------------------------------

@dataclass
class _Sites:
    table: _Table
    frame: gpd.GeoDataFrame        # indexed by site_id
    given: list[str]               # bed and estate columns the file gave
    excluded_keys: set[str]        # loose keys of sites left out by site type
    types: str                     # which site types were kept
    # loose key -> (easting, northing) of the sites left out by type (to calibrate travel)
    excluded_points: dict[str, tuple[float, float]] = field(default_factory=dict)


_TRUE = {"true", "t", "yes", "y", "1"}
_FALSE = {"false", "f", "no", "n", "0"}


def _read_sites(path, zones: gpd.GeoDataFrame, site_types) -> _Sites:
    table = _read_table(path, key=SITE_NAME)
    name_col = _require(SITE_NAME, table.headers, table.file, "sites file")
    frame, excluded, types = _filter_site_types(table, site_types)
    names = frame[name_col]
    pos = _first(names.isna())
    if pos is not None:
        row = int(frame.index[pos])
        raise InputError("no site name" + table.where(row), file=table.file, row=row,
                         column=name_col, expected="a name on every row")
    labels = "site '" + names.astype(str) + "'"
    x, y, lat, lon, location = _site_locations(table, frame, labels)
    sites = pd.DataFrame({
        "site_id": _site_ids(table, frame, names).to_numpy(),
        "site_name": names.astype(str).to_numpy(),
        "ods_code": _optional_text(frame, ODS_CODE, table.headers),
        "postcode": _optional_text(frame, POSTCODE, table.headers),
        "lat": lat, "lon": lon, "x": x, "y": y,
    }, index=frame.index)
    given = _site_beds(table, frame, labels, sites)
    points = gpd.GeoDataFrame(sites, geometry=gpd.points_from_xy(sites["x"], sites["y"]), crs=CRS)
    points = _locate_sites(table, points, zones, location)
    return _Sites(table, points.set_index("site_id"), given,
                  _excluded_keys(table, excluded, name_col), types,
                  _excluded_points(table, excluded, name_col))


def _excluded_points(table: _Table, excluded: pd.DataFrame, name_col: str) -> dict[str, tuple[float, float]]:
    """Where the sites left out by type are (where the file says), by loose key."""
    if not len(excluded):
        return {}
    headers = table.headers
    lat, lon, east, north = LAT.find(headers), LON.find(headers), EASTING.find(headers), NORTHING.find(headers)
    if lat and lon:
        la, lo = _to_number(excluded[lat]).to_numpy(float), _to_number(excluded[lon]).to_numpy(float)
        x, y = Transformer.from_crs(WGS84, CRS, always_xy=True).transform(lo, la)
    elif east and north:
        x, y = _to_number(excluded[east]).to_numpy(float), _to_number(excluded[north]).to_numpy(float)
    else:
        return {}
    cols = [c for c in (SITE_ID.find(headers), name_col, ODS_CODE.find(headers), POSTCODE.find(headers)) if c]
    points: dict[str, tuple[float, float]] = {}
    for col in cols:
        for key, px, py in zip(_key(excluded[col].fillna("")), x, y, strict=True):
            if key and np.isfinite(px) and np.isfinite(py):
                points.setdefault(key, (float(px), float(py)))
    for key, px, py in zip(_key(_slug(excluded[name_col].fillna(""))), x, y, strict=True):
        if key and np.isfinite(px) and np.isfinite(py):
            points.setdefault(key, (float(px), float(py)))
    return points


def _filter_site_types(table: _Table, site_types) -> tuple[pd.DataFrame, pd.DataFrame, str]:
    type_col = SITE_TYPE.find(table.headers)
    if type_col is None or site_types is None:
        return table.frame, table.frame.iloc[:0], "all"
    wanted = sorted({str(t).strip().lower() for t in site_types})
    keep = table.frame[type_col].str.lower().isin(wanted)
    if not keep.any():
        present = sorted(set(table.frame[type_col].dropna()))
        raise InputError(f"no sites of type {', '.join(wanted)}", file=table.file,
                         column=type_col, expected=f"site_types among {', '.join(present)}")
    return table.frame[keep], table.frame[~keep], ", ".join(wanted)


def _excluded_keys(table: _Table, excluded: pd.DataFrame, name_col: str) -> set[str]:
    """Loose keys (id, name, slug of name, ODS code) of the sites left out by type, so that a
    travel matrix may still list them."""
    cols = [c for c in (SITE_ID.find(table.headers), name_col, ODS_CODE.find(table.headers),
                        POSTCODE.find(table.headers)) if c]
    keys = [_key(excluded[c].dropna()) for c in cols] + [_key(_slug(excluded[name_col].dropna()))]
    return set(pd.concat(keys)) - {""} if len(excluded) else set()


def _optional_text(frame: pd.DataFrame, role: _Role, headers) -> np.ndarray:
    col = role.find(headers)
    if col is None:
        return np.full(len(frame), "", dtype=object)
    return frame[col].fillna("").astype(str).to_numpy(dtype=object)


def _site_ids(table: _Table, frame: pd.DataFrame, names: pd.Series) -> pd.Series:
    id_col = SITE_ID.find(table.headers)
    slugs = _slug(names)
    ids = frame[id_col].fillna(slugs) if id_col else slugs
    column = id_col or str(names.name)
    pos = _first(ids == "")
    if pos is not None:
        row = int(ids.index[pos])
        raise InputError(f"site name {names.iloc[pos]!r} gives an empty site id" + table.where(row),
                         file=table.file, row=row, column=column,
                         expected="a site_id column, or names with letters or digits")
    pos = _first(ids.duplicated())
    if pos is not None:
        row = int(ids.index[pos])
        first = int(ids.index[_first(ids == ids.iloc[pos])])
        made = "" if id_col else " (made from the site name)"
        raise InputError(f"duplicate site id '{ids.iloc[pos]}'{made} for site "
                         f"'{names.iloc[pos]}' (also on row {first})" + table.where(row),
                         file=table.file, row=row, column=column, expected="each site id once")
    return ids.astype(str)


def _site_locations(table: _Table, frame: pd.DataFrame, labels: pd.Series):
    """(x, y, lat, lon) arrays from lat/lon, or else from easting/northing, and the names of
    the columns used."""
    headers = table.headers
    lat, lon = LAT.find(headers), LON.find(headers)
    east, north = EASTING.find(headers), NORTHING.find(headers)
    if lat and lon:
        values = _numbers(table, frame[[lat, lon]], labels, what="coordinate", minimum=None,
                          expected="latitude and longitude in decimal degrees")
        for column, limit in ((lat, 90), (lon, 180)):
            pos = _first(values[column].abs() > limit)
            if pos is not None:
                row = int(values.index[pos])
                raise InputError(f"{column} {values[column].iloc[pos]:g} for {labels.iloc[pos]} is not "
                                 f"between -{limit} and {limit} degrees: are these eastings and "
                                 "northings in metres? Then head the columns 'easting' and "
                                 "'northing'" + table.where(row), file=table.file, row=row,
                                 column=column, expected="latitude and longitude in decimal degrees")
        x, y = Transformer.from_crs(WGS84, CRS, always_xy=True).transform(
            values[lon].to_numpy(float), values[lat].to_numpy(float))
        return np.round(x, 1), np.round(y, 1), values[lat].to_numpy(float), \
            values[lon].to_numpy(float), f"{lat}/{lon}"
    if east and north:
        values = _numbers(table, frame[[east, north]], labels, what="coordinate", minimum=None,
                          expected="easting and northing in metres (British National Grid)")
        lon_v, lat_v = Transformer.from_crs(CRS, WGS84, always_xy=True).transform(
            values[east].to_numpy(float), values[north].to_numpy(float))
        return values[east].to_numpy(float), values[north].to_numpy(float), \
            np.round(lat_v, 6), np.round(lon_v, 6), f"{east}/{north}"
    role = LON if lat else NORTHING if east else EASTING if north else LAT
    raise _missing_column(role, headers, table.file, "sites file",
                          expected="location columns: lat and lon (latitude, longitude) or "
                                   "easting and northing (British National Grid)")


def _bed_columns(headers) -> dict[str, str]:
    """{'beds_<pathway>': header} for every current-beds column of the sites file."""
    found = {}
    for header in headers:
        if m := re.fullmatch(r"beds[\s_-]*(.+)", str(header).strip().lower()):
            pathway = re.sub(r"[^0-9a-z]+", "_", m.group(1)).strip("_")
            found.setdefault(f"{BEDS_PREFIX}{pathway}", header)
    return found


def _site_beds(table: _Table, frame: pd.DataFrame, labels: pd.Series,
               sites: pd.DataFrame) -> list[str]:
    """Add the bed and estate columns the file gives to ``sites``; return their names."""
    columns = _bed_columns(table.headers)
    max_col = MAX_BEDS.find(table.headers)
    if max_col:
        columns["max_beds"] = max_col
    if columns:
        values = _numbers(table, frame[list(columns.values())], labels, what="number of beds",
                          integer=True, maximum=MAX_SITE_BEDS,
                          expected="a whole number of beds, 0 or more")
        for name, header in columns.items():
            sites[name] = values[header].astype(int)
    add_col = CAN_ADD_BEDS.find(table.headers)
    if add_col:
        sites["can_add_beds"] = _booleans(table, frame[add_col], labels)
    if max_col:
        _check_estate(table, sites, max_col)
    return [*columns, *(["can_add_beds"] if add_col else [])]


def _booleans(table: _Table, column: pd.Series, labels: pd.Series) -> np.ndarray:
    text = column.str.lower()
    pos = _first(~text.isin(_TRUE | _FALSE))
    if pos is not None:
        row = int(column.index[pos])
        raise InputError(f"{column.iloc[pos]!r} for {labels.iloc[pos]} is not yes or no"
                         + table.where(row), file=table.file, row=row, column=str(column.name),
                         expected="true/false, yes/no or 1/0")
    return text.isin(_TRUE).to_numpy()


def _check_estate(table: _Table, sites: pd.DataFrame, max_col: str) -> None:
    beds = sites[[c for c in sites.columns if c.startswith(BEDS_PREFIX)]].sum(axis=1)
    pos = _first(beds > sites["max_beds"])
    if pos is not None:
        row = int(sites.index[pos])
        raise InputError(f"site '{sites['site_name'].iloc[pos]}' has {beds.iloc[pos]} current beds "
                         f"but max_beds {sites['max_beds'].iloc[pos]}" + table.where(row),
                         file=table.file, row=row, column=max_col,
                         expected="max_beds at least the sum of current beds")


def _locate_sites(table: _Table, points: gpd.GeoDataFrame, zones: gpd.GeoDataFrame,
                  location: str) -> gpd.GeoDataFrame:
    """Add the zone and district containing each site; a site outside every zone is an error."""
    hit = gpd.sjoin(points[["geometry"]], zones[["district_code", "geometry"]].reset_index(),
                    how="left", predicate="intersects")
    hit = hit[~hit.index.duplicated()]
    pos = _first(hit["zone_code"].isna())
    if pos is not None:
        row = int(points.index[pos])
        site = points.iloc[pos]
        raise InputError(f"site '{site['site_name']}' at ({site['lat']:.6f}, {site['lon']:.6f}) "
                         "is not inside any zone" + table.where(row), file=table.file, row=row,
                         column=location,
                         expected="a site located inside the study area's boundaries")
    points["zone_code"] = hit["zone_code"].astype(str)
    points["district_code"] = hit["district_code"].astype(str)
    return points


def _site_lookup(sites: gpd.GeoDataFrame) -> dict[str, str]:
    """Loose key of each site's id, name, name slug, ODS code, postcode and the id it had in
    the sites file -> site id (id wins)."""
    ids = sites.index.to_series()
    lookup: dict[str, str] = {}
    extra = [sites["file_id"]] if "file_id" in sites.columns else []
    for values in (sites["postcode"], sites["ods_code"], sites["site_name"], _slug(sites["site_name"]),
                   *extra, ids):
        lookup.update(zip(_key(values), ids, strict=True))
    lookup.pop("", None)
    return lookup


def _matching_source_sites(sites: gpd.GeoDataFrame, source: Dataset | None) -> pd.Series:
    """For each site, the id of the ``source`` site with the same ODS code (or NaN)."""
    if source is None:
        return pd.Series(np.nan, index=sites.index, dtype=object)
    ods = source.sites["ods_code"].astype(str).str.strip().str.upper()
    by_ods = pd.Series(source.sites.index, index=ods)
    by_ods = by_ods[(by_ods.index != "") & ~by_ods.index.duplicated()]
    mine = sites["ods_code"].astype(str).str.strip().str.upper()
    return mine.map(by_ods).where(mine != "")


def _complete_sites(sites: _Sites, beds_from: Dataset | None) -> tuple[gpd.GeoDataFrame,
                                                                       pd.DataFrame]:
    """Fill the bed and estate columns the sites file lacks: copied from ``beds_from`` by ODS
    code, else beds 0, beds can be added, and an estate limit of the current beds."""
    frame = sites.frame.copy()
    pathways = [*PATHWAYS, *(c[len(BEDS_PREFIX):] for c in sites.given if c.startswith(BEDS_PREFIX)),
                *(beds_from.pathways_with_beds if beds_from is not None else ())]
    bed_cols = [f"{BEDS_PREFIX}{p}" for p in dict.fromkeys(pathways)]
    fill = [c for c in [*bed_cols, "can_add_beds", "max_beds"] if c not in sites.given]
    source = _matching_source_sites(frame, beds_from)
    for col in fill:
        copied = (beds_from.sites[col].reindex(source).to_numpy()
                  if beds_from is not None and col in beds_from.sites.columns
                  else np.full(len(frame), np.nan))
        frame[col] = pd.Series(copied, index=frame.index, dtype=object)
    frame[bed_cols] = frame[bed_cols].fillna(0).astype(int)
    frame["can_add_beds"] = frame["can_add_beds"].fillna(True).astype(bool)
    current = frame[bed_cols].sum(axis=1)
    if "max_beds" in fill:
        frame["max_beds"] = np.maximum(frame["max_beds"].fillna(0).astype(int), current)
    frame["max_beds"] = frame["max_beds"].astype(int)
    order = ["site_name", "ods_code", "postcode", "lat", "lon", "x", "y", "zone_code",
             "district_code", *bed_cols, "can_add_beds", "max_beds", "geometry"]
    return frame[order], _site_provenance(frame, sites, fill, source, beds_from)


def _site_provenance(frame: pd.DataFrame, sites: _Sites, fill: list[str], source: pd.Series,
                     beds_from: Dataset | None) -> pd.DataFrame:
    """A provenance row per site for its current beds of each pathway and its estate (can beds
    be added; max_beds): a fact from the sites file, or copied from ``beds_from`` with the kind
    its provenance gives (else 'assumption'); plus one assumption row for defaulted sites."""
    bed_cols = [c for c in frame.columns if c.startswith(BEDS_PREFIX)]
    values = frame[bed_cols].astype(str)
    values["estate"] = frame["can_add_beds"].astype(str) + "; " + frame["max_beds"].astype(str)
    pairs = pd.MultiIndex.from_product([frame.index, values.columns], names=["site", "figure"])
    rows = pairs.to_frame(index=False)
    filled = rows["figure"].isin(fill) | ((rows["figure"] == "estate")
                                          & bool({"can_add_beds", "max_beds"} & set(fill)))
    rows["src"] = source.reindex(rows["site"]).to_numpy()
    rows["value"] = values.stack().reindex(pairs).to_numpy()
    rows = rows[~filled | rows["src"].notna()].reset_index(drop=True)
    estate = rows["figure"] == "estate"
    name = frame["site_name"].reindex(rows["site"]).to_numpy()
    prefix = ("sites." + rows["figure"] + ".").where(~estate, "sites.estate.")
    copied = rows["src"].notna()
    found = pd.DataFrame(index=rows.index, columns=list(PROVENANCE_COLUMNS)).fillna("")
    if beds_from is not None and copied.any():
        lookup = beds_from.provenance.drop_duplicates("key").set_index("key")
        found = lookup.reindex(prefix + rows["src"].fillna("")).fillna("").set_axis(rows.index)
    origin = (f"copied from dataset '{beds_from.name}' (same ODS code, site '"
              + rows["src"].fillna("") + "')") if beds_from is not None else ""
    table = pd.DataFrame({
        "key": prefix + rows["site"],
        "description": (name + ": current " + rows["figure"].str.removeprefix(BEDS_PREFIX)
                        + " beds").where(~estate, name + ": can beds be added; estate limit"),
        "value": rows["value"], "unit": "beds",
        "kind": found["kind"].replace("", "assumption").where(copied, "user-supplied"),
        "source": (origin + (": " + found["source"]).where(found["source"] != "", "")).where(
            copied, sites.table.file.name),
        "vintage": found["vintage"].where(copied, ""),
        "licence": found["licence"].where(copied, USER_LICENCE),
        "citation": found["citation"].where(copied, ""),
        "note": found["note"].where(copied, ""),
    })
    return pd.concat([table, _default_site_row(fill, source)], ignore_index=True)


def _default_site_row(fill: list[str], source: pd.Series) -> pd.DataFrame:
    unmatched = list(source.index[source.isna()])
    if not unmatched or not fill:
        return pd.DataFrame(columns=list(PROVENANCE_COLUMNS))
    what = [c for c in fill if c.startswith(BEDS_PREFIX)]
    said = []
    if what:
        said.append(f"current beds ({', '.join(what)}) 0")
    if "can_add_beds" in fill:
        said.append("beds can be added")
    if "max_beds" in fill:
        said.append("estate limit (max_beds) = current beds")
    return pd.DataFrame([{
        "key": "sites.beds.assumed", "value": ", ".join(unmatched), "unit": "sites",
        "description": "not in the sites file: " + "; ".join(said), "kind": "assumption",
        "source": "not in the imported files", "vintage": "", "licence": "", "citation": "",
        "note": "set these columns in the sites file, or give beds_from to copy them by ODS "
                "code; an estate limit of 0 means no beds can be placed on the site until it is "
                "raised (in the dataset or the scenario's sites.<id>.max_beds)",
    }], columns=list(PROVENANCE_COLUMNS))


# ---- travel -------------------------------------------------------------------------------

@dataclass
class _TravelMatrix:
    """A travel file read against the sites: times to the sites it names, and the
    destinations it holds that are not sites (kept only to calibrate an estimate)."""

    table: _Table
    travel: pd.DataFrame           # zone_code, site_id, minutes for the sites the file names
    ignored: list[str]             # destinations that are not in the sites file at all
    others: pd.DataFrame           # zone x destination label: minutes to destinations not kept
    layout: str                    # "wide" (a column per destination) or "long"


def _read_travel(path, zones: gpd.GeoDataFrame, sites: _Sites) -> _TravelMatrix:
    """Travel times from a long or a wide CSV. Destinations may be named by site id, name,
    ODS code or postcode; destinations that are not sites (for example every stroke unit in
    England) are set aside, not refused."""
    table = _read_table(path)
    minutes_col = TRAVEL_MINUTES.find(table.headers)
    if minutes_col is not None:
        return _travel_long(table, zones, sites, minutes_col)
    return _travel_wide(table, zones, sites)


def _site_ids_of(labels: pd.Series, sites: _Sites) -> tuple[pd.Series, pd.Series]:
    """Site id for each label (NaN if unknown) and whether the label is a site left out by
    type."""
    keys = _key(labels)
    ids = keys.map(_site_lookup(sites.frame))
    return ids, ids.isna() & keys.isin(sites.excluded_keys)


def _unknown_zone(table: _Table, codes: pd.Series, zones: gpd.GeoDataFrame, column: str) -> None:
    pos = _first(~codes.isin(zones.index))
    if pos is not None:
        row = int(codes.index[pos])
        raise InputError(f"zone '{codes.iloc[pos]}' is not in the population and boundaries "
                         "files" + table.where(row), file=table.file, row=row, column=column,
                         expected="zone codes of the imported zones")


def _travel_long(table: _Table, zones: gpd.GeoDataFrame, sites: _Sites,
                 minutes_col: str) -> _TravelMatrix:
    zone_col = _require(TRAVEL_ZONE, table.headers, table.file, "travel file")
    site_col = _require(TRAVEL_SITE, table.headers, table.file, "travel file")
    frame = table.frame
    codes = _codes(frame[zone_col])
    for column, values, what in ((zone_col, codes, "zone code"),
                                 (site_col, frame[site_col], "site")):
        pos = _first(values.isna())
        if pos is not None:
            row = int(frame.index[pos])
            raise InputError(f"no {what}" + table.where(row), file=table.file, row=row,
                             column=column, expected=f"a {what} on every row")
    ids, left_out = _site_ids_of(frame[site_col], sites)
    _unknown_zone(table, codes, zones, zone_col)
    other = ids.isna()
    ignored = list(dict.fromkeys(frame.loc[other & ~left_out, site_col].astype(str)))
    others = pd.DataFrame({"zone_code": codes[other], "label": frame.loc[other, site_col].astype(str),
                           "minutes": _to_number(frame.loc[other, minutes_col])})
    others = others.drop_duplicates(["zone_code", "label"]).pivot(
        index="zone_code", columns="label", values="minutes") if len(others) else pd.DataFrame()
    keep = ~other
    frame, codes, ids = frame[keep], codes[keep], ids[keep]
    labels = "zone '" + codes + "' to site '" + ids + "'"
    minutes = _numbers(table, frame[[minutes_col]], labels, what="travel time",
                       expected="minutes, 0 or more")[minutes_col]
    travel = pd.DataFrame({"zone_code": codes, "site_id": ids, "minutes": minutes})
    pos = _first(travel.duplicated(["zone_code", "site_id"]))
    if pos is not None:
        row = int(travel.index[pos])
        raise InputError(f"{labels.iloc[pos]} appears twice" + table.where(row),
                         file=table.file, row=row, expected="each zone-site pair once")
    return _TravelMatrix(table, travel, ignored, others, "long")


def _travel_wide(table: _Table, zones: gpd.GeoDataFrame, sites: _Sites) -> _TravelMatrix:
    headers = table.headers
    zone_col = ZONE_CODE.find(headers) or headers[0]
    extra = {r.find(headers) for r in (ZONE_NAME, DISTRICT_CODE, DISTRICT_NAME)} - {None, zone_col}
    site_cols = [h for h in headers if h != zone_col and h not in extra]
    ids, left_out = _site_ids_of(pd.Series(site_cols, dtype=str), sites)
    kept = ids.notna().to_numpy()
    ignored = [c for c, k, out in zip(site_cols, kept, left_out, strict=True) if not k and not out]
    other_cols = [c for c, k in zip(site_cols, kept, strict=True) if not k]
    site_cols, ids = [c for c, k in zip(site_cols, kept, strict=True) if k], ids[kept]
    pos = _first(ids.duplicated())
    if pos is not None:
        raise InputError(f"columns '{site_cols[pos]}' and "
                         f"'{site_cols[_first(ids == ids.iloc[pos])]}' are the same site "
                         f"'{ids.iloc[pos]}'", file=table.file, column=site_cols[pos],
                         expected="one column per site")
    codes = _codes(table.frame[zone_col])
    _check_codes(table, codes, zone_col, "zone code")
    _unknown_zone(table, codes, zones, zone_col)
    others = table.frame[other_cols].apply(_to_number).set_axis(codes.to_numpy())
    if not site_cols:
        return _TravelMatrix(table, pd.DataFrame(columns=["zone_code", "site_id", "minutes"]), ignored,
                             others, "wide")
    values = _numbers(table, table.frame[site_cols], "zone '" + codes + "'",
                      what="travel time", expected="minutes, 0 or more")
    values = values.set_axis(codes.to_numpy()).set_axis(ids.to_numpy(), axis=1)
    travel = values.rename_axis(index="zone_code", columns="site_id").stack()
    return _TravelMatrix(table, travel.rename("minutes").reset_index(), ignored, others, "wide")


def _read_destinations(path) -> dict[str, tuple[float, float]]:
    """Where a travel matrix's destinations are: loose key of each id, postcode, ODS code or
    name -> (easting, northing)."""
    table = _read_table(path)
    id_cols = [c for c in (SITE_ID.find(table.headers), POSTCODE.find(table.headers),
                           ODS_CODE.find(table.headers), SITE_NAME.find(table.headers), table.headers[0]) if c]
    labels = "destination '" + table.frame[id_cols[0]].astype(str) + "'"
    x, y, *_ = _site_locations(table, table.frame, labels)
    points: dict[str, tuple[float, float]] = {}
    for col in dict.fromkeys(id_cols):
        for key, px, py in zip(_key(table.frame[col].fillna("")), x, y, strict=True):
            if key:
                points.setdefault(key, (float(px), float(py)))
    return points


def _calibrate(matrix: _TravelMatrix, zones: gpd.GeoDataFrame, sites: _Sites,
               destinations) -> RoadTimeEstimator | None:
    """A road-time estimator fitted on the matrix's own road times (pairs under 60 km), to
    every destination whose location is known: the sites it names, sites left out by type,
    and the destinations file. None if fewer than 10 pairs can be used."""
    located = dict(sites.excluded_points)
    if destinations is not None:
        located.update(_read_destinations(destinations))
    columns, xs, ys = [], [], []
    for label in matrix.others.columns:
        point = located.get(_key(pd.Series([label])).iloc[0])
        if point is not None:
            columns.append(label)
            xs.append(point[0])
            ys.append(point[1])
    minutes = matrix.others.reindex(index=zones.index, columns=columns)
    if len(matrix.travel):
        known = matrix.travel.pivot(index="zone_code", columns="site_id", values="minutes")
        known = known.reindex(index=zones.index)
        minutes = pd.concat([minutes, known], axis=1)
        xs += sites.frame.loc[known.columns, "x"].tolist()
        ys += sites.frame.loc[known.columns, "y"].tolist()
    if minutes.shape[1] == 0:
        return None
    km = straight_line_km(zones["x"], zones["y"], xs, ys)
    try:
        return fit_road_time(km, minutes.to_numpy(float), max_km=60.0)
    except ValueError:
        return None


def _complete_travel(matrix: _TravelMatrix, zones: gpd.GeoDataFrame, sites: gpd.GeoDataFrame,
                     estimate) -> tuple[pd.DataFrame, list[str]]:
    """Every zone-site pair: from the matrix, or (for a site the matrix does not name at all)
    from ``estimate()``, an estimator. A site the matrix names for only some zones is an
    error. Returns the long table and the ids of the estimated sites."""
    table, travel = matrix.table, matrix.travel
    matrix_sites = pd.Index(travel["site_id"].unique())
    table_m = travel.pivot(index="zone_code", columns="site_id", values="minutes") if len(travel) \
        else pd.DataFrame(index=zones.index)
    table_m = table_m.reindex(index=zones.index, columns=sites.index)
    absent = [s for s in sites.index if s not in matrix_sites]
    named = table_m.drop(columns=absent)
    missing = named.isna().to_numpy()
    if missing.any():
        i, j = np.argwhere(missing)[0]
        hint = ""
        if matrix.ignored:
            hint = (f"; the file also names {len(matrix.ignored)} destination(s) that are not sites "
                    f"(e.g. {', '.join(repr(x) for x in matrix.ignored[:3])}): a misspelt site?")
        raise InputError(f"no travel time from zone '{zones.index[i]}' to site "
                         f"'{named.columns[j]}' ({int(missing.sum())} missing pair(s) in all){hint}",
                         file=table.file, expected="a travel time for every zone-site pair")
    if absent:
        estimator = estimate()
        km = straight_line_km(zones["x"], zones["y"], sites.loc[absent, "x"], sites.loc[absent, "y"])
        table_m[absent] = np.round(estimator.minutes(km), 2)
    long = table_m.rename_axis(index="zone_code", columns="site_id").stack()
    return long.rename("minutes").reset_index().astype({"minutes": float}), absent


def _default_estimator() -> RoadTimeEstimator:
    path = DEFAULT_DATASET_PATH
    if not path.exists():
        raise OptimiserError(
            f"no travel matrix was given and the embedded default dataset ({path}) has not been "
            "built, so there is no road-time estimator: pass a travel CSV, or run "
            "'python -m optimiser data build-default' first")
    estimator = estimator_from_metadata(load_dataset(path).metadata)
    if estimator is None:
        raise OptimiserError(f"the default dataset {path} records no road-time estimator; "
                             "pass a travel CSV")
    return estimator


def _travel(path, zones: gpd.GeoDataFrame, sites: _Sites, estimator: RoadTimeEstimator | None,
            log: ProvenanceLog, destinations=None) -> tuple[pd.DataFrame, dict[str, str]]:
    if path is not None:
        matrix = _read_travel(path, zones, sites)
        name = Path(path).name
        if matrix.ignored:
            what = "destination column(s)" if matrix.layout == "wide" else "destination(s)"
            warn_data(f"{len(matrix.ignored)} {what} of the travel matrix '{name}' are not "
                      f"sites in the sites file and are ignored (e.g. "
                      f"{', '.join(repr(x) for x in matrix.ignored[:3])})")
        used: dict[str, object] = {}

        def estimate() -> RoadTimeEstimator:
            fitted = _calibrate(matrix, zones, sites, destinations)
            if fitted is not None:
                used.update(estimator=fitted, origin=f"fitted to the road times in {name}")
            elif estimator is not None:
                used.update(estimator=estimator, origin="given to the import")
            else:
                used.update(estimator=_default_estimator(),
                            origin=f"of the default dataset ({DEFAULT_DATASET_PATH.name}); too few "
                                   f"destinations of {name} have a known location to fit one")
            return used["estimator"]

        travel, estimated = _complete_travel(matrix, zones, sites.frame, estimate)
        from_file = len(sites.frame) - len(estimated)
        log.add("import.travel", f"road travel minutes: {len(zones)} zones x {from_file} sites from "
                f"the file; median {travel['minutes'].median():.1f} min", len(zones) * from_file,
                "zone-site pairs", "user-supplied", name, "", USER_LICENCE)
        if not estimated:
            return travel, {"travel_method": f"imported from {name}", "source_travel": name,
                            "data_line_travel": f"road travel times from {name}"}
        fitted = used["estimator"]
        names = ", ".join(sites.frame.loc[estimated, "site_name"])
        warn_data(f"{len(estimated)} of {len(sites.frame)} sites are not in the travel matrix '{name}': "
                  f"their minutes are estimated from straight-line distance ({fitted.describe()}; "
                  f"estimator {used['origin']}): {names}")
        log.add("travel.minutes", f"zone to site road travel minutes for {len(estimated)} sites not in "
                f"{name} (estimated)", f"{fitted.intercept_minutes:.2f} + {fitted.minutes_per_km:.3f} x km",
                "minutes", "estimate", f"road-time estimator {used['origin']}", "", "",
                note=f"{fitted.describe()}; sites {', '.join(estimated)}")
        method = (f"road minutes imported from {name} for {from_file} sites; {len(estimated)} sites "
                  f"estimated from straight-line distance calibrated to road minutes" if from_file else
                  f"estimated: straight-line distance calibrated to the road minutes in {name} (none of "
                  "the sites is in it)")
        return travel, {"travel_method": method, "source_travel": name,
                        "data_line_travel": (f"travel times estimated from road distance (calibrated on {name})"
                                             if not from_file else
                                             f"travel times from {name} and estimated from road distance"),
                        **fitted.as_metadata()}
    given = estimator is not None
    estimator = estimator if given else _default_estimator()
    travel = estimated_travel_table(zones, sites.frame, estimator)
    log.add("travel.minutes", "zone to site road travel minutes (estimated)",
            f"{estimator.intercept_minutes:.2f} + {estimator.minutes_per_km:.3f} x km", "minutes",
            "estimate", "road-time estimator " + ("given to the import" if given else
                                                  f"of the default dataset ({DEFAULT_DATASET_PATH.name})"),
            "", "", note=estimator.describe() + ". Import a router's matrix to replace it.")
    return travel, {"travel_method": "estimated: straight-line distance calibrated to road "
                                     "minutes", "data_line_travel": "travel times estimated from road distance",
                    **estimator.as_metadata()}


# ---- projections --------------------------------------------------------------------------

def _band_names(values: pd.Series) -> pd.Series:
    """'all_ages', '65_plus' or '85_plus' for each band label; NaN for other bands."""
    key = values.astype(str).str.lower().str.replace("+", "plus", regex=False)
    key = key.str.replace(r"[^0-9a-z]", "", regex=True)
    key = key.str.replace(rf"^{_AGE_PREFIX}(\d+){_AND_OVER}$", r"\1_plus", regex=True)
    key = key.replace({"allages": "all_ages", "all": "all_ages", "total": "all_ages"})
    return key.where(key.isin(PROJECTION_BANDS))


def _read_projections(path, districts: gpd.GeoDataFrame) -> pd.DataFrame:
    table = _read_table(path, key=PROJECTION_DISTRICT)
    code_col = _require(PROJECTION_DISTRICT, table.headers, table.file, "projections file")
    band_col = _require(PROJECTION_BAND, table.headers, table.file, "projections file")
    years = [h for h in table.headers if re.fullmatch(r"(19|20)\d\d", _norm(h))]
    if len(years) < 2:
        raise InputError("fewer than two year columns in the projections file", file=table.file,
                         column="year", expected="one column per year, e.g. 2022, 2023, ...")
    codes = _codes(table.frame[code_col])
    pos = _first(codes.isna() | ~codes.isin(districts.index))
    if pos is not None:
        row = int(codes.index[pos])
        raise InputError(f"district '{codes.iloc[pos]}' is not a district of the imported zones "
                         f"({', '.join(districts.index)})" + table.where(row), file=table.file,
                         row=row, column=code_col, expected="district codes of the imported zones")
    bands = _band_names(table.frame[band_col])
    keep = bands.notna()
    if not keep.any():
        raise InputError("no all_ages, 65_plus or 85_plus rows", file=table.file, column=band_col,
                         expected=f"bands {', '.join(PROJECTION_BANDS)}")
    keys = codes[keep] + " " + bands[keep]
    _check_codes(table, keys, band_col, "district and band")
    years.sort(key=lambda h: int(_norm(h)))
    labels = "district '" + codes[keep] + "', band '" + bands[keep] + "'"
    values = _numbers(table, table.frame.loc[keep, years], labels, what="projected population",
                      maximum=MAX_DISTRICT_POPULATION,
                      expected="a number of people, 0 or more")
    base = values[years[0]]
    pos = _first(base <= 0)
    if pos is not None:
        row = int(base.index[pos])
        raise InputError(f"the first-year population of {labels.iloc[pos]} is 0"
                         + table.where(row), file=table.file, row=row, column=years[0],
                         expected="a positive population in the first year")
    index = values.div(base, axis=0).round(6).set_axis([int(_norm(y)) for y in years], axis=1)
    index.insert(0, "band", bands[keep])
    index.insert(0, "district_code", codes[keep])
    long = index.melt(id_vars=["district_code", "band"], var_name="year", value_name="index")
    long = long.sort_values(["district_code", "band", "year"], kind="stable")
    return long.astype({"year": int, "index": float})[list(PROJECTION_COLUMNS)].reset_index(drop=True)


def _projections(path, districts: gpd.GeoDataFrame, beds_from: Dataset | None,
                 log: ProvenanceLog) -> pd.DataFrame:
    if path is not None:
        table = _read_projections(path, districts)
        log.add("import.projections", f"population projections: {table['district_code'].nunique()} "
                f"districts, bands {', '.join(sorted(table['band'].unique()))}, years "
                f"{table['year'].min()}-{table['year'].max()}; index relative to "
                f"{table['year'].min()}", len(table), "rows", "user-supplied", Path(path).name, "",
                USER_LICENCE)
        return table
    if beds_from is not None:
        copied = beds_from.projections[beds_from.projections["district_code"].isin(districts.index)]
        if len(copied):
            log.add("projections.copied", "population projections copied by district code",
                    copied["district_code"].nunique(), "districts",
                    _source_kind(beds_from, "import.projections",
                                 "projections." + copied["district_code"].iloc[0]),
                    f"dataset '{beds_from.name}'", "", "")
            return copied.reset_index(drop=True)[list(PROJECTION_COLUMNS)]
    log.add("projections.none", "no growth projections", "", "", "assumption",
            "no projections file given", "", "",
            note="demand is held at the base-year population unless a scenario sets growth")
    return pd.DataFrame({"district_code": pd.Series(dtype=str), "band": pd.Series(dtype=str),
                         "year": pd.Series(dtype=int), "index": pd.Series(dtype=float)})


# ---- the import ---------------------------------------------------------------------------

@contextmanager
def _reading(path):
    """Turn anything unexpected while reading ``path`` into an InputError naming the file
    (the message says what broke; the traceback goes to the log for developers)."""
    try:
        yield
    except OptimiserError:
        raise
    except (KeyboardInterrupt, MemoryError):
        raise
    except Exception as exc:
        logging.getLogger(__name__).debug("reading %s failed", path, exc_info=True)
        raise InputError(f"cannot be read ({type(exc).__name__}: {shorten(str(exc), 160)})",
                         file=path) from exc


def _given_year(year, pop: _Population) -> str:
    """The population's year: the one given (checked), else the one the file states."""
    if year is None or year == "":
        return pop.base_year
    try:
        value = int(year)
    except (TypeError, ValueError):
        value = None
    if value is None or not 1900 <= value <= 2100 or str(year).strip() not in (str(value), f"{value}.0"):
        raise InputError(f"the population year {year!r} is not a year", file=pop.table.file,
                         expected="a year such as 2020")
    if pop.base_year not in ("unknown", str(value)):
        warn_data(f"'{pop.table.file.name}' says its population is for {pop.base_year}, but "
                  f"{value} was given: {value} is used")
    return str(value)


def _log_inputs(log: ProvenanceLog, pop: _Population, bounds: _Boundaries,
                zones: gpd.GeoDataFrame, sites: _Sites) -> None:
    z = zones
    sheet = f", sheet '{pop.table.sheet}'" if pop.table.sheet else ""
    log.add("import.population", f"small-area population: {len(z)} zones; total "
            f"{z['pop_total'].sum():,.0f}, 65+ "
            f"{z[['pop_65_74', 'pop_75_84', 'pop_85_plus']].sum().sum():,.0f}, 85+ "
            f"{z['pop_85_plus'].sum():,.0f}", f"{z['pop_total'].sum():.0f}", "people", "user-supplied",
            pop.table.file.name + sheet,
            pop.base_year if pop.base_year != "unknown" else "", USER_LICENCE, note=pop.method)
    repaired = (f"; {len(bounds.repaired)} invalid polygons repaired with make_valid: "
                f"{', '.join(bounds.repaired)}" if bounds.repaired else "")
    log.add("import.boundaries", f"zone boundaries: {len(z)} polygons, reprojected from "
            f"{bounds.source_crs} to {CRS}", len(z), "zones", "user-supplied", bounds.file.name, "",
            USER_LICENCE, note=f"districts dissolved from zones{repaired}")
    given = ", ".join(sites.given) or "none"
    log.add("import.sites", f"hospital sites: {len(sites.frame)} of type(s) {sites.types}",
            len(sites.frame), "sites", "user-supplied", sites.table.file.name, "", USER_LICENCE,
            note=f"bed and estate columns given: {given}")


# ---- site ids of a scenario ---------------------------------------------------------------

@dataclass
class SiteMatch:
    """How the imported sites were matched to a scenario's sites (by ODS code, name or id)."""

    matched: list[tuple[str, str, str]]      # (site name, id adopted, matched by)
    unmatched: list[tuple[str, str]]         # (site name, id kept) of imported sites matching none
    missing: list[str]                       # register ids no imported site matched

    def describe(self) -> str:
        parts = [f"{len(self.matched)} of {len(self.matched) + len(self.unmatched)} imported sites "
                 "take the scenario's site ids" + (": " + ", ".join(f"{i} ({n}, by {how})"
                                                              for n, i, how in self.matched)
                                                  if self.matched else "")]
        if self.unmatched:
            parts.append("matching none of the scenario's sites (ids kept from the sites file): " +
                         ", ".join(f"{n} ({i})" for n, i in self.unmatched))
        if self.missing:
            parts.append("the scenario's sites not imported: " + ", ".join(self.missing))
        return "; ".join(parts)


def _adopt_site_ids(sites: _Sites, register: pd.DataFrame) -> tuple[_Sites, SiteMatch]:
    """Give each imported site the id of the ``register`` site (a dataset's sites table:
    site_id index, ods_code, site_name) with the same ODS code, else the same name, else the
    same id; sites matching none keep their own id."""
    frame = sites.frame.copy()
    by_ods = {str(o).strip().upper(): i for i, o in register["ods_code"].items() if str(o).strip()}
    by_name = {k: i for i, k in zip(register.index, _key(register["site_name"]), strict=True) if k}
    by_name.update({k: i for i, k in zip(register.index, _key(_slug(register["site_name"])), strict=True) if k})
    by_id = {k: i for i, k in zip(register.index, _key(register.index.to_series()), strict=True)}
    taken: set[str] = set()
    new_ids, matched, unmatched = [], [], []
    for sid, row in frame.iterrows():
        found, how = None, ""
        for lookup, key, label in ((by_ods, str(row["ods_code"]).strip().upper(), "ODS code"),
                                   (by_name, _key(pd.Series([row["site_name"]])).iloc[0], "name"),
                                   (by_name, _key(_slug(pd.Series([row["site_name"]]))).iloc[0], "name"),
                                   (by_id, _key(pd.Series([sid])).iloc[0], "id")):
            if key and key in lookup and lookup[key] not in taken:
                found, how = lookup[key], label
                break
        if found is None:
            new_ids.append(sid)
            unmatched.append((str(row["site_name"]), str(sid)))
            continue
        taken.add(found)
        new_ids.append(found)
        matched.append((str(row["site_name"]), str(found), how))
    frame["file_id"] = frame.index.to_numpy()
    frame.index = pd.Index(new_ids, name="site_id")
    if frame.index.duplicated().any():
        dup = frame.index[frame.index.duplicated()][0]
        raise InputError(f"two imported sites would share the id '{dup}'", file=sites.table.file,
                         expected="sites that match different sites of the scenario")
    missing = [i for i in register.index if i not in taken]
    sites = _Sites(sites.table, frame, sites.given, sites.excluded_keys, sites.types, sites.excluded_points)
    return sites, SiteMatch(matched, unmatched, missing)


def scenario_site_references(scenario) -> dict[str, str]:
    """Every site id a scenario names -> the setting that names it."""
    refs: dict[str, str] = {}
    for pid, spec in scenario.pathways.items():
        if spec.sites != "all":
            for sid in spec.sites:
                refs.setdefault(sid, f"pathways.{pid}.sites")
    for sid in scenario.sites:
        refs.setdefault(sid, f"sites.{sid}")
    return refs


# ---- today's beds and home-based beds ----------------------------------------------------

SOURCE_COLUMN = _Role("source", "source", ("source", "sources", "reference", "note", "notes"))
HOME_BEDS = _Role("home-based beds", "beds", (
    "beds", "virtual_beds", "home_based_beds", "home-based beds", "current_virtual_beds",
    "virtual beds", "home beds"))


def _inline(spec: str, what: str, example: str) -> list[tuple[str, str, str]]:
    """'a.b=1, c.d=2' -> [('a', 'b', '1'), ...] (the part before the dot may be all)."""
    out = []
    for item in re.split(r"[,;]", spec):
        item = item.strip()
        if not item:
            continue
        if "=" not in item:
            raise InputError(f"{what} {item!r} is not of the form {example}", file="command line",
                             expected=example)
        key, value = (t.strip() for t in item.split("=", 1))
        head, _, tail = key.rpartition(".")
        out.append((head or key, tail if head else "", value))
    return out


def _is_file(spec) -> bool:
    return isinstance(spec, (str, Path)) and (Path(spec).suffix.lower() in (".csv", ".xlsx", ".gz")
                                               or Path(spec).is_file())


def _whole_beds(value: str, file: str, row, column: str) -> int:
    number = _to_number(pd.Series([value])).iloc[0]
    if pd.isna(number) or number < 0 or number % 1:
        raise InputError(f"{value!r} is not a whole number of beds", file=file, row=row, column=column,
                         expected="a whole number of beds, 0 or more")
    return int(number)


def _beds_today(spec, frame: gpd.GeoDataFrame, rows: pd.DataFrame) -> tuple[gpd.GeoDataFrame, pd.DataFrame, str]:
    """Today's beds (and estate) per site from a CSV, or 'site.pathway=N, ...' from the command
    line: user-supplied figures, replacing what the sites file or beds_from gave."""
    frame = frame.copy()
    lookup = _site_lookup(frame)
    given: list[tuple[str, str, int, str, str]] = []   # site id, column, value, source, where
    if _is_file(spec):
        table = _read_table(spec)
        name = table.file.name
        id_cols = [c for c in (SITE_ID.find(table.headers), ODS_CODE.find(table.headers),
                               SITE_NAME.find(table.headers), POSTCODE.find(table.headers)) if c]
        if not id_cols:
            raise _missing_column(SITE_ID, table.headers, table.file, "beds file",
                                  expected="a site column: site_id, ods_code or site_name")
        columns = _bed_columns(table.headers)
        for role, col in ((MAX_BEDS, "max_beds"), (CAN_ADD_BEDS, "can_add_beds")):
            header = role.find(table.headers)
            if header:
                columns[col] = header
        if not any(c.startswith(BEDS_PREFIX) for c in columns):
            raise InputError("no beds_<pathway> columns in the beds file", file=table.file,
                             expected="columns such as beds_rehab, beds_stroke, beds_palliative")
        source_col = SOURCE_COLUMN.find(table.headers)
        for row, record in table.frame.iterrows():
            site = next((lookup[k] for c in id_cols
                         if (k := _key(pd.Series([record[c]])).iloc[0]) and k in lookup), None)
            if site is None:
                shown = next((record[c] for c in id_cols if isinstance(record[c], str)), "")
                raise InputError(f"site {shown!r} is not among the imported sites ({', '.join(frame.index)})"
                                 + table.where(row), file=table.file, row=int(row), column=id_cols[0],
                                 expected="a site id, ODS code or name of the imported sites")
            text = f"{name}" + (f": {record[source_col]}" if source_col and isinstance(record[source_col], str) else "")
            for col, header in columns.items():
                value = record[header]
                if not isinstance(value, str):
                    continue
                if col == "can_add_beds":
                    given.append((site, col, int(_booleans(table, pd.Series([value], index=[row], name=header),
                                                          pd.Series([f"site '{site}'"]))[0]), text, name))
                else:
                    given.append((site, col, _whole_beds(value, table.file, int(row), header), text, name))
        origin = name
    else:
        for site_label, column, value in _inline(str(spec), "beds", "site.pathway=beds, e.g. st_lukes.stroke=20"):
            site = lookup.get(_key(pd.Series([site_label])).iloc[0])
            if site is None:
                raise InputError(f"site {site_label!r} is not among the imported sites ({', '.join(frame.index)})",
                                 file="command line", column="--current-beds",
                                 expected="site.pathway=beds with a site id, ODS code or name")
            if not column:
                raise InputError(f"{site_label}={value}: say which beds, as site.pathway=beds (e.g. "
                                 f"{site_label}.rehab={value})", file="command line", column="--current-beds",
                                 expected="site.pathway=beds")
            col = column if column in ("max_beds", "can_add_beds") else f"{BEDS_PREFIX}{_slug(pd.Series([column])).iloc[0]}"
            if col == "can_add_beds":
                given.append((site, col, int(value.lower() in _TRUE), "command line", "command line"))
            else:
                given.append((site, col, _whole_beds(value, "command line", None, "--current-beds"),
                              "command line", "command line"))
        origin = "the command line"
    for site, col, value, _, _ in given:
        if col not in frame.columns:
            frame[col] = 0
        frame.loc[site, col] = bool(value) if col == "can_add_beds" else value
    bed_cols = [c for c in frame.columns if c.startswith(BEDS_PREFIX)]
    frame[bed_cols] = frame[bed_cols].astype(int)
    frame["can_add_beds"] = frame["can_add_beds"].astype(bool)
    beds = frame[bed_cols].sum(axis=1)
    max_given = {s for s, c, *_ in given if c == "max_beds"}
    for site in frame.index:
        if beds[site] > frame.loc[site, "max_beds"]:
            if site in max_given:
                raise InputError(f"site '{site}' has {beds[site]} beds today but max_beds "
                                 f"{frame.loc[site, 'max_beds']}", file=origin,
                                 expected="max_beds at least the sum of today's beds")
            frame.loc[site, "max_beds"] = beds[site]
    frame["max_beds"] = frame["max_beds"].astype(int)
    names = frame["site_name"]
    new_rows = []
    for site, col, value, text, _ in given:
        key = f"sites.estate.{site}" if col in ("max_beds", "can_add_beds") else f"sites.{col}.{site}"
        what = f"{names[site]}: " + ({"max_beds": "estate limit on beds", "can_add_beds": "can beds be added"}
                                     .get(col) or f"beds today, {col[len(BEDS_PREFIX):]}")
        new_rows.append({"key": key if col != "can_add_beds" else f"sites.can_add_beds.{site}",
                         "description": what, "value": str(bool(value)) if col == "can_add_beds" else str(value),
                         "unit": "" if col == "can_add_beds" else "beds", "kind": "user-supplied",
                         "source": text, "vintage": "", "licence": USER_LICENCE, "citation": "", "note": ""})
    replaced = {r["key"] for r in new_rows} | {f"sites.estate.{s}" for s, c, *_ in given if c in ("max_beds", "can_add_beds")}
    rows = rows[~rows["key"].isin(replaced)]
    if "sites.beds.assumed" in set(rows["key"]):
        rows = rows[rows["key"] != "sites.beds.assumed"]
    missing = [s for s in frame.index if s not in {g[0] for g in given}]
    if missing:
        warn_data(f"{len(missing)} site(s) have no beds in {origin}: 0 beds today assumed at "
                  f"{', '.join(names[m] for m in missing)}")
    return frame, pd.concat([rows, pd.DataFrame(new_rows, columns=list(PROVENANCE_COLUMNS))],
                            ignore_index=True), origin


def _virtual_today(spec, districts: gpd.GeoDataFrame, log: ProvenanceLog) -> tuple[gpd.GeoDataFrame, str]:
    """Today's home-based (virtual) beds per district from a CSV (district code or name, beds)
    or 'E07000130=20, Melton=8' from the command line: user-supplied."""
    districts = districts.copy()
    lookup = {**{_key(pd.Series([n])).iloc[0]: c for c, n in districts["district_name"].items()},
              **{_key(pd.Series([c])).iloc[0]: c for c in districts.index}}
    given: dict[str, tuple[float, str]] = {}
    if _is_file(spec):
        table = _read_table(spec)
        name = table.file.name
        code_col = DISTRICT_CODE.find(table.headers) or DISTRICT_NAME.find(table.headers)
        if code_col is None:
            raise _missing_column(DISTRICT_CODE, table.headers, table.file, "home-based beds file")
        beds_col = _require(HOME_BEDS, table.headers, table.file, "home-based beds file")
        source_col = SOURCE_COLUMN.find(table.headers)
        for row, record in table.frame.iterrows():
            code = lookup.get(_key(pd.Series([record[code_col]])).iloc[0])
            if code is None:
                raise InputError(f"district {record[code_col]!r} is not a district of the imported zones "
                                 f"({', '.join(districts.index)})" + table.where(row), file=table.file,
                                 row=int(row), column=code_col, expected="a district code or name")
            text = name + (f": {record[source_col]}" if source_col and isinstance(record[source_col], str) else "")
            given[code] = (_whole_beds(record[beds_col], table.file, int(row), beds_col), text)
        origin = name
    else:
        for head, tail, value in _inline(str(spec), "home-based beds", "district=beds, e.g. E07000130=20"):
            label = f"{head}.{tail}" if tail else head
            code = lookup.get(_key(pd.Series([label])).iloc[0])
            if code is None:
                raise InputError(f"district {label!r} is not a district of the imported zones "
                                 f"({', '.join(districts.index)})", file="command line",
                                 column="--virtual-beds", expected="district=beds with a district code or name")
            given[code] = (_whole_beds(value, "command line", None, "--virtual-beds"), "command line")
        origin = "the command line"
    log.drop("districts.current_virtual_beds.unknown")
    for code, (beds, text) in given.items():
        districts.loc[code, "current_virtual_beds"] = float(beds)
        log.add(f"districts.current_virtual_beds.{code}", f"{districts.loc[code, 'district_name']}: "
                "home-based (virtual) beds today", beds, "virtual beds", "user-supplied", text, "",
                USER_LICENCE)
    missing = [c for c in districts.index if c not in given]
    if missing:
        warn_data(f"{len(missing)} district(s) have no home-based beds in {origin}: 0 assumed in "
                  f"{', '.join(districts.loc[missing, 'district_name'])}")
    return districts, origin


# ---- deprivation ----------------------------------------------------------------------------

DEPRIVATION_ZONE = _Role("zone code", "zone_code", (
    "LSOA code (2011)", "LSOA code (2021)", *ZONE_CODE.aliases), ZONE_CODE.pattern)
IMD_RANK = _Role("IMD rank", "imd_rank", (
    "Index of Multiple Deprivation (IMD) Rank", "Index of Multiple Deprivation (IMD) Rank (where 1 is most deprived)",
    "IMD Rank", "imd_rank", "IMD19 Rank", "imd2019_rank", "IMDRank"))
IMD_DECILE = _Role("IMD decile", "imd_decile", (
    "Index of Multiple Deprivation (IMD) Decile",
    "Index of Multiple Deprivation (IMD) Decile (where 1 is most deprived 10% of LSOAs)",
    "IMD Decile", "imd_decile", "IMD19 Decile", "imd2019_decile", "IMDDecile"))


def _deprivation(path, zones: gpd.GeoDataFrame, log: ProvenanceLog) -> str:
    """IMD rank and decile per zone from the official File 1 layout (the LLR extract, or the
    England-wide file, .csv or .csv.gz): rows for other areas are skipped; zones the file
    lacks get decile 0 (unknown), with a warning."""
    zones["imd_rank"] = np.nan
    zones["imd_decile"] = 0
    if path is None:
        log.add("zones.imd", "deprivation (IMD) per zone", "not given", "", "assumption",
                "no deprivation file given", "", "", note="decile 0 = unknown; import with --deprivation")
        return ""
    table = _read_table(path, key=DEPRIVATION_ZONE)
    code_col = _require(DEPRIVATION_ZONE, table.headers, table.file, "deprivation file")
    rank_col = _require(IMD_RANK, table.headers, table.file, "deprivation file")
    decile_col = _require(IMD_DECILE, table.headers, table.file, "deprivation file")
    codes = _codes(table.frame[code_col])
    _check_codes(table, codes, code_col, "zone code")
    ours = codes.isin(zones.index)
    if not ours.any():
        raise InputError(f"none of the {len(zones)} imported zones is in the deprivation file (its codes look "
                         f"like '{codes.iloc[0]}', the zones' like '{zones.index[0]}': the file and the "
                         "zones must be the same small areas, e.g. both LSOA 2011)", file=table.file, column=code_col,
                         expected="the zone codes of the import")
    frame = table.frame[ours]
    labels = "zone '" + codes[ours] + "'"
    values = _numbers(table, frame[[rank_col, decile_col]], labels, what="IMD value", integer=True, minimum=1,
                      expected="a whole-number rank (1 = most deprived) and decile 1-10")
    bad = values[decile_col] > 10
    if bad.any():
        row = int(values.index[_first(bad)])
        raise InputError(f"IMD decile {values.loc[row, decile_col]:g} for {labels.loc[row]} is above 10"
                         + table.where(row), file=table.file, row=row, column=decile_col,
                         expected="a decile 1-10")
    by_zone = values.set_axis(codes[ours].to_numpy())
    zones["imd_rank"] = by_zone[rank_col].reindex(zones.index).astype(float)
    zones["imd_decile"] = by_zone[decile_col].reindex(zones.index).fillna(0).astype(int)
    unknown = int((zones["imd_decile"] == 0).sum())
    if unknown:
        warn_data(f"{unknown} of {len(zones)} zones are not in the deprivation file '{table.file.name}': "
                  "their IMD decile is unknown (0)")
    log.add("zones.imd", "Index of Multiple Deprivation rank and decile per zone (1 = most deprived)",
            f"{len(zones) - unknown} of {len(zones)} zones", "rank, decile", "user-supplied", table.file.name,
            "", USER_LICENCE, note=f"{int((~ours).sum())} rows for other areas skipped")
    return table.file.name


def import_dataset(*, population, boundaries, sites, travel=None, projections=None,
                   name=None, out=None, site_types=("community",), beds_from=None,
                   estimator=None, travel_destinations=None, deprivation=None, current_beds=None,
                   virtual_beds=None, site_register=None, population_year: int | None = None) -> Dataset:
    """Build a validated dataset from user-supplied files (see the module docstring).

    ``population``: small-area estimates (e.g. ONS), CSV or .xlsx (title rows above the
    header are skipped). ``boundaries``: GeoJSON, GeoPackage or shapefile in any CRS.
    ``sites``: CSV of hospitals; with a site_type column only ``site_types`` are kept
    (``None`` keeps all). ``travel``: long or wide CSV of road minutes; destinations that are
    not sites (e.g. every stroke unit in England) are ignored with a warning, and sites the
    matrix does not name are estimated from straight-line distance calibrated on the matrix
    (destination locations from the sites file and ``travel_destinations``, a CSV of
    destination ids with lat/lon or easting/northing), with a warning; ``None`` estimates
    every site with ``estimator`` (default: the embedded default dataset's).
    ``projections``: ONS SNPP bands CSV. ``deprivation``: IMD 2019 File 1 (.csv or .csv.gz).
    ``current_beds``: today's beds per site (CSV with a site column and beds_<pathway>,
    optional max_beds, can_add_beds, source; or ``"site.pathway=N, ..."``);
    ``virtual_beds``: today's home-based beds per district (CSV of district and beds; or
    ``"E07000130=20, ..."``): both recorded as user-supplied. ``beds_from``: a dataset to copy
    current beds (by ODS code), virtual beds, stroke admissions, sub-ICB codes and
    projections from. ``site_register``: a sites table (site_id index, ods_code, site_name),
    e.g. the one a scenario's dataset has, whose ids the imported sites take where their ODS
    code, name or id matches (the match is in the dataset's metadata, ``site_ids``). ``out``:
    write the dataset there atomically (an existing file is replaced only if the import
    succeeds).
    ``population_year``: the year of the population estimates (mid-year), when the file does
    not say it in a sheet name, title or header; it is needed whenever the dataset has
    projections (they grow demand from that year).

    Raises :class:`InputError` naming the file, row, column and what was expected; warns
    (:class:`DataWarning`) about repaired polygons, ignored travel destinations, estimated
    sites, unknown deprivation, and missing beds today.
    """
    log = ProvenanceLog()
    with _reading(population):
        pop = _read_population(population)
        pop.base_year = _given_year(population_year, pop)
    with _reading(boundaries):
        bounds = _read_boundaries(boundaries)
        _match_zones(pop, bounds)
        district, district_source = _district_of_zones(pop, bounds)
        zones = _build_zones(pop, bounds, district, beds_from)
    with _reading(sites):
        site_data = _read_sites(sites, zones, site_types)
    match = None
    if site_register is not None:
        site_data, match = _adopt_site_ids(site_data, site_register)
        log.add("sites.ids", "site ids taken from the scenario's sites (by ODS code, name or id)",
                len(match.matched), "sites", "derived", "matched to the scenario's dataset", "", "",
                note=match.describe())
        if match.unmatched:
            warn_data(f"{len(match.unmatched)} imported site(s) match none of the scenario's sites (by ODS "
                      "code, name or id) and keep their own ids: "
                      + ", ".join(f"{n} ({i})" for n, i in match.unmatched))
    _log_inputs(log, pop, bounds, zones, site_data)
    log.add("zones.district", "district of each zone", zones["district_code"].nunique(),
            "districts", "user-supplied", district_source, "", USER_LICENCE)
    log.add("zones.reference_point", "zone reference point for travel: polygon centroid, or a "
            "point inside the polygon where the centroid falls outside it", "", "", "derived",
            f"computed from {bounds.file.name}", "", USER_LICENCE)
    _copy_zone_facts(zones, beds_from, log)
    deprivation_file = _deprivation(deprivation, zones, log)
    zones = zones[[*ZONE_TABLE_COLUMNS[:-2], "imd_rank", "imd_decile", "x", "y", "geometry"]]
    districts = _build_districts(zones, _district_names(district, pop, bounds, beds_from),
                                 beds_from, log)
    site_table, site_rows = _complete_sites(site_data, beds_from)
    beds_origin = virtual_origin = ""
    if current_beds is not None:
        site_table, site_rows, beds_origin = _beds_today(current_beds, site_table, site_rows)
    if virtual_beds is not None:
        districts, virtual_origin = _virtual_today(virtual_beds, districts, log)
    _say_what_today_is(site_data, site_table, beds_from, beds_origin, virtual_beds, log)
    with _reading(travel if travel is not None else sites):
        travel_table, travel_meta = _travel(travel, zones, site_data, estimator, log, travel_destinations)
    with _reading(projections if projections is not None else population):
        projection_table = _projections(projections, districts, beds_from, log)
    if len(projection_table) and pop.base_year == "unknown":
        raise InputError("the file does not say which year its population figures are for, and "
                         "the dataset has population projections, which grow demand from that "
                         "year: give the year (data import --population-year, or the year box "
                         "on the Data page)", file=pop.table.file,
                         expected="a sheet, title or header naming e.g. 'mid-2020', or the year given")
    provenance = pd.concat([log.table(), site_rows], ignore_index=True).astype(str)
    travel_line = travel_meta.pop("data_line_travel")
    ds = Dataset(
        name=name or f"Imported: {len(zones)} zones from {pop.table.file.stem}",
        zones=zones, districts=districts, sites=site_table, travel=travel_table,
        projections=projection_table, provenance=provenance,
        metadata={
            "description": f"imported from {pop.table.file.name}, {bounds.file.name} and "
                           f"{site_data.table.file.name}",
            "population_method": f"small-area populations imported from {pop.table.file.name} "
                                 f"({pop.method}; user-supplied)",
            "population_source": f"{pop.table.file.name} (user-supplied)",
            "population_base_year": pop.base_year,
            "data_line": f"small-area populations from {pop.table.file.name} (user-supplied); {travel_line}",
            "source_population": pop.table.file.name,
            "source_boundaries": bounds.file.name,
            "source_sites": site_data.table.file.name,
            "source_projections": Path(projections).name if projections is not None else "",
            "source_deprivation": deprivation_file,
            "beds_from": beds_from.name if beds_from is not None else "",
            "current_beds_from": beds_origin or ("sites file" if any(c.startswith(BEDS_PREFIX) for c in site_data.given)
                                                 else f"dataset '{beds_from.name}'" if beds_from is not None
                                                 else "not given"),
            "virtual_beds_from": virtual_origin or (f"dataset '{beds_from.name}'" if beds_from is not None
                                                    else "not given"),
            "site_ids": match.describe() if match is not None else "",
            **travel_meta,
        },
    )
    if bounds.repaired:
        warn_data(f"{len(bounds.repaired)} invalid polygon(s) in '{bounds.file.name}' were "
                  f"repaired with make_valid: zones {', '.join(bounds.repaired)}")
    if out is not None:
        save_dataset(ds, out)
    return ds


NO_BEDS_TODAY = ("no beds today were given (no beds_<pathway> columns in the sites file, no "
                 "--current-beds, no --copy-from): every site has 0 beds today, so options that refer "
                 "to today (the status quo) cannot be evaluated, and demand calibrated on today's beds "
                 "(the default scenario's method) cannot be worked out; give them with --current-beds "
                 "FILE or --copy-from default")
NO_HOME_BEDS_TODAY = ("no home-based (virtual) beds today were given (no --virtual-beds, no --copy-from): 0 "
                      "in every district, so options with 'virtual_beds: current' cannot be evaluated as "
                      "today, and a scenario that counts today's home-based beds in demand (the default's "
                      "rehabilitation pathway) understates it; give them with --virtual-beds FILE or "
                      "--copy-from default")


def today_warnings(ds: Dataset) -> list[str]:
    """What an imported dataset does not know about today, in plain words (empty if all is
    known): the CLI and the app say it after an import."""
    out = []
    if ds.metadata.get("current_beds_from") == "not given":
        out.append(NO_BEDS_TODAY)
    if ds.metadata.get("virtual_beds_from") == "not given":
        out.append(NO_HOME_BEDS_TODAY)
    return out


def _say_what_today_is(site_data: _Sites, site_table: gpd.GeoDataFrame, beds_from: Dataset | None,
                       beds_origin: str, virtual_beds, log: ProvenanceLog) -> None:
    """Record (as assumptions) that today's beds or home-based beds were not given."""
    file_beds = any(c.startswith(BEDS_PREFIX) for c in site_data.given)
    if not (beds_origin or file_beds or beds_from is not None):
        log.add("sites.beds.unknown", "beds today not given: 0 at every site", 0, "beds", "assumption",
                "not in the imported files", "", "", note=NO_BEDS_TODAY)
