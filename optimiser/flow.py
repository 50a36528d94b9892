r"""The patient-flow model: where patients actually get a bed, for any bed configuration.

One model of patient flow is used to calibrate demand, to measure an option drafted by
hand, to score an optimiser's answer, and (through the inflow it reports) to size the
optimiser's beds.

How patients move (as bed managers move them):

* A hospital patient of zone :math:`i` and pathway :math:`p` is first sent to a hospital
  unit (a ward type on a site): the one a plan assigns, or else the nearest reachable one.
  If every bed there is full, the patient goes on to the next nearest reachable unit with
  the pathway, and so on; then (if the pathway names a ``fallback`` ward, e.g. stroke
  rehabilitation on a general community ward) to the reachable units of that ward. A
  patient refused everywhere within the pathway's travel limit is *turned away*.
* A patient suitable for a home-based (virtual) bed is first offered one by the district's
  hub; if the hub is full (or runs none) the patient joins the hospital chain of their
  zone. A plan may also send some of them straight to a hospital.

Queueing: each unit is an Erlang loss system. With arrivals :math:`\lambda_u` (first-choice
and onward) and stays :math:`L`, the offered load is :math:`a_u = \sum \lambda L/365` and an
arriving patient finds no free bed with probability :math:`B_u = B(c_u, a_u)`. A patient
reaches the :math:`k`-th unit of its chain with probability :math:`\prod_{l<k} B_{u_l}`, so
the loads depend on the blocking and the blocking on the loads: the *reduced-load* (Erlang
fixed-point) approximation of a loss network with alternative routing (Kelly 1986). The map
:math:`B \mapsto a \mapsto B` is monotone, so iterating from :math:`B = 0` climbs to its
least fixed point. Occupancy is the carried load :math:`a_u(1-B_u)` over the beds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from optimiser.queueing import ErlangBForBeds, erlang_b_array

if TYPE_CHECKING:
    from optimiser.instance import Instance

FLOW_TOLERANCE = 1e-12      # largest change in any blocking probability at convergence
FLOW_MAX_ITERATIONS = 5000


@dataclass(frozen=True)
class OnwardPlan:
    """Where a plan sends the patients a full unit or hub turns away, as erlangs per route:
    from a unit (``from_unit``) or a hub stream (``from_district``, ``from_pathway``; -1 when
    the source is a unit) to a unit (``to_unit``; -1: turned away). Shares per source are the
    erlangs over the source's total."""

    from_unit: np.ndarray
    from_district: np.ndarray
    from_pathway: np.ndarray
    to_unit: np.ndarray
    erlangs: np.ndarray


@dataclass(frozen=True)
class FirstChoices:
    """Where a plan first sends patients. ``hospital_*``: share of zone-pathway hospital
    patients first sent to a unit. ``overflow_*``: virtual-suitable admissions a year of a
    district that the plan sends straight to a hospital unit instead of a home-based bed;
    ``unplaced_*``: those the plan has no bed for. With ``complete`` the plan is the whole
    story: hospital patients it does not place are turned away (an optimiser's answer leaves
    patients unplaced only when no bed within the rules can take them). Without it, they go
    to their nearest reachable unit (an option drafted by hand)."""

    hospital_zone: np.ndarray
    hospital_pathway: np.ndarray
    hospital_unit: np.ndarray
    hospital_share: np.ndarray
    overflow_district: np.ndarray
    overflow_pathway: np.ndarray
    overflow_unit: np.ndarray
    overflow_admissions: np.ndarray
    unplaced_district: np.ndarray = field(default_factory=lambda: np.zeros(0, int))
    unplaced_pathway: np.ndarray = field(default_factory=lambda: np.zeros(0, int))
    unplaced_admissions: np.ndarray = field(default_factory=lambda: np.zeros(0))
    complete: bool = False
    onward: OnwardPlan | None = None

    @classmethod
    def nearest(cls) -> FirstChoices:
        e = np.zeros(0, int)
        return cls(e, e, e, np.zeros(0), e, e, e, np.zeros(0))


