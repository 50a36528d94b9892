"""Calibrating demand to today: each hospital's catchment scaled so that today's beds run at
their stated occupancy in the patient-flow model.

The review papers give today's beds but no activity by site, so demand is inferred: beds x
occupancy = the load they carry. With ``calibration.scope: site`` (the default) each unit
with beds today (a ward type on a site) is matched to its catchment — the zones whose
patients it is the nearest reachable unit for — and the catchment's demand is scaled until
the patient-flow model (:mod:`optimiser.flow`), run on today's beds and today's home-based
beds at the base year, has the unit at its calibration occupancy. Patients refused by a full
hospital go on to the next, so each unit's occupancy includes patients from elsewhere; the
scaling is found by a fixed-point iteration on the offered load each unit needs
(:math:`a(1-B(c,a)) = \\rho c`). Zones no unit reaches today keep their pathway's average
scaling. ``scope: county`` keeps one rate per pathway for the whole area (the demand module's
own calibration) and only reports what today's beds would then run at.

The result is a table a steering group can read: site, beds today (and whether that figure
is a fact or an assumption), the occupancy assumed, the occupancy the model reproduces, the
demand implied, and how the catchment's rate compares with the area's.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np

from optimiser.flow import offered_by_group, patient_chains, patient_flow, reachable_units
from optimiser.queueing import erlang_b, erlang_b_array

if TYPE_CHECKING:
    from optimiser.instance import Instance

CALIBRATION_TOLERANCE = 1e-4     # occupancy points
CALIBRATION_MAX_ROUNDS = 50


@dataclass(frozen=True)
class Calibration:
    """How demand was calibrated, per unit with beds today (arrays of equal length)."""

    scope: str                       # "site" or "county"
    base_year: float
    unit: np.ndarray                 # unit numbers (into Instance.bed_choices.unit_*)
    beds_today: np.ndarray
    beds_today_source: tuple[str, ...]   # "fact" / "assumption" / ... from the dataset
    target_occupancy: np.ndarray     # NaN where the unit is not calibrated
    model_occupancy: np.ndarray      # what the flow model gives today's beds, base year
    blocking: np.ndarray             # chance a patient finds no free bed there today
    admissions_per_year: np.ndarray  # admitted there today (model)
    catchment_admissions_per_year: np.ndarray   # first-choice demand of its catchment
    relative_rate: np.ndarray        # catchment's demand rate vs the area's (1 = average)
    turned_away_share: float         # of all patients today, refused everywhere within reach
    converged: bool
    notes: tuple[str, ...] = ()


def offered_for_occupancy(beds: int, occupancy: float) -> float:
    """The offered load ``a`` at which ``beds`` run at ``occupancy``: a(1 - B(c, a)) = rho c
    (carried load rises with a towards c, so bisection finds it)."""
    if beds <= 0 or not 0 < occupancy < 1:
        return 0.0
    want = occupancy * beds
    lo, hi = 0.0, float(beds)
    while hi * (1 - erlang_b(beds, hi)) < want:
        hi *= 2.0
    for _ in range(100):
        mid = 0.5 * (lo + hi)
        if mid * (1 - erlang_b(beds, mid)) < want:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


_CACHE: OrderedDict[bytes, tuple[np.ndarray, Calibration]] = OrderedDict()
CACHE_SIZE = 16


def _cache_key(base: Instance, *parts) -> bytes:
    """A digest of everything the calibration reads: the base instance's demand, travel,
    zones, pathways and units, whether patients go onward (the only rule the patient-flow
    model reads), and the calibration's own inputs."""
    h = hashlib.sha1()

    def add(value) -> None:
        if isinstance(value, np.ndarray):
            h.update(str((value.dtype, value.shape)).encode())
            h.update(np.ascontiguousarray(value).tobytes() if value.dtype != object else repr(value.tolist()).encode())
        else:
            h.update(repr(value).encode())
        h.update(b"|")

    pw, opt = base.pathways, base.bed_choices
    for value in (base.hospital_admissions, base.virtual_admissions, base.travel, base.zones.district,
                  len(base.districts.ids), base.n_sites, base.wards, pw.ward, pw.los_days, pw.virtual_los_days,
                  pw.site_allowed, pw.max_travel, pw.fallback_ward, opt.unit_site, opt.unit_ward, base.rules.onward_flow,
                  base.site_travel, base.district_site_travel, *parts):
        add(value)
    return h.digest()


