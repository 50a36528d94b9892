"""The numeric core: a dataset and a scenario compiled into arrays.

:class:`Instance` holds everything the formulation needs and nothing it doesn't: no
geometry, no file paths. :func:`compile_instance` is the geospatial adapter (dataset +
scenario -> arrays); :meth:`Instance.p_median` builds one straight from a cost matrix, as
spopt's ``PMedian.from_cost_matrix`` does, for the classical p-median benchmarks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields, replace

import numpy as np

from optimiser.calibration import Calibration, calibrate
from optimiser.dataset.core import Dataset
from optimiser.defaults import (
    DEFAULT_BACKEND,
    DEFAULT_MIP_GAP,
    DEFAULT_ORTOOLS_SOLVER,
    DEFAULT_TIME_LIMIT_SECONDS,
)
from optimiser.demand import current_beds, pathway_demand
from optimiser.errors import ScenarioError
from optimiser.queueing import capacity_steps
from optimiser.scenario import Scenario

STATUS_CODES = {"free": 0, "keep_open": 1, "close": -1}


def _read_only(obj) -> None:
    """Make every numpy array a frozen dataclass holds read-only (its values are facts of the
    instance: nothing downstream may change them in place)."""
    for f in fields(obj):
        value = getattr(obj, f.name)
        if isinstance(value, np.ndarray):
            value.flags.writeable = False


@dataclass(frozen=True, kw_only=True)
class Zones:
    """The small areas (LSOAs) whose residents need beds."""

    ids: np.ndarray
    """Zone codes (e.g. LSOA 2011 codes)."""
    names: np.ndarray
    """Zone names, for people."""
    district: np.ndarray
    """Index into :class:`Districts` of each zone's district."""
    population: np.ndarray
    """Residents, all ages."""
    population_65: np.ndarray
    """Residents aged 65 and over."""
    deprivation_decile: np.ndarray | None = None
    """IMD 2019 decile, 1 (most deprived) to 10; 0 where unknown."""

    def __post_init__(self) -> None:
        if self.deprivation_decile is None:
            object.__setattr__(self, "deprivation_decile", np.zeros(len(self.ids), int))
        _read_only(self)


@dataclass(frozen=True, kw_only=True)
class Districts:
    """The districts (local authorities) that run home-based beds."""

    ids: np.ndarray
    """District codes."""
    names: np.ndarray
    """District names, for people."""
    current_virtual_beds: np.ndarray | None = None
    """Home-based beds today, where known."""

    def __post_init__(self) -> None:
        _read_only(self)


@dataclass(frozen=True, kw_only=True)
class Sites:
    """The hospitals that may hold community beds."""

    ids: np.ndarray
    """Site ids (e.g. ``st_lukes``)."""
    names: np.ndarray
    """Site names, for people."""
    status: np.ndarray
    """0 free for the model to decide, 1 must keep beds, -1 must close."""
    fixed_cost: np.ndarray
    """GBP a year when the site keeps inpatient beds."""
    cost_per_bed: np.ndarray
    """GBP a year per bed."""
    max_beds: np.ndarray
    """Estate limit on beds over all the site's wards."""
    current_beds: np.ndarray
    """Beds today."""

    def __post_init__(self) -> None:
        _read_only(self)


@dataclass(frozen=True, kw_only=True)
class Pathways:
    """Care pathways (rehabilitation, stroke, palliative, ...)."""

    ids: tuple[str, ...]
    """Pathway ids."""
    labels: tuple[str, ...]
    """Pathway names, for people."""
    ward: np.ndarray
    """Index into ``Instance.wards`` of the ward type each pathway's beds belong to."""
    los_days: np.ndarray
    """Mean length of stay in a hospital bed, days."""
    virtual_los_days: np.ndarray
    """Mean length of stay on a home-based bed, days."""
    site_allowed: np.ndarray
    """(P, S) whether each site may host each pathway."""
    max_travel: np.ndarray
    """(P,) longest journey to a hospital, minutes."""
    fallback_ward: np.ndarray | None = None
    """(P,) ward a patient is placed on when the pathway's own are full; -1 none."""

    def __post_init__(self) -> None:
        _read_only(self)


