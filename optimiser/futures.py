r"""Futures: the scenario's uncertain figures drawn from their ranges, and each drawn future
compiled and measured quickly.

**Which figures are uncertain.** Every figure note (:mod:`optimiser.figures`) with an 80%
interval (``low``/``high``) or named ``variants`` is an uncertain figure. A figure with an
interval is drawn from a *two-piece normal* whose median is the figure's value and whose 10th
and 90th percentiles are ``low`` and ``high`` (so a lopsided interval such as 20-25-32 days
gives a lopsided distribution); a draw beyond its 5th or 95th percentile is held there (the
range says little about the far tails), and within the setting's allowed range; whole-number settings (beds) are rounded. A figure with only variants takes
its value or one of its variants, each equally likely.

**How futures are drawn.** ``n`` futures by Latin hypercube sampling (each figure's range cut
into ``n`` equally likely slices, one draw in each, slices shuffled independently per figure)
or plain Monte Carlo; every draw comes from one seeded generator, before any future is
evaluated, so future ``i`` is the same whatever evaluates it and on however many workers.

**Compiling a future fast.** :func:`optimiser.instance.compile_instance` costs about half a
second on LLR, most of it calibrating demand to today's beds (the patient-flow model run a
dozen times). A sampled figure touches only some arrays: stays and home-based shares change
demand per zone and pathway; relative rates change how the base-year demand is spread;
calibration occupancy changes the load today's units are matched to; growth rescales each
district's age bands; beds today change the calibration targets and new-ward capital; costs
change cost arrays. :class:`FutureCompiler` keeps everything else from the central instance
(travel, units, bed options and their Erlang capacities, which units each zone can reach, the
hubs' reach), builds each future's demand with array operations, and repeats the
calibration's own iteration (:mod:`optimiser.calibration`) on precomputed patient routes:
with every open unit calibrated, the blocking in that iteration is fixed, so the load each
catchment sends to each unit is one matrix product. The result equals a full compile of the
same future (a test checks to 1e-9); a figure the fast path does not know, or a calibration it
does not cover (a unit with beds that is not calibrated), falls back to the full compile.

**Measuring an option in a future.** :class:`OptionKernel` runs the patient-flow model
(:mod:`optimiser.flow`) for a fixed configuration on precomputed patient chains: the chains
(which units each zone's patients try, in order) depend only on the beds, so only the
weights change between futures; the Erlang fixed point is the same monotone iteration from
zero blocking, to the same tolerance. An option that fixes its own routing (saved from an
optimiser run) is measured with :func:`optimiser.solution.flow_of` itself.
"""

from __future__ import annotations

import math
import re
import typing
from collections.abc import Mapping
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
from scipy.special import ndtri

from optimiser.calibration import CALIBRATION_MAX_ROUNDS, _first_units, _non_negative_solve
from optimiser.dataset.core import Dataset
from optimiser.demand import PROJECTION_FOR_BAND, _growth_table, band_populations, with_beds_today
from optimiser.errors import ScenarioError
from optimiser.flow import FLOW_MAX_ITERATIONS, FLOW_TOLERANCE, reachable_units
from optimiser.instance import (
    Instance,
    _district_site_travel,
    _virtual_sizing,
    compile_instance,
)
from optimiser.queueing import erlang_b_array
from optimiser.scenario import Scenario

Z90 = 1.2815515655446004          # the standard normal's 90th percentile
TAIL = 0.05                       # draws beyond the 5th and 95th percentiles are held there
BANDS = tuple(PROJECTION_FOR_BAND)  # "0-64", "65-74", "75-84", "85+"


# ---------------------------------------------------------------------------------------
# uncertain figures and how they are drawn
# ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class UncertainFigure:
    """One uncertain scenario figure: its dotted key, central value, 80% interval and/or
    variants, and the limits the setting allows."""

    key: str
    value: float
    low: float | None = None
    high: float | None = None
    variants: tuple[tuple[str, float], ...] = ()
    integer: bool = False
    minimum: float = -math.inf
    maximum: float = math.inf
    note: str = ""

    @property
    def has_range(self) -> bool:
        return self.low is not None and self.high is not None

    def quantile(self, u) -> np.ndarray:
        """The figure at probability ``u`` (0-1; array): the two-piece normal's quantile with
        median at the value and 10th/90th percentiles at low/high (held within its 5th and 95th percentiles), or the
        value and its variants in equal shares."""
        u = np.asarray(u, float)
        if self.has_range:
            z = ndtri(np.clip(u, TAIL, 1.0 - TAIL))
            below = (self.value - self.low) / Z90
            above = (self.high - self.value) / Z90
            out = self.value + z * np.where(z < 0, below, above)
        else:
            choices = np.array([self.value] + [v for _, v in self.variants], float)
            out = choices[np.minimum((u * len(choices)).astype(int), len(choices) - 1)]
        out = np.clip(out, self.minimum, self.maximum)
        return np.round(out) if self.integer else out

    def label(self) -> str:
        return figure_label(self.key)


_LABELS = {
    "length_of_stay_days": "stay in hospital (days)",
    "virtual_length_of_stay_days": "stay on a home-based bed (days)",
    "virtual_share": "share suited to a home-based bed",
    "calibration_occupancy": "occupancy today",
    "include_current_virtual_beds": "home-based beds today counted",
    "growth_scale": "population growth to the horizon",
    "fixed_cost_per_year": "cost of keeping a site (£ a year)",
    "cost_per_bed_per_year": "cost of a bed (£ a year)",
    "new_ward_cost": "cost of a new ward (£)",
}


