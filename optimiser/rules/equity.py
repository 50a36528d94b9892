"""Equity: the worst district's mean hospital travel, :math:`T`, an objective term.

Row per district with hospital demand: :math:`\\sum_{i\\in d,p,j} h_{ip} t_{ij} x_{ijp} / H_d \\le T`.
Not a limit, so nothing to violate or relax; the checker recomputes the term itself."""

from __future__ import annotations

import numpy as np

from optimiser.model.lp import INF
from optimiser.model.names import join
from optimiser.rules.base import Rule


def add_equity(f) -> None:
    inst, lp = f.instance, f.lp
    w = inst.weights
    if not (w.equity > 0 or (w.lexicographic and "equity" in w.lexicographic)):
        return
    t = lp.add_variables("worst_district_travel", ["worst_district_mean_travel_minutes"], 0, INF)
    x = lp.variables("assign")
    z, s, k = f.pairs
    d = inst.zones.district[z]
    totals = np.zeros(len(inst.districts.ids))
    np.add.at(totals, inst.zones.district, inst.hospital_admissions.sum(axis=1))
    active = np.flatnonzero(totals > 0)
    local = -np.ones(len(totals), int)
    local[active] = np.arange(len(active))
    keep = local[d] >= 0
    coef = f.streams.admissions[z, k] * inst.travel[z, s] / np.where(totals[d] > 0, totals[d], 1)
    lp.add_constraints("equity", join("equity_district", inst.districts.ids[active]),
                       np.concatenate([local[d[keep]], np.arange(len(active))]),
                       np.concatenate([x[keep], np.repeat(t, len(active))]),
                       np.concatenate([coef[keep], -np.ones(len(active))]), -INF, 0.0)
    lp.add_objective_term("equity", t, 1.0)


class WorstDistrictTravel(Rule):
    name = "equity"
    label = "the worst district's mean travel"
    measured = False

    def add_rows(self, f) -> None:
        add_equity(f)
