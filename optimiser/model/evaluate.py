"""Evaluate mode: the same yardstick for a configuration drafted by hand.

The option fixes the beds on every unit and the virtual beds in every district; the same
formulation then only routes patients (hospital, home-based bed, or unmet) at the least
weighted travel and unmet demand. The scenario's hard rules (travel standard, minimum beds,
estate limits, budget, open-site counts) are not imposed: an option that breaks them is
still measured, and :func:`optimiser.checker.check` lists what it breaks.
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
        cap = capacity_steps(vb, rule, inst.rules.virtual_target)
        virtual = VirtualSizing(lo=vb, hi=vb, step=1, anchor=vb, anchor_capacity=cap,
                                slope=np.zeros(len(vb)), must_run=vb > 0, cost_per_bed=virtual.cost_per_bed)
    elif option.virtual_beds is not None and option.virtual_beds["beds"].sum() > 0:
        raise InputError("the option has virtual beds but the scenario switches virtual beds off",
                         file=option.source or option.name, column="virtual_beds")
    rules = Rules(single_assignment=inst.rules.single_assignment, capacity_limits=True,
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
    sol = solve_instance(fixed, option.name)
    breaks = tuple(rule_breaks(inst, sol.tables))
    return replace(sol, mode="evaluate", breaks=breaks, solve_seconds=time.perf_counter() - started,
                   notes=sol.notes + tuple(option.assumptions))
