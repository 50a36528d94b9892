"""Scenarios that bring their own zones and travel matrix instead of a dataset: the classical
p-median (open exactly p sites, assign every zone, minimise weighted travel alone, no capacity
or cost), which is how the model is checked against published optima.

``inputs.travel_file``: a CSV travel matrix, long (zone_code, site_id, minutes) or wide (first
column zone codes, one column per site), or an OR-Library pmed file (``n m p`` graph).
``inputs.zones_file`` (optional): zone_code, demand [, population_65_plus] — the weights.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from optimiser.errors import InputError, ScenarioError
from optimiser.instance import Instance, SolverSettings
from optimiser.orlib import read_pmed


def _is_orlib(path: Path) -> bool:
    if path.suffix.lower() != ".txt":
        return False
    first = path.read_text(encoding="ascii", errors="replace").split("\n", 1)[0].split()
    return len(first) == 3 and all(t.isdigit() for t in first)


def read_travel(path: Path) -> pd.DataFrame:
    """Zones x sites minutes from a long or wide CSV; errors name file, row and column."""
    if not path.exists():
        raise InputError("travel file not found", file=path)
    try:
        raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise InputError(f"not a readable CSV ({type(exc).__name__})", file=path) from None
    if raw.empty:
        raise InputError("no rows", file=path)
    cols = [c.strip().lower() for c in raw.columns]
    if {"zone_code", "site_id", "minutes"} <= set(cols):
        raw.columns = cols
        minutes = pd.to_numeric(raw["minutes"], errors="coerce")
        bad = minutes.isna() | (minutes < 0)
        if bad.any():
            k = int(np.flatnonzero(bad.to_numpy())[0])
            raise InputError(f"travel time {raw['minutes'].iat[k]!r} is not a number of minutes >= 0", file=path,
                             row=k + 2, column="minutes")
        dup = raw.duplicated(["zone_code", "site_id"])
        if dup.any():
            k = int(np.flatnonzero(dup.to_numpy())[0])
            raise InputError(f"pair {raw['zone_code'].iat[k]} -> {raw['site_id'].iat[k]} appears twice", file=path,
                             row=k + 2, column="zone_code")
        wide = raw.assign(minutes=minutes).pivot(index="zone_code", columns="site_id", values="minutes")
        if wide.isna().any().any():
            z, s = np.argwhere(wide.isna().to_numpy())[0]
            raise InputError(f"no travel time for zone {wide.index[z]} to site {wide.columns[s]}", file=path,
                             expected="every zone-site pair")
        return wide
    if len(raw.columns) < 2:
        raise InputError("expected columns zone_code, site_id, minutes (long) or zone codes then one "
                         "column per site (wide)", file=path, column=raw.columns[0])
    wide = raw.set_index(raw.columns[0])
    values = wide.apply(pd.to_numeric, errors="coerce")
    bad = values.isna() | (values < 0)
    if bad.any().any():
        r, c = np.argwhere(bad.to_numpy())[0]
        raise InputError(f"travel time {wide.iat[r, c]!r} is not a number of minutes >= 0", file=path, row=int(r) + 2,
                         column=str(wide.columns[c]))
    if wide.index.duplicated().any():
        k = int(np.flatnonzero(wide.index.duplicated())[0])
        raise InputError(f"zone {wide.index[k]} appears twice", file=path, row=k + 2, column=raw.columns[0])
    return values


def read_zones(path: Path, zone_codes) -> np.ndarray:
    """Demand weight of each zone in ``zone_codes`` order."""
    if not path.exists():
        raise InputError("zones file not found", file=path)
    raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    cols = {c.strip().lower(): c for c in raw.columns}
    for need in ("zone_code", "demand"):
        if need not in cols:
            raise InputError(f"missing column '{need}'", file=path, column=need,
                             expected="zone_code, demand [, population_65_plus]")
    demand = pd.to_numeric(raw[cols["demand"]], errors="coerce")
    bad = demand.isna() | (demand < 0)
    if bad.any():
        k = int(np.flatnonzero(bad.to_numpy())[0])
        raise InputError(f"demand {raw[cols['demand']].iat[k]!r} is not a number >= 0", file=path, row=k + 2,
                         column="demand")
    codes = raw[cols["zone_code"]].str.strip()
    if codes.duplicated().any():
        k = int(np.flatnonzero(codes.duplicated().to_numpy())[0])
        raise InputError(f"zone {codes.iat[k]} appears twice", file=path, row=k + 2, column="zone_code")
    weights = pd.Series(demand.to_numpy(), index=codes)
    missing = [z for z in zone_codes if z not in weights.index]
    if missing:
        raise InputError(f"zone {missing[0]} of the travel matrix has no demand row", file=path,
                         column="zone_code")
    unknown = [z for z in weights.index if z not in set(zone_codes)]
    if unknown:
        k = int(np.flatnonzero(codes.to_numpy() == unknown[0])[0])
        raise InputError(f"zone {unknown[0]} is not in the travel matrix", file=path, row=k + 2, column="zone_code")
    return weights.reindex(list(zone_codes)).to_numpy(float)


def instance_from_custom_inputs(scenario, dataset=None) -> Instance:
    if scenario.mode != "p_median":
        raise ScenarioError("custom zone and travel files drive the classical p-median (mode: p_median); "
                            "for the full bed model import a dataset instead (python -m optimiser data import)",
                            key="mode")
    if not scenario.inputs.travel_file:
        raise ScenarioError("the p-median needs a travel matrix", key="inputs.travel_file")
    tpath = scenario.resolve_path(scenario.inputs.travel_file)
    sv = scenario.solver
    solver = SolverSettings.of(sv)
    p = scenario.open_sites.exactly
    if tpath.exists() and _is_orlib(tpath):
        dist, _ = read_pmed(tpath)
        ids = np.array([str(i + 1) for i in range(len(dist))], object)
        weights = read_zones(scenario.resolve_path(scenario.inputs.zones_file), ids) if scenario.inputs.zones_file \
            else np.ones(len(dist))
        return Instance.p_median(dist, p, weights, name=scenario.name, zone_ids=ids, site_ids=ids, solver=solver)
    wide = read_travel(Path(tpath))
    zone_ids = wide.index.to_numpy(object)
    site_ids = wide.columns.to_numpy(object)
    if scenario.inputs.sites_file:
        spath = scenario.resolve_path(scenario.inputs.sites_file)
        if not spath.exists():
            raise InputError("sites file not found", file=spath)
        sites = pd.read_csv(spath, dtype=str, keep_default_na=False)
        if "site_id" not in [c.strip().lower() for c in sites.columns]:
            raise InputError("missing column 'site_id'", file=spath, column="site_id")
        keep = sites[[c for c in sites.columns if c.strip().lower() == "site_id"][0]].str.strip().tolist()
        for k, s in enumerate(keep):
            if s not in set(site_ids):
                raise InputError(f"site {s} is not in the travel matrix", file=spath, row=k + 2, column="site_id")
        wide = wide[keep]
        site_ids = wide.columns.to_numpy(object)
    if not 1 <= p <= len(site_ids):
        raise ScenarioError(f"open_sites.exactly = {p} but there are {len(site_ids)} sites", key="open_sites.exactly")
    weights = read_zones(scenario.resolve_path(scenario.inputs.zones_file), zone_ids) if scenario.inputs.zones_file \
        else np.ones(len(zone_ids))
    return Instance.p_median(wide.to_numpy(float), p, weights, name=scenario.name, zone_ids=zone_ids,
                             site_ids=site_ids, solver=solver)
