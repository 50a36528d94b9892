"""The numeric core: a dataset and a scenario compiled into arrays.

:class:`Instance` holds everything the formulation needs and nothing it doesn't: no
geometry, no file paths. :func:`compile_instance` is the geospatial adapter (dataset +
scenario -> arrays); :meth:`Instance.p_median` builds one straight from a cost matrix, as
spopt's ``PMedian.from_cost_matrix`` does, for the classical p-median benchmarks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np
from pyproj import Transformer

from optimiser.calibration import Calibration, calibrate
from optimiser.dataset.core import CRS, Dataset
from optimiser.demand import current_beds, pathway_demand
from optimiser.errors import ScenarioError
from optimiser.queueing import capacity_steps
from optimiser.scenario import Scenario

STATUS_CODES = {"free": 0, "keep_open": 1, "close": -1}


@dataclass(frozen=True)
class Zones:
    ids: np.ndarray
    names: np.ndarray
    district: np.ndarray          # index into Districts
    population: np.ndarray
    population_65: np.ndarray
    deprivation_decile: np.ndarray | None = None   # IMD 2019 decile 1-10 (1 = most deprived); 0 = unknown

    def __post_init__(self) -> None:
        if self.deprivation_decile is None:
            object.__setattr__(self, "deprivation_decile", np.zeros(len(self.ids), int))


@dataclass(frozen=True)
class Districts:
    ids: np.ndarray
    names: np.ndarray
    current_virtual_beds: np.ndarray | None = None   # home-based beds today, if known


@dataclass(frozen=True)
class Sites:
    ids: np.ndarray
    names: np.ndarray
    status: np.ndarray            # 0 free, 1 keep open, -1 close
    fixed_cost: np.ndarray        # GBP/year when the site keeps beds
    cost_per_bed: np.ndarray      # GBP/year per bed
    max_beds: np.ndarray          # estate limit over all wards
    current_beds: np.ndarray


@dataclass(frozen=True)
class Pathways:
    ids: tuple[str, ...]
    labels: tuple[str, ...]
    ward: np.ndarray              # index into Instance.wards
    los_days: np.ndarray
    virtual_los_days: np.ndarray
    site_allowed: np.ndarray      # (P, S) bool
    max_travel: np.ndarray        # (P,) minutes
    fallback_ward: np.ndarray | None = None   # (P,) ward used when the pathway's own are full; -1 none


@dataclass(frozen=True)
class BedOptions:
    """Allowed bed counts for each unit (a ward type on a site), with the load each can
    carry under the utilisation rule and its one-off capital cost."""

    unit_site: np.ndarray
    unit_ward: np.ndarray
    unit_current: np.ndarray
    option_unit: np.ndarray
    option_beds: np.ndarray
    option_capacity: np.ndarray   # erlangs
    option_capital: np.ndarray    # GBP one-off


@dataclass(frozen=True)
class VirtualSizing:
    """Virtual beds per district: an integer number of ``step``-bed blocks in [lo, hi].

    The Erlang capacity curve kappa(beds) is convex, so the chord through two neighbouring
    grid points (``anchor`` and ``anchor + step``) lies on or below it at every grid point:
    ``capacity <= anchor_capacity + slope * (beds - anchor)`` never promises more than the
    queueing target allows, and is exact at the size the district's demand needs. A district
    may also run no virtual beds at all (then it carries no virtual load)."""

    lo: np.ndarray                # fewest beds if any are run (multiple of step)
    hi: np.ndarray                # most beds
    step: int
    anchor: np.ndarray            # beds at which the chord touches the Erlang curve
    anchor_capacity: np.ndarray   # erlangs carried at anchor
    slope: np.ndarray             # erlangs per extra bed along the chord
    must_run: np.ndarray          # bool: min_beds > 0
    cost_per_bed: float

    def capacity(self, beds) -> np.ndarray:
        """The chord's capacity (erlangs) at ``beds`` (what the model uses)."""
        return self.anchor_capacity + self.slope * (np.asarray(beds, float) - self.anchor)


