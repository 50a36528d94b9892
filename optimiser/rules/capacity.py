"""Capacity (queueing) and the onward flow of patients a full unit turns away.

Rows: the onward balance of every unit and hub (a share :math:`b` of each unit's offered
load goes onward to other units within reach, or is turned away) and the capacity row
:math:`\\text{planned}_u + \\sum_v w_{vu} \\le \\sum_{k\\in u} \\kappa_k y_k`, where
:math:`\\kappa_k` is the largest load option :math:`k` carries at the blocking target (the Erlang
loss model, :mod:`optimiser.queueing`).

Violations, from the plan's own tables: a unit offered more than its beds carry at the
target; a unit sending onward more or less than the target's share of its load; the
patient-flow model offering a unit more than the plan (it cannot, when every unit keeps
its target). From the true queueing model: a unit (or a district's hub) whose chance of no
free bed, with patients from elsewhere included, passes the target. For an option drafted by
hand only the last applies (its breaks)."""

from __future__ import annotations

import numpy as np

from optimiser.flow import onward_routes
from optimiser.model.lp import INF
from optimiser.model.names import join
from optimiser.rules.base import RawSolution, Rule, Violation


def uses_onward_flow(inst) -> bool:
    r = inst.rules
    return r.capacity_limits and r.onward_flow and r.utilisation_rule == "erlang"


def add_onward_flow(f) -> None:
    r"""Patients a full unit turns away go on, as bed managers arrange: a share :math:`b` (the
    blocking target) of every unit's offered load :math:`A_v` — its own patients and those
    arriving from elsewhere — is planned onward to other units within reach (:math:`w_{vu}
    \ge 0`, erlangs) or turned away (:math:`t_v \ge 0`): :math:`\sum_u w_{vu} + t_v = b A_v`,
    :math:`A_v = \text{planned}_v + \sum_x w_{xv}`; likewise a share of each hub's home-based
    patients goes to hospital. The capacity rows then hold the whole offered load. Because a
    unit within capacity turns away at most :math:`b` of its patients, the patient-flow model
    run on the answer (with these onward shares) offers every unit no more than planned here:
    the answer keeps its blocking target with the onward flow included."""
    inst, lp = f.instance, f.lp
    if not uses_onward_flow(inst):
        return
    routes = onward_routes(inst)
    f.onward = routes
    opt = inst.bed_choices
    n_u, n_h = len(opt.unit_site), len(routes.hub_district)
    b = inst.rules.utilisation_target
    unit_names = join(inst.sites.ids[opt.unit_site], np.asarray(inst.wards, object)[opt.unit_ward])
    hub_names = join(inst.districts.ids[routes.hub_district], np.asarray(inst.pathways.ids, object)[routes.hub_pathway])
    source_names = np.concatenate([unit_names, hub_names])
    w = lp.add_variables("onward", join("onward_from", source_names[routes.source], "to", unit_names[routes.target]), 0, INF)
    t = lp.add_variables("turned_away", join("turned_away_at", source_names), 0, INF)
    # unit balance: sum_out w + t_v - b (planned_v + sum_in w) = 0
    pu, pc, pv = f.planned_load()
    is_unit = routes.source < n_u
    rows = np.concatenate([routes.source[is_unit], np.arange(n_u), pu, routes.target])
    cols = np.concatenate([w[is_unit], t[:n_u], pc, w])
    vals = np.concatenate([np.ones(is_unit.sum()), np.ones(n_u), -b * pv, -b * np.ones(len(w))])
    lp.add_constraints("onward_balance", join("onward_balance", unit_names), rows, cols, vals, 0.0, 0.0)
    if n_h:
        # hub balance: sum_out w + t_h = b_v * (hospital erlangs of the hub's patients)
        #            = b_v * los/365 * (E - overflow - virtual_unmet)
        bv = inst.rules.virtual_target
        stay = inst.pathways.los_days[routes.hub_pathway] / 365.0
        eligible = inst.virtual_admissions_by_district()
        hub_of = -np.ones(eligible.shape, int)
        hub_of[routes.hub_district, routes.hub_pathway] = np.arange(n_h)
        od, _, op = f.overflow_routes
        gd, gp = np.nonzero(eligible > 0)
        rows = [routes.source[~is_unit] - n_u, np.arange(n_h), hub_of[od, op], hub_of[gd, gp]]
        cols = [w[~is_unit], t[n_u:], lp.variables("overflow"), lp.variables("virtual_unmet")]
        vals = [np.ones((~is_unit).sum()), np.ones(n_h), bv * stay[hub_of[od, op]], bv * stay[hub_of[gd, gp]]]
        rhs = bv * stay * eligible[routes.hub_district, routes.hub_pathway]
        lp.add_constraints("hub_onward_balance", join("hub_onward_balance", hub_names), np.concatenate(rows),
                           np.concatenate(cols), np.concatenate(vals), rhs, rhs)
    lp.add_objective_term("unmet", t, 365.0)
    lp.add_objective_term("travel", w, 365.0 / np.maximum(routes.source_stay_days[routes.source], 1e-9) * routes.minutes)