def figure_label(key: str) -> str:
    """A short plain-English label for a dotted key ('rehab: stay in hospital (days)')."""
    parts = key.split(".")
    if parts[0] == "beds_today":
        return f"beds today at {parts[1]}"
    if parts[0] == "virtual" and parts[-1] == "cost_per_bed_per_year":
        return "cost of a home-based bed (£ a year)"
    if "relative_rates" in parts:
        return f"{parts[1]}: bed use at {parts[-1]} vs 65-74"
    name = _LABELS.get(parts[-1], parts[-1].replace("_", " "))
    return f"{parts[1]}: {name}" if parts[0] == "pathways" else name


def _setting_limits(key: str) -> tuple[float, float, bool]:
    """(minimum, maximum, whole number) the scenario schema allows for a dotted key."""
    from pydantic import BaseModel

    node: typing.Any = Scenario
    metadata: list = []
    for part in key.split("."):
        origin = typing.get_origin(node)
        if isinstance(node, type) and issubclass(node, BaseModel):
            field = node.model_fields.get(part)
            if field is None:
                return -math.inf, math.inf, False
            node, metadata = field.annotation, list(field.metadata)
        elif origin is dict:
            node = typing.get_args(node)[1]
            metadata = []
        else:
            return -math.inf, math.inf, False
        while True:   # unwrap Optional[...] and Annotated[...]
            origin = typing.get_origin(node)
            if origin is typing.Annotated:
                args = typing.get_args(node)
                node = args[0]
                for extra in args[1:]:
                    metadata += list(getattr(extra, "metadata", []))
            elif origin in (typing.Union, __import__("types").UnionType):
                args = [a for a in typing.get_args(node) if a is not type(None)]
                models = [a for a in args if isinstance(a, type) and issubclass(a, BaseModel)]
                node = models[0] if models else args[0]
            else:
                break
    lo, hi = -math.inf, math.inf
    for m in metadata:
        if hasattr(m, "ge"):
            lo = max(lo, float(m.ge))
        if hasattr(m, "gt"):
            lo = max(lo, float(m.gt) + 1e-9)
        if hasattr(m, "le"):
            hi = min(hi, float(m.le))
        if hasattr(m, "lt"):
            hi = min(hi, float(m.lt) - 1e-9)
    return lo, hi, node is int


def uncertain_figures(scenario: Scenario) -> tuple[UncertainFigure, ...]:
    """The scenario's figures with an 80% interval or variants, in key order."""
    out = []
    for key in sorted(scenario.figures):
        note = scenario.figures[key]
        if isinstance(note.value, tuple) or (note.low is None and not note.variants):
            continue
        lo, hi, integer = _setting_limits(key)
        out.append(UncertainFigure(
            key, float(note.value), None if note.low is None else float(note.low),
            None if note.high is None else float(note.high),
            tuple((n, float(v)) for n, v in note.variants), integer, lo, hi,
            note.describe()))
    return tuple(out)


def sample_futures(figures: tuple[UncertainFigure, ...], n: int, seed: int,
                   method: str = "lhs") -> pd.DataFrame:
    """``n`` futures (rows, numbered from 0) x figures (columns, dotted keys). The same seed
    gives the same table on any machine."""
    if n < 1:
        raise ScenarioError(f"the number of futures must be at least 1, got {n}")
    if method not in ("lhs", "monte_carlo"):
        raise ScenarioError(f"unknown sampling method '{method}' (lhs or monte_carlo)")
    rng = np.random.Generator(np.random.PCG64(int(seed)))
    columns = {}
    for fig in figures:
        if method == "lhs":
            u = (rng.permutation(n) + rng.random(n)) / n
        else:
            u = rng.random(n)
        columns[fig.key] = fig.quantile(u)
    table = pd.DataFrame(columns, index=pd.RangeIndex(n, name="future"))
    return table


def central_future(figures: tuple[UncertainFigure, ...]) -> dict[str, float]:
    return {f.key: f.value for f in figures}


# ---------------------------------------------------------------------------------------
# compiling a future fast
# ---------------------------------------------------------------------------------------

_PATHWAY_KEY = re.compile(r"pathways\.([^.]+)\.(length_of_stay_days|virtual_length_of_stay_days|virtual_share)$")
_DEMAND_KEY = re.compile(r"pathways\.([^.]+)\.demand\.(calibration_occupancy|include_current_virtual_beds)$")
_RATE_KEY = re.compile(r"pathways\.([^.]+)\.demand\.(relative_rates|admissions_per_1000)\.([^.]+)$")
_COST_KEYS = {"site_defaults.fixed_cost_per_year", "site_defaults.cost_per_bed_per_year",
              "site_defaults.new_ward_cost", "site_defaults.capital_annualisation_years",
              "virtual.cost_per_bed_per_year"}


def _fast_key(key: str) -> bool:
    return bool(key == "growth_scale" or key in _COST_KEYS or key.startswith("beds_today.")
                or _PATHWAY_KEY.match(key) or _DEMAND_KEY.match(key) or _RATE_KEY.match(key))


def _as_setting(key: str, value: float, figure_integer: bool) -> float | int:
    return int(round(value)) if figure_integer else float(value)


