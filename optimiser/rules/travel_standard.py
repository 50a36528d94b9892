"""The travel standard: a share of residents (all, or aged 65+) within a threshold of the
hospital they are first sent to, for the pathways it names.

Row: :math:`\\sum_i w_i \\sum_{j: t_{ij}\\le\\tau} x_{ijp} \\ge s \\sum_i w_i`. The nearest
setting that works is the highest reachable share (bisection on feasibility)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from optimiser.model.lp import INF
from optimiser.model.names import clean
from optimiser.rules.base import RawSolution, Rule, Suggestion, Violation


def coverage_weights(inst, population: str) -> np.ndarray:
    return inst.zones.population_65 if population == "65_plus" else inst.zones.population


def add_travel_standard(f) -> None:
    inst, lp = f.instance, f.lp
    rules = inst.rules.coverage
    if not rules:
        return
    x = lp.variables("assign")
    z, s, k = f.pairs
    rows, cols, vals, rhs, names = [], [], [], [], []
    for r, rule in enumerate(rules):
        w = coverage_weights(inst, rule.population)
        stream = f.streams.of_pathway[rule.pathway]
        has_demand = f.streams.admissions[:, stream] > 0
        near = (k == stream) & (inst.travel_by(rule.travel_matrix)[z, s] <= rule.threshold_minutes + 1e-9)
        rows.append(np.full(near.sum(), r))
        cols.append(x[near])
        vals.append(w[z[near]])
        rhs.append(rule.share * w[has_demand].sum())
        names.append(f"travel_standard_{inst.pathways.ids[rule.pathway]}_{rule.population}_"
                     f"{rule.share:.0%}_within_{rule.threshold_minutes:g}min"
                     + ("_second_matrix" if rule.travel_matrix == "second" else ""))
    lp.add_constraints("travel_standard", clean(names), np.concatenate(rows), np.concatenate(cols),
                       np.concatenate(vals), np.asarray(rhs), INF)


def coverage_shares(inst, raw: RawSolution) -> list[tuple[object, float]]:
    """(rule, achieved share) for each travel standard, from the raw assignment."""
    out = []
    for rule in inst.rules.coverage:
        w = inst.zones.population_65 if rule.population == "65_plus" else inst.zones.population
        near = inst.travel_by(rule.travel_matrix) <= rule.threshold_minutes + 1e-9   # (Z, S); NaN: no route
        within = (raw.assignment[:, :, rule.pathway] * near).sum(axis=1)     # (Z,)
        has_demand = inst.hospital_admissions[:, rule.pathway] > 0
        denom = w[has_demand].sum()
        out.append((rule, float((w * within).sum() / denom) if denom > 0 else 1.0))
    return out


class TravelStandard(Rule):
    name = "travel_standard"
    label = "the travel standard"
    relaxable = True

    def active(self, inst) -> bool:
        return bool(inst.rules.coverage)

    def add_rows(self, f) -> None:
        add_travel_standard(f)

    def violations(self, inst, raw: RawSolution) -> list[Violation]:
        out = []
        for rule, achieved in coverage_shares(inst, raw):
            if achieved < rule.share - 1e-6:
                who = "aged 65+" if rule.population == "65_plus" else "residents"
                by = (f" by {inst.second_travel_label or 'the second travel matrix'}"
                      if rule.travel_matrix == "second" else "")
                out.append(Violation(self.name, inst.pathways.ids[rule.pathway], rule.share - achieved,
                                     f"{achieved:.1%} of {who} are within {rule.threshold_minutes:g} minutes{by} of their "
                                     f"{inst.pathways.labels[rule.pathway].lower()} hospital; the standard is "
                                     f"{rule.share:.0%}"))
        return out

    def describe(self, inst) -> list[str]:
        return [f"{c.share:.0%} of {'residents aged 65+' if c.population == '65_plus' else 'residents'} within "
                f"{c.threshold_minutes:g} minutes"
                + (f" by {inst.second_travel_label or 'the second matrix'}" if c.travel_matrix == "second" else "")
                for c in inst.rules.coverage]

    def relax(self, inst):
        return inst.with_rules(coverage=())

    def nearest(self, inst, probe) -> Suggestion | None:
        feasible = probe.feasible
        rule = inst.rules.coverage[0]
        rest = inst.rules.coverage[1:]
        if not feasible(inst.with_rules(coverage=(replace(rule, share=0.0),) + rest)):
            return None
        lo, hi = 0.0, rule.share
        for _ in range(11):
            mid = (lo + hi) / 2
            if feasible(inst.with_rules(coverage=(replace(rule, share=mid),) + rest)):
                lo = mid
            else:
                hi = mid
        best = np.floor(lo * 1000) / 1000
        if best <= 0:
            return None
        who = "residents aged 65+" if rule.population == "65_plus" else "residents"
        return Suggestion("travel.standard.share",
                          f"lower the travel standard to {best:.1%} of {who} within {rule.threshold_minutes:g} "
                          "minutes (the most reachable with the other limits), or raise the threshold", best)