def add_capacity(f) -> None:
    """Capacity (queueing): the load offered to each unit — planned, and onward from full
    units and hubs — is at most what its bed option carries at the utilisation target."""
    inst, lp, opt = f.instance, f.lp, f.instance.bed_choices
    if not inst.rules.capacity_limits:
        return
    pu, pc, pv = f.planned_load()
    parts_rows = [pu, opt.option_unit]
    parts_cols = [pc, lp.variables("bed_option")]
    parts_vals = [pv, -opt.option_capacity]
    if lp.has_family("onward"):
        parts_rows.append(f.onward.target)
        parts_cols.append(lp.variables("onward"))
        parts_vals.append(np.ones(len(f.onward.target)))
    names = join("capacity", inst.sites.ids[opt.unit_site], np.asarray(inst.wards, object)[opt.unit_ward])
    lp.add_constraints("capacity", names, np.concatenate(parts_rows), np.concatenate(parts_cols),
                       np.concatenate(parts_vals), -INF, 0.0)


def _erlang_b(servers: int, load: float) -> float:
    """B(c, a) by the textbook recursion (this check's own, shared with nothing)."""
    b = 1.0
    for k in range(1, int(servers) + 1):
        b = load * b / (k + load * b)
    return b


def _carries(beds: int, load: float, rule: str, target: float) -> bool:
    if beds <= 0:
        return load <= 1e-6
    if rule == "occupancy":
        return load <= beds * target * (1 + 1e-6) + 1e-6
    return _erlang_b(beds, load) <= target * (1 + 1e-4) + 1e-9


class Capacity(Rule):
    name = "capacity"
    label = "the blocking target"

    def active(self, inst) -> bool:
        return inst.rules.capacity_limits

    def add_rows(self, f) -> None:
        if f.radius_form:
            return
        add_onward_flow(f)
        add_capacity(f)

    def violations(self, inst, raw: RawSolution) -> list[Violation]:
        r = inst.rules
        if not r.capacity_limits:
            return []
        opt = inst.bed_choices
        out = []
        where = [f"{inst.sites.ids[s]}/{inst.wards[w]}" for s, w in zip(opt.unit_site, opt.unit_ward, strict=True)]
        planned = raw.planned_first + raw.onward_received if raw.onward_sent.any() else None
        if planned is not None:
            for u in range(len(raw.unit_beds)):
                if not _carries(int(raw.unit_beds[u]), planned[u], r.utilisation_rule, r.utilisation_target):
                    out.append(Violation(self.name, where[u], planned[u],
                                         f"the plan offers {planned[u]:.2f} erlangs to {int(raw.unit_beds[u])} beds, "
                                         "more than they carry at the blocking target"))
            due = r.utilisation_target * planned
            for u in np.flatnonzero(np.abs(raw.onward_sent - due) > 1e-4 * np.maximum(1.0, due)):
                out.append(Violation("onward_balance", where[u], raw.onward_sent[u] - due[u],
                                     f"the plan sends {raw.onward_sent[u]:.3f} erlangs onward, not the target share "
                                     f"of its load ({due[u]:.3f})"))
            for u in np.flatnonzero(raw.unit_offered > planned * (1 + 1e-6) + 1e-6):
                out.append(Violation("patient_flow", where[u], raw.unit_offered[u] - planned[u],
                                     "the patient-flow model offers the unit more than the plan"))
        out += self.queueing_violations(inst, raw)
        return out

    def queueing_violations(self, inst, raw: RawSolution) -> list[Violation]:
        """Units and hubs whose chance of no free bed passes the target, from the true Erlang
        loss formula on the load the patient-flow model offers them."""
        r = inst.rules
        opt = inst.bed_choices
        out = []
        for u in range(len(raw.unit_beds)):
            beds, load = int(raw.unit_beds[u]), float(raw.unit_offered[u])
            if beds > 0 and not _carries(beds, load, r.utilisation_rule, r.utilisation_target):
                name = f"{inst.sites.names[opt.unit_site[u]]} ({inst.wards[opt.unit_ward[u]].replace('_', ' ')})"
                b = _erlang_b(beds, load)
                out.append(Violation(self.name, f"{inst.sites.ids[opt.unit_site[u]]}/{inst.wards[opt.unit_ward[u]]}",
                                     load, f"{name}: a {b:.0%} chance a patient finds no free bed "
                                           f"(target {r.utilisation_target:.0%})"))
        for k in range(len(raw.virtual_beds)):
            b = _erlang_b(int(raw.virtual_beds[k]), float(raw.hub_offered[k]))
            if raw.virtual_beds[k] > 0 and b > r.virtual_target + 1e-4:
                out.append(Violation("virtual_capacity", inst.districts.ids[k], b,
                                     f"{inst.districts.names[k]} home-based beds: a {b:.0%} chance a patient finds no "
                                     f"free bed (target {r.virtual_target:.0%})"))
        return out

    def describe(self, inst) -> list[str]:
        r = inst.rules
        return [f"under {r.utilisation_target:.0%} chance of finding no free bed"] if r.utilisation_rule == "erlang" else []
