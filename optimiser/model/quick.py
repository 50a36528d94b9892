"""A quick answer for workshops: choose the beds on a coarse version of the map, then route
every small area exactly.

1. Small areas are grouped by district, nearest hospital and 12-minute band of the travel
   time to it (611 LLR areas become 27 groups); a group's travel time to each site is
   the demand-weighted mean of its members'. The full model on the groups is small; it is
   solved to within ``QUICK_MIP_GAP`` (1%), starting from the previous answer when there is
   one (a workshop moving one slider at a time).
2. The bed configuration it chooses (beds on each unit, virtual beds per district) is fixed
   and the full model re-solved on every small area: only routing is left, a linear
   programme. If the travel standard cannot be met at full resolution the quick answer is
   abandoned (the caller then runs the full solve).
3. The answer's distance from the best possible is bounded honestly by the full model's
   linear-programming relaxation, solved on a second thread while steps 1-2 run.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import numpy as np

from optimiser.instance import BedOptions, Instance, Zones
from optimiser.model.backends import solve_program
from optimiser.model.formulation import build
from optimiser.model.solve import Configuration, solve_instance
from optimiser.solution import Solution

BAND_MINUTES = 12.0
QUICK_MIP_GAP = 0.01   # the grouped model's own stopping gap; the answer's gap is measured separately


def aggregate_zones(inst: Instance, band_minutes: float = BAND_MINUTES) -> Instance:
    """The instance on groups of small areas (district, nearest site, travel band)."""
    near = np.argmin(inst.travel, axis=1)
    band = np.floor(inst.travel.min(axis=1) / band_minutes).astype(int)
    key = (inst.zones.district.astype(np.int64) * 1_000 + near) * 10_000 + band
    _, group = np.unique(key, return_inverse=True)
    n = int(group.max()) + 1

    def total(a: np.ndarray) -> np.ndarray:
        out = np.zeros((n,) + a.shape[1:])
        np.add.at(out, group, a)
        return out

    weight = inst.hospital_admissions.sum(axis=1) + inst.virtual_admissions.sum(axis=1) + 1e-9
    travel = total(inst.travel * weight[:, None]) / total(weight)[:, None]
    district = np.zeros(n, int)
    district[group] = inst.zones.district
    ids = np.array([f"group_{g}" for g in range(n)], object)
    zones = Zones(ids, ids, district, total(inst.zones.population), total(inst.zones.population_65))
    return replace(inst, zones=zones, travel=travel, hospital_admissions=total(inst.hospital_admissions),
                   virtual_admissions=total(inst.virtual_admissions),
                   solver=replace(inst.solver, alternatives=0))


def with_configuration(inst: Instance, unit_beds: np.ndarray, virtual_beds: np.ndarray | None) -> Instance:
    """The instance with each unit's beds and each district's virtual beds fixed."""
    opt = inst.options
    keep = opt.option_beds == unit_beds[opt.option_unit]
    options = BedOptions(opt.unit_site, opt.unit_ward, opt.unit_current, opt.option_unit[keep],
                         opt.option_beds[keep], opt.option_capacity[keep], opt.option_capital[keep])
    site_beds = np.bincount(opt.unit_site, weights=unit_beds, minlength=inst.n_sites)
    sites = replace(inst.sites, status=np.where(site_beds > 0, 1, -1).astype(np.int8))
    virtual = inst.virtual
    if virtual is not None and virtual_beds is not None:
        virtual = replace(virtual, lo=virtual_beds.astype(int), hi=virtual_beds.astype(int),
                          must_run=virtual_beds > 0)
    return replace(inst, sites=sites, options=options, virtual=virtual,
                   solver=replace(inst.solver, alternatives=0))


def lp_bound(inst: Instance) -> float | None:
    """The full model's linear-programming relaxation: no configuration can beat it."""
    f = build(inst)
    program = f.lp.freeze(inst.weights.as_dict())
    relaxed = replace(program, var_integer=np.zeros_like(program.var_integer))
    res = solve_program(relaxed, inst.solver.backend, ortools_solver=inst.solver.ortools_solver,
                        time_limit=inst.solver.time_limit_seconds, mip_gap=0.0)
    return res.objective if res.status.has_solution else None


def quick_solve(inst: Instance, name: str | None = None, start: Configuration | None = None) -> Solution | None:
    """A good configuration in about a second, with a proven bound on its distance from the
    best; ``None`` when the coarse configuration does not meet the rules at full resolution.
    ``start``: the previous answer's configuration, if any (speeds up a workshop re-solve)."""
    from optimiser.errors import InfeasibleError, SolveError

    started = time.perf_counter()
    split = inst.with_rules(single_assignment=False)
    with ThreadPoolExecutor(max_workers=1) as pool:
        bound_job = pool.submit(lp_bound, split)
        coarse_inst = aggregate_zones(inst)
        coarse_inst = replace(coarse_inst, solver=replace(coarse_inst.solver,
                                                          mip_gap=max(inst.solver.mip_gap, QUICK_MIP_GAP)))
        coarse = solve_instance(coarse_inst, name, start)   # raises InfeasibleError like the full model
        beds, vbeds = Configuration.of(coarse).arrays(inst)
        try:
            sol = solve_instance(with_configuration(split, beds, vbeds), name)
        except (InfeasibleError, SolveError):
            return None
        answered = time.perf_counter() - started
        bound = bound_job.result()
    gap = max(0.0, (sol.objective - bound) / sol.objective) if bound is not None and sol.objective else None
    note = ("quick answer: beds chosen on groups of small areas, then every small area routed exactly; "
            f"answer in {answered:.2f} s; the gap is measured against the full model's linear relaxation")
    return replace(sol, _instance=inst, status="feasible", optimality_gap=gap,
                   status_message="a quick answer (beds chosen on grouped areas, every area routed exactly)",
                   solver=f"{sol.solver} (quick)", solve_seconds=time.perf_counter() - started,
                   notes=sol.notes + (note,))
