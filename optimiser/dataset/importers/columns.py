"""Recognising columns: the roles a column can play and the labels each goes by."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from pathlib import Path

from optimiser.errors import InputError


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
