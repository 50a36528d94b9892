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

The package: one module per input kind (population, boundaries, zones, sites, travel,
projections, deprivation, today's beds, site ids), column recognition and table reading
shared by all, and the orchestration (:func:`import_dataset`)."""

from __future__ import annotations

from optimiser.dataset.importers.columns import DISTRICT_CODE
from optimiser.dataset.importers.orchestration import import_dataset, today_warnings
from optimiser.dataset.importers.site_ids import SiteMatch, scenario_site_references

__all__ = ['DISTRICT_CODE', 'SiteMatch', 'import_dataset', 'scenario_site_references', 'today_warnings']