@dataclass(frozen=True)
class PatientFlow:
    """Where patients get beds under a configuration, per unit, hub and zone."""

    unit_beds: np.ndarray            # (U,)
    unit_arrivals: np.ndarray        # (U,) patients a year arriving (first choice and onward)
    unit_first_arrivals: np.ndarray  # (U,) of which sent there first
    unit_offered: np.ndarray         # (U,) erlangs offered
    unit_first_offered: np.ndarray   # (U,) erlangs offered by first-choice patients
    unit_planned_offered: np.ndarray  # (U,) of which sent there by the plan (FirstChoices)
    unit_blocking: np.ndarray        # (U,) chance an arriving patient finds no free bed
    unit_admitted: np.ndarray        # (U,) patients a year admitted
    hub_beds: np.ndarray             # (D,) home-based beds
    hub_arrivals: np.ndarray         # (D,)
    hub_offered: np.ndarray          # (D,) erlangs
    hub_blocking: np.ndarray         # (D,)
    hub_admitted: np.ndarray         # (D,)
    placed_zone: np.ndarray          # admissions placed in hospital, sparse by
    placed_pathway: np.ndarray       # (zone, pathway, site, onward)
    placed_site: np.ndarray
    placed_admissions: np.ndarray
    placed_onward: np.ndarray        # bool: admitted after a refusal elsewhere
    turned_away: np.ndarray          # (Z, P) patients a year refused everywhere within reach
    iterations: int
    converged: bool

    @property
    def unit_inflow(self) -> np.ndarray:
        """Erlangs offered to each unit by patients refused elsewhere."""
        return self.unit_offered - self.unit_first_offered

    @property
    def unit_carried(self) -> np.ndarray:
        return self.unit_offered * (1.0 - self.unit_blocking)

    @property
    def unit_occupancy(self) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(self.unit_beds > 0, self.unit_carried / np.maximum(self.unit_beds, 1), 0.0)

    @property
    def hub_occupancy(self) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            carried = self.hub_offered * (1.0 - self.hub_blocking)
            return np.where(self.hub_beds > 0, carried / np.maximum(self.hub_beds, 1), 0.0)

    @property
    def turned_away_per_year(self) -> float:
        return float(self.turned_away.sum())

    @property
    def redirected_per_year(self) -> float:
        """Patients admitted to a hospital after their first choice (a hospital or a hub)
        had no free bed."""
        return float(self.placed_admissions[self.placed_onward].sum())


@dataclass(frozen=True)
class OnwardRoutes:
    """Where a plan may send patients a full unit or hub has no bed for. Sources are the
    units (0..U-1) and then the hubs' pathway streams (U + h, one per district and pathway
    with suitable patients); each route goes to a unit of the source's ward (at a site that
    hosts its pathways) or of a pathway's fallback ward, within the pathway's travel limit
    (site to site; hub: the district's patients to the site)."""

    source: np.ndarray            # (R,) source number
    target: np.ndarray            # (R,) unit
    minutes: np.ndarray           # (R,)
    hub_district: np.ndarray      # (H,)
    hub_pathway: np.ndarray       # (H,)
    source_stay_days: np.ndarray  # (U + H,) mean stay of a source's patients (erlangs -> admissions)

    @property
    def n_units(self) -> int:
        return len(self.source_stay_days) - len(self.hub_district)


def unit_pathways(inst: Instance) -> list[np.ndarray]:
    """For each unit, the pathways whose patients it takes."""
    opt, pw = inst.bed_choices, inst.pathways
    return [np.flatnonzero((pw.ward == w) & pw.site_allowed[:, s]) for s, w in zip(opt.unit_site, opt.unit_ward, strict=True)]


