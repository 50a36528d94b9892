"""An independent check of a solution: every rule and the key metrics recomputed from the
instance and the solution's tables with this module's own code — not the solver, not the
formulation, not :func:`optimiser.solution.compute_metrics`.

``check(solution)`` returns a :class:`CheckReport`; tests run it on every solve. The tables
are first read into plain arrays (:class:`~optimiser.rules.RawSolution`); each rule family
in :data:`optimiser.rules.REGISTRY` then measures its own violations on them. The patient
flow is verified rather than re-run: with the chances of no free bed the solution reports,
the load offered to every unit is recomputed in one pass (first choices, the plan's onward
shares or each zone's next nearest, the hubs' refusals) and must equal what is reported,
and each reported chance must equal the Erlang loss formula at that load. The cost, travel,
unmet-demand and access metrics and the objective are recomputed and compared.
``rule_breaks`` lists, in plain English, the scenario rules a measured option does not meet.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from optimiser.instance import Instance
from optimiser.rules import REGISTRY, RawSolution, Violation
from optimiser.solution import Tables, flow_of

__all__ = ["CheckReport", "Violation", "check", "raw_solution", "rule_breaks"]

TOL = 1e-6
CHECKED_METRICS = ("annual_cost_gbp", "physical_beds", "virtual_beds", "open_sites", "new_ward_capital_gbp",
                   "patient_travel_admission_minutes_per_year", "unmet_bed_days_per_year",
                   "worst_district_mean_travel_minutes", "mean_travel_minutes_65_plus", "mean_travel_minutes_all",
                   "share_within_30_minutes_65_plus", "share_within_30_minutes_all",
                   "patients_finding_no_free_bed_per_year")


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


# ---- the tables as arrays ---------------------------------------------------------------

def _positions(inst: Instance):
    return ({z: i for i, z in enumerate(inst.zones.ids)}, {s: j for j, s in enumerate(inst.sites.ids)},
            {p: k for k, p in enumerate(inst.pathways.ids)}, {d: k for k, d in enumerate(inst.districts.ids)},
            {w: k for k, w in enumerate(inst.wards)})


def _units(inst: Instance) -> dict[tuple[int, int], int]:
    opt = inst.bed_choices
    return {(int(s), int(w)): u for u, (s, w) in enumerate(zip(opt.unit_site, opt.unit_ward, strict=True))}


def _stay_of_sources(inst: Instance) -> np.ndarray:
    """Mean stay (days) of each unit's patients: its pathways' stays weighted by their total
    load (how the plan turns its onward erlangs into journeys)."""
    pw, opt = inst.pathways, inst.bed_choices
    load = inst.hospital_load.sum(axis=0) + inst.virtual_load.sum(axis=0) + 1e-12
    out = np.zeros(len(opt.unit_site))
    for u, (s, w) in enumerate(zip(opt.unit_site, opt.unit_ward, strict=True)):
        ps = [p for p in range(len(pw.ids)) if pw.ward[p] == w and pw.site_allowed[p, s]]
        if ps:
            out[u] = float((pw.los_days[ps] * load[ps]).sum() / load[ps].sum())
    return out


def raw_solution(inst: Instance, tables: Tables, *, unit_offered: np.ndarray, hub_offered: np.ndarray) -> RawSolution:
    """The tables read into arrays on ``inst``, with the patient-flow loads as reported."""
    zpos, spos, ppos, dpos, wpos = _positions(inst)
    units = _units(inst)
    n_z, n_s, n_p, n_d = inst.n_zones, inst.n_sites, len(inst.pathways.ids), len(inst.districts.ids)
    unit_beds = np.zeros(len(inst.bed_choices.unit_site))
    site_beds = np.zeros(n_s)
    for r in tables.units.itertuples(index=False):
        j = spos[r.site_id]
        site_beds[j] += r.beds
        u = units.get((j, wpos[r.ward]))
        if u is not None:
            unit_beds[u] += r.beds
    virtual = np.zeros(n_d)
    for r in tables.virtual_beds.itertuples(index=False):
        virtual[dpos[r.district_code]] = r.beds
    assignment = np.zeros((n_z, n_s, n_p))
    for r in tables.assignment.itertuples(index=False):
        assignment[zpos[r.zone_code], spos[r.site_id], ppos[r.pathway]] += r.share
    unmet = np.zeros((n_z, n_p))
    for r in tables.unmet.itertuples(index=False):
        unmet[zpos[r.zone_code], ppos[r.pathway]] += r.share
    overflow = np.zeros((n_d, n_s, n_p))
    for r in tables.overflow.itertuples(index=False):
        overflow[dpos[r.district_code], spos[r.site_id], ppos[r.pathway]] += r.admissions_per_year
    virtual_unmet = np.zeros((n_d, n_p))
    for r in tables.virtual_unmet.itertuples(index=False):
        virtual_unmet[dpos[r.district_code], ppos[r.pathway]] += r.admissions_per_year
    # first-choice load per unit: shares x admissions x stay; virtual-suitable sent to hospital
    stay = inst.pathways.los_days / 365.0
    planned = np.zeros(len(unit_beds))
    for (j, w), u in units.items():
        ps = [p for p in range(n_p) if inst.pathways.ward[p] == w]
        for p in ps:
            planned[u] += float((assignment[:, j, p] * inst.hospital_admissions[:, p]).sum() * stay[p])
            planned[u] += float(overflow[:, j, p].sum() * stay[p])
    sent, received = np.zeros(len(unit_beds)), np.zeros(len(unit_beds))
    for r in tables.onward.itertuples(index=False):
        if r.from_site_id:
            sent[units[(spos[r.from_site_id], wpos[r.from_ward])]] += r.erlangs
        if r.to_site_id:
            received[units[(spos[r.to_site_id], wpos[r.to_ward])]] += r.erlangs
    raw = RawSolution(unit_beds=unit_beds, site_beds=site_beds, virtual_beds=virtual, assignment=assignment,
                      unmet=unmet, overflow=overflow, virtual_unmet=virtual_unmet, planned_first=planned,
                      onward_sent=sent, onward_received=received, unit_offered=np.asarray(unit_offered, float),
                      hub_offered=np.asarray(hub_offered, float), annual_cost=0.0, travel_term=0.0)
    cost, _ = _cost(inst, raw)
    travel = _travel_term(inst, tables, raw)
    return RawSolution(**{**raw.__dict__, "annual_cost": cost, "travel_term": travel})


# ---- metrics, recomputed ------------------------------------------------------------------

def _cost(inst: Instance, raw: RawSolution) -> tuple[float, float]:
    """(annual cost, one-off capital) of the configuration."""
    opt = inst.bed_choices
    open_sites = raw.site_beds > 0
    capital = 0.0
    for u, beds in enumerate(raw.unit_beds):
        mine = np.flatnonzero((opt.option_unit == u) & (opt.option_beds == beds))
        if len(mine):
            capital += float(opt.option_capital[mine[0]])
    virtual = float(inst.virtual.cost_per_bed * raw.virtual_beds.sum()) if inst.virtual is not None else 0.0
    cost = (float((inst.sites.fixed_cost * open_sites).sum()) + float((inst.sites.cost_per_bed * raw.site_beds).sum())
            + capital / inst.weights.capital_annualisation_years + virtual)
    return cost, capital


def _travel_term(inst: Instance, tables: Tables, raw: RawSolution) -> float:
    """Admission-minutes a year: first journeys, virtual-suitable patients sent to hospital,
    and the plan's onward journeys."""
    total = float((raw.assignment * inst.travel[:, :, None] * inst.hospital_admissions[:, None, :]).sum())
    total += float((raw.overflow * inst.district_site_travel[:, :, None]).sum())
    if len(tables.onward):
        zpos, spos, ppos, dpos, wpos = _positions(inst)
        units = _units(inst)
        stays = _stay_of_sources(inst)
        site_minutes = inst.site_travel if inst.site_travel is not None else np.zeros((inst.n_sites,) * 2)
        for r in tables.onward.itertuples(index=False):
            if not r.to_site_id:
                continue
            to = spos[r.to_site_id]
            if r.from_site_id:
                frm = spos[r.from_site_id]
                total += r.erlangs * 365.0 / stays[units[(frm, wpos[r.from_ward])]] * site_minutes[frm, to]
            else:
                p = ppos[r.from_pathway]
                total += r.erlangs * 365.0 / inst.pathways.los_days[p] * inst.district_site_travel[dpos[r.from_district_code], to]
    return total


