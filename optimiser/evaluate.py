"""Evaluate mode: the same yardstick for a configuration drafted by hand.

The option fixes the beds on every unit and the virtual beds in every district. Patients
then use the beds that exist, as they would in practice: each is first sent to the nearest
hospital hosting their pathway within the travel limit, a virtual-suitable patient to their
district's hub if it runs home-based beds; the patient-flow model (:mod:`optimiser.flow`)
says what happens next — who finds a bed, who goes on to the next hospital, who is turned
away — and the occupancy and blocking that follow. No solver is involved. An option that
also fixes the routing (saved from an optimiser run) is measured with its own routing and
onward plan. The scenario's rules (travel standard, minimum beds, estate limits, budget,
open-site counts, the blocking target) are not imposed: an option that breaks them is still
measured, and ``Solution.breaks`` lists what it breaks.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd

from optimiser.checker import rule_breaks
from optimiser.configuration import Configuration, Policy, fix
from optimiser.errors import InputError
from optimiser.flow import reachable_units
from optimiser.instance import Instance
from optimiser.options import Option
from optimiser.solution import Solution, Tables, compute_metrics, empty_onward, weighted_objective


def option_units(inst: Instance, option: Option) -> pd.DataFrame:
    """Beds per (site, ward) from an option whose keys are wards or pathways."""
    site_ids = set(inst.sites.ids)
    wards = list(inst.wards)
    pathway_ward = {p: wards[inst.pathways.ward[i]] for i, p in enumerate(inst.pathways.ids)}
    rows = []
    for r in option.beds.itertuples(index=False):
        where = option.source or option.name
        if r.site_id not in site_ids:
            raise InputError(f"site '{r.site_id}' is not in the dataset (sites: {', '.join(sorted(site_ids))})",
                             file=where, column=f"beds.{r.site_id}")
        if r.key in wards:
            ward = r.key
        elif r.key in pathway_ward:
            ward = pathway_ward[r.key]
        else:
            raise InputError(f"'{r.key}' is neither a ward type ({', '.join(wards)}) nor a pathway "
                             f"({', '.join(pathway_ward)}) of the scenario", file=where,
                             column=f"beds.{r.site_id}.{r.key}")
        rows.append((r.site_id, ward, int(r.beds)))
    table = pd.DataFrame(rows, columns=["site_id", "ward", "beds"])
    return table.groupby(["site_id", "ward"], as_index=False, sort=False)["beds"].sum()


def option_virtual_beds(inst: Instance, option: Option, current: pd.Series | None) -> np.ndarray:
    d_ids = list(inst.districts.ids)
    out = np.zeros(len(d_ids), int)
    if option.virtual_beds is None:
        if current is not None:
            out[:] = current.reindex(d_ids).fillna(0).astype(int).to_numpy()
        return out
    for r in option.virtual_beds.itertuples(index=False):
        if r.district_code not in d_ids:
            raise InputError(f"district '{r.district_code}' is not in the dataset", file=option.source or option.name,
                             column=f"virtual_beds.{r.district_code}")
        out[d_ids.index(r.district_code)] = int(r.beds)
    return out


def configuration_of(inst: Instance, option: Option, current_virtual: pd.Series | None = None) -> Configuration:
    """The option's configuration on ``inst``'s units and districts (its keys may be wards or
    pathways; home-based beds 'current' are today's)."""
    units = option_units(inst, option)
    opt = inst.bed_choices
    hosted = {(str(inst.sites.ids[s]), str(inst.wards[w])) for s, w in zip(opt.unit_site, opt.unit_ward, strict=True)}
    for r in units.itertuples(index=False):
        if (r.site_id, r.ward) not in hosted and r.beds > 0:
            raise InputError(f"site '{r.site_id}' cannot host the '{r.ward}' ward under this scenario "
                             "(see the pathway's sites)", file=option.source or option.name,
                             column=f"beds.{r.site_id}")
    if inst.virtual is None and option.virtual_beds is not None and option.virtual_beds["beds"].sum() > 0:
        raise InputError("the option has virtual beds but the scenario switches virtual beds off",
                         file=option.source or option.name, column="virtual_beds")
    virtual = option_virtual_beds(inst, option, current_virtual)
    return Configuration(unit_beds={(r.site_id, r.ward): int(r.beds) for r in units.itertuples(index=False)},
                         virtual_beds={str(d): int(b) for d, b in zip(inst.districts.ids, virtual, strict=True)})


def fixed_instance(inst: Instance, option: Option, current_virtual: pd.Series | None = None) -> Instance:
    """The instance with every decision but the routing fixed by ``option``, measured only."""
    return fix(inst, configuration_of(inst, option, current_virtual), Policy.MEASURE, name=option.name)


def nearest_first_choices(inst: Instance) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(assignment, unmet) tables sending every zone's hospital patients of each pathway to
    the nearest reachable unit with beds of the pathway's own ward (unmet where none)."""
    beds = inst.bed_choices.option_beds                 # a fixed instance: one option per unit
    reach = reachable_units(inst, beds, fallback=False)
    first = reach[:, :, 0] if reach.shape[2] else -np.ones(inst.hospital_admissions.shape, int)
    need = inst.hospital_admissions > 0
    zi, pi = np.nonzero(need & (first >= 0))
    assignment = pd.DataFrame({"zone_code": inst.zones.ids[zi], "site_id": inst.sites.ids[inst.bed_choices.unit_site[first[zi, pi]]],
                               "pathway": np.asarray(inst.pathways.ids, object)[pi], "share": 1.0})
    uz, up = np.nonzero(need & (first < 0))
    unmet = pd.DataFrame({"zone_code": inst.zones.ids[uz], "pathway": np.asarray(inst.pathways.ids, object)[up],
                          "share": 1.0})
    return assignment, unmet


def evaluate_option(inst: Instance, option: Option, current_virtual: pd.Series | None = None) -> Solution:
    """Measure ``option`` under the scenario compiled into ``inst``; returns a Solution with
    ``mode='evaluate'`` and ``breaks`` listing the scenario rules it does not meet."""
    started = time.perf_counter()
    if current_virtual is None and inst.districts.current_virtual_beds is not None:
        current_virtual = pd.Series(inst.districts.current_virtual_beds, index=inst.districts.ids)
    fixed = fixed_instance(inst, option, current_virtual)
    if option.assignment is not None:
        tables = _given_tables(fixed, option)
        message = "evaluated: the option's own beds and catchments"
    else:
        assignment, unmet = nearest_first_choices(fixed)
        tables = Tables(_units_of(fixed), assignment, unmet, _virtual_of(fixed),
                        pd.DataFrame(columns=["district_code", "site_id", "pathway", "admissions_per_year"]),
                        pd.DataFrame(columns=["district_code", "pathway", "admissions_per_year"]),
                        routing="nearest")
        message = "evaluated: the option's beds, patients first sent to their nearest hospital"
    metrics = compute_metrics(fixed, tables)
    return Solution(name=option.name, status="evaluated", status_message=message,
                    objective=weighted_objective(fixed, metrics), tables=tables, metrics=metrics,
                    solver="none (patient-flow model)", mode="evaluate",
                    breaks=tuple(rule_breaks(inst, tables)), solve_seconds=time.perf_counter() - started,
                    notes=inst.notes + tuple(option.assumptions), _instance=fixed)


def _units_of(fixed: Instance) -> pd.DataFrame:
    opt = fixed.bed_choices
    return pd.DataFrame({"site_id": fixed.sites.ids[opt.unit_site], "ward": np.asarray(fixed.wards, object)[opt.unit_ward],
                         "beds": opt.option_beds})


def _virtual_of(fixed: Instance) -> pd.DataFrame:
    if fixed.virtual is None:
        return pd.DataFrame(columns=["district_code", "beds"])
    return pd.DataFrame({"district_code": fixed.districts.ids, "beds": fixed.virtual.hi})


def _given_tables(fixed: Instance, option: Option) -> Tables:
    """The option's own routing (saved from an optimiser run): its assignment, the
    virtual-suitable patients it sends to hospital or leaves unplaced, and its onward plan."""
    where = option.source or option.name
    a = option.assignment
    zones, sites, pids = pd.Index(fixed.zones.ids), pd.Index(fixed.sites.ids), pd.Index(fixed.pathways.ids)
    for col, index in (("zone_code", zones), ("site_id", sites), ("pathway", pids)):
        bad = index.get_indexer(a[col]) < 0
        if bad.any():
            k = int(np.flatnonzero(bad)[0])
            raise InputError(f"unknown {col.replace('_', ' ')} '{a[col].iat[k]}'", file=where, row=k + 1,
                             column=f"assignment.{col}")
    zi, pi = zones.get_indexer(a["zone_code"]), pids.get_indexer(a["pathway"])
    total = np.zeros(fixed.hospital_admissions.shape)
    np.add.at(total, (zi, pi), a["share"].to_numpy(float))
    if (total > 1 + 1e-6).any():
        z, p = np.argwhere(total > 1 + 1e-6)[0]
        raise InputError(f"zone {fixed.zones.ids[z]}'s {fixed.pathways.ids[p]} shares add up to {total[z, p]:.3f}, "
                         "more than 1", file=where, column="assignment")
    need = fixed.hospital_admissions > 0
    uz, up = np.nonzero(need & (total < 1 - 1e-6))
    unmet = pd.DataFrame({"zone_code": fixed.zones.ids[uz], "pathway": np.asarray(fixed.pathways.ids, object)[up],
                          "share": 1 - total[uz, up]})
    overflow = (option.overflow.copy() if option.overflow is not None
                else pd.DataFrame(columns=["district_code", "site_id", "pathway", "admissions_per_year"]))
    virtual_unmet = (option.virtual_unmet.copy() if option.virtual_unmet is not None
                     else pd.DataFrame(columns=["district_code", "pathway", "admissions_per_year"]))
    onward = option.onward.copy() if option.onward is not None else empty_onward()
    return Tables(_units_of(fixed), a.copy(), unmet, _virtual_of(fixed), overflow, virtual_unmet, onward)
