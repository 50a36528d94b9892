"""Bed options: each unit (a ward type on a site) runs exactly one of its allowed bed counts.

Rows: :math:`\\sum_{k \\in u} y_k = 1`; a site set to close keeps option 0 only; a unit with a
single option (a configuration fixed by hand or by the quick answer) takes it, so a fixed
configuration leaves no integer free. Violation: beds that are not one of the unit's options
(a drafted option may use any count, so this is not held against one)."""

from __future__ import annotations

import numpy as np

from optimiser.model.names import join
from optimiser.rules.base import RawSolution, Rule, Violation


class BedChoices(Rule):
    name = "one_bed_option"
    label = "the allowed bed counts"
    measured = False

    def add_rows(self, f) -> None:
        inst, lp, opt = f.instance, f.lp, f.instance.bed_choices
        wards = np.asarray(inst.wards, object)
        cols = lp.add_variables("bed_option", join("beds", inst.sites.ids[opt.unit_site[opt.option_unit]],
                                                   wards[opt.unit_ward[opt.option_unit]], opt.option_beds),
                                0, 1, integer=True)
        n_units = len(opt.unit_site)
        lp.add_constraints(self.name, join("one_bed_option", inst.sites.ids[opt.unit_site], wards[opt.unit_ward]),
                           opt.option_unit, cols, 1.0, 1.0, 1.0)
        closed = inst.sites.status[opt.unit_site[opt.option_unit]] < 0
        lp.set_bounds(cols[closed & (opt.option_beds > 0)], upper=0.0)
        only = np.bincount(opt.option_unit, minlength=n_units)[opt.option_unit] == 1
        lp.set_bounds(cols[only & ~(closed & (opt.option_beds > 0))], lower=1.0)

    def violations(self, inst, raw: RawSolution) -> list[Violation]:
        opt = inst.bed_choices
        out = []
        for u, beds in enumerate(raw.unit_beds):
            allowed = sorted(set(opt.option_beds[opt.option_unit == u].tolist()))
            if int(beds) not in allowed:
                where = f"{inst.sites.ids[opt.unit_site[u]]}/{inst.wards[opt.unit_ward[u]]}"
                out.append(Violation(self.name, where, float(beds),
                                     f"{int(beds)} beds is not an allowed option ({allowed})"))
        return out