def onward_routes(inst: Instance) -> OnwardRoutes:
    """The routes of :class:`OnwardRoutes` for an instance."""
    opt, pw = inst.bed_choices, inst.pathways
    n_u = len(opt.unit_site)
    fallback = pw.fallback_ward if pw.fallback_ward is not None else np.full(len(pw.ids), -1)
    site_minutes = inst.site_travel if inst.site_travel is not None else np.zeros((inst.n_sites,) * 2)
    load = inst.hospital_load.sum(axis=0) + inst.virtual_load.sum(axis=0) + 1e-12
    members = unit_pathways(inst)

    def targets(pathways: np.ndarray, exclude: int) -> np.ndarray:
        ok = np.zeros(n_u, bool)
        for p in pathways:
            ok |= (opt.unit_ward == pw.ward[p]) & pw.site_allowed[p, opt.unit_site]
            if fallback[p] >= 0:
                ok |= opt.unit_ward == fallback[p]
        if exclude >= 0:
            ok[exclude] = False
        return np.flatnonzero(ok)

    src, dst, mins = [], [], []
    stay = np.zeros(n_u)
    for v in range(n_u):
        ps = members[v]
        if not len(ps):
            continue
        stay[v] = float((pw.los_days[ps] * load[ps]).sum() / load[ps].sum())
        limit = pw.max_travel[ps].max()
        for u in targets(ps, v):
            m = site_minutes[opt.unit_site[v], opt.unit_site[u]]
            if m <= limit + 1e-9:
                src.append(v)
                dst.append(u)
                mins.append(m)
    eligible = inst.virtual_admissions_by_district()
    hd, hp = np.nonzero(eligible > 0)
    for h, (d, p) in enumerate(zip(hd, hp, strict=True)):
        for u in targets(np.array([p]), -1):
            m = inst.district_site_travel[d, opt.unit_site[u]]
            if m <= pw.max_travel[p] + 1e-9:
                src.append(n_u + h)
                dst.append(u)
                mins.append(m)
    return OnwardRoutes(np.array(src, int), np.array(dst, int), np.array(mins, float), hd, hp,
                        np.concatenate([stay, pw.los_days[hp]]))


def unit_index(inst: Instance) -> np.ndarray:
    """(sites, wards) -> unit number, -1 where the site cannot host the ward."""
    opt = inst.bed_choices
    table = -np.ones((inst.n_sites, len(inst.wards)), int)
    table[opt.unit_site, opt.unit_ward] = np.arange(len(opt.unit_site))
    return table


def reachable_units(inst: Instance, unit_beds: np.ndarray, *, fallback: bool = True) -> np.ndarray:
    """(Z, P, K) units each zone's patients of each pathway may use, nearest first (-1 pads):
    units of the pathway's ward with beds, at sites hosting it, within its travel limit; then
    (with ``fallback``) the units of its fallback ward, if any."""
    pw = inst.pathways
    units_of = unit_index(inst)
    n_z, n_p, n_s = inst.n_zones, len(pw.ids), inst.n_sites
    order = np.argsort(inst.travel, axis=1, kind="stable")                # (Z, S)
    fallback = (pw.fallback_ward if pw.fallback_ward is not None and fallback else np.full(n_p, -1))
    k_max = n_s * (1 + int((fallback >= 0).any()))
    out = -np.ones((n_z, n_p, k_max), int)
    for p in range(n_p):
        parts = []
        for ward, hosted in ((pw.ward[p], pw.site_allowed[p]), (fallback[p], None)):
            if ward < 0:
                continue
            unit = units_of[:, ward]                                       # (S,)
            ok_site = (unit >= 0) & (unit_beds[np.maximum(unit, 0)] > 0)
            if hosted is not None:
                ok_site &= hosted
            u = unit[order]                                                # (Z, S)
            ok = ok_site[order] & (np.take_along_axis(inst.travel, order, axis=1) <= pw.max_travel[p] + 1e-9)
            parts.append(np.where(ok, u, -1))
        chain = np.concatenate(parts, axis=1)
        # squeeze the -1s to the end, keeping order
        keys = np.argsort(chain < 0, axis=1, kind="stable")
        out[:, p, :chain.shape[1]] = np.take_along_axis(chain, keys, axis=1)
    return out


def _with_first(chains: np.ndarray, first: np.ndarray) -> np.ndarray:
    """Each chain with ``first`` moved (or put) in front; -1 first leaves the chain as is."""
    drop = (chains == first[:, None]) & (first[:, None] >= 0)
    body = np.where(drop, -1, chains)
    keys = np.argsort(body < 0, axis=1, kind="stable")
    body = np.take_along_axis(body, keys, axis=1)
    lead = np.where(first >= 0, first, body[:, 0])
    rest = np.where((first >= 0)[:, None], body, np.roll(body, -1, axis=1))
    if rest.shape[1]:
        rest[(first < 0), -1] = -1
    return np.concatenate([lead[:, None], rest], axis=1)


