"""Evaluate mode: the same yardstick for a configuration drafted by hand.

The option fixes the beds on every unit and the virtual beds in every district. Patients
then use the beds that exist, as they would in practice: each goes to the nearest hospital
hosting their pathway within the travel limit (the same formulation, routing only, with the
capacity rows dropped), and every virtual-suitable patient of a district that runs virtual
beds gets one. The queueing model then says what that load means: occupancy, the chance a
patient finds no free bed and how many a year do. Demand is unmet only where no hospital
with the pathway is within reach. The scenario's rules (travel standard, minimum beds,
estate limits, budget, open-site counts, the blocking target) are not imposed: an option
that breaks them is still measured, and ``Solution.breaks`` lists what it breaks.
"""

from __future__ import annotations

import time
from dataclasses import replace

import numpy as np
import pandas as pd

from optimiser.errors import InputError
from optimiser.instance import BedOptions, Instance, Rules, VirtualSizing
from optimiser.options import Option
from optimiser.queueing import capacity_steps
from optimiser.solution import Solution, Tables, compute_metrics, weighted_objective


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


def fixed_instance(inst: Instance, option: Option, current_virtual: pd.Series | None = None) -> Instance:
    """The instance with every decision but the routing fixed by ``option``."""
    opt = inst.options
    units = option_units(inst, option)
    key = {(inst.sites.ids[s], inst.wards[w]): u for u, (s, w) in enumerate(zip(opt.unit_site, opt.unit_ward))}
    beds = np.zeros(len(opt.unit_site), int)
    for r in units.itertuples(index=False):
        u = key.get((r.site_id, r.ward))
        if u is None:
            if r.beds == 0:
                continue
            raise InputError(f"site '{r.site_id}' cannot host the '{r.ward}' ward under this scenario "
                             "(see the pathway's sites)", file=option.source or option.name,
                             column=f"beds.{r.site_id}")
        beds[u] = r.beds
    rule, target = inst.rules.utilisation_rule, inst.rules.utilisation_target
    # Capital: new beds above today's, at the scenario's new-ward cost per ward-size block,
    # taken from the compiled options (the cost of the nearest listed option at or above).
    capital = np.zeros(len(beds))
    for u in range(len(beds)):
        mine = np.flatnonzero(opt.option_unit == u)
        above = mine[opt.option_beds[mine] >= beds[u]]
        pick = above[np.argmin(opt.option_beds[above])] if len(above) else mine[np.argmax(opt.option_beds[mine])]
        capital[u] = opt.option_capital[pick] if beds[u] > opt.unit_current[u] else 0.0
    options = BedOptions(opt.unit_site, opt.unit_ward, opt.unit_current, np.arange(len(beds)), beds,
                         capacity_steps(beds, rule, target), capital)
    site_beds = np.bincount(opt.unit_site, weights=beds, minlength=inst.n_sites)
    status = np.where(site_beds > 0, 1, -1).astype(np.int8)
    sites = replace(inst.sites, status=status, max_beds=np.maximum(inst.sites.max_beds, site_beds.astype(int)))
    virtual = inst.virtual
    if virtual is not None:
        vb = option_virtual_beds(inst, option, current_virtual)
        # No capacity ceiling: all suitable patients of a district with virtual beds use them.
        ceiling = np.full(len(vb), 1e6)
        virtual = VirtualSizing(lo=vb, hi=vb, step=1, anchor=vb, anchor_capacity=ceiling,
                                slope=np.zeros(len(vb)), must_run=vb > 0, cost_per_bed=virtual.cost_per_bed)
    elif option.virtual_beds is not None and option.virtual_beds["beds"].sum() > 0:
        raise InputError("the option has virtual beds but the scenario switches virtual beds off",
                         file=option.source or option.name, column="virtual_beds")
    rules = Rules(single_assignment=inst.rules.single_assignment, capacity_limits=False,
                  utilisation_rule=rule, utilisation_target=target, virtual_target=inst.rules.virtual_target)
    weights = replace(inst.weights, lexicographic=None)
    return replace(inst, name=option.name, sites=sites, options=options, virtual=virtual, rules=rules,
                   weights=weights)


def evaluate_option(inst: Instance, option: Option, current_virtual: pd.Series | None = None):
    """Measure ``option`` under the scenario compiled into ``inst``; returns a Solution with
    ``mode='evaluate'`` and ``breaks`` listing the scenario rules it does not meet."""
    from optimiser.checker import rule_breaks
    from optimiser.model.solve import solve_instance

    started = time.perf_counter()
    fixed = fixed_instance(inst, option, current_virtual)
    if option.assignment is not None:
        sol = _with_given_assignment(fixed, option)
    else:
        # Routing only: nearest open hospital; nothing left unmet that can be reached.
        routing = fixed.with_weights(cost=0.0, travel=1.0, unmet=1e6, equity=0.0)
        sol = replace(solve_instance(routing, option.name), _instance=fixed)
    breaks = tuple(rule_breaks(inst, sol.tables))
    return replace(sol, mode="evaluate", status="evaluated",
                   status_message="evaluated: the option's beds, patients routed to their nearest hospital"
                   if option.assignment is None else sol.status_message,
                   objective=weighted_objective(fixed, sol.metrics), breaks=breaks,
                   solve_seconds=time.perf_counter() - started, notes=sol.notes + tuple(option.assumptions))


def _with_given_assignment(fixed: Instance, option: Option) -> Solution:
    """Metrics for an option that also fixes which hospital each zone uses. Virtual-suitable
    patients of districts with virtual beds use them; the others use a hospital bed at the
    site their zone is assigned to."""
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
    opt = fixed.options
    units = pd.DataFrame({"site_id": fixed.sites.ids[opt.unit_site], "ward": np.asarray(fixed.wards, object)[opt.unit_ward],
                          "beds": opt.option_beds})
    virtual = pd.DataFrame(columns=["district_code", "beds"])
    overflow = pd.DataFrame(columns=["district_code", "site_id", "pathway", "admissions_per_year"])
    virtual_unmet = pd.DataFrame(columns=["district_code", "pathway", "admissions_per_year"])
    if fixed.virtual is not None and option.overflow is not None:
        virtual = pd.DataFrame({"district_code": fixed.districts.ids, "beds": fixed.virtual.hi})
        overflow = option.overflow.copy()
        if option.virtual_unmet is not None:
            virtual_unmet = option.virtual_unmet.copy()
    elif fixed.virtual is not None:
        virtual = pd.DataFrame({"district_code": fixed.districts.ids, "beds": fixed.virtual.hi})
        eligible = fixed.virtual_admissions_by_district()
        no_virtual = fixed.virtual.hi <= 0
        rows = []
        for d in np.flatnonzero(no_virtual):
            for p in np.flatnonzero(eligible[d] > 0):
                j = int(np.argmin(np.where(fixed.pathways.site_allowed[p] & (fixed.sites.status >= 0),
                                           fixed.district_site_travel[d], np.inf)))
                rows.append((fixed.districts.ids[d], fixed.sites.ids[j], str(fixed.pathways.ids[p]), eligible[d, p]))
        if rows:
            overflow = pd.DataFrame(rows, columns=overflow.columns)
    tables = Tables(units, a.copy(), unmet, virtual, overflow, virtual_unmet)
    metrics = compute_metrics(fixed, tables)
    return Solution(name=option.name, status="evaluated",
                    status_message="evaluated: the option's own beds and catchments", objective=None,
                    tables=tables, metrics=metrics, solver="none", mode="evaluate", _instance=fixed)
