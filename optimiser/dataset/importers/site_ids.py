"""Site ids of a scenario: imported sites take the scenario's ids by ODS code, name or id."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from optimiser.dataset.importers.sites import _Sites
from optimiser.dataset.importers.tables import _key, _slug
from optimiser.errors import InputError


@dataclass
class SiteMatch:
    """How the imported sites were matched to a scenario's sites (by ODS code, name or id)."""

    matched: list[tuple[str, str, str]]      # (site name, id adopted, matched by)
    unmatched: list[tuple[str, str]]         # (site name, id kept) of imported sites matching none
    missing: list[str]                       # register ids no imported site matched

    def describe(self) -> str:
        parts = [f"{len(self.matched)} of {len(self.matched) + len(self.unmatched)} imported sites "
                 "take the scenario's site ids" + (": " + ", ".join(f"{i} ({n}, by {how})"
                                                              for n, i, how in self.matched)
                                                  if self.matched else "")]
        if self.unmatched:
            parts.append("matching none of the scenario's sites (ids kept from the sites file): " +
                         ", ".join(f"{n} ({i})" for n, i in self.unmatched))
        if self.missing:
            parts.append("the scenario's sites not imported: " + ", ".join(self.missing))
        return "; ".join(parts)


def _adopt_site_ids(sites: _Sites, register: pd.DataFrame) -> tuple[_Sites, SiteMatch]:
    """Give each imported site the id of the ``register`` site (a dataset's sites table:
    site_id index, ods_code, site_name) with the same ODS code, else the same name, else the
    same id; sites matching none keep their own id."""
    frame = sites.frame.copy()
    by_ods = {str(o).strip().upper(): i for i, o in register["ods_code"].items() if str(o).strip()}
    by_name = {k: i for i, k in zip(register.index, _key(register["site_name"]), strict=True) if k}
    by_name.update({k: i for i, k in zip(register.index, _key(_slug(register["site_name"])), strict=True) if k})
    by_id = {k: i for i, k in zip(register.index, _key(register.index.to_series()), strict=True)}
    taken: set[str] = set()
    new_ids, matched, unmatched = [], [], []
    for sid, row in frame.iterrows():
        found, how = None, ""
        for lookup, key, label in ((by_ods, str(row["ods_code"]).strip().upper(), "ODS code"),
                                   (by_name, _key(pd.Series([row["site_name"]])).iloc[0], "name"),
                                   (by_name, _key(_slug(pd.Series([row["site_name"]]))).iloc[0], "name"),
                                   (by_id, _key(pd.Series([sid])).iloc[0], "id")):
            if key and key in lookup and lookup[key] not in taken:
                found, how = lookup[key], label
                break
        if found is None:
            new_ids.append(sid)
            unmatched.append((str(row["site_name"]), str(sid)))
            continue
        taken.add(found)
        new_ids.append(found)
        matched.append((str(row["site_name"]), str(found), how))
    frame["file_id"] = frame.index.to_numpy()
    frame.index = pd.Index(new_ids, name="site_id")
    if frame.index.duplicated().any():
        dup = frame.index[frame.index.duplicated()][0]
        raise InputError(f"two imported sites would share the id '{dup}'", file=sites.table.file,
                         expected="sites that match different sites of the scenario")
    missing = [i for i in register.index if i not in taken]
    sites = _Sites(sites.table, frame, sites.given, sites.excluded_keys, sites.types, sites.excluded_points)
    return sites, SiteMatch(matched, unmatched, missing)


def scenario_site_references(scenario) -> dict[str, str]:
    """Every site id a scenario names -> the setting that names it."""
    refs: dict[str, str] = {}
    for pid, spec in scenario.pathways.items():
        if spec.sites != "all":
            for sid in spec.sites:
                refs.setdefault(sid, f"pathways.{pid}.sites")
    for sid in scenario.sites:
        refs.setdefault(sid, f"sites.{sid}")
    return refs