@dataclass(frozen=True, kw_only=True)
class BedChoices:
    """Allowed bed counts for each unit (a ward type on a site), with the load each can
    carry under the utilisation rule and its one-off capital cost."""

    unit_site: np.ndarray
    """(U,) site of each unit."""
    unit_ward: np.ndarray
    """(U,) ward type of each unit."""
    unit_current: np.ndarray
    """(U,) beds on each unit today."""
    option_unit: np.ndarray
    """(K,) unit of each bed option."""
    option_beds: np.ndarray
    """(K,) beds of each option (0 = the unit has none)."""
    option_capacity: np.ndarray
    """(K,) erlangs each option carries at the utilisation target."""
    option_capital: np.ndarray
    """(K,) one-off GBP to build each option's new wards."""

    def __post_init__(self) -> None:
        _read_only(self)


@dataclass(frozen=True, kw_only=True)
class VirtualSizing:
    """Virtual beds per district: an integer number of ``step``-bed blocks in [lo, hi].

    The Erlang capacity curve kappa(beds) is convex, so the chord through two neighbouring
    grid points (``anchor`` and ``anchor + step``) lies on or below it at every grid point:
    ``capacity <= anchor_capacity + slope * (beds - anchor)`` never promises more than the
    queueing target allows, and is exact at the size the district's demand needs. A district
    may also run no virtual beds at all (then it carries no virtual load)."""

    lo: np.ndarray
    """Fewest beds if any are run (a multiple of step)."""
    hi: np.ndarray
    """Most beds."""
    step: int
    """Beds per block."""
    anchor: np.ndarray
    """Beds at which the chord touches the Erlang curve."""
    anchor_capacity: np.ndarray
    """Erlangs carried at the anchor."""
    slope: np.ndarray
    """Erlangs per extra bed along the chord."""
    must_run: np.ndarray
    """Whether each district must run home-based beds (its minimum is above 0)."""
    cost_per_bed: float
    """GBP a year per home-based bed."""

    def __post_init__(self) -> None:
        _read_only(self)

    def capacity(self, beds) -> np.ndarray:
        """The chord's capacity (erlangs) at ``beds`` (what the model uses)."""
        return self.anchor_capacity + self.slope * (np.asarray(beds, float) - self.anchor)


@dataclass(frozen=True, kw_only=True)
class CoverageRule:
    """A travel standard: ``share`` of the population within ``threshold_minutes``."""

    pathway: int
    """Index of the pathway it applies to."""
    threshold_minutes: float
    """Travel threshold, minutes."""
    share: float
    """Share of the population that must be within it."""
    population: str
    """Which population counts: "65_plus" or "all"."""
    travel_matrix: str = "main"
    """Which minutes count: "main" (``Instance.travel``) or "second" (``Instance.second_travel``)."""


MOST_DEPRIVED_DEFAULT = (1, 2)
LEAST_DEPRIVED_DEFAULT = (9, 10)


@dataclass(frozen=True, kw_only=True)
class DeprivationRule:
    """The groups compared and the limits set (``None``: no limit; the groups still define
    the reported deprivation gap)."""

    most_deprived_deciles: tuple[int, ...] = MOST_DEPRIVED_DEFAULT
    least_deprived_deciles: tuple[int, ...] = LEAST_DEPRIVED_DEFAULT
    population: str = "65_plus"          # "65_plus" | "all"
    pathway: int = 0                     # reference pathway (index)
    max_gap_minutes: float | None = None
    max_worsening_minutes: float | None = None
    baseline_mean_minutes: float | None = None   # the most deprived group's mean under the baseline
    baseline_name: str = ""

    @property
    def limits(self) -> bool:
        """Whether the rule constrains anything (rather than only defining the groups)."""
        return self.max_gap_minutes is not None or self.worsening_cap is not None

    @property
    def worsening_cap(self) -> float | None:
        """The most the most deprived group's mean travel may be (baseline + M), if set and known."""
        if self.max_worsening_minutes is None or self.baseline_mean_minutes is None:
            return None
        return self.baseline_mean_minutes + self.max_worsening_minutes

    def group_label(self, which: str) -> str:
        deciles = self.most_deprived_deciles if which == "most" else self.least_deprived_deciles
        span = (f"{deciles[0]}-{deciles[-1]}" if list(deciles) == list(range(deciles[0], deciles[-1] + 1))
                else ", ".join(map(str, deciles)))
        return f"IMD decile{'s' if len(deciles) > 1 else ''} {span}"