def calibrate(base: Instance, beds_today: np.ndarray, virtual_today: np.ndarray | None,
              target: np.ndarray, calibrated: np.ndarray, *, scope: str, base_year: float,
              beds_source: tuple[str, ...]) -> tuple[np.ndarray, Calibration]:
    """Scaling factors (Z, P) for the demand of ``base`` (an instance at the base year) so that
    today's beds run at ``target`` occupancy (per unit; NaN = not calibrated); only pathways
    with ``calibrated[p]`` are scaled. Returns the factors and the calibration record.

    The result is kept (for the last ``CACHE_SIZE`` sets of inputs, keyed on a digest of all
    of them): a workshop moving a setting the calibration does not read compiles again
    without recomputing it."""
    key = _cache_key(base, np.asarray(beds_today), virtual_today, np.asarray(target), np.asarray(calibrated),
                     scope, base_year, beds_source)
    if key in _CACHE:
        _CACHE.move_to_end(key)
        factors, record = _CACHE[key]
        return factors.copy(), record
    factors, record = _calibrate(base, beds_today, virtual_today, target, calibrated, scope=scope,
                                 base_year=base_year, beds_source=beds_source)
    _CACHE[key] = (factors.copy(), record)
    while len(_CACHE) > CACHE_SIZE:
        _CACHE.popitem(last=False)
    return factors, record


def _calibrate(base: Instance, beds_today: np.ndarray, virtual_today: np.ndarray | None,
               target: np.ndarray, calibrated: np.ndarray, *, scope: str, base_year: float,
               beds_source: tuple[str, ...]) -> tuple[np.ndarray, Calibration]:
    n_z, n_p = base.hospital_admissions.shape
    beds_today = np.asarray(beds_today, int)
    factors = np.ones((n_z, n_p))
    notes: list[str] = []
    # Each zone-pathway's catchment: its nearest reachable unit with beds today.
    first = patient_flow(base, beds_today, virtual_today)
    catchment = _first_units(base, beds_today)
    aims = np.array([offered_for_occupancy(int(c), float(t)) if np.isfinite(t) else 0.0
                     for c, t in zip(beds_today, target, strict=True)])
    tuned = np.isfinite(target) & (beds_today > 0) & (aims > 0)
    in_scope = (catchment >= 0) & calibrated[None, :] & tuned[np.maximum(catchment, 0)]
    converged = scope != "site"
    flow = first
    if scope == "site" and in_scope.any():
        factors, converged = _site_factors(base, beds_today, virtual_today, catchment, in_scope,
                                           tuned, aims, calibrated)
        flow = patient_flow(_scaled(base, factors), beds_today, virtual_today)
        gap = np.abs(flow.unit_occupancy[tuned] - target[tuned]).max(initial=0.0)
        if not converged or gap > 10 * CALIBRATION_TOLERANCE:
            converged = False
            notes.append(f"the calibration could not match every unit's occupancy (largest miss "
                         f"{gap:.1%}): a unit receives more patients from full hospitals nearby "
                         "than its occupancy allows")
        unreached = int(((catchment < 0) & calibrated[None, :] & (base.hospital_admissions > 0)).sum())
        if unreached:
            notes.append(f"{unreached} zone-pathway pairs have no unit within reach today; they keep "
                         "their pathway's average demand rate")
    scaled = _scaled(base, factors)
    demand = scaled.hospital_admissions + scaled.virtual_admissions
    raw = base.hospital_admissions + base.virtual_admissions
    units = np.flatnonzero(beds_today > 0)
    catchment_demand = np.zeros(len(beds_today))
    raw_demand = np.zeros(len(beds_today))
    zi, pi = np.nonzero(catchment >= 0)
    np.add.at(catchment_demand, catchment[zi, pi], demand[zi, pi])
    np.add.at(raw_demand, catchment[zi, pi], raw[zi, pi])
    area_rate = demand.sum() / raw.sum() if raw.sum() > 0 else 1.0
    with np.errstate(divide="ignore", invalid="ignore"):
        relative = np.where(raw_demand > 0, catchment_demand / raw_demand / area_rate, np.nan)
    total = demand.sum()
    record = Calibration(
        scope=scope, base_year=base_year, unit=units, beds_today=beds_today[units],
        beds_today_source=tuple(beds_source[u] for u in units), target_occupancy=target[units],
        model_occupancy=flow.unit_occupancy[units], blocking=flow.unit_blocking[units],
        admissions_per_year=flow.unit_admitted[units], catchment_admissions_per_year=catchment_demand[units],
        relative_rate=relative[units],
        turned_away_share=float(flow.turned_away_per_year / total) if total > 0 else 0.0,
        converged=converged, notes=tuple(notes))
    return factors, record