def _unmet(inst: Instance, tables: Tables, raw: RawSolution) -> tuple[float, float]:
    """(admissions, bed-days) a year the plan places nowhere."""
    adm = float((raw.unmet * inst.hospital_admissions).sum()) + float(raw.virtual_unmet.sum())
    days = float((raw.unmet * inst.hospital_admissions * inst.pathways.los_days[None, :]).sum())
    days += float((raw.virtual_unmet * inst.pathways.los_days[None, :]).sum())
    turned = sum(r.erlangs for r in tables.onward.itertuples(index=False) if not r.to_site_id)
    return adm, days + 365.0 * float(turned)


def _access(inst: Instance, raw: RawSolution) -> dict[str, float]:
    """Mean travel and share within 30 minutes by population, for the reference pathway (the
    first the travel standard names, else the first), and the worst district's mean."""
    out = {}
    ref = inst.rules.coverage[0].pathway if inst.rules.coverage else 0
    share = raw.assignment[:, :, ref]                                    # (Z, S)
    for label, pop in (("all", inst.zones.population), ("65_plus", inst.zones.population_65)):
        w = pop[:, None] * share
        out[f"mean_travel_minutes_{label}"] = float((w * inst.travel).sum() / w.sum()) if w.sum() > 0 else float("nan")
        out[f"share_within_30_minutes_{label}"] = (float((w * (inst.travel <= 30 + 1e-9)).sum() / pop.sum())
                                                   if pop.sum() > 0 else float("nan"))
    minutes = (raw.assignment * inst.travel[:, :, None] * inst.hospital_admissions[:, None, :]).sum(axis=(1, 2))
    demand = inst.hospital_admissions.sum(axis=1)
    n_d = len(inst.districts.ids)
    by_d, tot_d = np.zeros(n_d), np.zeros(n_d)
    np.add.at(by_d, inst.zones.district, minutes)
    np.add.at(tot_d, inst.zones.district, demand)
    means = np.divide(by_d, tot_d, out=np.zeros(n_d), where=tot_d > 0)
    out["worst_district_mean_travel_minutes"] = float(means.max()) if n_d else float("nan")
    return out