@dataclass(frozen=True, kw_only=True)
class Rules:
    """The scenario's limits, as the rule families read them (see :mod:`optimiser.rules`)."""

    min_beds_open_site: int = 0
    """Fewest beds on a site that keeps beds."""
    coverage: tuple[CoverageRule, ...] = ()
    """Travel standards."""
    open_exactly: int | None = None
    """Number of sites with beds (None: free)."""
    open_at_least: int | None = None
    """Fewest sites with beds."""
    open_at_most: int | None = None
    """Most sites with beds."""
    budget: float | None = None
    """Most the configuration may cost a year, GBP."""
    single_assignment: bool = True
    """Each zone goes to one hospital per pathway (else its patients may be shared)."""
    capacity_limits: bool = True
    """Size beds by the utilisation rule (off for the p-median)."""
    utilisation_rule: str = "erlang"
    """"erlang" (blocking target) or "occupancy" (occupancy ceiling)."""
    utilisation_target: float = 0.05
    """Blocking probability (erlang) or occupancy ceiling (occupancy)."""
    virtual_target: float = 0.05
    """Blocking target of home-based beds."""
    onward_flow: bool = False
    """Patients refused by a full unit or hub go on to another (and the plan sizes for them)."""
    max_units: tuple[tuple[int, int], ...] = ()
    """(ward index, most units of that ward type with beds)."""
    deprivation: DeprivationRule | None = None
    """The deprivation equity rule (optimiser.rules.deprivation), if the scenario sets one."""


@dataclass(frozen=True, kw_only=True)
class Weights:
    """The objective's weights (GBP per unit of each term) or its lexicographic order."""

    cost: float = 1.0
    """Per GBP of annual cost."""
    travel: float = 0.0
    """Per admission-minute of travel."""
    unmet: float = 0.0
    """Per bed-day of demand placed nowhere."""
    equity: float = 0.0
    """Per minute of the worst district's mean travel."""
    lexicographic: tuple[str, ...] | None = None
    """Terms in order of priority instead of a weighted sum."""
    lexicographic_tolerance: float = 1e-3
    """Relative slack kept on earlier terms."""
    capital_annualisation_years: float = 25.0
    """Years one-off capital is spread over in the annual cost."""

    def as_dict(self) -> dict[str, float]:
        return {"cost": self.cost, "travel": self.travel, "unmet": self.unmet,
                "equity": self.equity}


@dataclass(frozen=True, kw_only=True)
class SolverSettings:
    """How to solve (defaults: :mod:`optimiser.defaults`, the same as the scenario's)."""

    backend: str = DEFAULT_BACKEND
    """"ortools" or "pulp"."""
    ortools_solver: str = DEFAULT_ORTOOLS_SOLVER
    """Solver through OR-Tools: "highs", "scip" or "sat"."""
    time_limit_seconds: float = DEFAULT_TIME_LIMIT_SECONDS
    """A safety net: a solve normally ends when proven within mip_gap."""
    mip_gap: float = DEFAULT_MIP_GAP
    """Relative gap at which a solve stops."""
    alternatives: int = 0
    """Next-best distinct configurations to find as well."""
    strong_linking: str = "auto"
    """Links x <= open for every zone-site pair: "auto", "on" or "off"."""
    assignment_form: str = "auto"
    """"auto" (radius form where exact) or "shares"."""

    @classmethod
    def of(cls, spec) -> SolverSettings:
        """From a scenario's ``solver`` section."""
        return cls(backend=spec.backend, ortools_solver=spec.ortools_solver, time_limit_seconds=spec.time_limit_seconds,
                   mip_gap=spec.mip_gap, alternatives=spec.alternatives, strong_linking=spec.strong_linking,
                   assignment_form=spec.assignment_form)