class FutureCompiler:
    """Compiles futures of one scenario on one dataset: ``compile(values)`` equals
    ``compile_instance(dataset, scenario.with_changes(**values))`` (a test checks to 1e-9),
    built from the central instance by array operations (see the module docstring)."""

    def __init__(self, dataset: Dataset, scenario: Scenario, central: Instance | None = None) -> None:
        self.dataset = dataset
        self.scenario = scenario
        self.central = central if central is not None else compile_instance(dataset, scenario)
        self.integer_keys = {f.key for f in uncertain_figures(scenario) if f.integer}
        inst = self.central
        zones = dataset.zones
        self.pathway_ids = inst.pathways.ids
        self.bands = band_populations(zones)[list(BANDS)].to_numpy(float)         # (Z, 4)
        self.growth_base = _growth_table(dataset, scenario)[list(BANDS)].to_numpy(float)
        self.stroke = zones["stroke_admissions"].to_numpy(float) if "stroke_admissions" in zones else None
        self.virtual_today = float(dataset.districts["current_virtual_beds"].sum())
        self.current_virtual = (dataset.districts["current_virtual_beds"].to_numpy(float).round().astype(int)
                                if "current_virtual_beds" in dataset.districts else None)
        self.reachable = self._hub_reach()
        self.site_ids = dataset.sites.index
        self.beds_table = dataset.current_beds()
        self.unit_pathways = [[p for p in self.pathway_ids
                               if scenario.pathways[p].ward == inst.wards[w]
                               and (scenario.pathways[p].sites == "all" or inst.sites.ids[s] in scenario.pathways[p].sites)]
                              for s, w in zip(inst.bed_choices.unit_site, inst.bed_choices.unit_ward, strict=True)]
        self.unit_member = np.array([[p in members for p in self.pathway_ids] for members in self.unit_pathways],
                                    bool)                                   # (U, P)
        self._routes: dict[bytes, _CalibrationRoutes] = {}
        self.supported = (not (scenario.inputs.zones_file or scenario.inputs.travel_file)
                          and scenario.mode != "p_median")

    # Pickled for Dask with the scenario as its YAML (its figure notes are a read-only mapping).
    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["scenario"] = (self.scenario.to_yaml(), self.scenario.base_dir)
        return state

    def __setstate__(self, state: dict) -> None:
        import yaml

        from optimiser.scenario import scenario_from_dict

        state = dict(state)
        text, base_dir = state["scenario"]
        data = yaml.safe_load(text)
        data["base_dir"] = base_dir
        state["scenario"] = scenario_from_dict(data)
        self.__dict__.update(state)

    def _hub_reach(self) -> np.ndarray:
        """Zones whose homes a district hub's staff can reach (as compile_instance decides)."""
        from optimiser.travel import estimator_from_metadata

        sc, ds, inst = self.scenario, self.dataset, self.central
        zones = ds.zones
        if not sc.virtual.enabled:
            return np.zeros(len(zones), bool)
        km = ds.hub_distance_km(sc.virtual.hub_locations)
        estimator = estimator_from_metadata(ds.metadata)
        minutes = estimator.minutes(km) if estimator is not None else inst.travel.min(axis=1)
        return minutes <= sc.virtual.staff_travel_limit_minutes

    # ---- the reference: a full compile --------------------------------------------------
    def scenario_for(self, values: Mapping[str, float]) -> Scenario:
        changes = {k: _as_setting(k, v, k in self.integer_keys) for k, v in values.items()}
        return self.scenario.with_changes(**changes) if changes else self.scenario

    def full_compile(self, values: Mapping[str, float]) -> Instance:
        return compile_instance(self.dataset, self.scenario_for(values))

    # ---- the fast path ------------------------------------------------------------------
    def compile(self, values: Mapping[str, float]) -> Instance:
        """The instance of the future with these figure values (dotted key -> value)."""
        if not self.supported or not all(_fast_key(k) for k in values):
            return self.full_compile(values)
        sc = self.scenario_for(values)      # validates the values (a clear message if bad)
        return self._compile(sc)

    def _compile(self, sc: Scenario) -> Instance:
        inst = self.central
        pids = self.pathway_ids
        current = with_beds_today(self.beds_table, sc.beds_today)
        current_array = current.reindex(columns=list(pids), fill_value=0).to_numpy(float)   # (S, P)
        growth = self.growth_base if sc.growth_scale == 1.0 else self.growth_base ** float(sc.growth_scale)
        admissions, base_admissions = [], []
        for pid in pids:
            a, b = self._pathway_demand(sc, pid, growth, current)
            admissions.append(a)
            base_admissions.append(b)
        admissions = np.column_stack(admissions)
        base_admissions = np.column_stack(base_admissions)
        share = np.array([sc.pathways[p].virtual_share for p in pids], float)
        los = np.array([sc.pathways[p].length_of_stay_days for p in pids], float)
        vlos = np.array([sc.pathways[p].virtual_length_of_stay_days or sc.pathways[p].length_of_stay_days
                         for p in pids], float)
        if sc.virtual.enabled and share.any():
            virtual_adm = admissions * share[None, :] * self.reachable[:, None]
            base_virtual = base_admissions * share[None, :] * self.reachable[:, None]
        else:
            virtual_adm = np.zeros_like(admissions)
            base_virtual = np.zeros_like(admissions)
        hospital_adm = admissions - virtual_adm

        # Sites, units and bed options: costs and today's beds.
        d = sc.site_defaults
        sids = inst.sites.ids

        def per_site(attr: str, default: float) -> np.ndarray:
            out = []
            for s in sids:
                spec = sc.sites.get(s)
                v = getattr(spec, attr) if spec is not None else None
                out.append(default if v is None else v)
            return np.array(out, float)

        fixed = per_site("fixed_cost_per_year", d.fixed_cost_per_year)
        per_bed = per_site("cost_per_bed_per_year", d.cost_per_bed_per_year)
        ward_cost = per_site("new_ward_cost", d.new_ward_cost)
        opt = inst.bed_choices
        unit_current = (current_array[opt.unit_site] * self.unit_member).sum(axis=1).astype(int)
        added = np.maximum(opt.option_beds - unit_current[opt.option_unit], 0)
        capital = np.ceil(added / d.ward_size_for_capital) * ward_cost[opt.unit_site[opt.option_unit]]
        options = replace(opt, unit_current=unit_current, option_capital=capital)
        sites = replace(inst.sites, fixed_cost=fixed, cost_per_bed=per_bed,
                        current_beds=current.sum(axis=1).to_numpy(int))
        pathways = replace(inst.pathways, los_days=los, virtual_los_days=vlos)
        weights = replace(inst.weights, capital_annualisation_years=d.capital_annualisation_years)
        out = replace(inst, sites=sites, pathways=pathways, bed_choices=options, weights=weights,
                      hospital_admissions=hospital_adm, virtual_admissions=virtual_adm,
                      district_site_travel=_district_site_travel(inst.travel, virtual_adm, inst.zones.district,
                                                                 len(inst.districts.ids)),
                      virtual=None, calibration=None)

        # Demand matched to today's beds at the base year.
        calibrated = np.array([sc.pathways[p].demand.method == "calibrated" for p in pids])
        targets = self._calibration_targets(sc, current_array)
        base = replace(out, hospital_admissions=base_admissions - base_virtual, virtual_admissions=base_virtual)
        factors = self._calibration_factors(sc, base, unit_current, targets, calibrated, current)
        virtual_adm = virtual_adm * factors
        hospital_adm = hospital_adm * factors
        out = replace(out, hospital_admissions=hospital_adm, virtual_admissions=virtual_adm,
                      district_site_travel=_district_site_travel(inst.travel, virtual_adm, inst.zones.district,
                                                                 len(inst.districts.ids)))
        if sc.virtual.enabled and share.any():
            rule = sc.utilisation.rule
            target = sc.utilisation.blocking_target if rule == "erlang" else sc.utilisation.occupancy_target
            vtarget = target if rule == "occupancy" else (sc.utilisation.virtual_blocking_target or target)
            out = replace(out, virtual=_virtual_sizing(sc, inst.districts.ids, virtual_adm, vlos,
                                                       inst.zones.district, rule, vtarget))
        return out

    def _calibration_targets(self, sc: Scenario, current: np.ndarray) -> np.ndarray:
        """Per unit, the occupancy its beds today are matched to (as
        ``optimiser.instance._calibration_targets``): its calibrated pathways' occupancies
        weighted by their beds today; NaN where none has beds."""
        opt = self.central.bed_choices
        occ = np.array([sc.pathways[p].demand.calibration_occupancy for p in self.pathway_ids])
        calibrated = np.array([sc.pathways[p].demand.method == "calibrated" for p in self.pathway_ids])
        out = np.full(len(opt.unit_site), np.nan)
        for u, s in enumerate(opt.unit_site):
            members = np.flatnonzero(self.unit_member[u])
            beds = current[s, members]
            use = calibrated[members] & (beds > 0)
            if use.any():
                out[u] = float((occ[members][use] * beds[use]).sum() / beds[use].sum())
        return out

    def _pathway_demand(self, sc: Scenario, pid: str, growth: np.ndarray, current: pd.DataFrame
                        ) -> tuple[np.ndarray, np.ndarray]:
        """(horizon, base-year) admissions a year per zone: :func:`optimiser.demand.pathway_demand`."""
        spec = sc.pathways[pid]
        los = spec.length_of_stay_days
        if spec.demand.method == "rates":
            rates = np.array([spec.demand.admissions_per_1000.get(b, 0.0) for b in BANDS])
            return (self.bands * growth * rates).sum(axis=1) / 1000.0, (self.bands * rates).sum(axis=1) / 1000.0
        beds_today = float(current[pid].sum()) if pid in current.columns else 0.0
        beds_today += spec.demand.include_current_virtual_beds * self.virtual_today
        if beds_today <= 0:
            raise ScenarioError(f"cannot calibrate pathway '{pid}': no current beds", key=f"pathways.{pid}.demand.method")
        base_load = spec.demand.calibration_occupancy * beds_today
        base_w = horizon_w = None
        if spec.demand.weights == "stroke_admissions" and self.stroke is not None:
            stroke = self.stroke
            if np.isfinite(stroke).all() and stroke.sum() > 0:
                over = self.bands[:, 1:]
                total = over.sum(axis=1)
                g65 = (over * growth[:, 1:]).sum(axis=1) / np.where(total > 0, total, 1)
                g65 = np.where(total > 0, g65, 1.0)
                base_w, horizon_w = stroke, stroke * g65
        if base_w is None:
            rates = np.array([spec.demand.relative_rates.get(b, 0.0) for b in BANDS])
            base_w = (self.bands * rates).sum(axis=1)
            horizon_w = (self.bands * growth * rates).sum(axis=1)
        total_w = base_w.sum()
        return (base_load * horizon_w / total_w * 365.0 / los, base_load * base_w / total_w * 365.0 / los)

    def _calibration_factors(self, sc: Scenario, base: Instance, beds: np.ndarray, target: np.ndarray,
                             calibrated: np.ndarray, current: pd.DataFrame) -> np.ndarray:
        """Per zone-pathway demand factors: :func:`optimiser.calibration.calibrate`'s, by the
        same iteration on precomputed routes (see :class:`_CalibrationRoutes`)."""
        n_z, n_p = base.hospital_admissions.shape
        if sc.calibration.scope != "site":
            return np.ones((n_z, n_p))
        key = (beds > 0).tobytes()
        routes = self._routes.get(key)
        if routes is None:
            routes = self._routes[key] = _CalibrationRoutes(base, beds)
        aims = offered_for_occupancy_array(beds, target)
        tuned = np.isfinite(target) & (beds > 0) & (aims > 0)
        catchment = routes.catchment
        in_scope = (catchment >= 0) & calibrated[None, :] & tuned[np.maximum(catchment, 0)]
        if not in_scope.any():
            return np.ones((n_z, n_p))
        if ((beds > 0) & ~tuned).any():
            # A unit with beds that is not calibrated: its blocking moves with the factors, so
            # the routes are not fixed; run the calibration itself.
            from optimiser.calibration import calibrate
            from optimiser.instance import _base_year, _beds_source, _unit_pathways

            factors, _ = calibrate(
                base, beds, self.current_virtual, target, calibrated, scope="site",
                base_year=_base_year(self.dataset, sc),
                beds_source=_beds_source(self.dataset, _unit_pathways(base.bed_choices, base.wards, self.pathway_ids, sc,
                                                                      self.site_ids), base.bed_choices, self.site_ids))
            return factors
        return routes.factors(base, beds, self.current_virtual, aims, tuned, in_scope, calibrated)


