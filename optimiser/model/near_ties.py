"""Near-ties: materially different configurations the model cannot tell apart from the best.

A solve ends within a tolerance of the best possible answer, and the objective rests on
assumptions; two configurations a fraction of a percent apart are, for a public decision,
the same. After the best answer is found, the same model is solved again with two extra
rows (added through ``solve_instance(..., extra=...)``):

* the objective may be at most ``best x (1 + margin)``;
* the configuration must be *materially different* from every one found so far: some site
  has more than one ward step more or fewer beds than in that configuration (closing or
  opening a hospital always is), written with an up and a down indicator per site.

Each solve either finds another configuration within the margin (a near-tie) or proves that
none is left. The search stops after ``limit`` near-ties (saying so) or at that proof.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from optimiser.configuration import Configuration
from optimiser.errors import InfeasibleError, SolveError
from optimiser.instance import Instance
from optimiser.model.formulation import Formulation
from optimiser.model.lp import INF
from optimiser.model.solve import solve_instance
from optimiser.solution import Solution


@dataclass(frozen=True)
class SiteChange:
    site_id: str
    site_name: str
    beds_best: int
    beds_alternative: int


@dataclass(frozen=True)
class NearTie:
    """A materially different configuration within the margin of the best answer."""

    objective: float
    difference_gbp_per_year: float
    difference_share: float
    sites_changed: tuple[SiteChange, ...]
    description: str
    solution: Solution

    def summary(self) -> dict:
        return {"objective": self.objective, "difference_gbp_per_year": self.difference_gbp_per_year,
                "difference_share": self.difference_share, "description": self.description,
                "sites_changed": [{"site_id": c.site_id, "site_name": c.site_name, "beds_best": c.beds_best,
                                   "beds_alternative": c.beds_alternative} for c in self.sites_changed]}


@dataclass(frozen=True)
class NearTieSearch:
    """What was searched and what was found."""

    margin: float
    ties: tuple[NearTie, ...]
    complete: bool          # True: proven that no other materially different configuration is within the margin
    note: str


def site_steps(inst: Instance) -> np.ndarray:
    """Per site, one ward step: the smallest gap between two bed choices with beds of any of
    its units (4 beds for the default general ward)."""
    opt = inst.bed_choices
    steps = np.zeros(inst.n_sites, int)
    for j in range(inst.n_sites):
        gaps = []
        for u in np.flatnonzero(opt.unit_site == j):
            beds = np.unique(opt.option_beds[(opt.option_unit == u) & (opt.option_beds > 0)])
            if len(beds) > 1:
                gaps.append(int(np.diff(beds).min()))
        steps[j] = min(gaps) if gaps else 0
    return steps


def site_beds_of(inst: Instance, unit_beds: np.ndarray) -> np.ndarray:
    return np.bincount(inst.bed_choices.unit_site, weights=unit_beds, minlength=inst.n_sites).astype(int)


def materially_different(f: Formulation, site_beds: np.ndarray, steps: np.ndarray, label: str) -> None:
    """Rows: some site's beds are more than one ward step from ``site_beds`` (above or below),
    with an indicator per site and direction: beds_j >= (A_j + step + 1) up_j,
    beds_j <= A_j - step - 1 + M (1 - down_j), sum(up + down) >= 1."""
    inst, lp = f.instance, f.lp
    opt = inst.bed_choices
    y = lp.variables("bed_option")
    n = inst.n_sites
    site_of = opt.unit_site[opt.option_unit]
    big = float(inst.sites.max_beds.max(initial=0)) + 1.0
    can_rise = site_beds + steps + 1 <= inst.sites.max_beds
    can_fall = site_beds - steps - 1 >= 0
    up_sites, down_sites = np.flatnonzero(can_rise), np.flatnonzero(can_fall)
    up = lp.add_variables(f"more_beds_than_{label}", [f"more_beds_at_{inst.sites.ids[j]}_than_{label}" for j in up_sites],
                          0, 1, integer=True)
    down = lp.add_variables(f"fewer_beds_than_{label}", [f"fewer_beds_at_{inst.sites.ids[j]}_than_{label}" for j in down_sites],
                            0, 1, integer=True)
    local_up = -np.ones(n, int)
    local_up[up_sites] = np.arange(len(up_sites))
    keep = local_up[site_of] >= 0
    lp.add_constraints(f"more_beds_{label}", [f"more_beds_{inst.sites.ids[j]}_{label}" for j in up_sites],
                       np.concatenate([local_up[site_of[keep]], np.arange(len(up_sites))]),
                       np.concatenate([y[keep], up]),
                       np.concatenate([opt.option_beds[keep].astype(float), -(site_beds[up_sites] + steps[up_sites] + 1.0)]),
                       0.0, INF)
    local_down = -np.ones(n, int)
    local_down[down_sites] = np.arange(len(down_sites))
    keep = local_down[site_of] >= 0
    lp.add_constraints(f"fewer_beds_{label}", [f"fewer_beds_{inst.sites.ids[j]}_{label}" for j in down_sites],
                       np.concatenate([local_down[site_of[keep]], np.arange(len(down_sites))]),
                       np.concatenate([y[keep], down]),
                       np.concatenate([opt.option_beds[keep].astype(float), np.full(len(down_sites), big)]),
                       -INF, site_beds[down_sites] - steps[down_sites] - 1.0 + big)
    cols = np.concatenate([up, down])
    lp.add_constraints(f"materially_different_{label}", [f"materially_different_from_{label}"],
                       np.zeros(len(cols), int), cols, 1.0, 1.0, INF)


def objective_cap(f: Formulation, cap: float) -> None:
    """Row: the weighted objective is at most ``cap``."""
    weights = f.instance.weights.as_dict()
    vec = sum(weights[t] * f.lp.term_vector(t) for t in f.lp.terms if weights.get(t))
    cols = np.flatnonzero(vec)
    f.lp.add_constraints("objective_cap", ["objective_within_margin"], np.zeros(len(cols), int), cols, vec[cols],
                         -INF, cap - f.lp.objective_offset)


def find_near_ties(inst: Instance, best: Solution, margin: float, limit: int = 5) -> NearTieSearch:
    """Materially different configurations whose objective is within ``margin`` of ``best``'s."""
    if best.objective is None or inst.weights.lexicographic or not len(inst.bed_choices.unit_site):
        return NearTieSearch(margin, (), False, "near-ties are not searched for lexicographic objectives")
    steps = site_steps(inst)
    cap = best.objective + abs(best.objective) * margin
    found = [site_beds_of(inst, Configuration.of(best).arrays(inst)[0])]
    ties: list[NearTie] = []
    complete = False
    for _ in range(limit):
        def extra(f: Formulation, found=tuple(found)) -> None:
            objective_cap(f, cap)
            for n, beds in enumerate(found):
                materially_different(f, beds, steps, str(n))
        try:
            sol = solve_instance(inst, best.name, explain_infeasible=False, extra=extra)
        except InfeasibleError:
            complete = True
            break
        except SolveError:
            break
        ties.append(_tie(inst, best, sol))
        found.append(site_beds_of(inst, Configuration.of(sol).arrays(inst)[0]))
    if complete:
        note = (f"no other materially different configuration is within {margin:.1%} of this one (proven)"
                if not ties else f"no further materially different configuration is within {margin:.1%} (proven)")
    else:
        note = f"the search stopped after {len(ties)} near-ties; there may be more within {margin:.1%}"
    return NearTieSearch(margin, tuple(sorted(ties, key=lambda t: t.objective)), complete, note)


