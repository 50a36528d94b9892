r"""The deprivation equity rule, in one place: its groups, its rows in the formulation, the
deprivation gap reported with every answer, its check, its wording and its relaxation.

Two groups of small areas are compared by their IMD 2019 decile (1 = most deprived tenth of
areas in England): by default the most deprived fifth (deciles 1-2) and the least deprived
fifth (deciles 9-10). For a group :math:`G`, residents :math:`w_i` (aged 65+, or all) of the
zones with demand for the reference pathway :math:`p` (the travel standard's), its *mean
travel* is

.. math:: \bar t_G = \frac{1}{W_G} \sum_{i \in G} w_i \Big(\sum_j t_{ij} x_{ijp} + U m_{ip}\Big),
   \qquad W_G = \sum_{i\in G} w_i,

where :math:`x_{ijp}` is the share of the zone's patients the plan sends to hospital
:math:`j` first, :math:`m_{ip}` the share it cannot place, counted at :math:`U`, the longest
journey allowed (the pathway's travel limit), so that leaving an area unserved never looks
like a short journey. The denominators are fixed, so both limits are linear rows:

* **gap**: :math:`\bar t_{\text{most}} - \bar t_{\text{least}} \le N` (``max_gap_minutes``);
* **no worse than the baseline**: :math:`\bar t_{\text{most}} \le \bar t^{\,0}_{\text{most}} + M`
  (``max_worsening_minutes``), where :math:`\bar t^{\,0}_{\text{most}}` is the same mean
  under a baseline option (by default the status quo) measured in the patient-flow model
  with the same scenario.

The *deprivation gap* :math:`\bar t_{\text{most}} - \bar t_{\text{least}}` is reported with
every answer (``deprivation_gap_minutes``), with the default groups when the scenario sets no
rule.

Everything about this rule lives here (one rule family of :mod:`optimiser.rules`) (the scenario's ``equity.deprivation`` is read in
:mod:`optimiser.instance`): :func:`add_deprivation_equity` (formulation rows),
:func:`deprivation_metrics` (the reported means and gap), :func:`violations` (the checker's
recomputation, with its own code), :func:`describe`, :func:`relaxed` and
:func:`nearest_setting` (the infeasibility diagnosis).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from optimiser.instance import DeprivationRule, Instance
from optimiser.model.names import clean
from optimiser.rules.base import RawSolution, Rule, Suggestion, Violation

if TYPE_CHECKING:
    from optimiser.model.formulation import Formulation
    from optimiser.solution import Tables

TOL = 1e-6


def rule_of(inst: Instance) -> DeprivationRule:
    """The instance's rule, or the default groups (most vs least deprived fifth, residents 65+,
    the reference pathway) when the scenario sets none."""
    rule = getattr(inst.rules, "deprivation", None)
    if rule is not None:
        return rule
    pathway = inst.rules.coverage[0].pathway if inst.rules.coverage else 0
    return DeprivationRule(pathway=pathway)


def unplaced_minutes(inst: Instance, pathway: int) -> float:
    """What a patient the plan cannot place counts as: the pathway's travel limit (or, with no
    limit, the longest journey in the travel matrix)."""
    limit = float(inst.pathways.max_travel[pathway])
    if np.isfinite(limit):
        return limit
    finite = inst.travel[np.isfinite(inst.travel)]
    return float(finite.max()) if finite.size else 0.0


def group_weights(inst: Instance, rule: DeprivationRule) -> tuple[np.ndarray, np.ndarray]:
    """(weight of each zone in the most deprived group's mean, the same for the least
    deprived): residents over the group's residents, zero outside the group and for zones
    with no hospital demand of the pathway."""
    pop = inst.zones.population_65 if rule.population == "65_plus" else inst.zones.population
    decile = np.asarray(inst.zones.deprivation_decile, int)
    has_demand = inst.hospital_admissions[:, rule.pathway] > 0
    out = []
    for deciles in (rule.most_deprived_deciles, rule.least_deprived_deciles):
        w = np.where(np.isin(decile, deciles) & has_demand, pop, 0.0).astype(float)
        total = w.sum()
        out.append(w / total if total > 0 else w)
    return out[0], out[1]


# ---------------------------------------------------------------------------------------
# The formulation's rows
# ---------------------------------------------------------------------------------------

def add_deprivation_equity(f: Formulation) -> None:
    """The gap row and the no-worse-than-baseline row (see the module docstring). Skipped
    when the rule sets no limit, or a group has no residents in this instance (a grouped
    instance of the quick answer that does not keep deprivation)."""
    inst, lp = f.instance, f.lp
    rule = getattr(inst.rules, "deprivation", None)
    if rule is None or not rule.limits:
        return
    most, least = group_weights(inst, rule)
    if most.sum() <= 0 or least.sum() <= 0:
        return
    z, s, k = f.pairs
    stream = f.streams.of_pathway[rule.pathway]
    on = k == stream
    dz, dk = f.demand_rows
    on_row = dk == stream
    x_cols, u_cols = lp.variables("assign")[on], lp.variables("unmet")[on_row]
    t = inst.travel[z[on], s[on]]
    u_minutes = unplaced_minutes(inst, rule.pathway)
    rows, cols, vals, lo, hi, names = [], [], [], [], [], []
    row = 0
    if rule.max_gap_minutes is not None:
        coef_x = (most - least)[z[on]] * t
        coef_u = (most - least)[dz[on_row]] * u_minutes
        keep_x, keep_u = coef_x != 0, coef_u != 0
        rows += [np.full(keep_x.sum(), row), np.full(keep_u.sum(), row)]
        cols += [x_cols[keep_x], u_cols[keep_u]]
        vals += [coef_x[keep_x], coef_u[keep_u]]
        lo.append(-np.inf)
        hi.append(float(rule.max_gap_minutes))
        names.append(f"deprivation_gap_at_most_{rule.max_gap_minutes:g}_min")
        row += 1
    cap = rule.worsening_cap
    if cap is not None:
        coef_x = most[z[on]] * t
        coef_u = most[dz[on_row]] * u_minutes
        keep_x, keep_u = coef_x != 0, coef_u != 0
        rows += [np.full(keep_x.sum(), row), np.full(keep_u.sum(), row)]
        cols += [x_cols[keep_x], u_cols[keep_u]]
        vals += [coef_x[keep_x], coef_u[keep_u]]
        lo.append(-np.inf)
        hi.append(float(cap))
        names.append(f"most_deprived_travel_at_most_baseline_plus_{rule.max_worsening_minutes:g}_min")
        row += 1
    if not row:
        return
    lp.add_constraints("deprivation_equity", clean(names), np.concatenate(rows), np.concatenate(cols),
                       np.concatenate(vals), np.asarray(lo), np.asarray(hi))


# ---------------------------------------------------------------------------------------
# The reported means and gap (every answer)
# ---------------------------------------------------------------------------------------

def group_means(inst: Instance, tables: Tables, rule: DeprivationRule | None = None) -> tuple[float, float]:
    """(most deprived group's mean travel, least deprived group's) under ``tables``' plan."""
    rule = rule or rule_of(inst)
    most, least = group_weights(inst, rule)
    minutes = _zone_minutes(inst, tables, rule)
    out = []
    for w in (most, least):
        out.append(float((w * minutes).sum()) if w.sum() > 0 else float("nan"))
    return out[0], out[1]


