"""An independent check of a solution: every constraint and the objective recomputed from the
solution's tables and the instance, without the solver or the formulation.

``check(solution)`` returns a :class:`CheckReport`; tests run it on every solve. Capacity is
checked against the true queueing model (the Erlang loss formula evaluated afresh), not the
precomputed steps the model used, so a wrong table of steps would be caught too.
``rule_breaks`` lists, in plain English, the scenario rules a hand-drafted option does not
meet (evaluate mode).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from optimiser.instance import Instance
from optimiser.solution import (
    Tables,
    compute_metrics,
    unit_table,
    virtual_table,
    weighted_objective,
)

TOL = 1e-6


@dataclass(frozen=True)
class Violation:
    rule: str          # constraint family, as named in the formulation
    where: str         # the site, zone, district ... it concerns
    amount: float      # by how much (in the rule's own unit)
    message: str


@dataclass(frozen=True)
class CheckReport:
    violations: tuple[Violation, ...]
    objective_recomputed: float | None
    objective_reported: float | None

    @property
    def ok(self) -> bool:
        return not self.violations

    def summary(self) -> str:
        if self.ok:
            return "every constraint holds; objective recomputed matches"
        return "\n".join(f"[{v.rule}] {v.where}: {v.message}" for v in self.violations)


def _erlang_b(servers: int, load: float) -> float:
    """B(c, a) by the textbook recursion (the checker's own, shared with nothing)."""
    b = 1.0
    for k in range(1, int(servers) + 1):
        b = load * b / (k + load * b)
    return b


def _capacity_ok(beds: np.ndarray, load: np.ndarray, rule: str, target: float) -> np.ndarray:
    beds = np.asarray(beds, int)
    load = np.asarray(load, float)
    if rule == "occupancy":
        return load <= beds * target * (1 + TOL) + TOL
    blocking = np.array([_erlang_b(c, a) for c, a in zip(beds, load, strict=True)])
    ok = blocking <= target * (1 + 1e-4) + 1e-9
    return np.where(beds > 0, ok, load <= TOL)


def _planned_offered(inst: Instance, tables: Tables, units: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """(first-choice erlangs a plan sends each unit, erlangs it plans onward into each unit),
    recomputed from the tables: shares x admissions x stay, plus virtual-suitable patients
    sent to hospital, plus the onward plan."""
    key = {(s, w): k for k, (s, w) in enumerate(zip(units["site_id"], units["ward"], strict=True))}
    first = np.zeros(len(units))
    pids = list(inst.pathways.ids)
    zpos = {z: i for i, z in enumerate(inst.zones.ids)}
    for r in tables.assignment.itertuples(index=False):
        p = pids.index(r.pathway)
        k = key.get((r.site_id, inst.wards[inst.pathways.ward[p]]))
        if k is not None:
            first[k] += inst.hospital_admissions[zpos[r.zone_code], p] * r.share * inst.pathways.los_days[p] / 365.0
    for r in tables.overflow.itertuples(index=False):
        p = pids.index(r.pathway)
        k = key.get((r.site_id, inst.wards[inst.pathways.ward[p]]))
        if k is not None:
            first[k] += r.admissions_per_year * inst.pathways.los_days[p] / 365.0
    onward_in = np.zeros(len(units))
    for r in tables.onward.itertuples(index=False):
        k = key.get((r.to_site_id, r.to_ward))
        if k is not None:
            onward_in[k] += r.erlangs
    return first, onward_in


def constraint_violations(inst: Instance, tables: Tables, *, fixed_rules: bool = True) -> list[Violation]:
    """Every constraint of the formulation, recomputed. With ``fixed_rules=False`` only the
    physical ones (routing, capacity) are checked — used for options drafted by hand."""
    out: list[Violation] = []
    opt = inst.options
    units = unit_table(inst, tables)
    site_ids = list(inst.sites.ids)
    wards = list(inst.wards)

    # Units named in the tables exist, and each unit's beds are one of its options.
    known = set(zip(units["site_id"], units["ward"]))
    for r in tables.units.itertuples(index=False):
        if (r.site_id, r.ward) not in known and r.beds > 0:
            out.append(Violation("one_bed_option", f"{r.site_id}/{r.ward}", r.beds,
                                 "beds on a ward type the site may not host"))
    for u, r in enumerate(units.itertuples(index=False)):
        allowed = opt.option_beds[opt.option_unit == u]
        if r.beds not in set(allowed.tolist()):
            out.append(Violation("one_bed_option", f"{r.site_id}/{r.ward}", r.beds,
                                 f"{r.beds} beds is not an allowed option ({sorted(set(allowed.tolist()))})"))
    site_beds = units.groupby("site_id")["beds"].sum().reindex(site_ids, fill_value=0).to_numpy()
    is_open = site_beds > 0
    for j, sid in enumerate(site_ids):
        if inst.sites.status[j] < 0 and is_open[j]:
            out.append(Violation("site_open", sid, site_beds[j], "a site set to close has beds"))
        if inst.sites.status[j] > 0 and not is_open[j]:
            out.append(Violation("site_open", sid, 0, "a site that must stay open has no beds"))
    if fixed_rules:
        out += _site_rule_violations(inst, site_beds)

    # Demand served exactly once.
    pids = list(inst.pathways.ids)
    zpos = pd.Index(inst.zones.ids)
    a, un = tables.assignment, tables.unmet
    total = np.zeros(inst.hospital_admissions.shape)
    if len(a):
        np.add.at(total, (zpos.get_indexer(a["zone_code"]), pd.Index(pids).get_indexer(a["pathway"])),
                  a["share"].to_numpy(float))
    if len(un):
        np.add.at(total, (zpos.get_indexer(un["zone_code"]), pd.Index(pids).get_indexer(un["pathway"])),
                  un["share"].to_numpy(float))
    need = inst.hospital_admissions > 0
    bad = need & (np.abs(total - 1.0) > 1e-5)
    for zi, pi in zip(*np.nonzero(bad)):
        out.append(Violation("serve_demand", f"{inst.zones.ids[zi]}/{pids[pi]}", total[zi, pi] - 1,
                             f"shares sum to {total[zi, pi]:.6f}, not 1"))
    if inst.rules.single_assignment and len(a):
        frac = a["share"].to_numpy(float)
        for r in a[(frac > 1e-5) & (frac < 1 - 1e-5)].itertuples(index=False):
            out.append(Violation("single_assignment", f"{r.zone_code}/{r.pathway}", r.share,
                                 "zone split between hospitals under single assignment"))

    # Assignments only where allowed: pathway hosted, unit open, within the travel limit.
    if len(a):
        zi = zpos.get_indexer(a["zone_code"])
        si = pd.Index(site_ids).get_indexer(a["site_id"])
        pi = pd.Index(pids).get_indexer(a["pathway"])
        live = a["share"].to_numpy(float) > 1e-6
        minutes = inst.travel[zi, si]
        too_far = live & (minutes > inst.pathways.max_travel[pi] + 1e-6)
        not_hosted = live & ~inst.pathways.site_allowed[pi, si]
        ubeds = units.set_index(["site_id", "ward"])["beds"]
        wards_of = np.asarray(wards, object)[inst.pathways.ward[pi]]
        unit_beds = ubeds.reindex(pd.MultiIndex.from_arrays([a["site_id"], wards_of])).fillna(0).to_numpy()
        closed = live & (unit_beds <= 0)
        for mask, rule, text in ((too_far, "travel_limit", "assigned beyond the travel limit"),
                                 (not_hosted, "pathway_sites", "assigned to a site that does not host the pathway"),
                                 (closed, "strong_link", "assigned to a unit with no beds")):
            for k in np.flatnonzero(mask)[:50]:
                out.append(Violation(rule, f"{a['zone_code'].iat[k]}->{a['site_id'].iat[k]}/{a['pathway'].iat[k]}",
                                     float(minutes[k]), text))

    # The plan's own capacity rule: first-choice and onward load within each bed option's
    # capacity at the target; a share 'target' of every unit's planned load sent onward.
    if inst.rules.capacity_limits and len(tables.onward):
        first, onward_in = _planned_offered(inst, tables, units)
        planned = first + onward_in
        ok = _capacity_ok(units["beds"].to_numpy(), planned, inst.rules.utilisation_rule, inst.rules.utilisation_target)
        for k in np.flatnonzero(~ok):
            out.append(Violation("capacity", f"{units['site_id'].iat[k]}/{units['ward'].iat[k]}", planned[k],
                                 f"the plan offers {planned[k]:.2f} erlangs to {units['beds'].iat[k]} beds, more "
                                 "than they carry at the blocking target"))
        sent = np.zeros(len(units))
        key = {(s, w): k for k, (s, w) in enumerate(zip(units["site_id"], units["ward"], strict=True))}
        for r in tables.onward.itertuples(index=False):
            k = key.get((r.from_site_id, r.from_ward))
            if k is not None:
                sent[k] += r.erlangs
        due = inst.rules.utilisation_target * planned
        for k in np.flatnonzero(np.abs(sent - due) > 1e-4 * np.maximum(1.0, due)):
            out.append(Violation("onward_balance", f"{units['site_id'].iat[k]}/{units['ward'].iat[k]}", sent[k] - due[k],
                                 f"the plan sends {sent[k]:.3f} erlangs onward, not the target share of its "
                                 f"load ({due[k]:.3f})"))
        # The flow model can only offer a unit less than the plan (its blocking is at most the target).
        over = units["load_erlangs"].to_numpy() > planned * (1 + 1e-6) + 1e-6
        for k in np.flatnonzero(over):
            out.append(Violation("patient_flow", f"{units['site_id'].iat[k]}/{units['ward'].iat[k]}",
                                 units["load_erlangs"].iat[k] - planned[k],
                                 "the patient-flow model offers the unit more than the plan"))

    # Capacity under the true queueing model, with patients refused elsewhere included.
    if inst.rules.capacity_limits:
        ok = _capacity_ok(units["beds"].to_numpy(), units["load_erlangs"].to_numpy(),
                          inst.rules.utilisation_rule, inst.rules.utilisation_target)
        for r in units[~ok].itertuples(index=False):
            out.append(Violation("capacity", f"{r.site_id}/{r.ward}", r.load_erlangs,
                                 f"{r.beds} beds carry {r.load_erlangs:.2f} erlangs: blocking "
                                 f"{r.blocking_probability:.3%} exceeds the target"))

    # Virtual beds.
    if inst.virtual is not None:
        v = inst.virtual
        vt = virtual_table(inst, tables)
        beds = vt["beds"].to_numpy()
        for k, r in enumerate(vt.itertuples(index=False)):
            if beds[k] > 0 and (beds[k] < v.lo[k] or beds[k] > v.hi[k] or beds[k] % v.step):
                out.append(Violation("virtual_beds", r.district_code, beds[k],
                                     f"{beds[k]} virtual beds outside {v.lo[k]}..{v.hi[k]} in steps of {v.step}"))
            if beds[k] == 0 and v.must_run[k]:
                out.append(Violation("virtual_min_beds", r.district_code, 0, "district must run virtual beds"))
        eligible = inst.virtual_admissions_by_district().sum(axis=1)
        sent = vt["to_hospital_admissions_per_year"].to_numpy() + vt["unmet_admissions_per_year"].to_numpy()
        for k in np.flatnonzero(sent > eligible + 1e-5):
            out.append(Violation("virtual_balance", vt["district_code"].iat[k], sent[k] - eligible[k],
                                 "more virtual-suitable patients routed elsewhere than exist"))
        ok = _capacity_ok(beds, vt["load_erlangs"].to_numpy(), inst.rules.utilisation_rule, inst.rules.virtual_target)
        for k in np.flatnonzero(~ok if inst.rules.capacity_limits else []):
            out.append(Violation("virtual_capacity", vt["district_code"].iat[k], vt["load_erlangs"].iat[k],
                                 f"{beds[k]} virtual beds carry {vt['load_erlangs'].iat[k]:.2f} erlangs: "
                                 f"blocking {vt['blocking_probability'].iat[k]:.3%} exceeds the target"))
    if fixed_rules:
        out += _coverage_violations(inst, tables)
        out += _deprivation_violations(inst, tables)
    return out


def _deprivation_violations(inst: Instance, tables: Tables) -> list[Violation]:
    """The deprivation equity rule, recomputed row by row (see optimiser.deprivation.violations)."""
    from optimiser.deprivation import violations

    return [Violation(*v) for v in violations(inst, tables)]


def _site_rule_violations(inst: Instance, site_beds: np.ndarray) -> list[Violation]:
    out = []
    r = inst.rules
    is_open = site_beds > 0
    for j, sid in enumerate(inst.sites.ids):
        if is_open[j] and site_beds[j] < r.min_beds_open_site:
            out.append(Violation("min_beds_open_site", sid, r.min_beds_open_site - site_beds[j],
                                 f"{inst.sites.names[j]} has {site_beds[j]:.0f} beds, below the minimum "
                                 f"of {r.min_beds_open_site} for an open site"))
        if site_beds[j] > inst.sites.max_beds[j]:
            out.append(Violation("estate_limit", sid, site_beds[j] - inst.sites.max_beds[j],
                                 f"{inst.sites.names[j]} has {site_beds[j]:.0f} beds, above its estate "
                                 f"limit of {inst.sites.max_beds[j]}"))
    n_open = int(is_open.sum())
    if r.open_exactly is not None and n_open != r.open_exactly:
        out.append(Violation("open_sites_exactly", "all", n_open - r.open_exactly,
                             f"{n_open} sites open, not exactly {r.open_exactly}"))
    if r.open_at_least is not None and n_open < r.open_at_least:
        out.append(Violation("open_sites_at_least", "all", r.open_at_least - n_open,
                             f"{n_open} sites open, fewer than {r.open_at_least}"))
    if r.open_at_most is not None and n_open > r.open_at_most:
        out.append(Violation("open_sites_at_most", "all", n_open - r.open_at_most,
                             f"{n_open} sites open, more than {r.open_at_most}"))
    return out


def coverage_shares(inst: Instance, tables: Tables) -> list[tuple[object, float]]:
    """(rule, achieved share) for each travel standard."""
    a = tables.assignment
    out = []
    for rule in inst.rules.coverage:
        w = inst.zones.population_65 if rule.population == "65_plus" else inst.zones.population
        pid = inst.pathways.ids[rule.pathway]
        ra = a[a["pathway"] == pid]
        zi = pd.Index(inst.zones.ids).get_indexer(ra["zone_code"])
        si = pd.Index(inst.sites.ids).get_indexer(ra["site_id"])
        near = inst.travel_by(getattr(rule, "travel_matrix", "main"))[zi, si] <= rule.threshold_minutes + 1e-9
        has_demand = inst.hospital_admissions[:, rule.pathway] > 0
        # The model counts zones whose demand is all virtual-suitable as served by the hub.
        denom = w[has_demand].sum()
        achieved = float((w[zi] * ra["share"].to_numpy(float) * near).sum() / denom) if denom > 0 else 1.0
        out.append((rule, achieved))
    return out


def _coverage_violations(inst: Instance, tables: Tables) -> list[Violation]:
    out = []
    for rule, achieved in coverage_shares(inst, tables):
        if achieved < rule.share - 1e-6:
            label = "aged 65+" if rule.population == "65_plus" else "residents"
            by = (f" by {inst.second_travel_label or 'the second travel matrix'}"
                  if getattr(rule, "travel_matrix", "main") == "second" else "")
            out.append(Violation("travel_standard", inst.pathways.ids[rule.pathway], rule.share - achieved,
                                 f"{achieved:.1%} of {label} are within {rule.threshold_minutes:g} minutes{by} of "
                                 f"their {inst.pathways.labels[rule.pathway].lower()} hospital; the standard "
                                 f"is {rule.share:.0%}"))
    return out


def _budget_violation(inst: Instance, metrics) -> list[Violation]:
    b = inst.rules.budget
    if b is not None and metrics["annual_cost_gbp"] > b * (1 + 1e-9) + 1:
        return [Violation("budget", "all", metrics["annual_cost_gbp"] - b,
                          f"annual cost £{metrics['annual_cost_gbp']:,.0f} is over the budget of £{b:,.0f}")]
    return []


def check(solution, *, objective_rtol: float = 1e-5) -> CheckReport:
    """Recompute every constraint and the objective of ``solution``."""
    inst = solution.instance
    tables = solution.tables
    evaluate = getattr(solution, "mode", "optimise") == "evaluate"
    violations = constraint_violations(inst, tables, fixed_rules=not evaluate)
    metrics = compute_metrics(inst, tables)
    if not evaluate:
        violations += _budget_violation(inst, metrics)
    recomputed = weighted_objective(inst, metrics) if not inst.weights.lexicographic else None
    reported = solution.objective
    if recomputed is not None and reported is not None:
        if abs(recomputed - reported) > objective_rtol * max(1.0, abs(reported)) + 1e-3:
            violations.append(Violation("objective", "all", recomputed - reported,
                                        f"objective recomputed {recomputed:,.4f} differs from the "
                                        f"solver's {reported:,.4f}"))
    for key, value in solution.metrics.items():
        if isinstance(value, float) and key in metrics and isinstance(metrics[key], float):
            if not (np.isnan(value) and np.isnan(metrics[key])) and abs(value - metrics[key]) > 1e-6 * max(1, abs(value)):
                violations.append(Violation("metrics", key, metrics[key] - value,
                                            f"metric {key} recomputed as {metrics[key]} not {value}"))
    return CheckReport(tuple(violations), recomputed, reported)


def rule_breaks(inst: Instance, tables: Tables) -> list[str]:
    """Plain-English list of the scenario rules a configuration does not meet (evaluate mode):
    minimum beds, estate limits, open-site counts, the travel standard, the budget, and demand
    left unserved. (Beds off the scenario's ward-size steps are allowed for a drafted option.)"""
    units = unit_table(inst, tables)
    site_beds = units.groupby("site_id")["beds"].sum().reindex(list(inst.sites.ids), fill_value=0).to_numpy()
    out = [v.message for v in _site_rule_violations(inst, site_beds)]
    out += [v.message for v in _coverage_violations(inst, tables)]
    out += [v.message for v in _deprivation_violations(inst, tables)]
    metrics = compute_metrics(inst, tables)
    out += [v.message for v in _budget_violation(inst, metrics)]
    units = unit_table(inst, tables)
    for r in units[units["beds"] > 0].itertuples(index=False):
        if inst.rules.utilisation_rule == "erlang" and r.blocking_probability > inst.rules.utilisation_target + 1e-4:
            out.append(f"{r.site_name} ({r.ward.replace('_', ' ')}): a {r.blocking_probability:.0%} chance a "
                       f"patient finds no free bed (target {inst.rules.utilisation_target:.0%})")
        elif inst.rules.utilisation_rule == "occupancy" and r.occupancy_offered > inst.rules.utilisation_target + 1e-4:
            out.append(f"{r.site_name} ({r.ward.replace('_', ' ')}): occupancy {r.occupancy_offered:.0%} "
                       f"(target {inst.rules.utilisation_target:.0%})")
    from optimiser.solution import virtual_table as _vt

    if inst.virtual is not None:
        for r in _vt(inst, tables).itertuples(index=False):
            if r.beds > 0 and r.blocking_probability > inst.rules.virtual_target + 1e-4:
                out.append(f"{r.district_name} home-based beds: a {r.blocking_probability:.0%} chance a "
                           f"patient finds no free bed (target {inst.rules.virtual_target:.0%})")
    if metrics["unmet_admissions_per_year"] > 0.5:
        out.append(f"{metrics['unmet_admissions_per_year']:.0f} admissions a year are not served (no "
                   "hospital with their pathway within the travel limit, or none in the option's routing)")
    return out
