"""English Indices of Deprivation 2019, File 1 (the LLR extract or England-wide .csv.gz)."""

from __future__ import annotations

import geopandas as gpd
import numpy as np

from optimiser.dataset.importers.columns import ZONE_CODE, _require, _Role
from optimiser.dataset.importers.constants import USER_LICENCE
from optimiser.dataset.importers.tables import _check_codes, _codes, _first, _numbers, _read_table
from optimiser.dataset.provenance import ProvenanceLog
from optimiser.errors import InputError, warn_data

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