@dataclass(frozen=True)
class CoverageRule:
    pathway: int
    threshold_minutes: float
    share: float
    population: str               # "65_plus" | "all"


@dataclass(frozen=True)
class Rules:
    min_beds_open_site: int = 0
    coverage: tuple[CoverageRule, ...] = ()
    open_exactly: int | None = None
    open_at_least: int | None = None
    open_at_most: int | None = None
    budget: float | None = None
    single_assignment: bool = True
    capacity_limits: bool = True
    utilisation_rule: str = "erlang"
    utilisation_target: float = 0.05
    virtual_target: float = 0.05
    onward_flow: bool = False     # patients refused by a full unit or hub go on to another


@dataclass(frozen=True)
class Weights:
    cost: float = 1.0
    travel: float = 0.0
    unmet: float = 0.0
    equity: float = 0.0
    lexicographic: tuple[str, ...] | None = None
    lexicographic_tolerance: float = 1e-3
    capital_annualisation_years: float = 25.0

    def as_dict(self) -> dict[str, float]:
        return {"cost": self.cost, "travel": self.travel, "unmet": self.unmet,
                "equity": self.equity}


@dataclass(frozen=True)
class SolverSettings:
    backend: str = "ortools"
    ortools_solver: str = "highs"
    time_limit_seconds: float = 60.0
    mip_gap: float = 1e-4
    alternatives: int = 0
    strong_linking: str = "auto"
    assignment_form: str = "auto"


