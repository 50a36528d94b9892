"""Solve an instance: build once, emit to a backend, read the answer back into tables.

``solve_instance`` handles the weighted-sum and lexicographic objectives and the k best
distinct configurations; an infeasible instance is handed to
:mod:`optimiser.model.diagnose`, which explains it in plain English.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace

import numpy as np
import pandas as pd

from optimiser.configuration import Configuration
from optimiser.errors import InfeasibleError, SolveError
from optimiser.instance import Instance
from optimiser.model.backends import RawResult, Status, solve_program
from optimiser.model.diagnose import Explanation, explain_infeasibility
from optimiser.model.formulation import Formulation, add_exclusion_cut, build, configuration_start
from optimiser.solution import Solution, Tables, compute_metrics, empty_onward

VALUE_TOL = 1e-6
Extra = Callable[[Formulation], None]


def decode(f: Formulation, values: np.ndarray) -> Tables:
    """Tables from a solver's column values."""
    inst, lp = f.instance, f.lp
    opt = inst.bed_choices
    y = values[lp.variables("bed_option")]
    chosen = y > 0.5
    units = pd.DataFrame({"site_id": inst.sites.ids[opt.unit_site[opt.option_unit[chosen]]],
                          "ward": np.asarray(inst.wards, object)[opt.unit_ward[opt.option_unit[chosen]]],
                          "beds": opt.option_beds[chosen].astype(int)})
    pids = np.asarray(inst.pathways.ids, object)
    z, s, k = f.pairs
    x, u = f.assignment_values(values)
    if inst.rules.single_assignment:
        x = np.round(x)
    assignment = _expand_streams(f, pd.DataFrame({"zone": z, "site_id": inst.sites.ids[s], "stream": k, "share": x}))
    dz, dk = f.demand_rows
    if inst.rules.single_assignment:
        u = np.round(u)
    unmet = _expand_streams(f, pd.DataFrame({"zone": dz, "stream": dk, "share": u}))
    if inst.virtual is not None:
        v = inst.virtual
        blocks = np.round(values[lp.variables("virtual_blocks")]).astype(int)
        virtual = pd.DataFrame({"district_code": inst.districts.ids, "beds": blocks * v.step})
        od, os_, op = f.overflow_routes
        fv = values[lp.variables("overflow")]
        keep = fv > VALUE_TOL
        overflow = pd.DataFrame({"district_code": inst.districts.ids[od[keep]], "site_id": inst.sites.ids[os_[keep]],
                                 "pathway": pids[op[keep]], "admissions_per_year": fv[keep]})
        eligible = inst.virtual_admissions_by_district()
        gd, gp = np.nonzero(eligible > 0)
        gv = values[lp.variables("virtual_unmet")]
        keep = gv > VALUE_TOL
        virtual_unmet = pd.DataFrame({"district_code": inst.districts.ids[gd[keep]], "pathway": pids[gp[keep]],
                                      "admissions_per_year": gv[keep]})
    else:
        virtual = pd.DataFrame(columns=["district_code", "beds"])
        overflow = pd.DataFrame(columns=["district_code", "site_id", "pathway", "admissions_per_year"])
        virtual_unmet = pd.DataFrame(columns=["district_code", "pathway", "admissions_per_year"])
    return Tables(units, assignment, unmet, virtual, overflow, virtual_unmet, _onward_table(f, values))