@dataclass(frozen=True)
class Chains:
    """Every stream of patients with the units it tries, in order: ``weight`` admissions a
    year of ``pathway`` from ``zone`` try ``units[:, 0]``, then ``units[:, 1]`` ... (-1 pads);
    ``via_hub`` marks patients a home-based hub had no bed for. The hubs come first and take
    no patients from hospitals, so their blocking is fixed before the hospitals' is found."""

    zone: np.ndarray
    pathway: np.ndarray
    weight: np.ndarray
    units: np.ndarray
    via_hub: np.ndarray
    planned: np.ndarray      # bool: the first unit is the plan's (FirstChoices), not the nearest
    stay_years: np.ndarray
    hub_beds: np.ndarray
    hub_arrivals: np.ndarray
    hub_offered: np.ndarray
    hub_blocking: np.ndarray
    unplaced: np.ndarray     # (Z, P) admissions a year the plan has no bed for
    first_unit: np.ndarray   # unit each stream is first sent to (-1: its nearest; see units)

    @property
    def load(self) -> np.ndarray:
        """Erlangs each stream offers to its first unit."""
        return self.weight * self.stay_years


def patient_chains(inst: Instance, unit_beds, virtual_beds=None, first: FirstChoices | None = None) -> Chains:
    """The streams of patients and the units each tries (see :class:`Chains`)."""
    first = first or FirstChoices.nearest()
    unit_beds = np.asarray(unit_beds, int)
    n_d = len(inst.districts.ids)
    n_z, n_p = inst.hospital_admissions.shape
    hub_beds = np.zeros(n_d, int) if virtual_beds is None else np.asarray(virtual_beds, int)
    reach = reachable_units(inst, unit_beds)                               # (Z, P, K)

    zs, ps, ws, firsts, planned_flags = [], [], [], [], []
    hz, hp, hu, hs = first.hospital_zone, first.hospital_pathway, first.hospital_unit, first.hospital_share
    adm = inst.hospital_admissions
    planned = np.zeros((n_z, n_p))
    if len(hz):
        live = (hs > 0) & (unit_beds[hu] > 0)
        zs.append(hz[live])
        ps.append(hp[live])
        ws.append(adm[hz[live], hp[live]] * hs[live])
        firsts.append(hu[live])
        planned_flags.append(np.ones(live.sum(), bool))
        np.add.at(planned, (hz[live], hp[live]), hs[live])
    rest = adm * np.clip(1.0 - planned, 0.0, 1.0)
    unplaced = rest if first.complete else np.zeros_like(rest)
    rz, rp = np.nonzero((rest > 1e-12) & (not first.complete))
    zs.append(rz)
    ps.append(rp)
    ws.append(rest[rz, rp])
    firsts.append(np.full(len(rz), -1))
    planned_flags.append(np.zeros(len(rz), bool))

    # Virtual-suitable patients: planned overflow straight to hospital (spread over the
    # district's zones by their share of its suitable patients); the rest go to the hub.
    vadm = inst.virtual_admissions
    district = inst.zones.district
    by_district = np.zeros((n_d, n_p))
    np.add.at(by_district, district, vadm)
    share_in_district = np.divide(vadm, by_district[district], out=np.zeros_like(vadm),
                                  where=by_district[district] > 0)
    to_hub = vadm.copy()
    unplaced = unplaced.copy()
    for d, p, a in zip(first.unplaced_district, first.unplaced_pathway, first.unplaced_admissions, strict=True):
        members = np.flatnonzero((district == d) & (vadm[:, p] > 0))
        part = np.minimum(a * share_in_district[members, p], to_hub[members, p])
        to_hub[members, p] -= part
        unplaced[members, p] += part
    od, op, ou, oa = first.overflow_district, first.overflow_pathway, first.overflow_unit, first.overflow_admissions
    for d, p, u, a in zip(od, op, ou, oa, strict=True):
        members = np.flatnonzero((district == d) & (vadm[:, p] > 0))
        if not len(members) or a <= 0:
            continue
        part = np.minimum(a * share_in_district[members, p], to_hub[members, p])
        to_hub[members, p] -= part
        zs.append(members)
        ps.append(np.full(len(members), p))
        ws.append(part)
        firsts.append(np.full(len(members), u if unit_beds[u] > 0 else -1))
        planned_flags.append(np.full(len(members), unit_beds[u] > 0))
    hub_arrivals = np.bincount(district, weights=to_hub.sum(axis=1), minlength=n_d)
    hub_offered = np.bincount(district, weights=(to_hub * inst.pathways.virtual_los_days[None, :] / 365.0).sum(axis=1),
                              minlength=n_d)
    hub_blocking = np.where(hub_beds > 0, erlang_b_array(hub_beds, hub_offered), np.where(hub_offered > 0, 1.0, 0.0))
    refused = to_hub * hub_blocking[district][:, None]
    if not inst.rules.onward_flow:
        unplaced += refused              # no onward flow: a patient refused is turned away
        refused = np.zeros_like(refused)
    vz, vp = np.nonzero(refused > 1e-12)
    n_direct = sum(len(z) for z in zs)
    zs.append(vz)
    ps.append(vp)
    ws.append(refused[vz, vp])
    firsts.append(np.full(len(vz), -1))
    planned_flags.append(np.zeros(len(vz), bool))

    z = np.concatenate(zs).astype(int)
    p = np.concatenate(ps).astype(int)
    via_hub = np.zeros(len(z), bool)
    via_hub[n_direct:] = True
    first_unit = np.concatenate(firsts).astype(int)
    units = _with_first(reach[z, p], first_unit)
    if not inst.rules.onward_flow:
        units = units[:, :1]             # no onward flow: a patient refused is turned away
    return Chains(zone=z, pathway=p, weight=np.concatenate(ws).astype(float),
                  units=units, via_hub=via_hub, first_unit=first_unit,
                  planned=np.concatenate(planned_flags),
                  stay_years=inst.pathways.los_days[p] / 365.0, hub_beds=hub_beds, hub_arrivals=hub_arrivals,
                  hub_offered=hub_offered, hub_blocking=hub_blocking, unplaced=unplaced)