def _zone_minutes(inst: Instance, tables: Tables, rule: DeprivationRule) -> np.ndarray:
    """Per zone: sum over hospitals of share x minutes, plus the unplaced share at the limit."""
    pid = inst.pathways.ids[rule.pathway]
    zones = pd.Index(inst.zones.ids)
    out = np.zeros(inst.n_zones)
    a = tables.assignment
    if len(a):
        a = a[a["pathway"] == pid]
        zi = zones.get_indexer(a["zone_code"])
        si = pd.Index(inst.sites.ids).get_indexer(a["site_id"])
        np.add.at(out, zi, a["share"].to_numpy(float) * inst.travel[zi, si])
    u = tables.unmet
    if len(u):
        u = u[u["pathway"] == pid]
        np.add.at(out, zones.get_indexer(u["zone_code"]), u["share"].to_numpy(float) * unplaced_minutes(inst, rule.pathway))
    return out


def deprivation_metrics(inst: Instance, tables: Tables) -> dict[str, float]:
    """The metrics every answer reports: each group's mean travel and the gap between them."""
    most, least = group_means(inst, tables)
    return {"mean_travel_minutes_most_deprived": most, "mean_travel_minutes_least_deprived": least,
            "deprivation_gap_minutes": most - least}


# ---------------------------------------------------------------------------------------
# The rule family (registry entry): its rows, its check on a solution's raw arrays, wording
# ---------------------------------------------------------------------------------------

def _means_from_raw(inst: Instance, raw: RawSolution, rule: DeprivationRule) -> tuple[float, float]:
    """Each group's mean travel, recomputed from the raw arrays with this check's own code."""
    pop = inst.zones.population_65 if rule.population == "65_plus" else inst.zones.population
    p = rule.pathway
    limit = unplaced_minutes(inst, p)
    minutes = (raw.assignment[:, :, p] * inst.travel).sum(axis=1) + raw.unmet[:, p] * limit
    decile = np.asarray(inst.zones.deprivation_decile, int)
    has_demand = inst.hospital_admissions[:, p] > 0
    out = []
    for deciles in (rule.most_deprived_deciles, rule.least_deprived_deciles):
        members = np.isin(decile, deciles) & has_demand
        total = float(pop[members].sum())
        out.append(float((pop[members] * minutes[members]).sum()) / total if total > 0 else float("nan"))
    return out[0], out[1]


