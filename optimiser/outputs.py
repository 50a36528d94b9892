"""Result files: summary.json, beds.csv, virtual_beds.csv, assignment.csv, result.gpkg, and an
Excel workbook (one sheet per table). Every file is written atomically."""

from __future__ import annotations

import json
import math
import os
import shutil
from pathlib import Path

import geopandas as gpd
import pandas as pd

from optimiser.dataset.core import Dataset
from optimiser.dataset.store import atomic_path
from optimiser.errors import OptimiserError
from optimiser.solution import Solution, calibration_table

RESULT_FILES = ("summary.json", "beds.csv", "virtual_beds.csv", "assignment.csv", "result.gpkg", "open_sites.csv")
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
    and a sheet of notes; text from names is stored as text, never as a formula (see
    :mod:`optimiser.spreadsheets`)."""
    from optimiser.spreadsheets import excel_workbook

    notes = pd.DataFrame({"note": list(solution.notes) + [f"rule not met: {b}" for b in solution.breaks]})
    sheets = [(name[:31], table, False) for name, table in result_tables(solution).items()]
    return excel_workbook([("About", about_table(solution), False), *sheets, ("notes", notes, False)])


def _write_files(solution: Solution, dataset: Dataset | None, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "summary.json").write_text(json.dumps(summary_dict(solution), indent=2), encoding="utf-8")
    from optimiser.spreadsheets import safe_csv

    if dataset is None:      # custom zone/travel inputs: no geography to write
        if solution.mode == "p_median":
            (folder / "open_sites.csv").write_text(safe_csv(solution.tables.units[["site_id"]], index=False),
                                                   encoding="utf-8")
            a = solution.assignment[["zone_code", "site_id", "travel_minutes", "admissions_per_year"]]
            (folder / "assignment.csv").write_text(
                safe_csv(a.rename(columns={"admissions_per_year": "demand"}), index=False), encoding="utf-8")
        return

    tables = result_tables(solution)
    for name in ("beds", "virtual_beds", "assignment"):
        (folder / f"{name}.csv").write_text(safe_csv(tables[name], index=False), encoding="utf-8")
    write_geopackage(solution, dataset, folder / "result.gpkg")


# ---- result folders: the whole set appears at once, or not at all -----------------------------

MANIFEST = "manifest.json"
ROBUST_EXTRAS = ("robust.json", "out_of_sample.csv", "point")   # what `solve --robust` adds (optimiser.robust)
_RESULT_NAMES = {*RESULT_FILES, MANIFEST, *ROBUST_EXTRAS}


def _sha256(path: Path) -> str:
    import hashlib

    h = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _write_manifest(folder: Path) -> None:
    """Last file written: every other file with its size and SHA-256."""
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.name != MANIFEST)
    manifest = {"files": {p.relative_to(folder).as_posix(): {"bytes": p.stat().st_size, "sha256": _sha256(p)}
                          for p in files}}
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2), encoding="utf-8")


def check_manifest(folder: str | Path) -> None:
    """Raise InputError unless ``folder``'s manifest lists exactly the files there, unchanged.
    Folders written before manifests existed (no manifest.json) pass."""
    from optimiser.errors import InputError

    folder = Path(folder)
    path = folder / MANIFEST
    if not path.exists():
        return
    try:
        listed = json.loads(path.read_text(encoding="utf-8"))["files"]
    except (ValueError, KeyError, TypeError, UnicodeDecodeError):
        raise InputError("damaged manifest: the result folder is incomplete; run again", file=path) from None
    present = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file() and p.name != MANIFEST}
    if set(listed) != present:
        odd = sorted(set(listed) ^ present)[:3]
        raise InputError(f"the folder's files do not match its manifest ({', '.join(odd)}): it mixes two runs "
                         "or was changed by hand; run again", file=path)
    for rel, info in listed.items():
        if _sha256(folder / rel) != info.get("sha256"):
            raise InputError(f"'{rel}' differs from the run that wrote this folder; run again", file=path)


def _leftovers(out: Path) -> list[Path]:
    import glob

    return [p for p in out.parent.glob(f".{glob.escape(out.name)}.*-*")
            if p.name.split(".")[-1].startswith(("new-", "old-"))]


def check_output_folder(out: str | Path) -> Path:
    """Refuse, before any work is done, an output place results cannot go: an existing file,
    a folder holding other things (results replace the whole folder), the root, or a place
    that cannot be written."""
    out = Path(out).absolute()
    if out == Path(out.anchor) or out.name in ("", ".", ".."):
        raise OptimiserError(f"'{out}' cannot hold results: give a new or empty folder")
    if out.is_symlink():
        raise OptimiserError(f"'{out}' is a link: give a real folder for the results")
    if out.exists() and not out.is_dir():
        raise OptimiserError(f"'{out}' is a file: give a folder for the results (it is created if needed)")
    if out.is_dir():
        other = sorted(p.name for p in out.iterdir()
                       if p.name not in _RESULT_NAMES and not p.name.startswith((".", "alternative_")))
        if other:
            raise OptimiserError(f"'{out}' holds other files ({', '.join(other[:3])}"
                                 f"{', ...' if len(other) > 3 else ''}); the results replace the whole "
                                 "folder, so give a new or empty folder")
    parent = out.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        import tempfile

        with tempfile.TemporaryFile(dir=parent):
            pass
    except OSError as exc:
        raise OptimiserError(f"cannot write results to '{out}': {exc.strerror or exc}") from None
    return out


class ResultFolder:
    """Write a whole set of result files into ``out`` as one step.

    On entry: checks ``out`` (see :func:`check_output_folder`), locks it against other runs
    (they get a clear message, never a mixed folder) and removes what a killed run left.
    :meth:`write` puts every file into a fresh hidden folder beside ``out``, writes
    ``manifest.json`` last, then swaps the folder in: a reader sees the old set or the new
    one, never a mix; if anything fails (disk full, killed) the old set stays as it was.
    Hold it around a solve so a second run into the same folder is refused at once."""

    def __init__(self, out: str | Path):
        self.out = Path(out)
        self._lock = None

    def __enter__(self) -> ResultFolder:
        from optimiser.locking import exclusive_lock

        self.out = check_output_folder(self.out)
        self._lock = exclusive_lock(self.out, f"the result folder '{self.out}'")
        self._lock.__enter__()
        for p in _leftovers(self.out):
            shutil.rmtree(p, ignore_errors=True)
        return self

    def __exit__(self, *exc) -> None:
        self._lock.__exit__(*exc)

    def write(self, solution: Solution, dataset: Dataset | None, alternatives=()) -> list[Path]:
        import tempfile

        tmp = Path(tempfile.mkdtemp(prefix=f".{self.out.name}.new-", dir=self.out.parent))
        try:
            _write_files(solution, dataset, tmp)
            for k, alt in enumerate(alternatives, 1):
                _write_files(alt, dataset, tmp / f"alternative_{k}")
            _write_manifest(tmp)
            self._swap(tmp)
        except Exception as exc:
            shutil.rmtree(tmp, ignore_errors=True)
            reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
            raise OptimiserError(f"could not write the results to '{self.out}' ({reason}); the folder "
                                 "was left as it was") from exc
        return sorted(p for p in self.out.rglob("*") if p.is_file())

    def _swap(self, tmp: Path) -> None:
        os.chmod(tmp, 0o777 & ~_umask())
        if not self.out.exists():
            os.rename(tmp, self.out)
            return
        old = Path(tempfile_name(self.out, "old"))
        os.rename(self.out, old)
        os.rename(tmp, self.out)
        shutil.rmtree(old, ignore_errors=True)


def tempfile_name(out: Path, kind: str) -> str:
    import uuid

    return str(out.parent / f".{out.name}.{kind}-{uuid.uuid4().hex[:12]}")


def _umask() -> int:
    """The process's umask, read without changing it (os.umask would, for every thread)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    return 0o022


def write_results(solution: Solution, dataset: Dataset | None, out: str | Path, alternatives=()) -> list[Path]:
    """Write the CLI's result files (summary.json, beds.csv, virtual_beds.csv,
    assignment.csv, result.gpkg, manifest.json; ``alternative_k/`` for each alternative)
    into ``out`` as one step (see :class:`ResultFolder`)."""
    with ResultFolder(out) as folder:
        return folder.write(solution, dataset, alternatives)
