"""At most so many units of a ward type (e.g. at most two stroke rehabilitation units):
the worked example of adding a rule (README, "Adding a rule").

Setting: ``wards.<ward>.max_units`` in the scenario (blank = no limit), compiled into
``Rules.max_units`` as (ward index, most units). Row per limited ward:
:math:`\\sum_{u \\in w} \\sum_{k \\in u, c_k>0} y_k \\le N_w`."""

from __future__ import annotations

import numpy as np

from optimiser.model.lp import INF
from optimiser.model.names import join
from optimiser.rules.base import RawSolution, Rule, Suggestion, Violation


class UnitsPerWardType(Rule):
    name = "max_units"
    label = "the most units of a ward type"
    relaxable = True

    def active(self, inst) -> bool:
        return bool(inst.rules.max_units)

    def add_rows(self, f) -> None:
        inst, lp, opt = f.instance, f.lp, f.instance.bed_choices
        limits = inst.rules.max_units
        if not limits:
            return
        y = lp.variables("bed_option")
        rows, cols = [], []
        for r, (ward, _) in enumerate(limits):
            open_options = np.flatnonzero((opt.unit_ward[opt.option_unit] == ward) & (opt.option_beds > 0))
            rows.append(np.full(len(open_options), r))
            cols.append(y[open_options])
        names = join("at_most_units_of", np.asarray([inst.wards[w] for w, _ in limits], object))
        lp.add_constraints(self.name, names, np.concatenate(rows), np.concatenate(cols), 1.0, -INF,
                           np.array([float(n) for _, n in limits]))

    def violations(self, inst, raw: RawSolution) -> list[Violation]:
        opt = inst.bed_choices
        out = []
        for ward, most in inst.rules.max_units:
            n = int(((opt.unit_ward == ward) & (raw.unit_beds > 0)).sum())
            if n > most:
                out.append(Violation(self.name, inst.wards[ward], n - most,
                                     f"{n} {inst.wards[ward].replace('_', ' ')} units have beds; at most {most} may"))
        return out

    def describe(self, inst) -> list[str]:
        return [f"at most {n} {inst.wards[w].replace('_', ' ')} unit(s)" for w, n in inst.rules.max_units]

    def relax(self, inst):
        return inst.with_rules(max_units=())

    def nearest(self, inst, probe) -> Suggestion | None:
        for k, (ward, most) in enumerate(inst.rules.max_units):
            for n in range(most + 1, int((inst.bed_choices.unit_ward == ward).sum()) + 1):
                limits = tuple((w, n if i == k else m) for i, (w, m) in enumerate(inst.rules.max_units))
                if probe.feasible(inst.with_rules(max_units=limits)):
                    return Suggestion(f"wards.{inst.wards[ward]}.max_units",
                                      f"allow up to {n} {inst.wards[ward].replace('_', ' ')} units (now {most})", n)
        return None
