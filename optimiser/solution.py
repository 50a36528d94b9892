"""Solutions: immutable results with tidy tables, and the metrics computed from them.

Every metric is computed from the *tables* (beds per unit, virtual beds per district, the
zone-to-site assignment, overflow and unmet demand) and the instance's demand and travel
arrays — never from solver internals — so the same code scores an optimised configuration,
a hand-drafted option, or a solution read back from disk. Metric keys carry their unit.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType

import numpy as np
import pandas as pd

from optimiser.access import second_matrix_metrics
from optimiser.flow import (
    FirstChoices,
    OnwardPlan,
    PatientFlow,
    onward_routes,
    patient_flow,
    unit_index,
)
from optimiser.instance import Instance
from optimiser.rules.deprivation import deprivation_metrics

TRAVEL_THRESHOLDS = (20, 30, 45)


@dataclass(frozen=True)
class Tables:
    """The decision, as tables keyed by codes (the solver-independent representation)."""

    units: pd.DataFrame          # site_id, ward, beds
    assignment: pd.DataFrame     # zone_code, site_id, pathway, share
    unmet: pd.DataFrame          # zone_code, pathway, share
    virtual_beds: pd.DataFrame   # district_code, beds
    overflow: pd.DataFrame       # district_code, site_id, pathway, admissions_per_year
    virtual_unmet: pd.DataFrame  # district_code, pathway, admissions_per_year
    onward: pd.DataFrame = field(default_factory=lambda: empty_onward())  # see ONWARD_COLUMNS
    routing: str = "plan"        # "plan": patients the tables place nowhere are turned away;
                                 # "nearest": they go to their nearest hospital (a drafted option)


ONWARD_COLUMNS = ["from_site_id", "from_ward", "from_district_code", "from_pathway", "to_site_id", "to_ward",
                  "erlangs"]


def empty_onward() -> pd.DataFrame:
    """A plan's onward flows: erlangs a full unit (from_site_id, from_ward) or a district hub
    (from_district_code, from_pathway) sends to another unit (to_site_id, to_ward; blank:
    turned away)."""
    return pd.DataFrame({c: pd.Series(dtype=float if c == "erlangs" else object) for c in ONWARD_COLUMNS})


def empty_tables() -> Tables:
    return Tables(
        units=pd.DataFrame(columns=["site_id", "ward", "beds"]),
        assignment=pd.DataFrame(columns=["zone_code", "site_id", "pathway", "share"]),
        unmet=pd.DataFrame(columns=["zone_code", "pathway", "share"]),
        virtual_beds=pd.DataFrame(columns=["district_code", "beds"]),
        overflow=pd.DataFrame(columns=["district_code", "site_id", "pathway", "admissions_per_year"]),
        virtual_unmet=pd.DataFrame(columns=["district_code", "pathway", "admissions_per_year"]),
        onward=empty_onward(),
    )


class _Index:
    """Code -> position lookups for an instance."""

    def __init__(self, inst: Instance) -> None:
        self.zone = pd.Index(inst.zones.ids)
        self.site = pd.Index(inst.sites.ids)
        self.pathway = pd.Index(inst.pathways.ids)
        self.district = pd.Index(inst.districts.ids)
        self.ward = pd.Index(inst.wards)


def _weighted_quantile(values: np.ndarray, weights: np.ndarray, q: float) -> float:
    if len(values) == 0 or weights.sum() <= 0:
        return float("nan")
    order = np.argsort(values, kind="stable")
    v, w = values[order], weights[order]
    cum = np.cumsum(w) / w.sum()
    return float(v[np.searchsorted(cum, q - 1e-12)])


def reference_pathway(inst: Instance) -> int:
    """The pathway whose catchments the travel metrics and maps describe: the first pathway
    the travel standard applies to, else the first pathway."""
    return inst.rules.coverage[0].pathway if inst.rules.coverage else 0


def first_choices(inst: Instance, tables: Tables) -> FirstChoices:
    """Where the tables send patients first, in the flow model's terms (units, not sites)."""
    ix = _Index(inst)
    units = unit_index(inst)
    a = tables.assignment
    if len(a):
        zi = ix.zone.get_indexer(a["zone_code"])
        pi = ix.pathway.get_indexer(a["pathway"])
        si = ix.site.get_indexer(a["site_id"])
        ui = np.where((si >= 0) & (pi >= 0), units[np.maximum(si, 0), inst.pathways.ward[np.maximum(pi, 0)]], -1)
        ok = (zi >= 0) & (ui >= 0)
        hz, hp, hu, hs = zi[ok], pi[ok], ui[ok], a["share"].to_numpy(float)[ok]
    else:
        hz = hp = hu = np.zeros(0, int)
        hs = np.zeros(0)
    o = tables.overflow
    if len(o):
        di = ix.district.get_indexer(o["district_code"])
        pi = ix.pathway.get_indexer(o["pathway"])
        si = ix.site.get_indexer(o["site_id"])
        ui = np.where((si >= 0) & (pi >= 0), units[np.maximum(si, 0), inst.pathways.ward[np.maximum(pi, 0)]], -1)
        ok = (di >= 0) & (ui >= 0)
        od, op, ou, oa = di[ok], pi[ok], ui[ok], o["admissions_per_year"].to_numpy(float)[ok]
    else:
        od = op = ou = np.zeros(0, int)
        oa = np.zeros(0)
    g = tables.virtual_unmet
    gd = ix.district.get_indexer(g["district_code"]) if len(g) else np.zeros(0, int)
    gp = ix.pathway.get_indexer(g["pathway"]) if len(g) else np.zeros(0, int)
    ga = g["admissions_per_year"].to_numpy(float) if len(g) else np.zeros(0)
    return FirstChoices(hz, hp, hu, hs, od, op, ou, oa, gd, gp, ga, complete=tables.routing == "plan",
                        onward=onward_plan(inst, tables))