# ---- the patient flow, verified --------------------------------------------------------------

def _flow_violations(inst: Instance, tables: Tables, units: pd.DataFrame, hubs: pd.DataFrame,
                     reported_turned_away: float) -> list[Violation]:
    """With the reported chances of no free bed, recompute in one pass the load offered to
    every unit and the patients turned away; both must match, and each chance must be the
    Erlang loss formula at its load."""
    out: list[Violation] = []
    beds = units["beds"].to_numpy(int)
    blocking = np.where(beds > 0, units["blocking_probability"].to_numpy(float), 1.0)
    reported = units["load_erlangs"].to_numpy(float)
    offered, turned = _one_pass(inst, tables, beds, blocking, hubs)
    names = [f"{s}/{w}" for s, w in zip(units["site_id"], units["ward"], strict=True)]
    for u in np.flatnonzero(np.abs(offered - reported) > 1e-6 * np.maximum(1.0, reported)):
        out.append(Violation("patient_flow", names[u], reported[u] - offered[u],
                             f"reported load {reported[u]:.6f} erlangs, recomputed {offered[u]:.6f}"))
    for u in np.flatnonzero(beds > 0):
        b = _erlang_b(beds[u], reported[u])
        if abs(b - blocking[u]) > 1e-7:
            out.append(Violation("patient_flow", names[u], blocking[u] - b,
                                 f"reported chance of no free bed {blocking[u]:.8f}, the Erlang formula gives {b:.8f}"))
    if abs(turned - reported_turned_away) > 1e-6 * max(1.0, turned):
        out.append(Violation("patient_flow", "all", reported_turned_away - turned,
                             f"reported {reported_turned_away:.4f} patients a year turned away, recomputed {turned:.4f}"))
    return out