def _site_factors(base: Instance, beds: np.ndarray, virtual: np.ndarray | None, catchment: np.ndarray,
                  in_scope: np.ndarray, tuned: np.ndarray, aims: np.ndarray, calibrated: np.ndarray
                  ) -> tuple[np.ndarray, bool]:
    """Per zone-pathway factors putting every tuned unit at its aimed offered load.

    At the answer every tuned unit's blocking is known (B(c, a*)), so with the blocking held
    there the load each catchment sends to each unit is linear in the catchment's factor: one
    non-negative least-squares solve. The hubs' blocking depends on the factors too, and units
    that are not tuned keep the flow model's blocking, so the solve is repeated until the
    factors settle."""
    n_u = len(beds)
    fixed_blocking = np.where(tuned, erlang_b_array(beds, aims), 0.0)
    group_of = np.where(in_scope, catchment, n_u)        # n_u: streams that are not scaled
    factors = np.ones(in_scope.shape)
    rows = np.flatnonzero(tuned)
    for _ in range(CALIBRATION_MAX_ROUNDS):
        _fill_unreached(factors, in_scope, base, calibrated)
        inst = _scaled(base, factors)
        chains = patient_chains(inst, beds, virtual)
        blocking = np.where(tuned, fixed_blocking, patient_flow(inst, beds, virtual).unit_blocking)
        load = offered_by_group(chains, blocking, group_of[chains.zone, chains.pathway], n_u + 1)
        ratio = _non_negative_solve(load[np.ix_(rows, rows)], aims[rows] - load[rows, n_u])
        update = np.ones(n_u)
        update[rows] = np.clip(ratio, 1e-3, 1e3)
        factors = np.where(in_scope, factors * update[np.maximum(catchment, 0)], factors)
        if np.abs(update[rows] - 1.0).max(initial=0.0) < 1e-7:
            _fill_unreached(factors, in_scope, base, calibrated)
            return factors, True
    _fill_unreached(factors, in_scope, base, calibrated)
    return factors, False


def _non_negative_solve(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """x >= 0 with a x as close to b as it can be (least squares): solve, drop the variables
    that come out negative (held at 0), solve again for the rest; a small active-set method,
    enough for a dozen units."""
    free = np.ones(len(b), bool)
    x = np.zeros(len(b))
    for _ in range(len(b) + 1):
        x = np.zeros(len(b))
        if free.any():
            x[free] = np.linalg.lstsq(a[:, free], b, rcond=None)[0]
        if (x >= 0).all():
            return x
        free &= x > 0
    return np.maximum(x, 0.0)


def _fill_unreached(factors: np.ndarray, in_scope: np.ndarray, base: Instance, calibrated: np.ndarray) -> None:
    """Zones no unit reaches today take their pathway's average factor (in place)."""
    for p in np.flatnonzero(calibrated):
        reached = in_scope[:, p]
        weight = base.hospital_admissions[reached, p] + base.virtual_admissions[reached, p]
        if (~reached).any() and weight.sum() > 0:
            factors[~reached, p] = float((factors[reached, p] * weight).sum() / weight.sum())


def _first_units(inst: Instance, beds: np.ndarray) -> np.ndarray:
    """(Z, P) the nearest reachable unit of the pathway's own ward with beds (-1: none)."""
    reach = reachable_units(inst, beds, fallback=False)
    return reach[:, :, 0] if reach.shape[2] else -np.ones(inst.hospital_admissions.shape, int)


def _scaled(inst: Instance, factors: np.ndarray) -> Instance:
    return replace(inst, hospital_admissions=inst.hospital_admissions * factors,
                   virtual_admissions=inst.virtual_admissions * factors)