@dataclass(frozen=True, kw_only=True)
class Instance:
    """Everything the formulation needs and nothing it doesn't (no geometry, no files)."""

    name: str
    """Shown in results."""
    zones: Zones
    districts: Districts
    sites: Sites
    pathways: Pathways
    wards: tuple[str, ...]
    """Ward type ids."""
    travel: np.ndarray
    """(Z, S) minutes from each zone to each site."""
    hospital_admissions: np.ndarray
    """(Z, P) admissions a year that must use a hospital bed."""
    virtual_admissions: np.ndarray
    """(Z, P) admissions a year suitable for, and within reach of, a home-based bed."""
    district_site_travel: np.ndarray
    """(D, S) minutes, for virtual-suitable patients who go to hospital."""
    bed_choices: BedChoices
    """The units and their allowed bed counts."""
    virtual: VirtualSizing | None
    """Home-based bed sizing; None when the scenario plans none."""
    rules: Rules
    weights: Weights
    solver: SolverSettings = field(default_factory=SolverSettings)
    notes: tuple[str, ...] = ()
    """Plain-English notes carried into every result."""
    site_travel: np.ndarray | None = None
    """(S, S) minutes from each site to each site (onward journeys)."""
    calibration: Calibration | None = None
    """How demand was matched to today's beds."""

    second_travel: np.ndarray | None = None
    """(Z, S) a second matrix (e.g. public transport minutes; NaN = no route)."""
    second_travel_label: str = ""
    """What the second matrix measures, for people."""

    def __post_init__(self) -> None:
        _read_only(self)

    # ---- derived quantities ----------------------------------------------------------
    @property
    def n_zones(self) -> int:
        return len(self.zones.ids)

    @property
    def n_sites(self) -> int:
        return len(self.sites.ids)

    def travel_by(self, matrix: str) -> np.ndarray:
        """(Z, S) minutes on the ``"main"`` matrix or the ``"second"`` one (no route: inf)."""
        if matrix == "main":
            return self.travel
        if self.second_travel is None:
            raise ScenarioError("the travel standard is set on the second travel matrix, but the dataset "
                                "has none (add one with 'python -m optimiser data add-travel')",
                                key="travel.standard.travel_matrix")
        return np.where(np.isnan(self.second_travel), np.inf, self.second_travel)

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
    def from_arrays(cls, travel, admissions, *, bed_steps=(0, 5, 10), capacities=None, los_days: float = 36.5,
                    fixed_cost: float = 0.0, cost_per_bed: float = 0.0, max_beds=None, max_travel: float = np.inf,
                    status=None, population=None, population_65=None, district=None, zone_ids=None,
                    site_ids=None, rules: Rules | None = None, weights: Weights | None = None,
                    solver: SolverSettings | None = None, name: str = "instance", ward: str = "ward",
                    blocking: float = 0.05) -> Instance:
        """A one-pathway, one-ward instance straight from arrays (tests, benchmarks, the
        p-median): ``travel`` (Z, S) minutes, ``admissions`` (Z,) a year, the same bed steps
        at every site with their capacity from the Erlang loss model at ``blocking`` (or
        ``capacities``), no home-based beds."""
        travel = np.array(travel, float)          # copies: the instance freezes its arrays
        n, m = travel.shape
        adm = np.array(admissions, float)
        district = np.zeros(n, int) if district is None else np.asarray(district, int)
        n_d = int(district.max()) + 1 if n else 1
        pop = adm * 100.0 if population is None else np.asarray(population, float)
        zone_ids = np.asarray(zone_ids if zone_ids is not None else [f"Z{i}" for i in range(n)], object)
        site_ids = np.asarray(site_ids if site_ids is not None else [f"S{j}" for j in range(m)], object)
        steps = np.asarray(bed_steps, int)
        caps = capacity_steps(steps, "erlang", blocking) if capacities is None else np.asarray(capacities, float)
        k = len(steps)
        return cls(
            name=name,
            zones=Zones(ids=zone_ids, names=zone_ids.copy(), district=district, population=pop,
                        population_65=pop.copy() if population_65 is None else np.asarray(population_65, float)),
            districts=Districts(ids=np.array([f"D{d}" for d in range(n_d)], object),
                                names=np.array([f"District {d}" for d in range(n_d)], object)),
            sites=Sites(ids=site_ids, names=site_ids.copy(),
                        status=np.zeros(m, np.int8) if status is None else np.asarray(status, np.int8),
                        fixed_cost=np.full(m, float(fixed_cost)), cost_per_bed=np.full(m, float(cost_per_bed)),
                        max_beds=np.full(m, int(steps.max())) if max_beds is None else np.asarray(max_beds, int),
                        current_beds=np.zeros(m, int)),
            pathways=Pathways(ids=("care",), labels=("Care",), ward=np.zeros(1, int), los_days=np.array([float(los_days)]),
                              virtual_los_days=np.array([float(los_days)]), site_allowed=np.ones((1, m), bool),
                              max_travel=np.array([float(max_travel)])),
            wards=(ward,), travel=travel, hospital_admissions=adm[:, None].copy(), virtual_admissions=np.zeros((n, 1)),
            district_site_travel=np.zeros((n_d, m)),
            bed_choices=BedChoices(unit_site=np.arange(m), unit_ward=np.zeros(m, int), unit_current=np.zeros(m, int),
                               option_unit=np.repeat(np.arange(m), k), option_beds=np.tile(steps, m),
                               option_capacity=np.tile(caps, m), option_capital=np.zeros(k * m)),
            virtual=None, rules=rules or Rules(single_assignment=False, utilisation_target=blocking),
            weights=weights or Weights(cost=1.0, travel=1.0, unmet=1000.0), solver=solver or SolverSettings())

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
        base = cls.from_arrays(
            cost, w, bed_steps=(0, 1), capacities=(0.0, np.inf), los_days=365.0, population=w,
            zone_ids=zone_ids if zone_ids is not None else [str(i + 1) for i in range(n)],
            site_ids=site_ids if site_ids is not None else [str(j + 1) for j in range(m)],
            max_beds=np.ones(m, int), name=name, ward="facility",
            rules=Rules(open_exactly=int(p), single_assignment=False, capacity_limits=False),
            weights=Weights(cost=0.0, travel=1.0, unmet=1e3 * float(cost.max() + 1)), solver=solver)
        return replace(base, districts=Districts(ids=np.array(["all"], object), names=np.array(["All"], object)),
                       pathways=replace(base.pathways, ids=("demand",), labels=("Demand",)),
                       district_site_travel=cost.mean(axis=0, keepdims=True))


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
    z = Zones(ids=zones.index.to_numpy(object), names=zones["zone_name"].to_numpy(object),
              district=zones["district_code"].map(district_pos).to_numpy(int),
              population=zones["pop_total"].to_numpy(float), population_65=pop65, deprivation_decile=decile)

    # Sites: status, costs, estate limit.
    d = scenario.site_defaults
    status = np.array([STATUS_CODES[_site_value(scenario, s, "status", "free")] for s in sites.index], np.int8)
    fixed = np.array([_site_value(scenario, s, "fixed_cost_per_year", d.fixed_cost_per_year) for s in sites.index], float)
    per_bed = np.array([_site_value(scenario, s, "cost_per_bed_per_year", d.cost_per_bed_per_year) for s in sites.index], float)
    ward_cost = np.array([_site_value(scenario, s, "new_ward_cost", d.new_ward_cost) for s in sites.index], float)
    max_beds = np.array([_site_value(scenario, s, "max_beds", int(sites.loc[s, "max_beds"])) for s in sites.index], int)
    current = current_beds(dataset, scenario)
    s_arr = Sites(ids=sites.index.to_numpy(object), names=sites["site_name"].to_numpy(object), status=status,
                  fixed_cost=fixed, cost_per_bed=per_bed, max_beds=max_beds,
                  current_beds=current.sum(axis=1).to_numpy(int))

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
        km = dataset.hub_distance_km(scenario.virtual.hub_locations)
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
    options = BedChoices(unit_site=np.array(unit_site, int), unit_ward=np.array(unit_ward, int),
                         unit_current=np.array(unit_current, int), option_unit=np.array(opt_unit, int),
                         option_beds=np.array(opt_beds, int), option_capacity=np.array(opt_cap, float),
                         option_capital=np.array(opt_capital, float))

    coverage = ()
    if scenario.travel.standard is not None:
        st = scenario.travel.standard
        coverage = tuple(CoverageRule(pathway=pathway_ids.index(p), threshold_minutes=st.threshold_minutes,
                                      share=st.share, population=st.population, travel_matrix=st.travel_matrix)
                         for p in st.pathways)
        if st.travel_matrix == "second" and getattr(dataset, "second_travel", None) is None:
            raise ScenarioError("the travel standard is set on the second travel matrix, but the dataset has "
                                "none (add one with 'python -m optimiser data add-travel')",
                                key="travel.standard.travel_matrix")
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
        max_units=tuple((ward_ids.index(w), int(spec.max_units)) for w, spec in scenario.wards.items()
                        if spec.max_units is not None),
        deprivation=_deprivation_rule(scenario, pathway_ids, coverage, decile),
    )
    o = scenario.objective
    weights = Weights(
        cost=0.0 if p_median else o.cost_weight, travel=o.travel_weight, unmet=o.unmet_weight,
        equity=0.0 if p_median else o.equity_weight,
        lexicographic=tuple(o.lexicographic) if o.lexicographic else None,
        lexicographic_tolerance=o.lexicographic_tolerance,
        capital_annualisation_years=d.capital_annualisation_years)
    sv = scenario.solver
    solver = SolverSettings.of(sv)
    current_virtual = (districts["current_virtual_beds"].to_numpy(float).round().astype(int)
                       if "current_virtual_beds" in districts else None)
    inst = Instance(
        name=scenario.name, zones=z,
        districts=Districts(ids=district_ids, names=districts["district_name"].to_numpy(object),
                            current_virtual_beds=current_virtual),
        sites=s_arr, pathways=p_arr, wards=ward_ids, travel=travel,
        hospital_admissions=hospital_adm, virtual_admissions=virtual_adm,
        district_site_travel=dist_travel, bed_choices=options, virtual=None, rules=rules,
        weights=weights, solver=solver, notes=tuple(notes),
        site_travel=travel[zones.index.get_indexer(sites["zone_code"])] if "zone_code" in sites else None,
        **_second_travel(dataset))

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


