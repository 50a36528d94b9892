"""Sites: a site keeps inpatient beds (is open) exactly when one of its units has beds, and
sites the scenario sets to stay open or to close do so.

Rows: :math:`y_k \\le o_j` summed per unit, :math:`o_j \\le \\sum_{k \\in j, c_k > 0} y_k`, and
the statuses as bounds on :math:`o_j`."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from optimiser.model.lp import INF
from optimiser.model.names import join
from optimiser.rules.base import RawSolution, Rule, Suggestion, Violation


class SiteStatus(Rule):
    name = "site_open"
    label = "the sites set to stay open or to close"
    relaxable = True

    def active(self, inst) -> bool:
        return bool((inst.sites.status != 0).any())

    def add_rows(self, f) -> None:
        inst, lp, opt = f.instance, f.lp, f.instance.bed_choices
        n_s = inst.n_sites
        lo = (inst.sites.status > 0).astype(float)
        hi = (inst.sites.status >= 0).astype(float)
        site_cols = lp.add_variables("site_open", join("open", inst.sites.ids), lo, hi, integer=True)
        beds = lp.variables("bed_option")
        has_beds = opt.option_beds > 0
        n_units = len(opt.unit_site)
        rows = np.concatenate([opt.option_unit[has_beds], np.arange(n_units)])
        cols = np.concatenate([beds[has_beds], site_cols[opt.unit_site]])
        vals = np.concatenate([np.ones(has_beds.sum()), -np.ones(n_units)])
        lp.add_constraints("unit_opens_site", join("beds_need_open_site", inst.sites.ids[opt.unit_site],
                                                   np.asarray(inst.wards, object)[opt.unit_ward]),
                           rows, cols, vals, -INF, 0.0)
        site_of_option = opt.unit_site[opt.option_unit]
        rows = np.concatenate([np.arange(n_s), site_of_option[has_beds]])
        cols = np.concatenate([site_cols, beds[has_beds]])
        vals = np.concatenate([np.ones(n_s), -np.ones(has_beds.sum())])
        lp.add_constraints("open_site_has_beds", join("open_site_has_beds", inst.sites.ids), rows, cols,
                           vals, -INF, 0.0)

    def violations(self, inst, raw: RawSolution) -> list[Violation]:
        out = []
        for j, sid in enumerate(inst.sites.ids):
            if inst.sites.status[j] < 0 and raw.open_sites[j]:
                out.append(Violation(self.name, sid, float(raw.site_beds[j]),
                                     f"{inst.sites.names[j]} is set to close but has {raw.site_beds[j]:.0f} beds"))
            if inst.sites.status[j] > 0 and not raw.open_sites[j]:
                out.append(Violation(self.name, sid, 0.0, f"{inst.sites.names[j]} must stay open but has no beds"))
        return out

    def describe(self, inst) -> list[str]:
        closed, kept = int((inst.sites.status < 0).sum()), int((inst.sites.status > 0).sum())
        return ([f"{closed} site(s) closed"] if closed else []) + ([f"{kept} site(s) kept open"] if kept else [])

    def relax(self, inst):
        return replace(inst, sites=replace(inst.sites, status=np.zeros_like(inst.sites.status)))

    def nearest(self, inst, probe) -> Suggestion | None:
        feasible = probe.feasible
        fixed = np.flatnonzero(inst.sites.status != 0)
        for j in fixed:
            status = inst.sites.status.copy()
            status[j] = 0
            if feasible(replace(inst, sites=replace(inst.sites, status=status))):
                what = "stay open" if inst.sites.status[j] > 0 else "close"
                return Suggestion(f"sites.{inst.sites.ids[j]}.status",
                                  f"let {inst.sites.names[j]} be decided by the model instead of set to {what}", float(j))
        if len(fixed) > 1 and feasible(self.relax(inst)):
            names = ", ".join(inst.sites.names[fixed])
            return Suggestion("sites", f"let the model decide more than one of the sites now set to stay open or "
                                       f"close ({names})", float(len(fixed)))
        return None