def offered_for_occupancy_array(beds: np.ndarray, occupancy: np.ndarray) -> np.ndarray:
    """Per unit, the offered load ``a`` at which ``beds`` run at ``occupancy``:
    a(1 - B(c, a)) = rho c (as :func:`optimiser.calibration.offered_for_occupancy`, by Newton's
    method: the carried load is increasing and concave in ``a``, so from a = rho c the steps
    climb to the root without overshooting). 0 where there are no beds or no target."""
    beds = np.asarray(beds, int)
    rho = np.asarray(occupancy, float)
    ok = (beds > 0) & np.isfinite(rho) & (rho > 0) & (rho < 1)
    out = np.zeros(len(beds))
    if not ok.any():
        return out
    c = beds[ok].astype(float)
    want = rho[ok] * c
    a = want.copy()
    erlang = ErlangB(beds[ok])
    for _ in range(100):
        b = erlang(a)
        f = a * (1.0 - b) - want
        slope = 1.0 - b - b * (c - a + a * b)
        step = f / slope
        a = a - step
        if np.all(np.abs(step) <= 1e-13 * np.maximum(a, 1.0)):
            break
    out[ok] = a
    return out


class _CalibrationRoutes:
    """For today's beds: each zone-pathway's catchment (its nearest unit) and the chain of
    units its patients try. With every open unit calibrated, the calibration holds each
    unit's blocking at its target value, so the erlangs each stream offers to each unit per
    erlang of demand are fixed: one (zone-pathway x unit) matrix per future."""

    def __init__(self, base: Instance, beds: np.ndarray) -> None:
        self.catchment = _first_units(base, beds)                       # (Z, P)
        reach = reachable_units(base, beds)                              # (Z, P, K)
        n_z, n_p, k = reach.shape
        used = np.flatnonzero((reach >= 0).any(axis=(0, 1)))
        reach = reach[:, :, : (used.max() + 1 if len(used) else 1)]
        self.distinct, self.chain_of = np.unique(reach.reshape(n_z * n_p, -1), axis=0, return_inverse=True)
        self.chain_of = self.chain_of.ravel()
        self.n_units = len(beds)
        self.district = base.zones.district

    def visits(self, blocking: np.ndarray) -> np.ndarray:
        """(distinct chains, U) expected arrivals at each unit per patient of the chain."""
        return chain_visits(self.distinct, blocking, self.n_units)

    def factors(self, base: Instance, beds: np.ndarray, hub_beds: np.ndarray | None, aims: np.ndarray,
                tuned: np.ndarray, in_scope: np.ndarray, calibrated: np.ndarray) -> np.ndarray:
        """The iteration of ``optimiser.calibration._site_factors`` with the hospital blocking
        fixed at the aims (every open unit is tuned)."""
        n_u = self.n_units
        n_z, n_p = base.hospital_admissions.shape
        n_d = len(base.districts.ids)
        fixed_blocking = np.where(tuned, erlang_b_array(beds, aims), 0.0)
        per_chain = self.visits(fixed_blocking)                         # (C, U)
        visit = per_chain[self.chain_of]                                # (Z*P, U)
        group_of = np.where(in_scope, self.catchment, n_u).ravel()
        one_hot = np.zeros((n_z * n_p, n_u + 1))
        one_hot[np.arange(n_z * n_p), group_of] = 1.0
        stay = base.pathways.los_days / 365.0
        vstay = base.pathways.virtual_los_days / 365.0
        hub = np.zeros(n_d, int) if hub_beds is None else np.asarray(hub_beds, int)
        hub_erlang = ErlangB(hub)
        factors = np.ones((n_z, n_p))
        rows = np.flatnonzero(tuned)
        fill = _Unreached(in_scope, base, calibrated)
        onward = base.rules.onward_flow
        for _ in range(CALIBRATION_MAX_ROUNDS):
            fill(factors)
            hospital = base.hospital_admissions * factors
            to_hub = base.virtual_admissions * factors
            offered_hub = np.bincount(self.district, weights=(to_hub * vstay[None, :]).sum(axis=1), minlength=n_d)
            hub_blocking = np.where(hub > 0, hub_erlang(offered_hub), np.where(offered_hub > 0, 1.0, 0.0))
            refused = to_hub * hub_blocking[self.district][:, None] if onward else np.zeros_like(to_hub)
            weight = np.where(hospital > 1e-12, hospital, 0.0) + np.where(refused > 1e-12, refused, 0.0)
            erlangs = (weight * stay[None, :]).ravel()
            load = visit.T @ (erlangs[:, None] * one_hot)                # (U, U + 1)
            ratio = _non_negative_solve(load[np.ix_(rows, rows)], aims[rows] - load[rows, n_u])
            update = np.ones(n_u)
            update[rows] = np.clip(ratio, 1e-3, 1e3)
            factors = np.where(in_scope, factors * update[np.maximum(self.catchment, 0)], factors)
            if np.abs(update[rows] - 1.0).max(initial=0.0) < 1e-7:
                break
        fill(factors)
        return factors