def _onward_table(f: Formulation, values: np.ndarray) -> pd.DataFrame:
    """The plan's onward flows (see :class:`optimiser.solution.Tables`)."""
    if f.onward is None:
        return empty_onward()
    inst, r = f.instance, f.onward
    opt = inst.bed_choices
    n_u = r.n_units
    w = values[f.lp.variables("onward")]
    t = values[f.lp.variables("turned_away")]
    site_of = np.concatenate([inst.sites.ids[opt.unit_site], np.full(len(r.hub_district), "", object)])
    ward_of = np.concatenate([np.asarray(inst.wards, object)[opt.unit_ward], np.full(len(r.hub_district), "", object)])
    district_of = np.concatenate([np.full(n_u, "", object), inst.districts.ids[r.hub_district]])
    pathway_of = np.concatenate([np.full(n_u, "", object), np.asarray(inst.pathways.ids, object)[r.hub_pathway]])
    src = np.concatenate([r.source, np.arange(len(t))])
    to_site = np.concatenate([inst.sites.ids[opt.unit_site[r.target]], np.full(len(t), "", object)])
    to_ward = np.concatenate([np.asarray(inst.wards, object)[opt.unit_ward[r.target]], np.full(len(t), "", object)])
    erl = np.concatenate([w, t])
    keep = erl > VALUE_TOL
    return pd.DataFrame({"from_site_id": site_of[src[keep]], "from_ward": ward_of[src[keep]],
                         "from_district_code": district_of[src[keep]], "from_pathway": pathway_of[src[keep]],
                         "to_site_id": to_site[keep], "to_ward": to_ward[keep], "erlangs": erl[keep]})


def _expand_streams(f: Formulation, table: pd.DataFrame) -> pd.DataFrame:
    """Rows per (zone, stream) -> rows per (zone, pathway) for the pathways of the stream that
    the zone has hospital demand for; drops zero shares."""
    inst = f.instance
    table = table[table["share"] > VALUE_TOL]
    parts = []
    for k, members in enumerate(f.streams.members):
        rows = table[table["stream"] == k]
        for p in members:
            keep = inst.hospital_admissions[rows["zone"].to_numpy(), p] > 0
            part = rows[keep].drop(columns="stream").assign(pathway=inst.pathways.ids[p])
            parts.append(part)
    out = pd.concat(parts, ignore_index=True) if parts else table.drop(columns="stream")
    out.insert(0, "zone_code", inst.zones.ids[out.pop("zone").to_numpy()])
    out["share"] = out["share"].clip(0, 1)
    cols = ["zone_code", "site_id", "pathway", "share"] if "site_id" in out else ["zone_code", "pathway", "share"]
    return out[cols].reset_index(drop=True)


def _run(f: Formulation, weights: dict[str, float], inst: Instance, hint: np.ndarray | None = None) -> RawResult:
    program = f.lp.freeze(weights)
    sv = inst.solver
    return solve_program(program, sv.backend, ortools_solver=sv.ortools_solver,
                         time_limit=sv.time_limit_seconds, mip_gap=sv.mip_gap, hint=hint)


def _to_solution(f: Formulation, result: RawResult, name: str, started: float,
                 objective: float | None = None) -> Solution:
    inst = f.instance
    tables = decode(f, result.values)
    metrics = compute_metrics(inst, tables)
    notes = list(inst.notes)
    if metrics["unmet_admissions_per_year"] > 1e-6:
        notes.append(f"{metrics['unmet_admissions_per_year']:.1f} admissions a year "
                     f"({metrics['unmet_bed_days_per_year']:.0f} bed-days) cannot be served within the "
                     "limits: raise the travel limit, the estate limits or the virtual bed maximum")
    stopped = result.status == Status.FEASIBLE
    message = result.status.describe()
    if stopped:
        gap = f" (within {result.gap:.1%} of the best possible)" if result.gap is not None else ""
        message = (f"stopped by the time limit ({inst.solver.time_limit_seconds:g} s) before the answer was "
                   f"proven within {inst.solver.mip_gap:.1%}{gap}: a good configuration, not proven the best")
    return Solution(
        name=name, status=result.status.value, status_message=message,
        objective=result.objective if objective is None else objective, tables=tables, metrics=metrics,
        solver=result.solver, solve_seconds=time.perf_counter() - started, optimality_gap=result.gap,
        notes=tuple(notes), stopped_by_time_limit=stopped, _instance=inst)


