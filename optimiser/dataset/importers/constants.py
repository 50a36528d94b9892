"""Shared constants of the importers."""

from __future__ import annotations

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
