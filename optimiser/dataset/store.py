"""Reading and writing a dataset as one GeoPackage, atomically."""

from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio

from optimiser.dataset.core import CRS, Dataset
from optimiser.errors import InputError

LAYERS = ("zones", "districts", "sites", "travel", "projections", "provenance", "metadata")
SECOND_TRAVEL_LAYER = "second_travel"   # optional: e.g. public transport minutes (blank = no route)
# A fixed timestamp makes the GeoPackage byte-for-byte reproducible.
FIXED_TIMESTAMP = "2000-01-01T00:00:00Z"


@contextmanager
def atomic_path(target: str | Path, suffix: str | None = None):
    """Yield a temporary path beside ``target``; on success it replaces ``target`` in one
    rename, on failure it is removed and ``target`` is left as it was."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=suffix or target.suffix,
                               dir=target.parent)
    os.close(fd)
    os.unlink(tmp)  # GDAL wants to create the file itself
    try:
        yield Path(tmp)
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def atomic_write_text(target: str | Path, text: str) -> None:
    with atomic_path(target) as tmp:
        tmp.write_text(text, encoding="utf-8")


def atomic_write_bytes(target: str | Path, data: bytes) -> None:
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)


def _write_table(path: Path, df: pd.DataFrame, layer: str) -> None:
    if isinstance(df, gpd.GeoDataFrame):
        pyogrio.write_dataframe(df.reset_index(), path, layer=layer, driver="GPKG",
                                promote_to_multi=False)
    else:
        pyogrio.write_dataframe(df.reset_index(drop=True), path, layer=layer, driver="GPKG")


def save_dataset(ds: Dataset, path: str | Path) -> Path:
    """Write ``ds`` to ``path`` (a .gpkg). Nothing is half-written: the file appears complete
    or not at all, and an existing file is replaced only on success."""
    path = Path(path)
    metadata = pd.DataFrame(
        {"key": ["name", *ds.metadata.keys()], "value": [ds.name, *map(str, ds.metadata.values())]}
    )
    old = os.environ.get("OGR_CURRENT_DATE")
    os.environ["OGR_CURRENT_DATE"] = FIXED_TIMESTAMP
    try:
        with atomic_path(path) as tmp:
            for layer, df in (("zones", ds.zones), ("districts", ds.districts), ("sites", ds.sites),
                              ("travel", ds.travel), ("projections", ds.projections),
                              ("provenance", ds.provenance), ("metadata", metadata)):
                _write_table(tmp, df, layer)
            if ds.second_travel is not None:   # optional layer: a second travel matrix
                _write_table(tmp, ds.second_travel, SECOND_TRAVEL_LAYER)
    finally:
        if old is None:
            os.environ.pop("OGR_CURRENT_DATE", None)
        else:
            os.environ["OGR_CURRENT_DATE"] = old
    return path


def load_dataset(path: str | Path) -> Dataset:
    """Read a dataset GeoPackage written by :func:`save_dataset` and validate it."""
    path = Path(path)
    if not path.exists():
        raise InputError("dataset file not found", file=path, expected="a .gpkg dataset file")
    try:
        layers = {name for name, _ in pyogrio.list_layers(path)}
    except Exception as exc:  # pyogrio raises DataSourceError subclasses
        raise InputError(f"cannot be read as a GeoPackage ({exc})", file=path) from exc
    missing = [layer for layer in LAYERS if layer not in layers]
    if missing:
        raise InputError(f"missing layer(s) {', '.join(missing)}", file=path,
                         expected=f"layers {', '.join(LAYERS)}")

    def read(layer: str, index: str | None = None, geo: bool = False):
        df = pyogrio.read_dataframe(path, layer=layer, read_geometry=geo)
        if geo:
            df = df.to_crs(CRS) if df.crs is not None else df.set_crs(CRS)
        if index:
            df = df.set_index(index)
        return df

    meta = read("metadata")
    metadata = dict(zip(meta["key"], meta["value"], strict=True))
    name = metadata.pop("name", path.stem)
    sites = read("sites", "site_id", geo=True)
    sites["can_add_beds"] = sites["can_add_beds"].astype(bool)
    for col in [c for c in sites.columns if c.startswith("beds_")] + ["max_beds"]:
        sites[col] = sites[col].astype(int)
    provenance = read("provenance").fillna("")
    zones = read("zones", "zone_code", geo=True)
    zones["sub_icb_code"] = zones["sub_icb_code"].fillna("")
    if "imd_rank" not in zones.columns:  # written before deprivation was kept: unknown
        zones.insert(zones.columns.get_loc("x"), "imd_rank", np.nan)
    if "imd_decile" not in zones.columns:
        zones.insert(zones.columns.get_loc("x"), "imd_decile", 0)
    zones["imd_decile"] = zones["imd_decile"].fillna(0).astype(int)
    import hashlib

    return Dataset(
        file_sha256=hashlib.sha256(path.read_bytes()).hexdigest(),
        name=name,
        zones=zones,
        districts=read("districts", "district_code", geo=True),
        sites=sites,
        travel=read("travel"),
        projections=read("projections"),
        provenance=provenance,
        metadata=metadata,
        second_travel=(read(SECOND_TRAVEL_LAYER).astype({"minutes": float}) if SECOND_TRAVEL_LAYER in layers
                       else None),
    )