def onward_plan(inst: Instance, tables: Tables) -> OnwardPlan | None:
    """The tables' onward flows in the flow model's terms (``None`` when there are none: a
    drafted option's refused patients go to their next nearest hospital)."""
    o = tables.onward
    if not len(o):
        return None
    ix = _Index(inst)
    units = unit_index(inst)

    def unit_of(site, ward):
        si = ix.site.get_indexer(site)
        wi = ix.ward.get_indexer(ward)
        return np.where((si >= 0) & (wi >= 0), units[np.maximum(si, 0), np.maximum(wi, 0)], -1)

    return OnwardPlan(from_unit=unit_of(o["from_site_id"], o["from_ward"]),
                      from_district=ix.district.get_indexer(o["from_district_code"]),
                      from_pathway=ix.pathway.get_indexer(o["from_pathway"]),
                      to_unit=unit_of(o["to_site_id"], o["to_ward"]),
                      erlangs=o["erlangs"].to_numpy(float))


def unit_beds_of(inst: Instance, tables: Tables) -> np.ndarray:
    """Beds on each unit of ``inst`` (0 where the tables give none)."""
    opt = inst.bed_choices
    key = pd.MultiIndex.from_arrays([inst.sites.ids[opt.unit_site], np.asarray(inst.wards, object)[opt.unit_ward]])
    beds = tables.units.groupby(["site_id", "ward"])["beds"].sum() if len(tables.units) else pd.Series(dtype=float)
    return beds.reindex(key).fillna(0).to_numpy().astype(int)


def virtual_beds_of(inst: Instance, tables: Tables) -> np.ndarray:
    vb = tables.virtual_beds
    beds = vb.set_index("district_code")["beds"] if len(vb) else pd.Series(dtype=float)
    return pd.Series(inst.districts.ids).map(beds).fillna(0).to_numpy().astype(int)


def flow_of(inst: Instance, tables: Tables) -> PatientFlow:
    """The patient-flow model run on the tables' beds, with patients first sent where the
    tables send them."""
    return patient_flow(inst, unit_beds_of(inst, tables), virtual_beds_of(inst, tables),
                        first_choices(inst, tables))