def _one_pass(inst: Instance, tables: Tables, beds: np.ndarray, blocking: np.ndarray,
              hubs: pd.DataFrame) -> tuple[np.ndarray, float]:
    """(offered erlangs per unit, turned away a year) given every unit's chance of no free bed."""
    zpos, spos, ppos, dpos, wpos = _positions(inst)
    units = _units(inst)
    pw = inst.pathways
    n_u = len(beds)
    plan = tables.routing == "plan"
    fallback = pw.fallback_ward if pw.fallback_ward is not None else np.full(len(pw.ids), -1)

    def chain(z: int, p: int, first: int | None) -> list[int]:
        """The units a patient tries, in order: the first choice, then the rest within reach."""
        if not inst.rules.onward_flow:
            return [first] if first is not None else []
        order = sorted(range(inst.n_sites), key=lambda j: (inst.travel[z, j], j))
        own = [units[(j, int(pw.ward[p]))] for j in order
               if (j, int(pw.ward[p])) in units and pw.site_allowed[p, j] and inst.travel[z, j] <= pw.max_travel[p] + 1e-9
               and beds[units[(j, int(pw.ward[p]))]] > 0]
        spare = [units[(j, int(fallback[p]))] for j in order
                 if fallback[p] >= 0 and (j, int(fallback[p])) in units and inst.travel[z, j] <= pw.max_travel[p] + 1e-9
                 and beds[units[(j, int(fallback[p]))]] > 0]
        rest = [u for u in own + spare if u != first]
        return ([first] if first is not None else []) + rest

    # a plan's onward shares (unit -> unit), if it has them
    share = None
    if plan and len(tables.onward) and inst.rules.onward_flow:
        share = np.zeros((n_u, n_u))
        total = np.zeros(n_u)
        hub_share: dict[tuple[int, int], np.ndarray] = {}
        hub_total: dict[tuple[int, int], float] = {}
        for r in tables.onward.itertuples(index=False):
            to = units[(spos[r.to_site_id], wpos[r.to_ward])] if r.to_site_id else None
            if r.from_site_id:
                u = units[(spos[r.from_site_id], wpos[r.from_ward])]
                total[u] += r.erlangs
                if to is not None:
                    share[u, to] += r.erlangs
            else:
                key = (dpos[r.from_district_code], ppos[r.from_pathway])
                hub_total[key] = hub_total.get(key, 0.0) + r.erlangs
                hub_share.setdefault(key, np.zeros(n_u))
                if to is not None:
                    hub_share[key][to] += r.erlangs
        share = np.divide(share, total[:, None], out=np.zeros_like(share), where=total[:, None] > 0)
        visits = np.linalg.inv(np.eye(n_u) - blocking[:, None] * share)     # expected arrivals from each start

    offered = np.zeros(n_u)
    turned = 0.0
    stay = pw.los_days / 365.0

    def send(weight: float, p: int, start: np.ndarray | None, tries: list[int]) -> None:
        nonlocal turned
        if weight <= 0:
            return
        if share is not None and start is not None:
            arrivals = weight * (start @ visits)
            offered[:] += arrivals * stay[p]
            turned += weight - float((arrivals * (1 - blocking)).sum())
            return
        reach = weight
        for u in tries:
            offered[u] += reach * stay[p]
            reach *= blocking[u]
        turned += reach

    assigned = np.zeros(inst.hospital_admissions.shape)
    for r in tables.assignment.itertuples(index=False):
        z, j, p = zpos[r.zone_code], spos[r.site_id], ppos[r.pathway]
        u = units.get((j, int(pw.ward[p])))
        if u is None or beds[u] <= 0 or r.share <= 0:
            continue
        assigned[z, p] += r.share
        w = inst.hospital_admissions[z, p] * r.share
        send(w, p, np.eye(n_u)[u] if share is not None else None, chain(z, p, u))
    rest = inst.hospital_admissions * np.clip(1 - assigned, 0, 1)
    for z, p in zip(*np.nonzero(rest > 1e-12), strict=True):
        if plan:
            turned += rest[z, p]
        else:
            send(rest[z, p], p, None, chain(z, p, None))
    # virtual-suitable patients: the plan's hospital share, the unplaced, the hubs' refusals
    by_d = np.zeros((len(inst.districts.ids), len(pw.ids)))
    np.add.at(by_d, inst.zones.district, inst.virtual_admissions)
    to_hub = inst.virtual_admissions.copy()
    for r in tables.virtual_unmet.itertuples(index=False):
        d, p = dpos[r.district_code], ppos[r.pathway]
        members = np.flatnonzero((inst.zones.district == d) & (inst.virtual_admissions[:, p] > 0))
        part = np.minimum(r.admissions_per_year * inst.virtual_admissions[members, p] / by_d[d, p], to_hub[members, p])
        to_hub[members, p] -= part
        turned += float(part.sum())
    for r in tables.overflow.itertuples(index=False):
        d, j, p = dpos[r.district_code], spos[r.site_id], ppos[r.pathway]
        u = units.get((j, int(pw.ward[p])))
        members = np.flatnonzero((inst.zones.district == d) & (inst.virtual_admissions[:, p] > 0))
        part = np.minimum(r.admissions_per_year * inst.virtual_admissions[members, p] / by_d[d, p], to_hub[members, p])
        to_hub[members, p] -= part
        for z, w in zip(members, part, strict=True):
            ok = u is not None and beds[u] > 0
            send(w, p, np.eye(n_u)[u] if (share is not None and ok) else None, chain(z, p, u if ok else None))
    hub_beds = hubs["beds"].to_numpy(int)
    hub_load = np.zeros(len(inst.districts.ids))
    np.add.at(hub_load, inst.zones.district, (to_hub * (pw.virtual_los_days / 365.0)[None, :]).sum(axis=1))
    hub_block = np.array([_erlang_b(c, a) if c > 0 else (1.0 if a > 0 else 0.0) for c, a in zip(hub_beds, hub_load,
                                                                                                 strict=True)])
    for z, p in zip(*np.nonzero(to_hub > 1e-12), strict=True):
        refused = to_hub[z, p] * hub_block[inst.zones.district[z]]
        if not inst.rules.onward_flow:
            turned += refused
            continue
        if share is not None:        # the plan's hub shares (none planned: turned away)
            key = (int(inst.zones.district[z]), int(p))
            start = hub_share.get(key, np.zeros(n_u))
            send(refused, p, start / hub_total[key] if hub_total.get(key, 0) > 0 else start, [])
            continue
        send(refused, p, None, chain(z, p, None))
    return offered, turned


