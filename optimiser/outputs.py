"""Result files: summary.json, beds.csv, virtual_beds.csv, assignment.csv, result.gpkg, and an
Excel workbook (one sheet per table). Every file is written atomically."""

from __future__ import annotations

import io
import json
import math
from pathlib import Path

import geopandas as gpd
import pandas as pd

from optimiser.dataset.core import Dataset
from optimiser.dataset.store import atomic_path, atomic_write_text
from optimiser.solution import Solution, calibration_table

RESULT_FILES = ("summary.json", "beds.csv", "virtual_beds.csv", "assignment.csv", "result.gpkg")
# summary.json carries "provenance" (optimiser.provenance); result.gpkg an "about" layer.


def _clean(value):
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return None
    if hasattr(value, "item"):
        return value.item()
    return value


def summary_dict(solution: Solution) -> dict:
    s = solution.summary()
    s["metrics"] = {k: _clean(v) for k, v in s["metrics"].items()}
    s["objective"] = _clean(s["objective"])
    s["optimality_gap"] = _clean(s["optimality_gap"])
    s["solve_seconds"] = round(float(s["solve_seconds"]), 3)
    return _clean_nested(s)


def _clean_nested(value):
    if isinstance(value, dict):
        return {k: _clean_nested(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean_nested(v) for v in value]
    return _clean(value)


def result_tables(solution: Solution) -> dict[str, pd.DataFrame]:
    """The tidy tables a user downloads, keyed by sheet/file name."""
    metrics = pd.DataFrame({"metric": list(solution.metrics), "value": list(solution.metrics.values())})
    return {
        "beds": solution.units,
        "beds_by_pathway": solution.beds,
        "virtual_beds": solution.virtual_beds,
        "assignment": solution.assignment,
        "zones": solution.zones,
        "metrics": metrics,
        "calibration": calibration_table(solution.instance),
    }


def result_layers(solution: Solution, dataset: Dataset) -> dict[str, gpd.GeoDataFrame]:
    zones = dataset.zones[["zone_name", "district_code", "geometry"]].reset_index()
    zt = solution.zones.drop(columns=["zone_name", "district_code"])
    zones = zones.merge(zt, on="zone_code", how="left")
    sites = dataset.sites[["site_name", "ods_code", "geometry"]].reset_index()
    s = solution.sites.drop(columns=["site_name"])
    sites = sites.merge(s, on="site_id", how="left")
    districts = dataset.districts.reset_index()
    v = solution.virtual_beds.drop(columns=["district_name"])
    districts = districts.merge(v, on="district_code", how="left")
    return {"zones": gpd.GeoDataFrame(zones, geometry="geometry", crs=dataset.zones.crs),
            "sites": gpd.GeoDataFrame(sites, geometry="geometry", crs=dataset.zones.crs),
            "districts": gpd.GeoDataFrame(districts, geometry="geometry", crs=dataset.districts.crs)}


def about_table(solution: Solution) -> pd.DataFrame:
    """Where the result came from (see :mod:`optimiser.provenance`), as a two-column table:
    the Excel "About" sheet and the GeoPackage "about" layer."""
    from optimiser.provenance import provenance_rows

    rows = [("Result", solution.name), ("Status", solution.status_message)]
    rows += provenance_rows(solution.provenance) if solution.provenance else [
        ("Provenance", "not recorded (this result was not made through optimiser.api)")]
    return pd.DataFrame(rows, columns=["item", "value"])


def write_geopackage(solution: Solution, dataset: Dataset, path: str | Path) -> Path:
    """The result layers (zones, sites, districts) and an "about" table (provenance)."""
    import pyogrio

    path = Path(path)
    with atomic_path(path) as tmp:
        for name, layer in result_layers(solution, dataset).items():
            layer.to_file(tmp, layer=name, driver="GPKG")
        about = about_table(solution)
        pyogrio.write_dataframe(about, tmp, layer="about", driver="GPKG",
                                layer_metadata=dict(zip(about["item"], about["value"], strict=True)))
    return path


def geopackage_bytes(solution: Solution, dataset: Dataset) -> bytes:
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        p = write_geopackage(solution, dataset, Path(d) / "result.gpkg")
        return p.read_bytes()


def excel_bytes(solution: Solution) -> bytes:
    """An Excel workbook: an "About" sheet (where the result came from), one sheet per table,
    and a sheet of notes."""
    buf = io.BytesIO()
    with pd.ExcelWriter(buf, engine="openpyxl") as xl:
        about = about_table(solution)
        about.to_excel(xl, sheet_name="About", index=False)
        sheet = xl.sheets["About"]
        sheet.column_dimensions["A"].width = 48
        sheet.column_dimensions["B"].width = 110
        for name, table in result_tables(solution).items():
            table.to_excel(xl, sheet_name=name[:31], index=False)
        notes = pd.DataFrame({"note": list(solution.notes) + [f"rule not met: {b}" for b in solution.breaks]})
        notes.to_excel(xl, sheet_name="notes", index=False)
    return buf.getvalue()


def write_results(solution: Solution, dataset: Dataset, out: str | Path) -> list[Path]:
    """Write the CLI's result files into ``out`` (created if needed)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    tables = result_tables(solution)
    written = []
    atomic_write_text(out / "summary.json", json.dumps(summary_dict(solution), indent=2))
    written.append(out / "summary.json")
    for name in ("beds", "virtual_beds", "assignment"):
        atomic_write_text(out / f"{name}.csv", tables[name].to_csv(index=False))
        written.append(out / f"{name}.csv")
    written.append(write_geopackage(solution, dataset, out / "result.gpkg"))
    return written