class DeprivationEquity(Rule):
    name = "deprivation_equity"
    label = "the deprivation equity limit"
    relaxable = True

    def active(self, inst) -> bool:
        rule = getattr(inst.rules, "deprivation", None)
        return rule is not None and rule.limits

    def add_rows(self, f) -> None:
        add_deprivation_equity(f)

    def violations(self, inst, raw: RawSolution) -> list[Violation]:
        rule = getattr(inst.rules, "deprivation", None)
        if rule is None or not rule.limits:
            return []
        most, least = _means_from_raw(inst, raw, rule)
        who = "residents aged 65+" if rule.population == "65_plus" else "residents"
        out = []
        if rule.max_gap_minutes is not None and np.isfinite(most - least):
            gap = most - least
            if gap > rule.max_gap_minutes + 1e-6 * max(1.0, abs(rule.max_gap_minutes)) + TOL:
                out.append(Violation(self.name, "gap", gap - rule.max_gap_minutes,
                                     f"{who} of the most deprived areas ({rule.group_label('most')}) travel on average "
                                     f"{most:.1f} minutes, {gap:.1f} more than those of the least deprived "
                                     f"({rule.group_label('least')}, {least:.1f}); the limit is {rule.max_gap_minutes:g}"))
        cap = rule.worsening_cap
        if cap is not None and np.isfinite(most) and most > cap + 1e-6 * max(1.0, abs(cap)) + TOL:
            out.append(Violation(self.name, "baseline", most - cap,
                                 f"{who} of the most deprived areas ({rule.group_label('most')}) travel on average "
                                 f"{most:.1f} minutes, {most - rule.baseline_mean_minutes:.1f} more than under "
                                 f"'{rule.baseline_name or 'the baseline'}' ({rule.baseline_mean_minutes:.1f}); the "
                                 f"limit is {rule.max_worsening_minutes:g} more"))
        return out

    def describe(self, inst) -> list[str]:
        text = describe(inst)
        return [text] if text else []

    def relax(self, inst):
        return relaxed(inst)

    def nearest(self, inst, probe) -> Suggestion | None:
        hit = nearest_setting(inst, probe.feasible)
        return Suggestion(*hit) if hit else None


# ---------------------------------------------------------------------------------------
# Wording and relaxation (the infeasibility explanation)
# ---------------------------------------------------------------------------------------

def describe(inst: Instance) -> str:
    """The rule in a few words ('' when it sets no limit)."""
    rule = getattr(inst.rules, "deprivation", None)
    if rule is None or not rule.limits:
        return ""
    parts = []
    if rule.max_gap_minutes is not None:
        parts.append(f"the most deprived areas' mean travel at most {rule.max_gap_minutes:g} minutes above the "
                     "least deprived's")
    if rule.worsening_cap is not None:
        parts.append(f"the most deprived areas' mean travel at most {rule.max_worsening_minutes:g} minutes above "
                     f"'{rule.baseline_name or 'the baseline'}'")
    return " and ".join(parts)


def relaxed(inst: Instance) -> Instance:
    """The instance with the rule's limits dropped (its groups kept for the reported gap)."""
    rule = inst.rules.deprivation
    return inst.with_rules(deprivation=replace(rule, max_gap_minutes=None, max_worsening_minutes=None))


def nearest_setting(inst: Instance, feasible: Callable[[Instance], bool]) -> tuple[str, str, float] | None:
    """The smallest limit that can be met with every other limit kept: the gap if it is set
    (holding the baseline limit), else the worsening allowed; by bisection to 0.1 minute."""
    rule = inst.rules.deprivation
    if rule.max_gap_minutes is not None:
        key, field, now = "equity.deprivation.max_gap_minutes", "max_gap_minutes", rule.max_gap_minutes
    else:
        key, field, now = "equity.deprivation.max_worsening_minutes", "max_worsening_minutes", rule.max_worsening_minutes

    def works(value: float) -> bool:
        return feasible(inst.with_rules(deprivation=replace(rule, **{field: value})))

    hi = max(now, 0.0) + 5.0
    while not works(hi):
        hi *= 2
        if hi > 1e4:
            return None
    lo = now
    while hi - lo > 0.1:
        mid = (lo + hi) / 2
        if works(mid):
            hi = mid
        else:
            lo = mid
    value = float(np.ceil(hi * 10) / 10)
    what = ("let the most deprived areas' mean travel be up to {v:g} minutes above the least deprived's"
            if field == "max_gap_minutes" else
            "let the most deprived areas' mean travel worsen by up to {v:g} minutes against the baseline")
    return key, what.format(v=value) + f" (now {now:g})", value