def offered_by_group(chains: Chains, blocking: np.ndarray, group: np.ndarray, n_groups: int) -> np.ndarray:
    """(U, n_groups) erlangs offered to each unit by the streams of each group (``group``: one
    number per stream), with every unit's blocking held at ``blocking``: the flow is then
    linear in each group's demand."""
    n_u = len(blocking)
    valid = chains.units >= 0
    safe = np.where(valid, chains.units, 0)
    out = np.zeros((n_u, n_groups))
    reach = chains.load.copy()
    for k in range(chains.units.shape[1]):
        v = valid[:, k]
        np.add.at(out, (safe[v, k], group[v]), reach[v])
        reach = np.where(v, reach * blocking[safe[:, k]], reach)
    return out


def patient_flow(inst: Instance, unit_beds, virtual_beds=None, first: FirstChoices | None = None) -> PatientFlow:
    """Run the patient-flow model for ``unit_beds`` (beds on each unit of ``inst``) and
    ``virtual_beds`` (per district; ``None`` = none), with patients first sent where
    ``first`` says (default: the nearest reachable unit). A plan with an onward plan
    (``first.onward``) sends refused patients where it says (a unit's refused patients
    follow the plan's shares from that unit); otherwise they go to their next nearest."""
    unit_beds = np.asarray(unit_beds, int)
    first = first or FirstChoices.nearest()
    c = patient_chains(inst, unit_beds, virtual_beds, first)
    n_u = len(unit_beds)
    n_z, n_p = inst.hospital_admissions.shape
    if first.onward is not None and inst.rules.onward_flow:
        start, escalate = _plan_routes(inst, c, first.onward, n_u)
        blocking, iterations, converged = _plan_fixed_point(start, escalate, c.load, unit_beds)
        visits = start @ _expected_visits(escalate, blocking)
        first_visit = np.where(c.via_hub[:, None], 0.0, start)
    else:
        blocking, iterations, converged = _fixed_point(c.units, c.load, unit_beds)
        visits, first_visit = _chain_visits(c.units, blocking, n_u)
        first_visit[c.via_hub] = 0.0
    flow = c.weight[:, None] * visits                                   # (streams, U) arrivals a year
    stay = c.stay_years[:, None]
    direct = c.weight[:, None] * first_visit
    placed = flow * (1.0 - blocking)[None, :]
    placed_first = direct * (1.0 - blocking)[None, :]
    turned = c.unplaced.copy()
    np.add.at(turned, (c.zone, c.pathway), np.maximum(c.weight - placed.sum(axis=1), 0.0))
    rows, units = np.nonzero(placed > 1e-12)
    onward_part = placed[rows, units] - placed_first[rows, units]
    first_part = placed_first[rows, units]
    return PatientFlow(
        unit_beds=unit_beds, unit_arrivals=flow.sum(axis=0), unit_first_arrivals=direct.sum(axis=0),
        unit_offered=(flow * stay).sum(axis=0), unit_first_offered=(direct * stay).sum(axis=0),
        unit_planned_offered=(direct * stay)[c.planned].sum(axis=0),
        unit_blocking=blocking, unit_admitted=placed.sum(axis=0),
        hub_beds=c.hub_beds, hub_arrivals=c.hub_arrivals, hub_offered=c.hub_offered, hub_blocking=c.hub_blocking,
        hub_admitted=c.hub_arrivals * (1.0 - c.hub_blocking),
        placed_zone=np.concatenate([c.zone[rows], c.zone[rows]]),
        placed_pathway=np.concatenate([c.pathway[rows], c.pathway[rows]]),
        placed_site=np.concatenate([inst.bed_choices.unit_site[units]] * 2),
        placed_admissions=np.concatenate([first_part, onward_part]),
        placed_onward=np.concatenate([np.zeros(len(rows), bool), np.ones(len(rows), bool)]),
        turned_away=turned, iterations=iterations, converged=converged)


