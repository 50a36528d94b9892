"""Minimum beds on an open site (isolated small units are a clinical risk).

Row: :math:`\\sum_{k \\in j} c_k y_k \\ge b_{\\min} o_j`."""

from __future__ import annotations

import numpy as np

from optimiser.model.lp import INF
from optimiser.model.names import join
from optimiser.rules.base import RawSolution, Rule, Suggestion, Violation


class MinBedsOpenSite(Rule):
    name = "min_beds_open_site"
    label = "the minimum beds on an open site"
    relaxable = True

    def active(self, inst) -> bool:
        return inst.rules.min_beds_open_site > 0

    def add_rows(self, f) -> None:
        inst, lp, opt = f.instance, f.lp, f.instance.bed_choices
        m = inst.rules.min_beds_open_site
        if m <= 0:
            return
        n_s = inst.n_sites
        rows = np.concatenate([opt.unit_site[opt.option_unit], np.arange(n_s)])
        cols = np.concatenate([lp.variables("bed_option"), lp.variables("site_open")])
        vals = np.concatenate([opt.option_beds.astype(float), -float(m) * np.ones(n_s)])
        lp.add_constraints(self.name, join("min_beds_if_open", inst.sites.ids), rows, cols, vals, 0.0, INF)

    def violations(self, inst, raw: RawSolution) -> list[Violation]:
        m = inst.rules.min_beds_open_site
        return [Violation(self.name, sid, m - raw.site_beds[j],
                          f"{inst.sites.names[j]} has {raw.site_beds[j]:.0f} beds, below the minimum of {m} for "
                          "an open site")
                for j, sid in enumerate(inst.sites.ids) if raw.open_sites[j] and raw.site_beds[j] < m]

    def describe(self, inst) -> list[str]:
        m = inst.rules.min_beds_open_site
        return [f"at least {m} beds on every open site"] if m else []

    def relax(self, inst):
        return inst.with_rules(min_beds_open_site=0)

    def nearest(self, inst, probe) -> Suggestion | None:
        feasible = probe.feasible
        m = inst.rules.min_beds_open_site
        for value in range(m - 1, -1, -1):
            if feasible(inst.with_rules(min_beds_open_site=value)):
                return Suggestion("min_beds_per_open_site", f"allow open sites with as few as {value} beds (now {m})",
                                  value)
        return None

    def repair(self, inst, unit_beds: np.ndarray) -> np.ndarray:
        """A site with some beds but fewer than the minimum: its largest unit steps up."""
        opt = inst.bed_choices
        m = inst.rules.min_beds_open_site
        beds = unit_beds.copy()
        site_beds = np.bincount(opt.unit_site, weights=beds, minlength=inst.n_sites)
        for site in np.flatnonzero((site_beds > 0) & (site_beds < m)):
            units = np.flatnonzero(opt.unit_site == site)
            u = units[np.argmax(beds[units])]
            bigger = opt.option_beds[(opt.option_unit == u) & (opt.option_beds >= beds[u] + m - site_beds[site])]
            if len(bigger):
                beds[u] = bigger.min()
        return beds