def onward_plan_terms(inst: Instance, tables: Tables) -> tuple[float, float]:
    """(admission-minutes a year of the plan's onward journeys, erlangs the plan turns away):
    the onward plan's part of the objective's travel and unmet terms."""
    o = tables.onward
    if not len(o):
        return 0.0, 0.0
    routes = onward_routes(inst)
    ix = _Index(inst)
    units = unit_index(inst)
    n_u = routes.n_units
    hub = {(d, p): n_u + h for h, (d, p) in enumerate(zip(routes.hub_district, routes.hub_pathway, strict=True))}
    turned = 0.0
    minutes = 0.0
    site_minutes = inst.site_travel if inst.site_travel is not None else np.zeros((inst.n_sites,) * 2)
    for r in o.itertuples(index=False):
        if not r.to_site_id:
            turned += float(r.erlangs)
            continue
        to_site = ix.site.get_loc(r.to_site_id)
        if r.from_site_id:
            s = ix.site.get_loc(r.from_site_id)
            source = units[s, ix.ward.get_loc(r.from_ward)]
            m = site_minutes[s, to_site]
        else:
            d, p = ix.district.get_loc(r.from_district_code), ix.pathway.get_loc(r.from_pathway)
            source = hub[(d, p)]
            m = inst.district_site_travel[d, to_site]
        minutes += float(r.erlangs) * 365.0 / max(routes.source_stay_days[source], 1e-9) * m
    return minutes, turned


def unit_table(inst: Instance, tables: Tables, flow: PatientFlow | None = None) -> pd.DataFrame:
    """Per unit: beds, the load planned for it, the load that reaches it from full hospitals
    nearby, occupancy, the chance an arriving patient finds no free bed, admissions."""
    flow = flow if flow is not None else flow_of(inst, tables)
    opt = inst.bed_choices
    units = pd.DataFrame({"site_id": inst.sites.ids[opt.unit_site],
                          "ward": np.asarray(inst.wards, object)[opt.unit_ward]})
    units["site_name"] = inst.sites.names[opt.unit_site]
    units["beds"] = flow.unit_beds
    units["current_beds"] = opt.unit_current
    units["planned_load_erlangs"] = flow.unit_first_offered
    units["inflow_erlangs"] = flow.unit_inflow
    units["load_erlangs"] = flow.unit_offered
    units["arrivals_per_year"] = flow.unit_arrivals
    units["admissions_per_year"] = flow.unit_admitted
    units["blocking_probability"] = np.where(units["beds"] > 0, flow.unit_blocking,
                                             np.where(flow.unit_offered > 0, 1.0, 0.0))
    units["occupancy"] = flow.unit_occupancy
    with np.errstate(divide="ignore", invalid="ignore"):
        units["occupancy_offered"] = np.where(units["beds"] > 0, flow.unit_offered / units["beds"], 0.0)
    units["patients_finding_no_free_bed_per_year"] = flow.unit_arrivals * units["blocking_probability"]
    return units


def virtual_table(inst: Instance, tables: Tables, flow: PatientFlow | None = None) -> pd.DataFrame:
    """Per district hub: home-based beds, suitable patients, those sent to hospital by the
    plan or because the hub was full, load, occupancy and blocking."""
    flow = flow if flow is not None else flow_of(inst, tables)
    ix = _Index(inst)
    out = pd.DataFrame({"district_code": inst.districts.ids, "district_name": inst.districts.names})
    out["beds"] = flow.hub_beds
    eligible = inst.virtual_admissions_by_district()
    over = np.zeros_like(eligible)
    if len(tables.overflow):
        di = ix.district.get_indexer(tables.overflow["district_code"])
        pi = ix.pathway.get_indexer(tables.overflow["pathway"])
        np.add.at(over, (di, pi), tables.overflow["admissions_per_year"].to_numpy(float))
    out["suitable_admissions_per_year"] = eligible.sum(axis=1)
    out["virtual_admissions_per_year"] = flow.hub_admitted
    out["to_hospital_admissions_per_year"] = over.sum(axis=1)
    out["unmet_admissions_per_year"] = 0.0
    if len(tables.virtual_unmet):
        lost = np.zeros(len(inst.districts.ids))
        np.add.at(lost, ix.district.get_indexer(tables.virtual_unmet["district_code"]),
                  tables.virtual_unmet["admissions_per_year"].to_numpy(float))
        out["unmet_admissions_per_year"] = lost
    out["load_erlangs"] = flow.hub_offered
    out["blocking_probability"] = flow.hub_blocking
    out["occupancy"] = flow.hub_occupancy
    out["patients_finding_no_free_bed_per_year"] = flow.hub_arrivals * flow.hub_blocking
    return out


