"""Plain-English explanations of infeasible scenarios.

Every hard limit of the model belongs to a rule family (:mod:`optimiser.rules`). Demand
itself is never a hard limit: patients the configuration cannot serve are "unmet", penalised
and reported. So a scenario is infeasible only when some families contradict each other.
The diagnosis drops one relaxable family at a time (each family knows how to relax itself);
for each family whose relaxation restores feasibility it asks the family for the nearest
setting that works (the highest reachable share for the travel standard, the largest
workable minimum unit size, the smallest workable budget, ...). Feasibility is asked of the
same model with a zero objective; the scenario's time limit is only a safety net.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from optimiser.instance import Instance
from optimiser.model.backends import solve_program
from optimiser.model.formulation import build
from optimiser.rules import REGISTRY, Probe


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


def _solve(inst: Instance, objective: dict[str, float] | None = None):
    """Solve for feasibility (any solution) or a given objective; returns RawResult."""
    f = build(inst)
    weights = objective or {"cost": 0.0, "travel": 0.0, "unmet": 0.0, "equity": 0.0}
    program = f.lp.freeze(weights)
    sv = inst.solver
    return f, solve_program(program, sv.backend, ortools_solver=sv.ortools_solver,
                            time_limit=sv.time_limit_seconds, mip_gap=1.0 if objective is None else 0.01)


def feasible(inst: Instance) -> bool:
    return _solve(inst)[1].status.has_solution


def least(inst: Instance, term: str) -> float | None:
    """The least value the objective term can take with every rule of ``inst`` met."""
    f, res = _solve(inst, {t: float(t == term) for t in ("cost", "travel", "unmet", "equity")})
    return float(f.lp.term_vector(term) @ res.values) if res.status.has_solution else None


def explain_infeasibility(inst: Instance) -> Explanation:
    """Why no configuration meets every limit, and the nearest settings that would."""
    active = [r for r in REGISTRY if r.active(inst)]
    relaxable = [r for r in active if r.relaxable]
    phrases = [p for r in active for p in r.describe(inst)]
    headline = f"No configuration meets all of these limits together: {', '.join(phrases) or 'the limits set'}."
    probe = Probe(feasible, least)
    findings, suggestions, nearest = [], [], {}
    culprits = [r for r in relaxable if feasible(r.relax(inst))]
    for rule in culprits:
        findings.append(f"Without {rule.label} a configuration exists.")
        hit = rule.nearest(inst, probe)
        if hit:
            suggestions.append(hit.text[0].upper() + hit.text[1:] + ".")
            nearest[hit.key] = hit.value
    if not culprits:
        for i, a in enumerate(relaxable):
            for b in relaxable[i + 1:]:
                if feasible(b.relax(a.relax(inst))):
                    findings.append(f"Relaxing {a.label} and {b.label} together would allow a configuration.")
        if not findings:
            findings.append("Even relaxing any two families of limits does not help: check the site statuses, "
                            "estate limits and travel limits.")
    return Explanation(headline, tuple(findings), tuple(suggestions), nearest)
