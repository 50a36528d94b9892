"""The budget: the configuration's annual cost (fixed site costs, beds, annualised new-ward
capital, home-based beds) at most the budget.

Row: :math:`\\sum_j F_j o_j + \\sum_k (p_k c_k + K_k/n) y_k + \\sum_d q\\,\\text{step}\\,m_d \\le
\\text{budget}`. The nearest setting that works is the least cost the other limits allow."""

from __future__ import annotations

import numpy as np

from optimiser.model.lp import INF
from optimiser.rules.base import RawSolution, Rule, Suggestion, Violation


def cost_terms(f) -> tuple[np.ndarray, np.ndarray]:
    """(columns, GBP per year) of the annual cost."""
    inst, lp, opt = f.instance, f.lp, f.instance.bed_choices
    site_of_option = opt.unit_site[opt.option_unit]
    per_option = (inst.sites.cost_per_bed[site_of_option] * opt.option_beds
                  + opt.option_capital / inst.weights.capital_annualisation_years)
    cols = [lp.variables("site_open"), lp.variables("bed_option")]
    vals = [inst.sites.fixed_cost, per_option]
    if inst.virtual is not None:
        cols.append(lp.variables("virtual_blocks"))
        vals.append(np.full(len(inst.districts.ids), inst.virtual.cost_per_bed * inst.virtual.step))
    return np.concatenate(cols), np.concatenate(vals).astype(float)


class Budget(Rule):
    name = "budget"
    label = "the budget"
    relaxable = True

    def active(self, inst) -> bool:
        return inst.rules.budget is not None

    def add_rows(self, f) -> None:
        budget = f.instance.rules.budget
        if budget is None:
            return
        cols, vals = cost_terms(f)
        f.lp.add_constraints(self.name, ["budget_per_year"], np.zeros(len(cols), int), cols, vals, -INF, budget)

    def violations(self, inst, raw: RawSolution) -> list[Violation]:
        b = inst.rules.budget
        if b is not None and raw.annual_cost > b * (1 + 1e-9) + 1:
            return [Violation(self.name, "all", raw.annual_cost - b,
                              f"annual cost \u00a3{raw.annual_cost:,.0f} is over the budget of \u00a3{b:,.0f}")]
        return []

    def describe(self, inst) -> list[str]:
        b = inst.rules.budget
        return [f"a budget of \u00a3{b:,.0f} a year"] if b is not None else []

    def relax(self, inst):
        return inst.with_rules(budget=None)

    def nearest(self, inst, probe) -> Suggestion | None:
        need = probe.least(self.relax(inst), "cost")
        if need is None:
            return None
        return Suggestion("budget_per_year", f"raise the budget to at least \u00a3{np.ceil(need / 1e5) * 1e5:,.0f} a "
                                             f"year (now \u00a3{inst.rules.budget:,.0f})", need)