class _Unreached:
    """``optimiser.calibration._fill_unreached`` with what does not change between rounds
    worked out once: zones no unit reaches take their pathway's average factor."""

    def __init__(self, in_scope: np.ndarray, base: Instance, calibrated: np.ndarray) -> None:
        self.parts = []
        for p in np.flatnonzero(calibrated):
            reached = in_scope[:, p]
            weight = base.hospital_admissions[reached, p] + base.virtual_admissions[reached, p]
            if (~reached).any() and weight.sum() > 0:
                self.parts.append((p, reached, ~reached, weight, weight.sum()))

    def __call__(self, factors: np.ndarray) -> None:
        for p, reached, others, weight, total in self.parts:
            factors[others, p] = float((factors[reached, p] * weight).sum() / total)


def chain_visits(chains: np.ndarray, blocking: np.ndarray, n_units: int) -> np.ndarray:
    """(chains, U): expected arrivals at each unit per patient starting down each chain of
    units (-1 pads), when a patient refused at a unit (chance ``blocking``) tries the next."""
    valid = chains >= 0
    safe = np.where(valid, chains, n_units)
    b = np.append(np.asarray(blocking, float), 1.0)
    factor = np.where(valid, b[safe], 1.0)
    reach = np.ones(chains.shape)
    if chains.shape[1] > 1:
        reach[:, 1:] = np.cumprod(factor[:, :-1], axis=1)
    out = np.zeros((len(chains), n_units + 1))
    rows = np.repeat(np.arange(len(chains)), chains.shape[1])
    np.add.at(out, (rows, safe.ravel()), (reach * valid).ravel())
    return out[:, :n_units]