def _chain_visits(chains: np.ndarray, blocking: np.ndarray, n_u: int) -> tuple[np.ndarray, np.ndarray]:
    """(streams, U) chance each stream's patient arrives at each unit, and at its first."""
    visits = np.zeros((len(chains), n_u))
    first = np.zeros((len(chains), n_u))
    reach = np.ones(len(chains))
    rows = np.arange(len(chains))
    for k in range(chains.shape[1]):
        v = chains[:, k] >= 0
        visits[rows[v], chains[v, k]] += reach[v]
        if k == 0:
            first[rows[v], chains[v, k]] = 1.0
        reach = np.where(v, reach * blocking[np.maximum(chains[:, k], 0)], reach)
    return visits, first


def _plan_routes(inst: Instance, c: Chains, plan: OnwardPlan, n_u: int) -> tuple[np.ndarray, np.ndarray]:
    """(streams, U) where each stream starts, and (U, U) the share of a unit's refused
    patients the plan sends to each other unit (the rest of a row is turned away)."""
    escalate = np.zeros((n_u, n_u))
    out_total = np.zeros(n_u)
    unit_rows = plan.from_unit >= 0
    np.add.at(out_total, plan.from_unit[unit_rows], plan.erlangs[unit_rows])
    to = unit_rows & (plan.to_unit >= 0)
    np.add.at(escalate, (plan.from_unit[to], plan.to_unit[to]), plan.erlangs[to])
    escalate = np.divide(escalate, out_total[:, None], out=np.zeros_like(escalate), where=out_total[:, None] > 0)
    n_p = len(inst.pathways.ids)
    hub_share = np.zeros((len(inst.districts.ids) * n_p, n_u))
    hub_total = np.zeros(len(inst.districts.ids) * n_p)
    hub_rows = ~unit_rows
    key = plan.from_district * n_p + plan.from_pathway
    np.add.at(hub_total, key[hub_rows], plan.erlangs[hub_rows])
    to = hub_rows & (plan.to_unit >= 0)
    np.add.at(hub_share, (key[to], plan.to_unit[to]), plan.erlangs[to])
    hub_share = np.divide(hub_share, hub_total[:, None], out=np.zeros_like(hub_share), where=hub_total[:, None] > 0)
    start = np.zeros((len(c.zone), n_u))
    direct = ~c.via_hub & (c.first_unit >= 0)
    start[np.flatnonzero(direct), c.first_unit[direct]] = 1.0
    hub = np.flatnonzero(c.via_hub)
    start[hub] = hub_share[inst.zones.district[c.zone[hub]] * n_p + c.pathway[hub]]
    return start, escalate