def _fail(f: Formulation, result: RawResult, explain: bool = True) -> None:
    if result.status == Status.INFEASIBLE:
        if not explain:
            raise InfeasibleError(Explanation("No configuration meets every limit."))

        raise InfeasibleError(explain_infeasibility(f.instance))
    if result.status == Status.NO_SOLUTION:
        hint = (" Single assignment (one hospital per zone) is much harder: try split assignment"
                if f.instance.rules.single_assignment else "")
        raise SolveError(f"The {result.status.describe()} ({result.seconds:.0f} s). Raise the time "
                         f"limit (solver.time_limit_seconds) or loosen a limit.{hint}")
    if result.status == Status.UNBOUNDED:
        raise SolveError("The model has no finite best answer: a cost weight or a limit is missing "
                         "(check the objective weights).")
    raise SolveError(f"The solver stopped without an answer ({result.solver} reported {result.message}); "
                     "try the other backend (solver.backend: pulp or ortools).")


def solve_instance(inst: Instance, name: str | None = None, start: Configuration | None = None,
                   *, explain_infeasible: bool = True, extra: Extra | None = None) -> Solution:
    """Optimise an instance; ``extra`` adds rows to the built formulation before the solve
    (e.g. the near-tie search's cuts). See :func:`solve_once`."""
    return solve_once(inst, name, start, explain_infeasible=explain_infeasible, extra=extra)


def solve_once(inst: Instance, name: str | None = None, start: Configuration | None = None,
                *, explain_infeasible: bool = True, extra: Extra | None = None,
                grouped_proof: bool = True) -> Solution:
    """Optimise an instance; returns a :class:`Solution` (with ``alternatives`` if asked).
    ``start``: a configuration the solver may begin from (OR-Tools only; e.g. the previous
    answer in a workshop), which changes how fast an answer comes, not what the rules are.
    ``explain_infeasible=False`` skips the plain-English diagnosis (an elastic re-solve) for
    callers that only ask whether a configuration works.

    Single assignment (one hospital per zone) is solved in two steps, because the direct
    binary model is far harder: first the split model, whose optimum is a lower bound for
    the single one; then the single model restricted to each zone's hospitals in that answer
    plus its two nearest hospitals. The reported gap is measured against the split bound, so
    it stays honest; if the restricted model has no answer the full single model is solved.

    Capacitated models with split assignment are solved by :mod:`optimiser.model.exact` (a
    branch-and-bound on grouped relaxations, answers routed at full resolution) unless
    ``grouped_proof=False``; it hands back to the direct solve when it does not apply.
    """
    from optimiser.model import pmedian

    if pmedian.applies(inst):   # the classical p-median: bound, fixing and aggregation first
        return pmedian.solve_p_median(inst, name, None if start is None else start.arrays(inst)[0])
    if inst.rules.single_assignment and not inst.weights.lexicographic and inst.rules.capacity_limits:
        two_step = _solve_single_via_split(inst, name, extra)
        if two_step is not None:
            return two_step
    return _solve_direct(inst, name, start, explain_infeasible, extra, grouped_proof)


def _solve_single_via_split(inst: Instance, name: str | None, extra: Extra | None = None) -> Solution | None:
    started = time.perf_counter()
    split = _solve_direct(replace(inst.with_rules(single_assignment=False),
                                  solver=replace(inst.solver, alternatives=0)), name, extra=extra)
    lower = split.objective * (1 - (split.optimality_gap or 0.0))
    a = split.tables.assignment
    cand = np.zeros(inst.travel.shape, bool)
    zi = pd.Index(inst.zones.ids).get_indexer(a["zone_code"])
    si = pd.Index(inst.sites.ids).get_indexer(a["site_id"])
    used = a["share"].to_numpy(float) > 0.01
    cand[zi[used], si[used]] = True
    usable = np.where((inst.sites.status >= 0)[None, :], inst.travel, np.inf)
    nearest = np.argsort(usable, axis=1, kind="stable")[:, :2]
    for k in range(nearest.shape[1]):
        cand[np.arange(inst.n_zones), nearest[:, k]] = True
    restricted = replace(inst, travel=np.where(cand, inst.travel, np.inf))
    try:
        sol = _solve_direct(restricted, name, extra=extra)
    except (InfeasibleError, SolveError):
        return None

    def finish(s: Solution) -> Solution:
        gap = max(0.0, (s.objective - lower) / s.objective) if s.objective else None
        return replace(s, _instance=inst, optimality_gap=gap)

    total = time.perf_counter() - started
    return replace(finish(sol), solve_seconds=total,
                   alternatives=tuple(finish(alt) for alt in sol.alternatives),
                   notes=sol.notes + ("one hospital per zone: solved from the split answer's catchments "
                                      "and each zone's two nearest hospitals; the gap is measured against "
                                      "the split model's bound",))