def _site_beds(sol: Solution) -> pd.Series:
    return sol.units.groupby("site_id", sort=False)["beds"].sum()


def _tie(inst: Instance, best: Solution, alt: Solution) -> NearTie:
    a, b = _site_beds(best), _site_beds(alt)
    names = dict(zip(inst.sites.ids, inst.sites.names, strict=True))
    changes = tuple(SiteChange(str(s), str(names[s]), int(a.get(s, 0)), int(b.get(s, 0)))
                    for s in inst.sites.ids if int(a.get(s, 0)) != int(b.get(s, 0)))
    diff = float(alt.objective - best.objective)
    share = diff / abs(best.objective) if best.objective else 0.0
    return NearTie(float(alt.objective), diff, share, changes, describe(changes, diff, share), alt)


def describe(changes: tuple[SiteChange, ...], diff: float, share: float) -> str:
    """One plain sentence: what differs and what it costs."""
    closes = [c.site_name for c in changes if c.beds_best > 0 and c.beds_alternative == 0]
    opens = [c.site_name for c in changes if c.beds_best == 0 and c.beds_alternative > 0]
    resized = [c for c in changes if c.beds_best > 0 and c.beds_alternative > 0]
    parts = []
    if opens and closes:
        parts.append(f"Closing {_and(closes)} instead of {_and(opens)}")
    elif opens:
        parts.append(f"Keeping {_and(opens)} open")
    elif closes:
        parts.append(f"Closing {_and(closes)}")
    if resized:
        text = _and([f"{c.site_name} {c.beds_best} \u2192 {c.beds_alternative} beds" for c in resized])
        parts.append(("with " if parts else "Changing ") + text)
    what = " ".join(parts) or "A different mix of beds"
    more = "more" if diff >= 0 else "less"
    return (f"{what} costs \u00a3{abs(diff):,.0f} a year {more} ({abs(share):.1%}): the model cannot tell "
            "these apart.")


def _and(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]
