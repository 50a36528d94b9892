"""Point a scenario's hospital references at another dataset's sites.

A scenario names hospitals by their ids in the dataset it was written for (the LLR default:
``st_lukes``, ``loughborough``, ...). An imported dataset gives its sites other ids (from its
own sites file). :func:`match_scenario_sites` finds each referenced hospital in the new
dataset by id, by ODS code or by name (through the dataset the scenario was written for),
and leaves out, saying so, any it cannot find; it never guesses between two candidates.
"""

from __future__ import annotations

import re

import pandas as pd

from optimiser.dataset.core import Dataset
from optimiser.scenario import Scenario

__all__ = ["match_scenario_sites"]


def _key(text) -> str:
    text = re.sub(r"['\u2019]", "", str(text).lower())
    text = re.sub(r"\b(community|memorial|hospital|centre|center|the)\b", " ", text)
    return re.sub(r"[^0-9a-z]", "", text)


def _keys_of(sites: pd.DataFrame, sid: str) -> list[str]:
    row = sites.loc[sid] if sid in sites.index else None
    keys = [_key(sid)]
    if row is not None:
        if str(row.get("ods_code", "") or ""):
            keys.insert(0, "ods:" + str(row["ods_code"]).upper())
        keys.append(_key(row.get("site_name", "")))
    return [k for k in keys if k and k != "ods:"]


def _index(sites: pd.DataFrame) -> dict[str, str | None]:
    """Loose key -> site id (None where two sites share a key: ambiguous, never guessed)."""
    found: dict[str, str | None] = {}
    for sid in sites.index:
        for key in dict.fromkeys(_keys_of(sites, sid)):
            found[key] = sid if key not in found else (None if found[key] != sid else sid)
    return found


def match_scenario_sites(scenario: Scenario, dataset: Dataset,
                         reference: Dataset | None = None) -> tuple[Scenario, list[str]]:
    """(scenario whose site references are ``dataset``'s ids, notes in plain words).
    ``reference``: the dataset the scenario's ids come from (for ODS codes and names)."""
    sites = dataset.sites
    present = set(sites.index)
    referenced = list(scenario.sites) + [s for spec in scenario.pathways.values() if spec.sites != "all"
                                         for s in spec.sites] + list(scenario.beds_today)
    if all(sid in present for sid in referenced):
        return scenario, []
    index = _index(sites)
    ref_sites = reference.sites if reference is not None else pd.DataFrame()
    names = sites["site_name"] if "site_name" in sites else pd.Series(dtype=str)
    cache: dict[str, str | None] = {}

    def find(sid: str) -> str | None:
        if sid in present:
            return sid
        if sid not in cache:
            hits = {index.get(k) for k in _keys_of(ref_sites, sid) if k in index} - {None}
            cache[sid] = hits.pop() if len(hits) == 1 else None
        return cache[sid]

    def label(sid: str) -> str:
        if sid in ref_sites.index and "site_name" in ref_sites:
            return f"{ref_sites.loc[sid, 'site_name']} ({sid})"
        return f"'{sid}'"

    notes: list[str] = []
    changes: dict = {}
    for sid in dict.fromkeys(referenced):
        new = find(sid)
        if new is not None and new != sid:
            notes.append(f"{label(sid)} is '{names.get(new, new)}' in this dataset.")
    if any(find(s) != s for s in scenario.sites):
        kept = {}
        for sid, spec in scenario.sites.items():
            new = find(sid)
            if new is None:
                notes.append(f"The setting for {label(sid)} ({spec.status}) was left out: the dataset has "
                             "no such hospital.")
            else:
                kept[new] = spec.model_dump()
        changes["sites"] = kept
    if any(find(s) != s for s in scenario.beds_today):
        beds = {}
        for sid, total in scenario.beds_today.items():
            new = find(sid)
            if new is None:
                notes.append(f"Beds today at {label(sid)} ({total}) were left out: the dataset has no such "
                             "hospital.")
            else:
                beds[new] = total
        changes["beds_today"] = beds
    for pid, spec in scenario.pathways.items():
        if spec.sites == "all" or all(find(s) == s for s in spec.sites):
            continue
        chosen = [find(s) for s in spec.sites]
        missing = [label(s) for s, n in zip(spec.sites, chosen, strict=True) if n is None]
        chosen = list(dict.fromkeys(n for n in chosen if n is not None))
        what = spec.label or pid
        if missing:
            notes.append(f"{what}: {', '.join(missing)} {'is' if len(missing) == 1 else 'are'} not in this "
                         "dataset and left out of the hospitals that may host it.")
        if not chosen:
            notes.append(f"{what}: no hospital of this dataset may host it now; choose them on the "
                         "Workshop page.")
        changes[f"pathways.{pid}.sites"] = chosen
    if not changes:
        return scenario, []
    return scenario.with_changes(**changes), notes