def _solve_direct(inst: Instance, name: str | None = None, start: Configuration | None = None,
                  explain_infeasible: bool = True, extra: Extra | None = None, grouped_proof: bool = True) -> Solution:
    started = time.perf_counter()
    name = name or inst.name
    if grouped_proof:
        from optimiser.model import exact

        if exact.applies(inst):
            done = exact.solve_exact(inst, None if start is None else start.arrays(inst), extra)
            if done is not None and done.proven:
                if not done.result.status.has_solution:
                    _fail(done.formulation, done.result, explain_infeasible)
                return _to_solution(done.formulation, done.result, name, started)
            if done is not None:
                # a tolerance finer than the grouping resolves: the full model, from its answer
                beds, virtual = done.configuration()
                start = Configuration.of_arrays(inst, beds, virtual)
    f = build(inst)
    if extra is not None:
        extra(f)
    weights = inst.weights
    if weights.lexicographic:
        result, objective = _solve_lexicographic(f)
    else:
        hint = None if start is None else configuration_start(f, *start.arrays(inst))
        result = _run(f, weights.as_dict(), inst, hint)
        objective = None
    if not result.status.has_solution:
        _fail(f, result, explain_infeasible)
    best = _to_solution(f, result, name, started, objective)
    alternatives = []
    seen = [np.asarray(best.units.groupby("site_id", sort=False)["beds"].sum().reindex(inst.sites.ids).to_numpy() > 0)]
    for k in range(inst.solver.alternatives):
        add_exclusion_cut(f, seen[-1])
        started_k = time.perf_counter()
        res = _run(f, weights.as_dict(), inst)
        if not res.status.has_solution:
            break
        alt = _to_solution(f, res, f"{name} (alternative {k + 1})", started_k)
        alternatives.append(alt)
        seen.append(np.asarray(alt.units.groupby("site_id", sort=False)["beds"].sum().reindex(inst.sites.ids).to_numpy() > 0))
    if alternatives:
        best = replace(best, alternatives=tuple(alternatives))
    return best


def _solve_lexicographic(f: Formulation) -> tuple[RawResult, float]:
    inst = f.instance
    order = list(inst.weights.lexicographic)
    if "unmet" not in order:
        # Serving patients always comes first: otherwise "travel first" would serve nobody.
        order.insert(0, "unmet")
    tol = inst.weights.lexicographic_tolerance
    result = None
    for i, term in enumerate(order):
        result = _run(f, {term: 1.0}, inst)
        if not result.status.has_solution:
            return result, 0.0
        value = float(f.lp.term_vector(term) @ result.values)
        if i < len(order) - 1:
            vec = f.lp.term_vector(term)
            cols = np.flatnonzero(vec)
            f.lp.add_constraints(f"lexicographic_{term}", [f"keep_{term}_near_optimum"], np.zeros(len(cols), int),
                                 cols, vec[cols], -np.inf, value + tol * abs(value) + 1e-6)
    w = inst.weights.as_dict()
    objective = float(sum(w[t] * float(f.lp.term_vector(t) @ result.values) for t in f.lp.terms))
    return result, objective