def _expected_visits(escalate: np.ndarray, blocking: np.ndarray) -> np.ndarray:
    """(U, U) expected arrivals at each unit per patient arriving first at each unit, when a
    refused patient follows ``escalate``: (I - diag(B) E)^-1."""
    n = len(blocking)
    return np.linalg.solve(np.eye(n) - blocking[:, None] * escalate, np.eye(n))


def _plan_fixed_point(start: np.ndarray, escalate: np.ndarray, load: np.ndarray,
                      unit_beds: np.ndarray) -> tuple[np.ndarray, int, bool]:
    """The least fixed point of B_u = ErlangB(c_u, a_u(B)) under a plan's onward routes."""
    first_load = load @ start
    blocking = np.zeros(len(unit_beds))
    open_units = unit_beds > 0
    erlang_b = ErlangBForBeds(unit_beds)
    for iteration in range(1, FLOW_MAX_ITERATIONS + 1):
        offered = first_load @ _expected_visits(escalate, blocking)
        new = np.where(open_units, erlang_b(offered), 1.0)
        change = float(np.abs(new - blocking).max(initial=0.0))
        blocking = new
        if change < FLOW_TOLERANCE:
            return blocking, iteration, True
    return blocking, FLOW_MAX_ITERATIONS, False


def unique_rows(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(rows, axis=0, return_inverse=True)`` for rows of small integers (unit
    numbers, -1 padding): each row read as one number in base ``max + 2`` (first column most
    significant, so the order is the same), which sorts several times faster than rows.
    Rows whose number would not fit in 63 bits are left to ``np.unique``."""
    rows = np.asarray(rows)
    if rows.ndim != 2 or not len(rows) or not np.issubdtype(rows.dtype, np.integer) or rows.min() < -1:
        distinct, inverse = np.unique(rows, axis=0, return_inverse=True)
        return distinct, inverse.ravel()
    base = int(rows.max()) + 2
    if rows.shape[1] * np.log2(base) >= 62:
        distinct, inverse = np.unique(rows, axis=0, return_inverse=True)
        return distinct, inverse.ravel()
    key = np.zeros(len(rows), np.int64)
    for k in range(rows.shape[1]):
        key = key * base + (rows[:, k].astype(np.int64) + 1)
    _, first, inverse = np.unique(key, return_index=True, return_inverse=True)
    return rows[first], inverse.ravel()


def _fixed_point(chains: np.ndarray, load: np.ndarray, unit_beds: np.ndarray) -> tuple[np.ndarray, int, bool]:
    """The least blocking vector B with B_u = ErlangB(c_u, a_u(B)), by monotone iteration
    from B = 0. ``load``: erlangs each chain offers to its first unit."""
    n_u = len(unit_beds)
    # columns of padding alone (no chain is that long) change nothing: dropped
    live = np.flatnonzero((chains >= 0).any(axis=0))
    chains = chains[:, :int(live[-1]) + 1 if len(live) else 1]
    distinct, inverse = unique_rows(chains)
    weight = np.bincount(inverse.ravel(), weights=load, minlength=len(distinct))
    valid = distinct >= 0
    safe = np.where(valid, distinct, n_u)           # n_u: a sink that never blocks
    blocking = np.zeros(n_u + 1)
    open_units = unit_beds > 0
    flat = safe.ravel()
    steps = np.empty(safe.shape)
    steps[:, 0] = weight
    erlang_b = ErlangBForBeds(unit_beds)
    for iteration in range(1, FLOW_MAX_ITERATIONS + 1):
        # reach[:, k] = weight * B(unit_0) * ... * B(unit_{k-1}): what is left of each chain
        # when it arrives at its k-th unit (the sink, -1 padding, never blocks)
        steps[:, 1:] = np.where(valid[:, :-1], blocking[safe[:, :-1]], 1.0)
        reach = np.cumprod(steps, axis=1)
        offered = np.bincount(flat, weights=reach.ravel(), minlength=n_u + 1)
        new = np.where(open_units, erlang_b(offered[:n_u]), 1.0)
        change = float(np.abs(new - blocking[:n_u]).max(initial=0.0))
        blocking[:n_u] = new
        if change < FLOW_TOLERANCE:
            return new, iteration, True
    return blocking[:n_u], FLOW_MAX_ITERATIONS, False