def zone_table(inst: Instance, tables: Tables) -> pd.DataFrame:
    """Per zone: its hospital for the reference pathway (largest share), travel minutes
    (share-weighted), share unmet, populations."""
    ix = _Index(inst)
    ref = reference_pathway(inst)
    a = tables.assignment
    a = a[a["pathway"] == inst.pathways.ids[ref]] if len(a) else a
    out = pd.DataFrame({"zone_code": inst.zones.ids, "zone_name": inst.zones.names,
                        "district_code": inst.districts.ids[inst.zones.district],
                        "population": inst.zones.population, "population_65_plus": inst.zones.population_65})
    out["site_id"] = None
    out["travel_minutes"] = np.nan
    out["assigned_share"] = 0.0
    if len(a):
        zi = ix.zone.get_indexer(a["zone_code"])
        si = ix.site.get_indexer(a["site_id"])
        share = a["share"].to_numpy(float)
        minutes = inst.travel[zi, si]
        tot = np.bincount(zi, weights=share, minlength=inst.n_zones)
        wt = np.bincount(zi, weights=share * minutes, minlength=inst.n_zones)
        with np.errstate(divide="ignore", invalid="ignore"):
            out["travel_minutes"] = np.where(tot > 0, wt / tot, np.nan)
        out["assigned_share"] = tot
        main = a.assign(_s=share).sort_values(["zone_code", "_s"], ascending=[True, False]).drop_duplicates("zone_code")
        out["site_id"] = out["zone_code"].map(main.set_index("zone_code")["site_id"])
    out["site_name"] = out["site_id"].map(pd.Series(inst.sites.names, index=inst.sites.ids))
    return out