# ---- the check ------------------------------------------------------------------------------

def check(solution, *, objective_rtol: float = 1e-5) -> CheckReport:
    """Recompute every rule, the patient flow, the key metrics and the objective of ``solution``."""
    inst = solution.instance
    tables = solution.tables
    units, hubs = solution.units, solution.virtual_beds
    raw = raw_solution(inst, tables, unit_offered=units["load_erlangs"].to_numpy(float),
                       hub_offered=hubs["load_erlangs"].to_numpy(float))
    measuring = getattr(solution, "mode", "optimise") == "evaluate"
    violations: list[Violation] = []
    for rule in REGISTRY:
        if measuring and rule.measured:
            continue          # a measured option is not held to the scenario's rules (its breaks say)
        violations += rule.violations(inst, raw)
    if "patients_finding_no_free_bed_per_year" in solution.metrics:      # not for the p-median
        violations += _flow_violations(inst, tables, units, hubs,
                                       float(solution.metrics["patients_finding_no_free_bed_per_year"]))
    mine = _own_metrics(inst, tables, raw)
    for key, value in mine.items():
        reported = solution.metrics.get(key)
        if isinstance(reported, float) and not (np.isnan(value) and np.isnan(reported)):
            if abs(value - reported) > 1e-6 * max(1.0, abs(reported)):
                violations.append(Violation("metrics", key, value - reported,
                                            f"metric {key} recomputed as {value} not {reported}"))
    recomputed = None
    if not inst.weights.lexicographic:
        w = inst.weights
        recomputed = (w.cost * mine["annual_cost_gbp"] + w.travel * mine["patient_travel_admission_minutes_per_year"]
                      + w.unmet * mine["unmet_bed_days_per_year"] + w.equity * mine["worst_district_mean_travel_minutes"])
    reported = solution.objective
    if recomputed is not None and reported is not None:
        if abs(recomputed - reported) > objective_rtol * max(1.0, abs(reported)) + 1e-3:
            violations.append(Violation("objective", "all", recomputed - reported,
                                        f"objective recomputed {recomputed:,.4f} differs from the "
                                        f"solver's {reported:,.4f}"))
    return CheckReport(tuple(violations), recomputed, reported)


def _own_metrics(inst: Instance, tables: Tables, raw: RawSolution) -> dict[str, float]:
    cost, capital = _cost(inst, raw)
    _, unmet_days = _unmet(inst, tables, raw)
    out = {"annual_cost_gbp": cost, "physical_beds": float(raw.site_beds.sum()),
           "virtual_beds": float(raw.virtual_beds.sum()), "open_sites": float(raw.open_sites.sum()),
           "new_ward_capital_gbp": capital, "patient_travel_admission_minutes_per_year": raw.travel_term,
           "unmet_bed_days_per_year": unmet_days}
    out.update(_access(inst, raw))
    return out


def rule_breaks(inst: Instance, tables: Tables) -> list[str]:
    """Plain-English list of the scenario rules a configuration does not meet (a measured
    option): every rule family held against options (minimum beds, estate limits, site
    statuses, the travel standard, open-site counts, the budget, the blocking target and
    hubs), and demand it leaves unserved."""
    flow = flow_of(inst, tables)
    raw = raw_solution(inst, tables, unit_offered=flow.unit_offered, hub_offered=flow.hub_offered)
    out = [v.message for rule in REGISTRY if rule.measured for v in rule.violations(inst, raw)]
    adm, _ = _unmet(inst, tables, raw)
    if adm > 0.5:
        out.append(f"{adm:.0f} admissions a year are not served (no hospital with their pathway within the "
                   "travel limit, or none in the option's routing)")
    return out
