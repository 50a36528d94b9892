"""A quick answer for workshops: choose the beds on a coarse version of the map, then route
every small area exactly.

1. Small areas are grouped by district, nearest hospital and 12-minute band of the travel
   time to it (611 LLR areas become 27 groups); a group's travel time to each site is
   the demand-weighted mean of its members'. The full model on the groups is small; it is
   solved to within ``QUICK_MIP_GAP`` (1%), starting from the previous answer when there is
   one (a workshop moving one slider at a time).
2. The bed configuration it chooses (beds on each unit, virtual beds per district) is fixed
   and the full model re-solved on every small area: only routing is left, a linear
   programme.
3. Meanwhile, on a second thread, the full model's linear-programming relaxation is solved.
   Its optimum bounds the answer's distance from the best honestly; and its solution,
   rounded up (each unit's smallest bed option that carries the load the relaxation sent
   it), is a second candidate, routed exactly like the first. At national scale the
   rounding is within 1% of the bound where the grouped model is 3% away; on LLR the
   grouped model wins.
4. The better candidate is the answer. If neither meets the rules at full resolution (or
   the grouped model and the relaxation both have none) the quick answer is abandoned: the
   caller runs the full solve, which also explains an infeasible scenario.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import numpy as np

from optimiser.configuration import Configuration, Policy, fix_arrays
from optimiser.errors import InfeasibleError, SolveError
from optimiser.instance import Instance, Zones
from optimiser.model import exact
from optimiser.model.backends import solve_program
from optimiser.model.formulation import Formulation, build, configuration_start
from optimiser.model.solve import _to_solution, solve_once
from optimiser.rules import REGISTRY
from optimiser.solution import Solution

BAND_MINUTES = 12.0
QUICK_MIP_GAP = 0.01   # the grouped model's own stopping gap; the answer's gap is measured separately


def aggregate_zones(inst: Instance, band_minutes: float = BAND_MINUTES) -> Instance:
    """The instance on groups of small areas (district, nearest site, travel band)."""
    near = np.argmin(inst.travel, axis=1)
    band = np.floor(inst.travel.min(axis=1) / band_minutes).astype(int)
    key = (inst.zones.district.astype(np.int64) * 1_000 + near) * 10_000 + band
    # With a deprivation limit, the most and the least deprived areas are kept apart (their
    # groups keep a decile of their own), so that the grouped model keeps the rule.
    dep = inst.rules.deprivation
    decile = np.asarray(inst.zones.deprivation_decile, int)
    if dep is not None and dep.limits:
        key = key * 3 + np.where(np.isin(decile, dep.most_deprived_deciles), 1,
                                 np.where(np.isin(decile, dep.least_deprived_deciles), 2, 0))
    _, group = np.unique(key, return_inverse=True)
    return grouped_instance(inst, group.ravel())


def grouped_instance(inst: Instance, group: np.ndarray) -> Instance:
    """The instance on groups of small areas (``group``: each zone's group number): demand and
    populations summed, travel (both matrices) the demand-weighted mean of the members', each
    group's district and deprivation decile those of a member (callers group within a district,
    and apart across a deprivation limit's groups)."""
    n = int(group.max()) + 1
    decile = np.asarray(inst.zones.deprivation_decile, int)

    def total(a: np.ndarray) -> np.ndarray:
        out = np.zeros((n,) + a.shape[1:])
        np.add.at(out, group, a)
        return out

    weight = inst.hospital_admissions.sum(axis=1) + inst.virtual_admissions.sum(axis=1) + 1e-9
    travel = total(inst.travel * weight[:, None]) / total(weight)[:, None]
    district = np.zeros(n, int)
    district[group] = inst.zones.district
    ids = np.array([f"group_{g}" for g in range(n)], object)
    group_decile = np.zeros(n, int)
    group_decile[group] = decile
    zones = Zones(ids=ids, names=ids.copy(), district=district, population=total(inst.zones.population),
                  population_65=total(inst.zones.population_65), deprivation_decile=group_decile)
    second = None if inst.second_travel is None else total(inst.second_travel * weight[:, None]) / total(weight)[:, None]
    return replace(inst, zones=zones, travel=travel, second_travel=second,
                   hospital_admissions=total(inst.hospital_admissions),
                   virtual_admissions=total(inst.virtual_admissions),
                   solver=replace(inst.solver, alternatives=0))


def with_configuration(inst: Instance, unit_beds: np.ndarray, virtual_beds: np.ndarray | None) -> Instance:
    """The instance with each unit's beds and each district's virtual beds fixed, the
    scenario's rules kept (:func:`optimiser.configuration.fix_arrays`)."""
    return fix_arrays(inst, unit_beds, virtual_beds, Policy.KEEP_RULES)


def lp_relaxation(inst: Instance) -> tuple[float, Formulation, np.ndarray] | None:
    """The full model's linear-programming relaxation: its optimum is a bound no configuration
    can beat, and its solution is the starting point of :func:`rounded_configuration`."""
    f = build(inst)
    program = f.lp.freeze(inst.weights.as_dict())
    relaxed = replace(program, var_integer=np.zeros_like(program.var_integer))
    res = solve_program(relaxed, inst.solver.backend, ortools_solver=inst.solver.ortools_solver,
                        time_limit=inst.solver.time_limit_seconds, mip_gap=0.0)
    return (res.objective, f, res.values) if res.status.has_solution else None


def rounded_configuration(f: Formulation, values: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """Round the relaxation up: each unit gets its smallest bed option that carries the load
    the relaxation routed to it, so the relaxation's routing stays feasible and the answer
    costs at most the rounding above the bound. Sites that must stay open keep beds, an open
    site is raised to the minimum beds, and each district's virtual beds are rounded up to
    whole blocks (its lower limit if it runs)."""
    inst, lp = f.instance, f.lp
    opt = inst.bed_choices
    n_units = len(opt.unit_site)
    load = np.bincount(f.unit_of_pair, weights=f.streams.load[f.pairs[0], f.pairs[2]] * values[lp.variables("assign")],
                       minlength=n_units)
    if lp.has_family("overflow"):
        op = f.overflow_routes[2]
        load += np.bincount(f.unit_of_route, weights=values[lp.variables("overflow")] * inst.pathways.los_days[op] / 365.0,
                            minlength=n_units)
    must_open = inst.sites.status[opt.unit_site] > 0
    fits = opt.option_capacity >= load[opt.option_unit] * (1 - 1e-7) - 1e-9
    fits &= ~(must_open[opt.option_unit] & (opt.option_beds == 0))
    fits &= ~((inst.sites.status[opt.unit_site[opt.option_unit]] < 0) & (opt.option_beds > 0))
    beds = np.full(n_units, -1)
    # the fewest beds among the choices that fit; a unit none fits takes its largest option
    order = np.lexsort((opt.option_beds, ~fits, opt.option_unit))
    first = np.ones(len(order), bool)
    first[1:] = opt.option_unit[order][1:] != opt.option_unit[order][:-1]
    beds[opt.option_unit[order[first]]] = opt.option_beds[order[first]]
    none_fit = ~np.bincount(opt.option_unit, weights=fits, minlength=n_units).astype(bool)
    if none_fit.any():
        largest = np.zeros(n_units, int)
        np.maximum.at(largest, opt.option_unit, opt.option_beds)
        beds[none_fit] = largest[none_fit]
    # Rounding can break a site-level rule (two wards rounded up past the estate limit, an
    # open site below the minimum): each rule family repairs its own, in registry order.
    for rule in REGISTRY:
        beds = rule.repair(inst, beds)
    virtual = None
    if inst.virtual is not None:
        v = inst.virtual
        blocks = np.ceil(values[lp.variables("virtual_blocks")] - 1e-6)
        runs = (blocks > 0) | v.must_run
        blocks = np.where(runs, np.maximum(blocks, np.ceil(v.lo / v.step)), 0)
        virtual = (np.minimum(blocks, v.hi // v.step) * v.step).astype(int)
    return beds.astype(int), virtual


def _routed(inst: Instance, beds: np.ndarray, vbeds: np.ndarray | None, name: str | None) -> Solution | None:
    """Every small area routed exactly with the configuration fixed; ``None`` if it breaks a rule."""
    try:
        return solve_once(with_configuration(inst, beds, vbeds), name, explain_infeasible=False)
    except (InfeasibleError, SolveError):
        return None


def _bound_and_rounded(split: Instance) -> tuple[float | None, tuple | None, float]:
    """The relaxation's bound; its rounded-up configuration; and what that configuration
    would score with the relaxation's own routing (its objective, unless a repair for an
    estate limit or minimum beds took load away: then only an estimate)."""
    relaxation = lp_relaxation(split)
    if relaxation is None:
        return None, None, np.inf
    bound, f, values = relaxation
    if not split.rules.capacity_limits or f.radius_form:
        return bound, None, np.inf
    configuration = rounded_configuration(f, values)
    cost = f.lp.term_vector("cost")
    rounded_cost = cost @ np.nan_to_num(configuration_start(f, *configuration))
    return bound, configuration, bound + split.weights.cost * (rounded_cost - cost @ values)


def quick_solve(inst: Instance, name: str | None = None, start: Configuration | None = None,
                grouped_proof: bool = True) -> Solution | None:
    """A good configuration in about a second, with a proven bound on its distance from the
    best; ``None`` when neither candidate configuration meets the rules at full resolution.
    ``start``: the previous answer's configuration, if any (speeds up a workshop re-solve).

    Where :mod:`optimiser.model.exact` applies (capacitated maps up to a few thousand areas)
    and ``grouped_proof`` is left on, the quick answer is its solve at the quick tolerance
    (``QUICK_MIP_GAP``): its branch-and-bound dives to an answer of its own (and tries
    ``start``, if given, first), asks the grouped model for one only if the proof does not
    close soon, and proves the gap on grouped relaxations. Otherwise, the steps described in
    this module."""
    started = time.perf_counter()
    split = inst.with_rules(single_assignment=False)
    if grouped_proof and exact.applies(split):
        quick = _quick_by_grouped_proof(split, inst, name, start, started)
        if quick is not None:
            return quick
    candidates = []
    with ThreadPoolExecutor(max_workers=1) as pool:
        relaxation_job = pool.submit(_bound_and_rounded, split)
        coarse_inst = aggregate_zones(inst)
        coarse_inst = replace(coarse_inst, solver=replace(coarse_inst.solver,
                                                          mip_gap=max(inst.solver.mip_gap, QUICK_MIP_GAP)))
        try:
            coarse = solve_once(coarse_inst, name, start, explain_infeasible=False, grouped_proof=False)
        except (InfeasibleError, SolveError):
            coarse = None   # the grouped areas cannot meet the rules; the rounded candidate may
        grouped = None if coarse is None else _routed(split, *Configuration.of(coarse).arrays(inst), name)
        if grouped is not None:
            candidates.append(("beds chosen on groups of small areas", grouped))
        bound, rounded, rounded_estimate = relaxation_job.result()
    # Route the rounded configuration only where it may win (on LLR it is about 4% behind and
    # the routing would cost a tenth of the workshop's second).
    if rounded is not None and (grouped is None or rounded_estimate < grouped.objective):
        routed = _routed(split, *rounded, name)
        if routed is not None:
            candidates.append(("beds rounded up from the linear relaxation", routed))
    if not candidates:
        return None
    how, sol = min(candidates, key=lambda c: c[1].objective)
    answered = time.perf_counter() - started
    against = "the full model's linear relaxation"
    if exact.applies(split) and sol.objective:
        # the grouped branch-and-bound proves the answer within the quick tolerance, where the
        # relaxation alone leaves a few percent (fractional sites paying part of their cost)
        grouped = exact.grouped_bound(split, sol.objective, max(inst.solver.mip_gap, QUICK_MIP_GAP))
        if grouped is not None and (bound is None or grouped > bound):
            bound, against = grouped, "a branch-and-bound on grouped relaxations of the full model"
    gap = max(0.0, (sol.objective - bound) / sol.objective) if bound is not None and sol.objective else None
    note = (f"quick answer: {how}, then every small area routed exactly; answer in {answered:.2f} s; "
            f"the gap is measured against {against}")
    stopped = sol.stopped_by_time_limit or (coarse is not None and coarse.stopped_by_time_limit)
    within = f", proven within {gap:.1%} of the best possible" if gap is not None else ""
    return replace(sol, _instance=inst, status="quick", optimality_gap=gap, stopped_by_time_limit=stopped,
                   status_message=f"a quick answer ({how}, every area routed exactly){within}",
                   solver=f"{sol.solver} (quick)", solve_seconds=time.perf_counter() - started,
                   notes=sol.notes + (note,))


def _quick_by_grouped_proof(split: Instance, inst: Instance, name: str | None, start: Configuration | None,
                            started: float) -> Solution | None:
    target = max(inst.solver.mip_gap, QUICK_MIP_GAP)
    done = exact.solve_exact(split, None if start is None else start.arrays(split), target_gap=target)
    if done is None or not done.proven or not done.result.status.has_solution:
        return None
    sol = _to_solution(done.formulation, done.result, name or inst.name, started)
    how = "beds chosen by a branch-and-bound on groups of small areas"
    how += ", the previous answer tried first" if start is not None else ""
    how += ", every small area routed exactly"
    note = (f"quick answer: {how}; answer in {time.perf_counter() - started:.2f} s; the gap is "
            "measured against a branch-and-bound on grouped relaxations of the full model")
    gap = sol.optimality_gap
    within = f", proven within {gap:.1%} of the best possible" if gap is not None else ""
    return replace(sol, _instance=inst, status="quick", status_message=f"a quick answer ({how}){within}",
                   solver=f"{sol.solver} (quick)", notes=sol.notes + (note,))
