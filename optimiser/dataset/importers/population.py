"""Small-area population estimates: single years of age or bands, with the year they are for."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pandas as pd

from optimiser.dataset.importers.columns import (
    _AND_OVER,
    BAND_65_74,
    BAND_65_PLUS,
    BAND_75_84,
    BAND_75_PLUS,
    BAND_85_PLUS,
    DISTRICT_CODE,
    DISTRICT_NAME,
    TOTAL,
    ZONE_CODE,
    ZONE_NAME,
    _missing_column,
    _norm,
    _require,
    _Role,
)
from optimiser.dataset.importers.constants import MAX_ZONE_POPULATION
from optimiser.dataset.importers.tables import (
    _check_codes,
    _codes,
    _first,
    _numbers,
    _read_table,
    _Table,
)
from optimiser.errors import InputError


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