def _deprivation_rule(scenario: Scenario, pathway_ids, coverage, decile: np.ndarray) -> DeprivationRule:
    """The scenario's deprivation equity rule (``equity.deprivation``), checked against the
    dataset's deciles; its baseline mean is filled in by :func:`optimiser.api.instance_for`."""
    spec = scenario.equity.deprivation
    reference = coverage[0].pathway if coverage else 0
    if spec is None:   # no limit: the default groups, for the reported deprivation gap
        return DeprivationRule(pathway=reference)
    pathway = pathway_ids.index(spec.pathway) if spec.pathway is not None else reference
    rule = DeprivationRule(most_deprived_deciles=tuple(spec.most_deprived_deciles),
                           least_deprived_deciles=tuple(spec.least_deprived_deciles), population=spec.population,
                           pathway=pathway, max_gap_minutes=spec.max_gap_minutes,
                           max_worsening_minutes=spec.max_worsening_minutes, baseline_name=spec.baseline_option)
    for which, deciles in (("most", rule.most_deprived_deciles), ("least", rule.least_deprived_deciles)):
        if not np.isin(decile, deciles).any():
            known = sorted(set(decile.tolist()) - {0})
            raise ScenarioError(f"no small area of the dataset is in IMD decile(s) {', '.join(map(str, deciles))} "
                                f"(the {which} deprived group); the dataset's deciles: "
                                f"{', '.join(map(str, known)) or 'none (import with --deprivation)'}",
                                key=f"equity.deprivation.{which}_deprived_deciles")
    return rule


