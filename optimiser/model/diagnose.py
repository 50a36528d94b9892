"""Plain-English explanations of infeasible scenarios.

Every hard limit of the model belongs to a family (the travel standard, minimum beds on an
open site, the budget, the number of open sites, sites set to stay open or close, virtual
minimums). Demand itself is never a hard limit: patients the configuration cannot serve are
"unmet", penalised and reported. So a scenario is infeasible only when some families of
limits contradict each other. The diagnosis drops one family at a time (an elastic version of
the model in which that family may be broken); for each family whose relaxation restores
feasibility it then finds the nearest setting that works: the highest reachable share for the
travel standard, the largest workable minimum unit size, the smallest workable budget, the
workable number of open sites.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from optimiser import deprivation
from optimiser.instance import Instance

_FAMILIES = ("coverage", "min_beds", "budget", "open_counts", "site_status", "virtual_min", "deprivation")


@dataclass(frozen=True)
class Explanation:
    headline: str
    findings: tuple[str, ...] = ()
    suggestions: tuple[str, ...] = ()
    nearest: dict = field(default_factory=dict)   # setting key -> nearest feasible value

    def summary(self) -> str:
        lines = [self.headline]
        lines += [f"- {f}" for f in self.findings]
        if self.suggestions:
            lines.append("Nearest settings that would work:")
            lines += [f"- {s}" for s in self.suggestions]
        return "\n".join(lines)


def _relax(inst: Instance, family: str) -> Instance:
    r = inst.rules
    if family == "coverage":
        return inst.with_rules(coverage=())
    if family == "min_beds":
        return inst.with_rules(min_beds_open_site=0)
    if family == "budget":
        return inst.with_rules(budget=None)
    if family == "open_counts":
        return inst.with_rules(open_exactly=None, open_at_least=None, open_at_most=None)
    if family == "site_status":
        return replace(inst, sites=replace(inst.sites, status=np.zeros_like(inst.sites.status)))
    if family == "deprivation":
        return deprivation.relaxed(inst)
    if family == "virtual_min" and inst.virtual is not None:
        v = inst.virtual
        return replace(inst, virtual=replace(v, lo=np.zeros_like(v.lo), must_run=np.zeros_like(v.must_run)))
    return inst if r else inst


def _active(inst: Instance, family: str) -> bool:
    r = inst.rules
    return {
        "coverage": bool(r.coverage),
        "min_beds": r.min_beds_open_site > 0,
        "budget": r.budget is not None,
        "open_counts": any(v is not None for v in (r.open_exactly, r.open_at_least, r.open_at_most)),
        "site_status": bool((inst.sites.status != 0).any()),
        "virtual_min": inst.virtual is not None and bool(inst.virtual.must_run.any()),
        "deprivation": r.deprivation is not None and r.deprivation.limits,
    }[family]


def _quick(inst: Instance, objective: dict[str, float] | None = None, seconds: float = 10.0):
    """Solve for feasibility (any solution) or a given objective; returns RawResult."""
    from optimiser.model.backends import solve_program
    from optimiser.model.formulation import build

    f = build(inst)
    weights = objective or {"cost": 0.0, "travel": 0.0, "unmet": 0.0, "equity": 0.0}
    program = f.lp.freeze(weights)
    sv = inst.solver
    gap = 1.0 if objective is None else 0.01
    return f, solve_program(program, sv.backend, ortools_solver=sv.ortools_solver,
                            time_limit=min(seconds, sv.time_limit_seconds), mip_gap=gap)


def feasible(inst: Instance, seconds: float = 10.0) -> bool:
    return _quick(inst, seconds=seconds)[1].status.has_solution


def _nearest_coverage(inst: Instance) -> tuple[str, str, float] | None:
    rule = inst.rules.coverage[0]
    lo, hi = 0.0, rule.share
    if not feasible(inst.with_rules(coverage=(replace(rule, share=0.0),) + inst.rules.coverage[1:])):
        return None
    for _ in range(11):
        mid = (lo + hi) / 2
        if feasible(inst.with_rules(coverage=(replace(rule, share=mid),) + inst.rules.coverage[1:])):
            lo = mid
        else:
            hi = mid
    best = np.floor(lo * 1000) / 1000
    if best <= 0:
        return None
    who = "residents aged 65+" if rule.population == "65_plus" else "residents"
    return ("travel.standard.share",
            f"lower the travel standard to {best:.1%} of {who} within {rule.threshold_minutes:g} minutes "
            f"(the most reachable with the other limits), or raise the threshold", best)


def _nearest_min_beds(inst: Instance) -> tuple[str, str, float] | None:
    m = inst.rules.min_beds_open_site
    for value in range(m - 1, -1, -1):
        if feasible(inst.with_rules(min_beds_open_site=value)):
            return ("min_beds_per_open_site",
                    f"allow open sites with as few as {value} beds (now {m})", value)
    return None


def _nearest_budget(inst: Instance) -> tuple[str, str, float] | None:
    f, res = _quick(inst.with_rules(budget=None), {"cost": 1.0, "travel": 0.0, "unmet": 0.0, "equity": 0.0},
                    seconds=20.0)
    if not res.status.has_solution:
        return None
    from optimiser.model.formulation import cost_terms

    cols, vals = cost_terms(f)
    need = float(vals @ res.values[cols])
    return ("budget_per_year", f"raise the budget to at least £{np.ceil(need / 1e5) * 1e5:,.0f} a year "
            f"(now £{inst.rules.budget:,.0f})", need)


def _nearest_open_counts(inst: Instance) -> tuple[str, str, float] | None:
    base = inst.with_rules(open_exactly=None, open_at_least=None, open_at_most=None)
    ok = [n for n in range(0, inst.n_sites + 1) if feasible(base.with_rules(open_exactly=n), seconds=5.0)]
    if not ok:
        return None
    span = f"{ok[0]}" if len(ok) == 1 else f"{ok[0]} to {ok[-1]}" if ok == list(range(ok[0], ok[-1] + 1)) else ", ".join(map(str, ok))
    return ("open_sites", f"keep {span} sites open (the number of open sites that can meet the other limits)",
            float(ok[0]))


def _nearest_status(inst: Instance) -> tuple[str, str, float] | None:
    fixed = np.flatnonzero(inst.sites.status != 0)
    for j in fixed:
        status = inst.sites.status.copy()
        status[j] = 0
        if feasible(replace(inst, sites=replace(inst.sites, status=status))):
            what = "stay open" if inst.sites.status[j] > 0 else "close"
            return (f"sites.{inst.sites.ids[j]}.status",
                    f"let {inst.sites.names[j]} be decided by the model instead of set to {what}", float(j))
    if len(fixed) > 1 and feasible(_relax(inst, "site_status")):
        names = ", ".join(inst.sites.names[fixed])
        return ("sites", f"let the model decide more than one of the sites now set to stay open or close ({names})",
                float(len(fixed)))
    return None


_NEAREST = {"coverage": _nearest_coverage, "min_beds": _nearest_min_beds, "budget": _nearest_budget,
            "open_counts": _nearest_open_counts, "site_status": _nearest_status,
            "deprivation": lambda inst: deprivation.nearest_setting(inst, feasible)}

_NAMES = {"coverage": "the travel standard", "min_beds": "the minimum beds on an open site",
          "budget": "the budget", "open_counts": "the number of open sites",
          "site_status": "the sites set to stay open or to close",
          "virtual_min": "the minimum virtual beds per district",
          "deprivation": "the deprivation equity limit"}


def _describe_rules(inst: Instance) -> str:
    parts = []
    r = inst.rules
    for c in r.coverage:
        who = "residents aged 65+" if c.population == "65_plus" else "residents"
        by = f" by {inst.second_travel_label or 'the second matrix'}" if c.travel_matrix == "second" else ""
        parts.append(f"{c.share:.0%} of {who} within {c.threshold_minutes:g} minutes{by}")
    if r.min_beds_open_site:
        parts.append(f"at least {r.min_beds_open_site} beds on every open site")
    if r.budget is not None:
        parts.append(f"a budget of £{r.budget:,.0f} a year")
    if r.open_exactly is not None:
        parts.append(f"exactly {r.open_exactly} open sites")
    if r.open_at_least is not None:
        parts.append(f"at least {r.open_at_least} open sites")
    if r.open_at_most is not None:
        parts.append(f"at most {r.open_at_most} open sites")
    if deprivation.describe(inst):
        parts.append(deprivation.describe(inst))
    n_closed = int((inst.sites.status < 0).sum())
    n_kept = int((inst.sites.status > 0).sum())
    if n_closed:
        parts.append(f"{n_closed} site(s) closed")
    if n_kept:
        parts.append(f"{n_kept} site(s) kept open")
    return ", ".join(parts) if parts else "the limits set"


def explain_infeasibility(inst: Instance) -> Explanation:
    """Why no configuration meets every limit, and the nearest settings that would."""
    active = [f for f in _FAMILIES if _active(inst, f)]
    headline = f"No configuration meets all of these limits together: {_describe_rules(inst)}."
    findings, suggestions, nearest = [], [], {}
    culprits = [f for f in active if feasible(_relax(inst, f))]
    for fam in culprits:
        findings.append(f"Without {_NAMES[fam]} a configuration exists.")
        finder = _NEAREST.get(fam)
        hit = finder(inst) if finder else None
        if hit:
            key, text, value = hit
            suggestions.append(text[0].upper() + text[1:] + ".")
            nearest[key] = value
    if not culprits:
        for i, a in enumerate(active):
            for b in active[i + 1:]:
                if feasible(_relax(_relax(inst, a), b)):
                    findings.append(f"Relaxing {_NAMES[a]} and {_NAMES[b]} together would allow a configuration.")
        if not findings:
            findings.append("Even relaxing any two families of limits does not help: check the site statuses, "
                            "estate limits and travel limits.")
    return Explanation(headline, tuple(findings), tuple(suggestions), nearest)
