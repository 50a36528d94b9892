"""Small geometric helpers shared by the default builder and the importers."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd


def zone_containing(points: gpd.GeoSeries, zones: gpd.GeoDataFrame) -> pd.Series:
    """Code of the zone containing each point (first match; NaN where none does)."""
    point_idx, zone_idx = zones.sindex.query(points.values, predicate="within")
    out = pd.Series(np.nan, index=points.index, dtype=object)
    first = pd.Series(zone_idx, index=point_idx).groupby(level=0).first()
    out.iloc[first.index.to_numpy()] = zones.index.to_numpy()[first.to_numpy()]
    return out