@dataclass(frozen=True)
class Instance:
    name: str
    zones: Zones
    districts: Districts
    sites: Sites
    pathways: Pathways
    wards: tuple[str, ...]
    travel: np.ndarray                    # (Z, S) minutes
    hospital_admissions: np.ndarray       # (Z, P) per year, must use a hospital bed
    virtual_admissions: np.ndarray        # (Z, P) per year, suitable for and reachable by a virtual bed
    district_site_travel: np.ndarray      # (D, S) minutes, for virtual overflow to hospital
    options: BedOptions
    virtual: VirtualSizing | None
    rules: Rules
    weights: Weights
    solver: SolverSettings = field(default_factory=SolverSettings)
    notes: tuple[str, ...] = ()
    site_travel: np.ndarray | None = None       # (S, S) minutes from each site to each site
    calibration: Calibration | None = None      # how demand was matched to today's beds

    # ---- derived quantities ----------------------------------------------------------
    @property
    def n_zones(self) -> int:
        return len(self.zones.ids)

    @property
    def n_sites(self) -> int:
        return len(self.sites.ids)

    @property
    def hospital_load(self) -> np.ndarray:
        return self.hospital_admissions * self.pathways.los_days[None, :] / 365.0

    @property
    def virtual_load(self) -> np.ndarray:
        return self.virtual_admissions * self.pathways.virtual_los_days[None, :] / 365.0

    def overflow_pairs(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(district, site, pathway) routes for virtual-suitable patients who get a hospital
        bed instead, within the pathway's travel limit from the district on average."""
        if self.virtual is None:
            return (np.zeros(0, int),) * 3
        by_district = np.zeros((len(self.districts.ids), len(self.pathways.ids)))
        np.add.at(by_district, self.zones.district, self.virtual_admissions)
        ds, ss, ps = [], [], []
        open_ok = self.sites.status >= 0
        for p in range(len(self.pathways.ids)):
            ok = (self.district_site_travel <= self.pathways.max_travel[p] + 1e-9)
            ok &= (self.pathways.site_allowed[p] & open_ok)[None, :]
            ok &= (by_district[:, p] > 0)[:, None]
            d, s = np.nonzero(ok)
            ds.append(d)
            ss.append(s)
            ps.append(np.full(len(d), p))
        return np.concatenate(ds), np.concatenate(ss), np.concatenate(ps)

    def virtual_admissions_by_district(self) -> np.ndarray:
        out = np.zeros((len(self.districts.ids), len(self.pathways.ids)))
        np.add.at(out, self.zones.district, self.virtual_admissions)
        return out

    def with_rules(self, **changes) -> Instance:
        return replace(self, rules=replace(self.rules, **changes))

    def with_weights(self, **changes) -> Instance:
        return replace(self, weights=replace(self.weights, **changes))

    # ---- the classical p-median ------------------------------------------------------
    @classmethod
    def p_median(cls, cost: np.ndarray, p: int, weights: np.ndarray | None = None,
                 name: str = "p-median", zone_ids=None, site_ids=None,
                 solver: SolverSettings | None = None) -> Instance:
        """Uncapacitated p-median: open exactly ``p`` sites, assign every zone (weight
        ``weights``) to an open site, minimise total weighted cost. Capacity, cost, virtual
        beds and travel limits are dropped."""
        cost = np.asarray(cost, float)
        n, m = cost.shape
        w = np.ones(n) if weights is None else np.asarray(weights, float)
        zone_ids = np.asarray(zone_ids if zone_ids is not None else [str(i + 1) for i in range(n)], object)
        site_ids = np.asarray(site_ids if site_ids is not None else [str(j + 1) for j in range(m)], object)
        zones = Zones(zone_ids, zone_ids, np.zeros(n, int), w, w)
        sites = Sites(site_ids, site_ids, np.zeros(m, np.int8), np.zeros(m), np.zeros(m),
                      np.ones(m, int), np.zeros(m, int))
        pathways = Pathways(("demand",), ("Demand",), np.zeros(1, int), np.array([365.0]),
                            np.array([365.0]), np.ones((1, m), bool), np.array([np.inf]))
        options = BedOptions(
            unit_site=np.arange(m), unit_ward=np.zeros(m, int), unit_current=np.zeros(m, int),
            option_unit=np.repeat(np.arange(m), 2), option_beds=np.tile([0, 1], m),
            option_capacity=np.tile([0.0, np.inf], m), option_capital=np.zeros(2 * m))
        return cls(
            name=name, zones=zones, districts=Districts(np.array(["all"], object), np.array(["All"], object)),
            sites=sites, pathways=pathways, wards=("facility",), travel=cost,
            hospital_admissions=w[:, None].copy(), virtual_admissions=np.zeros((n, 1)),
            district_site_travel=cost.mean(axis=0, keepdims=True), options=options, virtual=None,
            rules=Rules(open_exactly=int(p), single_assignment=False, capacity_limits=False),
            weights=Weights(cost=0.0, travel=1.0, unmet=1e3 * float(cost.max() + 1)),
            solver=solver or SolverSettings(),
        )


# ---------------------------------------------------------------------------------------
# dataset + scenario -> instance
# ---------------------------------------------------------------------------------------

def _bed_steps(ward, max_beds: int) -> list[int]:
    if ward.bed_options is not None:
        steps = sorted({int(b) for b in ward.bed_options if b <= max_beds} | {0})
    else:
        top = min(max_beds, ward.largest or max_beds)
        steps = [0] + list(range(ward.smallest, top + 1, ward.step))
    return steps


def _site_value(scenario: Scenario, site_id: str, attr: str, default):
    spec = scenario.sites.get(site_id)
    value = getattr(spec, attr) if spec is not None else None
    return default if value is None else value


def _hub_points(dataset: Dataset, scenario: Scenario) -> np.ndarray:
    zones = dataset.zones
    weights = zones[["pop_65_74", "pop_75_84", "pop_85_plus"]].sum(axis=1) + 1e-9
    hubs = []
    to_bng = Transformer.from_crs("EPSG:4326", CRS, always_xy=True)
    for d in dataset.districts.index:
        if d in scenario.virtual.hub_locations:
            lat, lon = scenario.virtual.hub_locations[d]
            hubs.append(to_bng.transform(lon, lat))
        else:
            mask = zones["district_code"] == d
            w = weights[mask]
            hubs.append(((zones.loc[mask, "x"] * w).sum() / w.sum(), (zones.loc[mask, "y"] * w).sum() / w.sum()))
    return np.asarray(hubs, float)


def compile_instance(dataset: Dataset, scenario: Scenario) -> Instance:
    """Turn a dataset and a scenario into the arrays the formulation uses."""
    from optimiser.travel import estimator_from_metadata

    zones, sites, districts = dataset.zones, dataset.sites, dataset.districts
    for sid in scenario.sites:
        if sid not in sites.index:
            raise ScenarioError(f"site '{sid}' is not in the dataset (sites: {', '.join(sites.index)})",
                                key=f"sites.{sid}")
    pathway_ids = tuple(scenario.pathways)
    ward_ids = tuple(scenario.wards)
    n_z, n_s, n_p = len(zones), len(sites), len(pathway_ids)
    district_ids = districts.index.to_numpy(object)
    district_pos = {d: i for i, d in enumerate(district_ids)}
    pop65 = zones[["pop_65_74", "pop_75_84", "pop_85_plus"]].sum(axis=1).to_numpy(float)
    decile = (zones["imd_decile"].fillna(0).to_numpy(int) if "imd_decile" in zones.columns
              else np.zeros(len(zones), int))
    z = Zones(zones.index.to_numpy(object), zones["zone_name"].to_numpy(object),
              zones["district_code"].map(district_pos).to_numpy(int),
              zones["pop_total"].to_numpy(float), pop65, decile)

    # Sites: status, costs, estate limit.
    d = scenario.site_defaults
    status = np.array([STATUS_CODES[_site_value(scenario, s, "status", "free")] for s in sites.index], np.int8)
    fixed = np.array([_site_value(scenario, s, "fixed_cost_per_year", d.fixed_cost_per_year) for s in sites.index], float)
    per_bed = np.array([_site_value(scenario, s, "cost_per_bed_per_year", d.cost_per_bed_per_year) for s in sites.index], float)
    ward_cost = np.array([_site_value(scenario, s, "new_ward_cost", d.new_ward_cost) for s in sites.index], float)
    max_beds = np.array([_site_value(scenario, s, "max_beds", int(sites.loc[s, "max_beds"])) for s in sites.index], int)
    current = current_beds(dataset, scenario)
    s_arr = Sites(sites.index.to_numpy(object), sites["site_name"].to_numpy(object), status, fixed,
                  per_bed, max_beds, current.sum(axis=1).to_numpy(int))

    # Pathways.
    allowed = np.zeros((n_p, n_s), bool)
    for p, pid in enumerate(pathway_ids):
        spec = scenario.pathways[pid]
        if spec.sites == "all":
            allowed[p] = True
        else:
            for sid in spec.sites:
                if sid not in sites.index:
                    raise ScenarioError(f"site '{sid}' is not in the dataset", key=f"pathways.{pid}.sites")
                allowed[p, sites.index.get_loc(sid)] = True
    max_travel = np.array([scenario.pathways[p].max_travel_minutes or scenario.travel.max_minutes
                           for p in pathway_ids], float)
    demand = pathway_demand(dataset, scenario)
    p_arr = Pathways(
        ids=pathway_ids,
        labels=tuple(scenario.pathways[p].label or p for p in pathway_ids),
        ward=np.array([ward_ids.index(scenario.pathways[p].ward) for p in pathway_ids], int),
        los_days=np.array([demand[p].length_of_stay_days for p in pathway_ids], float),
        virtual_los_days=np.array([demand[p].virtual_length_of_stay_days for p in pathway_ids], float),
        site_allowed=allowed, max_travel=max_travel,
        fallback_ward=np.array([ward_ids.index(scenario.pathways[p].fallback_ward)
                                if scenario.pathways[p].fallback_ward else -1 for p in pathway_ids], int))

    travel = dataset.travel_matrix().to_numpy(float)
    admissions = np.column_stack([demand[p].admissions.to_numpy(float) for p in pathway_ids])
    base_admissions = np.column_stack([demand[p].base_admissions.to_numpy(float) for p in pathway_ids])
    share = np.array([demand[p].virtual_share for p in pathway_ids], float)
    estimator = estimator_from_metadata(dataset.metadata)
    notes = [f"{p}: {demand[p].calibration_note}" for p in pathway_ids]
    if scenario.virtual.enabled and share.any():
        hubs = _hub_points(dataset, scenario)
        km = np.hypot(zones["x"].to_numpy() - hubs[z.district, 0], zones["y"].to_numpy() - hubs[z.district, 1]) / 1000
        if estimator is not None:
            staff_minutes = estimator.minutes(km)
        else:
            staff_minutes = np.array([travel[i].min() for i in range(n_z)])
            notes.append("hub travel: no road-time fit in the dataset; nearest-site time used")
        reachable = staff_minutes <= scenario.virtual.staff_travel_limit_minutes
        virtual_adm = admissions * share[None, :] * reachable[:, None]
        base_virtual = base_admissions * share[None, :] * reachable[:, None]
        if (~reachable).any():
            notes.append(f"{int((~reachable).sum())} zones are beyond the hub staff travel limit; "
                         "their patients need hospital beds")
    else:
        virtual_adm = np.zeros_like(admissions)
        base_virtual = np.zeros_like(admissions)
    hospital_adm = admissions - virtual_adm

    dist_travel = _district_site_travel(travel, virtual_adm, z.district, len(district_ids))

    # Units and bed options.
    rules_rule = scenario.utilisation.rule
    target = (scenario.utilisation.blocking_target if rules_rule == "erlang"
              else scenario.utilisation.occupancy_target)
    unit_site, unit_ward, unit_current = [], [], []
    opt_unit, opt_beds, opt_cap, opt_capital = [], [], [], []
    for j, sid in enumerate(sites.index):
        for w_i, wid in enumerate(ward_ids):
            in_ward = [p for p in range(n_p) if p_arr.ward[p] == w_i and allowed[p, j]]
            if not in_ward:
                continue
            u = len(unit_site)
            cur = int(sum(current.loc[sid, pathway_ids[p]] for p in in_ward if pathway_ids[p] in current.columns))
            steps = _bed_steps(scenario.wards[wid], int(max_beds[j]))
            caps = capacity_steps(steps, rules_rule, target)
            added = np.maximum(np.asarray(steps) - cur, 0)
            wards_added = np.ceil(added / d.ward_size_for_capital)
            unit_site.append(j)
            unit_ward.append(w_i)
            unit_current.append(cur)
            opt_unit += [u] * len(steps)
            opt_beds += steps
            opt_cap += list(caps)
            opt_capital += list(wards_added * ward_cost[j])
    options = BedOptions(np.array(unit_site, int), np.array(unit_ward, int), np.array(unit_current, int),
                         np.array(opt_unit, int), np.array(opt_beds, int), np.array(opt_cap, float),
                         np.array(opt_capital, float))

    coverage = ()
    if scenario.travel.standard is not None:
        st = scenario.travel.standard
        coverage = tuple(CoverageRule(pathway_ids.index(p), st.threshold_minutes, st.share, st.population)
                         for p in st.pathways)
    p_median = scenario.mode == "p_median"
    rules = Rules(
        min_beds_open_site=scenario.min_beds_per_open_site,
        coverage=coverage,
        open_exactly=scenario.open_sites.exactly, open_at_least=scenario.open_sites.at_least,
        open_at_most=scenario.open_sites.at_most, budget=scenario.budget_per_year,
        single_assignment=scenario.travel.assignment == "single",
        capacity_limits=not p_median, utilisation_rule=rules_rule, utilisation_target=target,
        virtual_target=scenario.utilisation.virtual_blocking_target or target,
        onward_flow=scenario.utilisation.onward_flow and rules_rule == "erlang",
    )
    o = scenario.objective
    weights = Weights(
        cost=0.0 if p_median else o.cost_weight, travel=o.travel_weight, unmet=o.unmet_weight,
        equity=0.0 if p_median else o.equity_weight,
        lexicographic=tuple(o.lexicographic) if o.lexicographic else None,
        lexicographic_tolerance=o.lexicographic_tolerance,
        capital_annualisation_years=d.capital_annualisation_years)
    sv = scenario.solver
    solver = SolverSettings(sv.backend, sv.ortools_solver, sv.time_limit_seconds, sv.mip_gap,
                            sv.alternatives, sv.strong_linking, sv.assignment_form)
    current_virtual = (districts["current_virtual_beds"].to_numpy(float).round().astype(int)
                       if "current_virtual_beds" in districts else None)
    inst = Instance(
        name=scenario.name, zones=z,
        districts=Districts(district_ids, districts["district_name"].to_numpy(object), current_virtual),
        sites=s_arr, pathways=p_arr, wards=ward_ids, travel=travel,
        hospital_admissions=hospital_adm, virtual_admissions=virtual_adm,
        district_site_travel=dist_travel, options=options, virtual=None, rules=rules,
        weights=weights, solver=solver, notes=tuple(notes),
        site_travel=travel[zones.index.get_indexer(sites["zone_code"])] if "zone_code" in sites else None)

    # Demand matched to today's beds (at the base year), then the virtual-bed sizing and the
    # district-to-site travel that depend on it.
    calibrated = np.array([scenario.pathways[p].demand.method == "calibrated" for p in pathway_ids])
    if not p_median:
        base = replace(inst, hospital_admissions=base_admissions - base_virtual, virtual_admissions=base_virtual)
        factors, record = calibrate(
            base, options.unit_current, current_virtual, _calibration_targets(scenario, current, options, ward_ids, pathway_ids, sites.index),
            calibrated, scope=scenario.calibration.scope, base_year=_base_year(dataset, scenario),
            beds_source=_beds_source(dataset, _unit_pathways(options, ward_ids, pathway_ids, scenario, sites.index),
                                     options, sites.index))
        virtual_adm = virtual_adm * factors
        hospital_adm = hospital_adm * factors
        inst = replace(inst, hospital_admissions=hospital_adm, virtual_admissions=virtual_adm,
                       district_site_travel=_district_site_travel(travel, virtual_adm, z.district, len(district_ids)),
                       calibration=record, notes=inst.notes + record.notes)
    if scenario.virtual.enabled and share.any():
        vtarget = target if rules_rule == "occupancy" else (
            scenario.utilisation.virtual_blocking_target or target)
        inst = replace(inst, virtual=_virtual_sizing(scenario, district_ids, virtual_adm, p_arr.virtual_los_days,
                                                     z.district, rules_rule, vtarget))
    return inst


def _district_site_travel(travel: np.ndarray, virtual_adm: np.ndarray, district: np.ndarray, n_d: int) -> np.ndarray:
    """District -> site minutes for virtual-suitable patients who go to hospital: the mean over
    the district's zones weighted by those patients."""
    w = np.maximum(virtual_adm.sum(axis=1), 1e-9)
    out = np.full((n_d, travel.shape[1]), np.inf)
    for k in range(n_d):
        m = district == k
        if m.any():
            out[k] = (travel[m] * w[m, None]).sum(axis=0) / w[m].sum()
    return out


def _base_year(dataset: Dataset, scenario: Scenario) -> float:
    try:
        return float(dataset.metadata.get("population_base_year") or scenario.horizon_year)
    except ValueError:
        return float(scenario.horizon_year)


def _unit_pathways(options: BedOptions, ward_ids, pathway_ids, scenario: Scenario, site_ids):
    """For each unit, the pathways whose patients use it."""
    out = []
    for s, w in zip(options.unit_site, options.unit_ward, strict=True):
        sid = site_ids[s]
        out.append([p for p in pathway_ids if scenario.pathways[p].ward == ward_ids[w]
                    and (scenario.pathways[p].sites == "all" or sid in scenario.pathways[p].sites)])
    return out


def _calibration_targets(scenario: Scenario, current, options: BedOptions, ward_ids, pathway_ids, site_ids) -> np.ndarray:
    """Occupancy today's beds of each unit are taken to run at: its pathways' calibration
    occupancies weighted by their beds today (NaN: no calibrated pathway has beds there)."""
    out = np.full(len(options.unit_site), np.nan)
    for u, pathways in enumerate(_unit_pathways(options, ward_ids, pathway_ids, scenario, site_ids)):
        sid = site_ids[options.unit_site[u]]
        beds = np.array([float(current.loc[sid, p]) if p in current.columns else 0.0 for p in pathways])
        occ = np.array([scenario.pathways[p].demand.calibration_occupancy for p in pathways])
        use = np.array([scenario.pathways[p].demand.method == "calibrated" for p in pathways], bool) & (beds > 0)
        if use.any():
            out[u] = float((occ[use] * beds[use]).sum() / beds[use].sum())
    return out


def _beds_source(dataset: Dataset, unit_pathways: list[list[str]], options: BedOptions, site_ids) -> tuple[str, ...]:
    """Whether each unit's beds today are a fact or an assumption, from the dataset's
    provenance ('assumption' if any of its pathways' figures is)."""
    prov = dataset.provenance
    kinds = dict(zip(prov["key"], prov["kind"], strict=True)) if len(prov) else {}
    out = []
    for s, pathways in zip(options.unit_site, unit_pathways, strict=True):
        found = {kinds.get(f"sites.beds_{p}.{site_ids[s]}") for p in pathways}
        found.discard(None)
        out.append("assumption" if "assumption" in found else (sorted(found)[0] if found else "unknown"))
    return tuple(out)
def _virtual_sizing(scenario: Scenario, district_ids, virtual_adm, vlos, zone_district, rule: str,
                    target: float) -> VirtualSizing:
    v = scenario.virtual
    step = v.step
    n_d = len(district_ids)
    load = np.zeros(n_d)
    np.add.at(load, zone_district, (virtual_adm * vlos[None, :] / 365.0).sum(axis=1))
    lo = np.zeros(n_d, int)
    hi = np.zeros(n_d, int)
    anchor = np.zeros(n_d, int)
    for k, code in enumerate(district_ids):
        raw_lo = v.min_beds.get(code, v.min_beds.get("default", 0))
        raw_hi = v.max_beds.get(code, v.max_beds.get("default", 0))
        lo[k] = step * math.ceil(raw_lo / step)
        hi[k] = step * (raw_hi // step)
        if lo[k] > hi[k]:
            raise ScenarioError(f"no multiple of {step} virtual beds lies between the minimum "
                                f"{raw_lo} and maximum {raw_hi} for district {code}",
                                key="virtual.step")
        grid = np.arange(lo[k], hi[k] + 1, step)
        caps = capacity_steps(grid, rule, target)
        need = np.flatnonzero(caps >= load[k] - 1e-9)
        a = int(grid[need[0]]) if len(need) else int(grid[-1])
        anchor[k] = min(max(a, lo[k]), max(hi[k] - step, lo[k]))
    cap_a = capacity_steps(anchor, rule, target)
    cap_b = capacity_steps(anchor + step, rule, target)
    slope = (cap_b - cap_a) / step
    return VirtualSizing(lo, hi, step, anchor, cap_a, slope, lo > 0, v.cost_per_bed_per_year)