# ---------------------------------------------------------------------------------------
# measuring an option in a future
# ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class FutureMeasure:
    """What an option does in one future: per unit, per hub (district) and in total."""

    unit_beds: np.ndarray
    unit_offered: np.ndarray
    unit_blocking: np.ndarray
    unit_occupancy: np.ndarray
    unit_admitted: np.ndarray
    hub_beds: np.ndarray
    hub_offered: np.ndarray
    hub_blocking: np.ndarray
    hub_occupancy: np.ndarray
    hub_admitted: np.ndarray
    district_demand: np.ndarray       # admissions a year (hospital and home-based patients)
    district_turned_away: np.ndarray  # patients a year refused everywhere within reach
    metrics: dict[str, float]


class OptionKernel:
    """Measures one option (a fixed configuration) in many futures of a scenario with the
    patient-flow model; ``measure(inst)`` takes an instance from :class:`FutureCompiler`."""

    def __init__(self, central: Instance, option, current_virtual: pd.Series | None = None) -> None:
        from optimiser.evaluate import fixed_instance

        self.option = option
        if current_virtual is None and central.districts.current_virtual_beds is not None:
            current_virtual = pd.Series(central.districts.current_virtual_beds, index=central.districts.ids)
        self.fixed = fixed_instance(central, option, current_virtual)
        fx = self.fixed
        self.beds = fx.bed_choices.option_beds.astype(int)
        self.virtual_beds = (fx.virtual.hi.astype(int) if fx.virtual is not None
                             else np.zeros(len(fx.districts.ids), int))
        self.target = central.rules.utilisation_target
        self.virtual_target = central.rules.virtual_target
        self.planned = option.assignment is not None
        n_u = len(self.beds)
        self.n_units = n_u
        if self.planned:
            from optimiser.evaluate import _given_tables

            self.tables = _given_tables(fx, option)
        else:
            # nearest routing: every stream's chain is its zone-pathway's reachable units
            reach = reachable_units(fx, self.beds)
            n_z, n_p, _ = reach.shape
            used = np.flatnonzero((reach >= 0).any(axis=(0, 1)))
            reach = reach[:, :, : (used.max() + 1 if len(used) else 1)]
            if not fx.rules.onward_flow:
                reach = reach[:, :, :1]
            flat = reach.reshape(n_z * n_p, -1)
            self.distinct, chain_of = np.unique(flat, axis=0, return_inverse=True)
            self.chain_of = chain_of.ravel()
            self.first_unit = flat[:, 0]
            self.valid = self.distinct >= 0
            self.safe = np.where(self.valid, self.distinct, n_u)
            # travel to the nearest unit of the pathway's own ward (what evaluate assigns)
            own = reachable_units(fx, self.beds, fallback=False)
            own_first = (own[:, :, 0] if own.shape[2] else -np.ones((n_z, n_p), int)).ravel()
            self.has_own = own_first >= 0
            self.travel_first = np.where(self.has_own,
                                         fx.travel[np.repeat(np.arange(n_z), n_p),
                                                   fx.bed_choices.unit_site[np.maximum(own_first, 0)]], 0.0)

    # Pickled for Dask with the option as its mapping (its figure notes are read-only).
    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["option"] = (self.option.to_dict(), self.option.source)
        return state

    def __setstate__(self, state: dict) -> None:
        from optimiser.options import option_from_dict

        state = dict(state)
        data, source = state["option"]
        state["option"] = option_from_dict(data, source or "<option>")
        self.__dict__.update(state)

    # ---- costs, as compute_metrics counts them --------------------------------------------
    def _costs(self, inst: Instance) -> dict[str, float]:
        opt = inst.bed_choices
        beds = self.beds
        site_beds = np.bincount(opt.unit_site, weights=beds, minlength=inst.n_sites)
        is_open = site_beds > 0
        capital = 0.0
        for u in range(len(beds)):
            if beds[u] <= opt.unit_current[u]:
                continue
            mine = np.flatnonzero(opt.option_unit == u)
            above = mine[opt.option_beds[mine] >= beds[u]]
            pick = above[np.argmin(opt.option_beds[above])] if len(above) else mine[np.argmax(opt.option_beds[mine])]
            capital += float(opt.option_capital[pick])
        fixed = float((inst.sites.fixed_cost * is_open).sum())
        bed_cost = float((inst.sites.cost_per_bed * site_beds).sum())
        virtual_cost = (float(inst.virtual.cost_per_bed * self.virtual_beds.sum())
                        if inst.virtual is not None else 0.0)
        annualised = capital / inst.weights.capital_annualisation_years
        return {"annual_cost_gbp": fixed + bed_cost + annualised + virtual_cost,
                "site_fixed_cost_gbp_per_year": fixed, "bed_cost_gbp_per_year": bed_cost,
                "virtual_bed_cost_gbp_per_year": virtual_cost, "new_ward_capital_gbp": capital,
                "physical_beds": float(beds.sum()), "virtual_beds": float(self.virtual_beds.sum()),
                "open_sites": float(is_open.sum())}

    def measure(self, inst: Instance) -> FutureMeasure:
        if self.planned:
            return self._measure_planned(inst)
        n_u = self.n_units
        n_z, n_p = inst.hospital_admissions.shape
        n_d = len(inst.districts.ids)
        district = inst.zones.district
        stay = inst.pathways.los_days / 365.0
        hospital = inst.hospital_admissions
        to_hub = inst.virtual_admissions
        hub = self.virtual_beds
        hub_offered = np.bincount(district, weights=(to_hub * inst.pathways.virtual_los_days[None, :] / 365.0).sum(axis=1),
                                  minlength=n_d)
        hub_arrivals = np.bincount(district, weights=to_hub.sum(axis=1), minlength=n_d)
        hub_blocking = np.where(hub > 0, erlang_b_array(hub, hub_offered), np.where(hub_offered > 0, 1.0, 0.0))
        refused = to_hub * hub_blocking[district][:, None]
        unplaced = np.zeros((n_z, n_p))
        if not inst.rules.onward_flow:
            unplaced += refused
            refused = np.zeros_like(refused)
        direct = np.where(hospital > 0, hospital, 0.0).ravel()
        via_hub = np.where(refused > 1e-12, refused, 0.0).ravel()
        weight = direct + via_hub
        erlangs = weight * np.tile(stay, n_z)
        n_c = len(self.distinct)
        chain_erlangs = np.bincount(self.chain_of, weights=erlangs, minlength=n_c)
        blocking = _fixed_point(self.safe, self.valid, chain_erlangs, self.beds)
        visits = chain_visits(self.distinct, blocking, n_u)               # (C, U)
        chain_adm = np.bincount(self.chain_of, weights=weight, minlength=n_c)
        arrivals = chain_adm @ visits
        offered = chain_erlangs @ visits
        admitted = arrivals * (1.0 - blocking)
        placed_share = visits @ (1.0 - blocking)                          # (C,) chance of a bed
        turned = (weight * (1.0 - placed_share[self.chain_of])).reshape(n_z, n_p)
        turned = np.maximum(turned, 0.0) + unplaced
        first = self.first_unit
        first_ok = first >= 0
        first_placed = np.where(first_ok, direct * (1.0 - blocking[np.maximum(first, 0)]), 0.0)
        redirected = float((weight * placed_share[self.chain_of]).sum() - first_placed.sum())
        travel_w = direct * self.has_own
        return self._finish(inst, offered, blocking, admitted, hub_offered, hub_blocking, hub_arrivals,
                            turned, redirected, float((travel_w * self.travel_first).sum() / travel_w.sum())
                            if travel_w.sum() > 0 else float("nan"))

    def _measure_planned(self, inst: Instance) -> FutureMeasure:
        from optimiser.solution import flow_of

        fixed = replace(self.fixed, hospital_admissions=inst.hospital_admissions,
                        virtual_admissions=inst.virtual_admissions, pathways=inst.pathways,
                        district_site_travel=inst.district_site_travel)
        flow = flow_of(fixed, self.tables)
        a = self.tables.assignment
        zi = pd.Index(inst.zones.ids).get_indexer(a["zone_code"])
        si = pd.Index(inst.sites.ids).get_indexer(a["site_id"])
        pi = pd.Index(inst.pathways.ids).get_indexer(a["pathway"])
        adm = inst.hospital_admissions[zi, pi] * a["share"].to_numpy(float)
        mean_travel = float((adm * inst.travel[zi, si]).sum() / adm.sum()) if adm.sum() > 0 else float("nan")
        return self._finish(inst, flow.unit_offered, flow.unit_blocking, flow.unit_admitted, flow.hub_offered,
                            flow.hub_blocking, flow.hub_arrivals, flow.turned_away, flow.redirected_per_year,
                            mean_travel)

    def _finish(self, inst: Instance, offered, blocking, admitted, hub_offered, hub_blocking, hub_arrivals,
                turned, redirected: float, mean_travel: float) -> FutureMeasure:
        beds = self.beds
        hub = self.virtual_beds
        n_d = len(inst.districts.ids)
        district = inst.zones.district
        with np.errstate(divide="ignore", invalid="ignore"):
            occupancy = np.where(beds > 0, offered * (1.0 - blocking) / np.maximum(beds, 1), 0.0)
            hub_occupancy = np.where(hub > 0, hub_offered * (1.0 - hub_blocking) / np.maximum(hub, 1), 0.0)
        blocking_shown = np.where(beds > 0, blocking, np.where(offered > 0, 1.0, 0.0))
        demand_zone = inst.hospital_admissions.sum(axis=1) + inst.virtual_admissions.sum(axis=1)
        demand = float(demand_zone.sum())
        turned_total = float(turned.sum())
        open_units = beds > 0
        m = self._costs(inst)
        m["total_beds"] = m["physical_beds"] + m["virtual_beds"]
        m["demand_admissions_per_year"] = demand
        m["hospital_admissions_per_year"] = float(admitted.sum())
        m["virtual_admissions_per_year"] = float((hub_arrivals * (1.0 - hub_blocking)).sum())
        m["patients_finding_no_free_bed_per_year"] = turned_total
        m["share_of_patients_finding_no_free_bed"] = turned_total / demand if demand > 0 else 0.0
        m["patients_redirected_per_year"] = redirected
        m["virtual_patients_finding_no_free_bed_per_year"] = float((hub_arrivals * hub_blocking).sum())
        m["mean_occupancy"] = (float((occupancy[open_units] * beds[open_units]).sum() / beds[open_units].sum())
                               if open_units.any() else float("nan"))
        m["max_blocking_probability"] = float(blocking_shown[open_units].max()) if open_units.any() else float("nan")
        m["mean_travel_minutes_hospital_patients"] = mean_travel
        running = hub > 0
        m["max_home_based_blocking_probability"] = float(hub_blocking[running].max()) if running.any() else 0.0
        m["every_hospital_meets_target"] = float(bool((blocking_shown[open_units] <= self.target + 1e-9).all()))
        m["every_hub_meets_target"] = float(bool((hub_blocking[running] <= self.virtual_target + 1e-9).all()))
        m["unserved_demand"] = float(turned_total >= 1.0)
        return FutureMeasure(
            unit_beds=beds, unit_offered=np.asarray(offered, float), unit_blocking=blocking_shown,
            unit_occupancy=occupancy, unit_admitted=np.asarray(admitted, float), hub_beds=hub,
            hub_offered=np.asarray(hub_offered, float), hub_blocking=np.asarray(hub_blocking, float),
            hub_occupancy=hub_occupancy, hub_admitted=hub_arrivals * (1.0 - hub_blocking),
            district_demand=np.bincount(district, weights=demand_zone, minlength=n_d),
            district_turned_away=np.bincount(district, weights=np.asarray(turned).sum(axis=1), minlength=n_d),
            metrics=m)