def compute_metrics(inst: Instance, tables: Tables) -> dict[str, float | str]:
    """Every metric of the model issue, from the tables alone."""
    ix = _Index(inst)
    flow = flow_of(inst, tables)
    units = unit_table(inst, tables, flow)
    virtual = virtual_table(inst, tables, flow)
    m: dict[str, float | str] = {}

    # Cost.
    opt = inst.bed_choices
    site_beds = units.groupby("site_id")["beds"].sum().reindex(inst.sites.ids, fill_value=0).to_numpy()
    is_open = site_beds > 0
    fixed = float((inst.sites.fixed_cost * is_open).sum())
    bed_cost = float((inst.sites.cost_per_bed * site_beds).sum())
    # One-off capital of each unit's chosen option (the checker flags beds off the option list).
    chosen = opt.option_beds == units["beds"].to_numpy()[opt.option_unit]
    capital = float(opt.option_capital[chosen].sum())
    virtual_cost = float(inst.virtual.cost_per_bed * virtual["beds"].sum()) if inst.virtual is not None else 0.0
    annualised = capital / inst.weights.capital_annualisation_years
    m["annual_cost_gbp"] = fixed + bed_cost + annualised + virtual_cost
    m["site_fixed_cost_gbp_per_year"] = fixed
    m["bed_cost_gbp_per_year"] = bed_cost
    m["virtual_bed_cost_gbp_per_year"] = virtual_cost
    m["new_ward_capital_gbp"] = capital
    m["new_ward_capital_annualised_gbp_per_year"] = annualised
    m["physical_beds"] = float(units["beds"].sum())
    m["virtual_beds"] = float(virtual["beds"].sum())
    m["total_beds"] = m["physical_beds"] + m["virtual_beds"]
    m["open_sites"] = float(is_open.sum())

    # Travel, by population, for the reference pathway's catchments.
    a = tables.assignment
    ref = inst.pathways.ids[reference_pathway(inst)]
    ra = a[a["pathway"] == ref] if len(a) else a
    zi = ix.zone.get_indexer(ra["zone_code"]) if len(ra) else np.zeros(0, int)
    si = ix.site.get_indexer(ra["site_id"]) if len(ra) else np.zeros(0, int)
    share = ra["share"].to_numpy(float) if len(ra) else np.zeros(0)
    minutes = inst.travel[zi, si] if len(ra) else np.zeros(0)
    for label, pop in (("all", inst.zones.population), ("65_plus", inst.zones.population_65)):
        w = pop[zi] * share
        total = pop.sum()
        m[f"mean_travel_minutes_{label}"] = float((w * minutes).sum() / w.sum()) if w.sum() > 0 else float("nan")
        m[f"p95_travel_minutes_{label}"] = _weighted_quantile(minutes, w, 0.95)
        for t in TRAVEL_THRESHOLDS:
            m[f"share_within_{t}_minutes_{label}"] = float(w[minutes <= t + 1e-9].sum() / total) if total > 0 else float("nan")
    m["max_travel_minutes"] = float(minutes[share > 1e-6].max()) if (share > 1e-6).any() else float("nan")

    # Hospital patients' travel (all pathways, admission-weighted): the objective's travel term.
    if len(a):
        zi_all = ix.zone.get_indexer(a["zone_code"])
        si_all = ix.site.get_indexer(a["site_id"])
        pi_all = ix.pathway.get_indexer(a["pathway"])
        adm = inst.hospital_admissions[zi_all, pi_all] * a["share"].to_numpy(float)
        tmin = inst.travel[zi_all, si_all]
    else:
        zi_all = pi_all = np.zeros(0, int)
        adm = tmin = np.zeros(0)
    travel_term = float((adm * tmin).sum())
    if len(tables.overflow):
        di = ix.district.get_indexer(tables.overflow["district_code"])
        sj = ix.site.get_indexer(tables.overflow["site_id"])
        travel_term += float((tables.overflow["admissions_per_year"].to_numpy(float) * inst.district_site_travel[di, sj]).sum())
    onward_minutes, onward_turned = onward_plan_terms(inst, tables)
    travel_term += onward_minutes
    m["patient_travel_admission_minutes_per_year"] = travel_term
    m["mean_travel_minutes_hospital_patients"] = float((adm * tmin).sum() / adm.sum()) if adm.sum() > 0 else float("nan")

    # Worst district (equity term): admission-weighted mean travel over the district's
    # hospital-bound demand.
    totals = np.zeros(len(inst.districts.ids))
    np.add.at(totals, inst.zones.district, inst.hospital_admissions.sum(axis=1))
    by_district = np.zeros(len(inst.districts.ids))
    if len(adm):
        np.add.at(by_district, inst.zones.district[zi_all], adm * tmin)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean_d = np.where(totals > 0, by_district / totals, 0.0)
    worst = int(np.argmax(mean_d)) if len(mean_d) else 0
    m["worst_district_mean_travel_minutes"] = float(mean_d[worst]) if len(mean_d) else float("nan")
    m["worst_district"] = str(inst.districts.names[worst]) if len(mean_d) else ""

    # Unmet demand.
    unmet_bed_days = 0.0
    unmet_adm = 0.0
    if len(tables.unmet):
        uz = ix.zone.get_indexer(tables.unmet["zone_code"])
        up = ix.pathway.get_indexer(tables.unmet["pathway"])
        s = tables.unmet["share"].to_numpy(float)
        unmet_adm += float((inst.hospital_admissions[uz, up] * s).sum())
        unmet_bed_days += float((inst.hospital_load[uz, up] * 365.0 * s).sum())
    if len(tables.virtual_unmet):
        vp = ix.pathway.get_indexer(tables.virtual_unmet["pathway"])
        adm_v = tables.virtual_unmet["admissions_per_year"].to_numpy(float)
        unmet_adm += float(adm_v.sum())
        unmet_bed_days += float((adm_v * inst.pathways.los_days[vp]).sum())
    m["unmet_admissions_per_year"] = unmet_adm
    m["unmet_bed_days_per_year"] = unmet_bed_days + onward_turned * 365.0

    # Demand and queueing: where patients actually get beds (the patient-flow model).
    demand = float(inst.hospital_admissions.sum() + inst.virtual_admissions.sum())
    m["hospital_admissions_per_year"] = float(flow.unit_admitted.sum())
    m["virtual_admissions_per_year"] = float(flow.hub_admitted.sum())
    m["demand_admissions_per_year"] = demand
    m["patients_finding_no_free_bed_per_year"] = flow.turned_away_per_year
    m["share_of_patients_finding_no_free_bed"] = flow.turned_away_per_year / demand if demand > 0 else 0.0
    m["patients_redirected_per_year"] = flow.redirected_per_year
    m["virtual_patients_finding_no_free_bed_per_year"] = float((flow.hub_arrivals * flow.hub_blocking).sum())
    open_units = units[units["beds"] > 0]
    m["mean_occupancy"] = float((open_units["occupancy"] * open_units["beds"]).sum() / open_units["beds"].sum()) if len(open_units) else float("nan")
    m["max_blocking_probability"] = float(open_units["blocking_probability"].max()) if len(open_units) else float("nan")
    m["smallest_open_site_beds"] = float(site_beds[is_open].min()) if is_open.any() else 0.0

    # The deprivation gap, and access by the second travel matrix (if the dataset has one).
    m.update(deprivation_metrics(inst, tables))
    m.update(second_matrix_metrics(inst, tables))
    return m


