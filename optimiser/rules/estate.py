"""Estate limits: a site's wards together hold at most the beds its buildings allow.

Row (sites with more than one ward type; a single unit's options already stop at the limit):
:math:`\\sum_{k \\in j} c_k y_k \\le B_j`."""

from __future__ import annotations

import numpy as np

from optimiser.model.lp import INF
from optimiser.model.names import join
from optimiser.rules.base import RawSolution, Rule, Violation


class EstateLimit(Rule):
    name = "estate_limit"
    label = "the estate limits"

    def add_rows(self, f) -> None:
        inst, lp, opt = f.instance, f.lp, f.instance.bed_choices
        n_s = inst.n_sites
        site_of_option = opt.unit_site[opt.option_unit]
        multi = np.flatnonzero(np.bincount(opt.unit_site, minlength=n_s) > 1)
        if not len(multi):
            return
        local = -np.ones(n_s, int)
        local[multi] = np.arange(len(multi))
        keep = local[site_of_option] >= 0
        lp.add_constraints(self.name, join("estate_limit", inst.sites.ids[multi]), local[site_of_option[keep]],
                           lp.variables("bed_option")[keep], opt.option_beds[keep].astype(float), -INF,
                           inst.sites.max_beds[multi].astype(float))

    def violations(self, inst, raw: RawSolution) -> list[Violation]:
        limit = inst.sites.max_beds
        return [Violation(self.name, sid, raw.site_beds[j] - limit[j],
                          f"{inst.sites.names[j]} has {raw.site_beds[j]:.0f} beds, above its estate limit of {limit[j]}")
                for j, sid in enumerate(inst.sites.ids) if raw.site_beds[j] > limit[j]]

    def repair(self, inst, unit_beds: np.ndarray) -> np.ndarray:
        """Rounding two wards up can pass the site's limit: the larger ward steps down."""
        opt = inst.bed_choices
        beds = unit_beds.copy()
        site_beds = np.bincount(opt.unit_site, weights=beds, minlength=inst.n_sites)
        for site in np.flatnonzero(site_beds > inst.sites.max_beds):
            units = np.flatnonzero(opt.unit_site == site)
            while beds[units].sum() > inst.sites.max_beds[site]:
                u = units[np.argmax(beds[units])]
                lower = opt.option_beds[(opt.option_unit == u) & (opt.option_beds < beds[u])]
                if not len(lower):
                    break
                beds[u] = lower.max()
        return beds
