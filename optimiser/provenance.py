"""Where a result came from: the dataset (and its SHA-256), what its populations and travel
times are, the scenario (and its SHA-256), the software, the solver, the date, and how many
of the figures used are assumptions.

:func:`result_provenance` builds the record; :func:`optimiser.api.solve` and friends attach
it to every :class:`~optimiser.solution.Solution`, and every export carries it:
``summary.json`` (``provenance``), the Excel "About" sheet, the GeoPackage "about" layer, the
map footers (PNG, PDF, HTML) and the district sheets. ``scenario_sha256`` is the SHA-256 of
the scenario's settings written as YAML (``Scenario.to_yaml()``, notes included), so it
identifies the settings a result used even when they were changed in the app;
``dataset_sha256`` is that of the dataset's GeoPackage file (datasets are written byte for
byte reproducibly, so an in-memory dataset is hashed as it would be saved).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from types import MappingProxyType
from typing import Any

PACKAGE = "llr-bed-optimiser"
# Attribution every export carries for the data it shows.
ATTRIBUTION = ("Contains ONS data and OS data (c) Crown copyright and database right; "
               "Open Government Licence v3.0")
_DIGESTS: dict[int, tuple[Any, str]] = {}


def software_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"{PACKAGE} {version(PACKAGE)}"
    except PackageNotFoundError:  # pragma: no cover - running from a source tree not installed
        return f"{PACKAGE} (version unknown)"


def dataset_sha256(dataset) -> str:
    """SHA-256 of the dataset's GeoPackage: of the file it was read from, or (for a dataset
    built in memory) of the file :func:`save_dataset` would write."""
    if getattr(dataset, "file_sha256", ""):
        return dataset.file_sha256
    cached = _DIGESTS.get(id(dataset))
    if cached is not None and cached[0] is dataset:
        return cached[1]
    import tempfile

    from optimiser.dataset.store import save_dataset

    with tempfile.TemporaryDirectory(prefix="llr-digest-") as folder:
        path = save_dataset(dataset, Path(folder) / "dataset.gpkg")
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
    _DIGESTS[id(dataset)] = (dataset, digest)
    return digest


_SCENARIO_DIGESTS: dict[int, tuple[Any, str]] = {}
SCENARIO_DIGESTS_KEPT = 32


def scenario_sha256(scenario) -> str:
    """SHA-256 of the scenario's settings as YAML. Scenarios are immutable, so the digest of
    the last few is kept (a workshop solves the same scenario again and again)."""
    cached = _SCENARIO_DIGESTS.get(id(scenario))
    if cached is not None and cached[0] is scenario:
        return cached[1]
    digest = hashlib.sha256(scenario.to_yaml().encode("utf-8")).hexdigest()
    _SCENARIO_DIGESTS[id(scenario)] = (scenario, digest)
    while len(_SCENARIO_DIGESTS) > SCENARIO_DIGESTS_KEPT:
        _SCENARIO_DIGESTS.pop(next(iter(_SCENARIO_DIGESTS)))
    return digest


def _files_sha256(paths: list[Path]) -> str:
    h = hashlib.sha256()
    for p in paths:
        h.update(p.read_bytes())
    return h.hexdigest()


def result_provenance(dataset, scenario, *, solver: str = "", option=None,
                      when: datetime | None = None) -> Mapping[str, Any]:
    """The provenance record of a result (a read-only mapping of plain values)."""
    notes = scenario.figures
    scenario_assumptions = sum(n.is_assumption for n in notes.values())
    record: dict[str, Any] = {}
    if dataset is not None:
        md = dataset.metadata
        record.update({
            "dataset": dataset.name,
            "dataset_sha256": dataset_sha256(dataset),
            "data": dataset.data_line(),
            "population_source": str(md.get("population_source") or md.get("population_method") or
                                     "not recorded"),
            "travel_source": str(md.get("travel_method") or "not recorded"),
        })
        dataset_assumptions = int(len(dataset.assumptions))
        user_supplied = int(len(dataset.user_supplied))
    else:   # custom zone and travel files named by the scenario
        files = [scenario.resolve_path(f) for f in (scenario.inputs.zones_file, scenario.inputs.travel_file,
                                                    scenario.inputs.sites_file) if f]
        names = ", ".join(p.name for p in files)
        record.update({
            "dataset": f"custom inputs: {names}",
            "dataset_sha256": _files_sha256(files),
            "data": f"user-supplied zones and travel times ({names})",
            "population_source": "user-supplied (zones file)",
            "travel_source": "user-supplied (travel file)",
        })
        dataset_assumptions, user_supplied = 0, len(files)
    record.update({
        "scenario": scenario.name,
        "scenario_sha256": scenario_sha256(scenario),
        "scenario_figures_with_notes": len(notes),
    })
    option_assumptions = 0
    if option is not None:
        option_assumptions = sum(n.is_assumption for n in option.figures.values())
        record["option"] = option.name
        record["assumption_figures_option"] = option_assumptions
    record.update({
        "assumption_figures_scenario": scenario_assumptions,
        "assumption_figures_dataset": dataset_assumptions,
        "assumption_figures": scenario_assumptions + dataset_assumptions + option_assumptions,
        "user_supplied_figures_dataset": user_supplied,
        "software": software_version(),
        "solver": solver,
        "date": (when or datetime.now(UTC)).isoformat(timespec="seconds"),
        "attribution": ATTRIBUTION,
    })
    return MappingProxyType(record)


LABELS = {
    "dataset": "Dataset", "dataset_sha256": "Dataset SHA-256", "data": "What the data is",
    "population_source": "Population source", "travel_source": "Travel times",
    "scenario": "Scenario", "scenario_sha256": "Scenario SHA-256 (of its settings as YAML)",
    "scenario_figures_with_notes": "Scenario figures with a source or assumption note",
    "option": "Option", "assumption_figures_option": "Option figures that are assumptions",
    "assumption_figures_scenario": "Scenario figures that are assumptions",
    "assumption_figures_dataset": "Dataset figures that are assumptions or estimates",
    "assumption_figures": "Assumption-flagged figures used (total)",
    "user_supplied_figures_dataset": "Dataset figures supplied by the user",
    "software": "Software", "solver": "Solver", "date": "Date (UTC)", "attribution": "Attribution",
}


def provenance_rows(record: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(label, value) pairs for an "About" table."""
    return [(LABELS.get(k, k), str(v)) for k, v in record.items()]


def footer_line(record: Mapping[str, Any]) -> str:
    """One line for a map or handout footer."""
    if not record:
        return ""
    parts = [f"Data: {record.get('data', '')}",
             f"dataset '{record.get('dataset', '')}' (SHA-256 {str(record.get('dataset_sha256', ''))[:12]})",
             f"scenario '{record.get('scenario', '')}' (SHA-256 {str(record.get('scenario_sha256', ''))[:12]})"]
    if record.get("option"):
        parts.append(f"option '{record['option']}'")
    parts += [f"{record.get('assumption_figures', 0)} assumption-flagged figures",
              str(record.get("software", "")), f"solver {record.get('solver', '')}",
              str(record.get("date", ""))[:10], str(record.get("attribution", ""))]
    return "; ".join(p for p in parts if p) + "."