class ErlangB:
    """B(c, a) for a fixed vector of bed counts ``c`` and any loads: the same Poisson form and
    arithmetic as :func:`optimiser.queueing.erlang_b_array` (so the same numbers), with what
    depends only on ``c`` worked out once."""

    def __init__(self, servers: np.ndarray) -> None:
        from scipy.special import gammaln

        self.servers = np.asarray(servers, int)
        self.c = self.servers.astype(float)
        self.log_factorial = gammaln(self.c + 1.0)
        self.empty = np.where(self.servers > 0, 0.0, 1.0)

    def __call__(self, loads: np.ndarray) -> np.ndarray:
        from scipy.special import pdtr

        loads = np.asarray(loads, float)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore", under="ignore"):
            pmf = np.exp(self.c * np.log(np.where(loads > 0, loads, 1.0)) - loads - self.log_factorial)
            b = pmf / pdtr(self.c, loads)
        b = np.where(loads > 0, b, self.empty)
        bad = ~np.isfinite(b) | (b > 1.0)
        if bad.any():
            return erlang_b_array(self.servers, loads)
        return b


def _fixed_point(safe: np.ndarray, valid: np.ndarray, chain_erlangs: np.ndarray, beds: np.ndarray) -> np.ndarray:
    """The least blocking vector with B_u = ErlangB(c_u, a_u(B)) by monotone iteration from
    B = 0, to :data:`optimiser.flow.FLOW_TOLERANCE` (as :func:`optimiser.flow._fixed_point`,
    on distinct chains with their erlangs)."""
    n_u = len(beds)
    blocking = np.zeros(n_u + 1)
    open_units = beds > 0
    erlang = ErlangB(beds)
    flat = safe.ravel()
    reach = np.empty(safe.shape)
    reach[:, 0] = chain_erlangs
    for _ in range(FLOW_MAX_ITERATIONS):
        factor = np.where(valid, blocking[safe], 1.0)
        if safe.shape[1] > 1:
            np.cumprod(factor[:, :-1], axis=1, out=reach[:, 1:])
            reach[:, 1:] *= chain_erlangs[:, None]
        offered = np.bincount(flat, weights=reach.ravel(), minlength=n_u + 1)
        new = np.where(open_units, erlang(offered[:n_u]), 1.0)
        change = float(np.abs(new - blocking[:n_u]).max(initial=0.0))
        blocking[:n_u] = new
        if change < FLOW_TOLERANCE:
            break
    return blocking[:n_u]
