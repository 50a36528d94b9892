"""Zone boundaries: GeoJSON, GeoPackage or shapefile in any coordinate reference system, checked and repaired."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio

from optimiser.dataset.core import CRS
from optimiser.dataset.importers.columns import ZONE_CODE, _require
from optimiser.dataset.importers.tables import _check_codes, _codes, _first, _Table
from optimiser.errors import InputError


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