def objective_terms(metrics: Mapping[str, float]) -> dict[str, float]:
    """The four objective terms as the formulation defines them, from the metrics."""
    return {
        "cost": float(metrics["annual_cost_gbp"]),
        "travel": float(metrics["patient_travel_admission_minutes_per_year"]),
        "unmet": float(metrics["unmet_bed_days_per_year"]),
        "equity": float(metrics["worst_district_mean_travel_minutes"]),
    }


def weighted_objective(inst: Instance, metrics: Mapping[str, float]) -> float:
    terms = objective_terms(metrics)
    w = inst.weights.as_dict()
    return float(sum(w[k] * v for k, v in terms.items() if w[k]))


def beds_by_pathway(inst: Instance, tables: Tables, flow: PatientFlow | None = None) -> pd.DataFrame:
    """Beds per site and pathway: a shared ward's beds split by each pathway's load
    (largest remainder, so the parts add up to the ward)."""
    ix = _Index(inst)
    units = unit_table(inst, tables, flow)
    rows = []
    a = tables.assignment
    load_sp = np.zeros((inst.n_sites, len(inst.pathways.ids)))
    if len(a):
        zi = ix.zone.get_indexer(a["zone_code"])
        si = ix.site.get_indexer(a["site_id"])
        pi = ix.pathway.get_indexer(a["pathway"])
        np.add.at(load_sp, (si, pi), inst.hospital_load[zi, pi] * a["share"].to_numpy(float))
    if len(tables.overflow):
        si = ix.site.get_indexer(tables.overflow["site_id"])
        pi = ix.pathway.get_indexer(tables.overflow["pathway"])
        np.add.at(load_sp, (si, pi), tables.overflow["admissions_per_year"].to_numpy(float) * inst.pathways.los_days[pi] / 365)
    for _, unit in units.iterrows():
        j = ix.site.get_loc(unit["site_id"])
        w = ix.ward.get_loc(unit["ward"])
        ps = [p for p in range(len(inst.pathways.ids)) if inst.pathways.ward[p] == w and inst.pathways.site_allowed[p, j]]
        loads = np.array([load_sp[j, p] for p in ps])
        beds = int(unit["beds"])
        if beds and loads.sum() > 0:
            exact = beds * loads / loads.sum()
            alloc = np.floor(exact).astype(int)
            short = beds - alloc.sum()
            alloc[np.argsort(-(exact - alloc), kind="stable")[:short]] += 1
        else:
            alloc = np.zeros(len(ps), int)
            if beds and ps:
                alloc[0] = beds
        for p, b, ld in zip(ps, alloc, loads, strict=True):
            rows.append({"site_id": unit["site_id"], "site_name": unit["site_name"], "ward": unit["ward"],
                         "pathway": inst.pathways.ids[p], "beds": int(b), "load_erlangs": float(ld)})
    return pd.DataFrame(rows, columns=["site_id", "site_name", "ward", "pathway", "beds", "load_erlangs"])


