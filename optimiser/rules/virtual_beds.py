"""Home-based (virtual) beds: per district an integer number of blocks of ``step`` beds, the
virtual-suitable patients the plan sends to a hospital bed instead (overflow) or places
nowhere, and the chord capacity of :class:`optimiser.instance.VirtualSizing`.

Violations: a district's beds outside its range or off its steps, a district that must run
home-based beds running none, more virtual-suitable patients routed elsewhere than exist.
(The hubs' queueing is checked with the capacity rule.)"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from optimiser.model.lp import INF
from optimiser.model.names import join
from optimiser.rules.base import RawSolution, Rule, Violation


def add_virtual_beds(f) -> None:
    """Virtual beds per district (integer blocks of ``step`` beds), the virtual-suitable
    patients who use a hospital bed instead (overflow) or go unserved, and the chord capacity
    described in :class:`optimiser.instance.VirtualSizing`."""
    inst, lp = f.instance, f.lp
    v = inst.virtual
    if v is None:
        return
    d_ids = inst.districts.ids
    n_d = len(d_ids)
    pids = np.asarray(inst.pathways.ids, object)
    # Bounds implied by the rows below, stated so that a fixed configuration is all bounds:
    # a district that must run has at least lo/step blocks; one allowed no block cannot run.
    blocks_hi = v.hi // v.step
    blocks_lo = np.where(v.must_run, np.minimum(np.ceil(v.lo / v.step), blocks_hi), 0)
    m = lp.add_variables("virtual_blocks", join("virtual_beds", d_ids, f"in_blocks_of_{v.step}"),
                         blocks_lo, blocks_hi, integer=True)
    w = lp.add_variables("virtual_run", join("runs_virtual_beds", d_ids), v.must_run.astype(float),
                         np.maximum(v.must_run, blocks_hi > 0).astype(float), integer=True)
    idx = np.arange(n_d)
    lp.add_constraints("virtual_min_beds", join("virtual_min_beds", d_ids), np.concatenate([idx, idx]),
                       np.concatenate([m, w]), np.concatenate([np.ones(n_d), -v.lo / v.step]), 0.0, INF)
    lp.add_constraints("virtual_max_beds", join("virtual_max_beds", d_ids), np.concatenate([idx, idx]),
                       np.concatenate([m, w]), np.concatenate([np.ones(n_d), -v.hi / v.step]), -INF, 0.0)
    od, os_, op = f.overflow_routes
    fcols = lp.add_variables("overflow", join("overflow", d_ids[od], "to", inst.sites.ids[os_], pids[op]), 0, INF)
    eligible = inst.virtual_admissions_by_district()
    gd, gp = np.nonzero(eligible > 0)
    gcols = lp.add_variables("virtual_unmet", join("virtual_unmet", d_ids[gd], pids[gp]), 0, INF)
    n_p = len(pids)
    row_of = -np.ones((n_d, n_p), int)
    row_of[gd, gp] = np.arange(len(gd))
    lp.add_constraints("virtual_balance", join("virtual_balance", d_ids[gd], pids[gp]),
                       np.concatenate([row_of[od, op], np.arange(len(gd))]), np.concatenate([fcols, gcols]),
                       1.0, -INF, eligible[gd, gp])
    vlos = inst.pathways.virtual_los_days / 365.0
    full_load = (eligible * vlos[None, :]).sum(axis=1)           # erlangs if all go virtual
    intercept = v.anchor_capacity - v.slope * v.anchor           # chord value at 0 beds
    slack = np.maximum(0.0, -intercept)                          # switched off when not running
    # carried = full_load - vlos*(overflow + unmet) <= intercept + slope*step*m + slack*(1 - w)
    rows = np.concatenate([od, gd, idx, idx])
    cols = np.concatenate([fcols, gcols, m, w])
    vals = np.concatenate([-vlos[op], -vlos[gp], -v.slope * v.step, slack])
    lp.add_constraints("virtual_capacity", join("virtual_capacity", d_ids), rows, cols, vals, -INF,
                       intercept + slack - full_load)
    # a district that runs no virtual beds carries no virtual load
    rows = np.concatenate([od, gd, idx])
    cols = np.concatenate([fcols, gcols, w])
    vals = np.concatenate([-vlos[op], -vlos[gp], -full_load])
    lp.add_constraints("virtual_needs_beds", join("virtual_load_needs_beds", d_ids), rows, cols, vals,
                       -INF, -full_load)


class VirtualBeds(Rule):
    name = "virtual_beds"
    label = "the minimum virtual beds per district"
    measured = False
    relaxable = True

    def active(self, inst) -> bool:
        return inst.virtual is not None and bool(inst.virtual.must_run.any())

    def add_rows(self, f) -> None:
        add_virtual_beds(f)

    def violations(self, inst, raw: RawSolution) -> list[Violation]:
        v = inst.virtual
        if v is None:
            return []
        out = []
        for k, code in enumerate(inst.districts.ids):
            b = int(raw.virtual_beds[k])
            if b > 0 and (b < v.lo[k] or b > v.hi[k] or b % v.step):
                out.append(Violation(self.name, code, b, f"{b} virtual beds outside {v.lo[k]}..{v.hi[k]} in steps of "
                                                         f"{v.step}"))
            if b == 0 and v.must_run[k]:
                out.append(Violation("virtual_min_beds", code, 0, "district must run virtual beds"))
        eligible = inst.virtual_admissions.copy()
        by_district = np.zeros((len(inst.districts.ids), eligible.shape[1]))
        np.add.at(by_district, inst.zones.district, eligible)
        sent = (raw.overflow.sum(axis=1) + raw.virtual_unmet).sum(axis=1)
        for k in np.flatnonzero(sent > by_district.sum(axis=1) + 1e-5):
            out.append(Violation("virtual_balance", inst.districts.ids[k], sent[k] - by_district[k].sum(),
                                 "more virtual-suitable patients routed elsewhere than exist"))
        return out

    def describe(self, inst) -> list[str]:
        v = inst.virtual
        n = int(v.must_run.sum()) if v is not None else 0
        return [f"home-based beds in {n} district(s) that must run them"] if n else []

    def relax(self, inst):
        v = inst.virtual
        if v is None:
            return inst
        return replace(inst, virtual=replace(v, lo=np.zeros_like(v.lo), must_run=np.zeros_like(v.must_run)))