def _second_travel(dataset: Dataset) -> dict:
    """The dataset's second travel matrix (zones x sites, NaN = no route) and its name."""
    if getattr(dataset, "second_travel", None) is None:
        return {}
    return {"second_travel": dataset.second_travel_matrix().to_numpy(float),
            "second_travel_label": dataset.second_travel_label}


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


def _unit_pathways(options: BedChoices, ward_ids, pathway_ids, scenario: Scenario, site_ids):
    """For each unit, the pathways whose patients use it."""
    out = []
    for s, w in zip(options.unit_site, options.unit_ward, strict=True):
        sid = site_ids[s]
        out.append([p for p in pathway_ids if scenario.pathways[p].ward == ward_ids[w]
                    and (scenario.pathways[p].sites == "all" or sid in scenario.pathways[p].sites)])
    return out


def _calibration_targets(scenario: Scenario, current, options: BedChoices, ward_ids, pathway_ids, site_ids) -> np.ndarray:
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


def _beds_source(dataset: Dataset, unit_pathways: list[list[str]], options: BedChoices, site_ids) -> tuple[str, ...]:
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
    return VirtualSizing(lo=lo, hi=hi, step=step, anchor=anchor, anchor_capacity=cap_a, slope=slope,
                         must_run=lo > 0, cost_per_bed=v.cost_per_bed_per_year)