def calibration_table(inst: Instance | None) -> pd.DataFrame:
    """How demand was matched to today's beds: per unit with beds today, the occupancy
    assumed and the one the patient-flow model reproduces (see :mod:`optimiser.calibration`)."""
    cols = ["site_id", "site_name", "ward", "beds_today", "beds_today_source", "calibration_occupancy",
            "model_occupancy", "chance_no_free_bed", "admissions_per_year", "catchment_admissions_per_year",
            "catchment_rate_vs_area"]
    c = inst.calibration if inst is not None else None
    if c is None:
        return pd.DataFrame(columns=cols)
    opt = inst.bed_choices
    return pd.DataFrame({
        "site_id": inst.sites.ids[opt.unit_site[c.unit]], "site_name": inst.sites.names[opt.unit_site[c.unit]],
        "ward": np.asarray(inst.wards, object)[opt.unit_ward[c.unit]], "beds_today": c.beds_today,
        "beds_today_source": list(c.beds_today_source), "calibration_occupancy": c.target_occupancy,
        "model_occupancy": c.model_occupancy, "chance_no_free_bed": c.blocking,
        "admissions_per_year": c.admissions_per_year, "catchment_admissions_per_year": c.catchment_admissions_per_year,
        "catchment_rate_vs_area": c.relative_rate})[cols]


def calibration_records(inst: Instance | None) -> dict:
    c = inst.calibration if inst is not None else None
    if c is None:
        return {}
    table = calibration_table(inst)
    return {"scope": c.scope, "base_year": c.base_year, "converged": c.converged,
            "turned_away_share_today": c.turned_away_share, "notes": list(c.notes),
            "units": [{k: (v.item() if hasattr(v, "item") else v) for k, v in r.items()}
                      for r in table.to_dict("records")]}


class SolutionStatus(StrEnum):
    """What an answer is (a ``str``: compares equal to its value)."""

    OPTIMAL = "optimal"        # proven within the solve's mip_gap
    FEASIBLE = "feasible"      # the time limit stopped the search first (stopped_by_time_limit)
    QUICK = "quick"            # the workshop's quick answer, with its own proven gap
    EVALUATED = "evaluated"    # an option measured, not optimised


@dataclass(frozen=True)
class Solution:
    """An immutable result. Tables are pandas DataFrames (treat them as read-only; the
    accessors return copies); metrics are a read-only mapping with units in the keys."""

    name: str
    status: SolutionStatus
    status_message: str
    objective: float | None
    tables: Tables
    metrics: Mapping[str, float | str]
    solver: str = ""
    solve_seconds: float = 0.0
    optimality_gap: float | None = None
    mode: str = "optimise"          # optimise | evaluate
    notes: tuple[str, ...] = ()
    breaks: tuple[str, ...] = ()    # scenario rules this configuration does not meet
    alternatives: tuple[Solution, ...] = ()
    stopped_by_time_limit: bool = False   # the time limit, not the gap, ended the search
    near_ties: tuple = ()                 # optimiser.model.near_ties.NearTie, best first
    near_tie_note: str = ""               # what the near-tie search covered
    _instance: Instance | None = field(default=None, repr=False, compare=False)
    # Where the result came from (dataset and scenario with their SHA-256, software, solver,
    # date, assumption counts): see optimiser.provenance; attached by the api.
    provenance: Mapping[str, object] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "metrics", MappingProxyType(dict(self.metrics)))
        object.__setattr__(self, "status", SolutionStatus(self.status))
        object.__setattr__(self, "provenance", MappingProxyType(dict(self.provenance)))
        object.__setattr__(self, "_flow_memo", [])

    def _flow(self) -> PatientFlow:
        """The patient-flow model run on this answer, worked out once: the tables below all
        read it, and the solution (its tables and instance) does not change."""
        memo = self.__dict__.get("_flow_memo")
        if memo is None:     # a solution unpickled from before the memo existed
            memo = []
            object.__setattr__(self, "_flow_memo", memo)
        if not memo:
            memo.append(flow_of(self.instance, self.tables))
        return memo[0]

    @property
    def ok(self) -> bool:
        return self.status in ("optimal", "feasible", "quick", "evaluated")

    @property
    def is_single_best(self) -> bool:
        """True only for an answer proven within its gap that no other materially different
        configuration comes close to: what may be presented as 'the best configuration'."""
        return (self.mode == "optimise" and self.status == "optimal" and not self.stopped_by_time_limit
                and not self.near_ties)

    @property
    def instance(self) -> Instance:
        if self._instance is None:
            raise AttributeError("this solution was read from disk and has no instance attached")
        return self._instance

    # Tidy tables -----------------------------------------------------------------------
    @property
    def beds(self) -> pd.DataFrame:
        return beds_by_pathway(self.instance, self.tables, self._flow())

    @property
    def units(self) -> pd.DataFrame:
        return unit_table(self.instance, self.tables, self._flow())

    @property
    def sites(self) -> pd.DataFrame:
        u = self.units
        out = u.groupby(["site_id", "site_name"], sort=False).agg(
            beds=("beds", "sum"), current_beds=("current_beds", "sum"),
            admissions_per_year=("admissions_per_year", "sum"), load_erlangs=("load_erlangs", "sum"),
            patients_finding_no_free_bed_per_year=("patients_finding_no_free_bed_per_year", "sum")).reset_index()
        out["open"] = out["beds"] > 0
        return out

    @property
    def virtual_beds(self) -> pd.DataFrame:
        return virtual_table(self.instance, self.tables, self._flow())

    @property
    def assignment(self) -> pd.DataFrame:
        a = self.tables.assignment.copy()
        if len(a):
            ix = _Index(self.instance)
            zi = ix.zone.get_indexer(a["zone_code"])
            si = ix.site.get_indexer(a["site_id"])
            pi = ix.pathway.get_indexer(a["pathway"])
            a["travel_minutes"] = self.instance.travel[zi, si]
            a["admissions_per_year"] = self.instance.hospital_admissions[zi, pi] * a["share"].to_numpy(float)
        return a

    @property
    def zones(self) -> pd.DataFrame:
        return zone_table(self.instance, self.tables)

    def summary(self) -> dict:
        return {
            "name": self.name, "status": self.status, "status_message": self.status_message,
            "mode": self.mode, "objective": self.objective, "solver": self.solver,
            "solve_seconds": self.solve_seconds, "optimality_gap": self.optimality_gap,
            "stopped_by_time_limit": self.stopped_by_time_limit,
            "metrics": dict(self.metrics), "breaks": list(self.breaks), "notes": list(self.notes),
            "near_ties": [t.summary() for t in self.near_ties], "near_tie_search": self.near_tie_note,
            "units": self._unit_summary(), "calibration": calibration_records(self._instance),
            **({"provenance": dict(self.provenance)} if self.provenance else {}),
        }

    def _unit_summary(self) -> list[dict]:
        if self._instance is None:
            return []
        u = self.units
        cols = ["site_id", "ward", "beds", "current_beds", "planned_load_erlangs", "inflow_erlangs", "load_erlangs",
                "occupancy", "blocking_probability", "admissions_per_year"]
        return [{k: (v.item() if hasattr(v, "item") else v) for k, v in row.items()} for row in u[cols].to_dict("records")]
