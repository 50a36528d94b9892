r"""The bed-configuration model, written once for both solver backends.

Notation: zones :math:`i`, sites :math:`j`, pathways :math:`p`, units :math:`u` (a ward type
on a site), bed choices :math:`k` of a unit (with :math:`c_k` beds carrying at most
:math:`\kappa_k` erlangs under the utilisation rule), districts :math:`d` with virtual-bed
choices :math:`v`. Demand is in admissions per year: :math:`h_{ip}` must use a hospital bed;
:math:`e_{ip}` is suitable for, and within reach of, a virtual bed run by the district hub.
:math:`L_p` is the length of stay, :math:`t_{ij}` travel minutes.

Decisions

* :math:`y_k \in \{0,1\}`: unit :math:`u(k)` runs :math:`c_k` beds (one option per unit,
  option 0 = no beds);
* :math:`o_j \in \{0,1\}`: site :math:`j` keeps inpatient beds;
* :math:`x_{ijp} \in [0,1]` (binary under single assignment): share of zone :math:`i`'s
  pathway-:math:`p` hospital patients sent to :math:`j`, only for pairs within the travel
  limit at sites hosting :math:`p`; :math:`m_{ip}` the share left unmet;
* :math:`z_v \in \{0,1\}`: district :math:`d(v)` runs :math:`c_v` virtual beds;
  :math:`f_{djp} \ge 0`: virtual-suitable admissions of district :math:`d` that use a
  hospital bed at :math:`j` instead; :math:`g_{dp} \ge 0` those left unmet;
* :math:`T`: the worst district's mean hospital travel.

Constraints: one rule family each, in :mod:`optimiser.rules` (its rows, its check, its
wording), added in the order of :data:`optimiser.rules.REGISTRY`

* one bed option per unit: :math:`\sum_{k \in u} y_k = 1`;
* site open: :math:`\sum_{k \in u, c_k>0} y_k \le o_j` for each unit of :math:`j`, and
  :math:`o_j \le \sum_{k \in j, c_k>0} y_k`; keep-open/close statuses fix :math:`o_j`;
* minimum beds on an open site :math:`\sum_{k\in j} c_k y_k \ge b_{\min} o_j`; estate limit
  :math:`\sum_{k\in j} c_k y_k \le B_j`;
* serve demand :math:`\sum_j x_{ijp} + m_{ip} = 1`;
* capacity (queueing): :math:`\sum_{i,p \in u} \tfrac{L_p}{365} h_{ip} x_{ijp} + \sum_{d,p\in u}
  \tfrac{L_p}{365} f_{djp} \le \sum_{k\in u} \kappa_k y_k`;
* optional strong links :math:`x_{ijp} \le \sum_{k\in u(j,p), c_k>0} y_k`;
* virtual beds: one option per district; :math:`\sum_j f_{djp} + g_{dp} \le E_{dp}` and
  :math:`\sum_p \tfrac{L^v_p}{365}(E_{dp} - \sum_j f_{djp} - g_{dp}) \le \sum_{v\in d}\kappa_v z_v`;
* travel standard: :math:`\sum_{i} w_i \sum_{j: t_{ij}\le\tau} x_{ijp} \ge s \sum_i w_i`;
* equity: :math:`\sum_{i\in d,p,j} h_{ip} t_{ij} x_{ijp} / H_d \le T` for every district;
* budget, and fewest/most/exactly so many open sites.

Objective: a weighted sum (or lexicographic order) of four named terms — annual *cost*
(fixed site costs, beds, annualised new-ward capital, virtual beds), *travel* (hospital
admission-minutes), *unmet* (bed-days of demand not served), *equity* (:math:`T`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from optimiser.flow import OnwardRoutes
from optimiser.instance import Instance
from optimiser.model.lp import INF, LinearProgram
from optimiser.model.streams import Streams, allowed_pairs, make_streams
from optimiser.rules import REGISTRY
from optimiser.rules.assignment import STRONG_LINKING_AUTO_LIMIT, use_radius_form
from optimiser.rules.budget import cost_terms

__all__ = ["Formulation", "build", "configuration_start", "add_exclusion_cut", "cost_terms",
           "STRONG_LINKING_AUTO_LIMIT", "use_radius_form"]


@dataclass
class Formulation:
    """The built programme plus the index maps needed to read a solution back."""

    instance: Instance
    lp: LinearProgram
    streams: Streams
    pairs: tuple[np.ndarray, np.ndarray, np.ndarray]       # (zone, site, stream) of each x
    overflow_routes: tuple[np.ndarray, np.ndarray, np.ndarray]  # (district, site, pathway)
    demand_rows: tuple[np.ndarray, np.ndarray]             # (zone, stream) of each m
    unit_of_pair: np.ndarray
    unit_of_route: np.ndarray
    radius_form: bool = False
    cuts: int = 0
    onward: OnwardRoutes | None = None

    # --- variable index shortcuts --------------------------------------------------------
    def cols(self, family: str) -> np.ndarray:
        return self.lp.variables(family) if self.lp.has_family(family) else np.zeros(0, int)

    def demand_row_of_pairs(self) -> np.ndarray:
        """Index into ``demand_rows`` of each allowed (zone, site, stream) pair."""
        z, _, k = self.pairs
        dz, dk = self.demand_rows
        n_k = len(self.streams.names)
        key = dz * n_k + dk
        order = np.argsort(key)
        return order[np.searchsorted(key, z * n_k + k, sorter=order)]

    def bed_choices_of(self, units: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For each entry of ``units``, the unit's choices with beds: (entry index, option
        column) pairs, so that ``sum(y[option])`` says 'this unit has beds'."""
        opt = self.instance.bed_choices
        has = np.flatnonzero(opt.option_beds > 0)
        owner = opt.option_unit[has]
        counts = np.bincount(owner, minlength=len(opt.unit_site))
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
        has_sorted = has[np.argsort(owner, kind="stable")]
        per = counts[units]
        entry = np.repeat(np.arange(len(units)), per)
        offsets = np.arange(per.sum()) - np.repeat(np.cumsum(per) - per, per)
        return entry, self.lp.variables("bed_option")[has_sorted[np.repeat(starts[units], per) + offsets]]

    def planned_load(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(unit, column, erlangs per unit of the column) of the load a plan sends to each unit
        first: zones' hospital patients and virtual-suitable patients sent to hospital."""
        inst, lp = self.instance, self.lp
        z, s, k = self.pairs
        rows, cols, vals = [self.unit_of_pair], [lp.variables("assign")], [self.streams.load[z, k]]
        if lp.has_family("overflow"):
            op = self.overflow_routes[2]
            rows.append(self.unit_of_route)
            cols.append(lp.variables("overflow"))
            vals.append(inst.pathways.los_days[op] / 365.0)
        return np.concatenate(rows), np.concatenate(cols), np.concatenate(vals)

    def assignment_values(self, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(share of each allowed pair, unmet share of each demand row) in a solver's answer.
        In the radius form every zone uses its nearest hospital with beds for its pathway."""
        if not self.radius_form:
            return values[self.lp.variables("assign")], values[self.lp.variables("unmet")]
        opt = self.instance.bed_choices
        has_beds = np.zeros(len(opt.unit_site), bool)
        chosen = (values[self.lp.variables("bed_option")] > 0.5) & (opt.option_beds > 0)
        has_beds[opt.option_unit[chosen]] = True
        z, s, k = self.pairs
        group = self.demand_row_of_pairs()
        usable = np.flatnonzero(has_beds[self.unit_of_pair])
        order = usable[np.lexsort((s[usable], self.instance.travel[z[usable], s[usable]], group[usable]))]
        first = np.ones(len(order), bool)
        first[1:] = group[order][1:] != group[order][:-1]
        x = np.zeros(len(z))
        x[order[first]] = 1.0
        u = np.ones(len(self.demand_rows[0]))
        u[group[order[first]]] = 0.0
        return x, u


def add_objective(f: Formulation) -> None:
    inst, lp = f.instance, f.lp
    cols, vals = cost_terms(f)
    lp.add_objective_term("cost", cols, vals)
    if not f.radius_form:   # the radius form adds its own travel and unmet terms
        z, s, k = f.pairs
        lp.add_objective_term("travel", lp.variables("assign"), f.streams.admissions[z, k] * inst.travel[z, s])
        dz, dk = f.demand_rows
        lp.add_objective_term("unmet", lp.variables("unmet"), f.streams.load[dz, dk] * 365.0)
    if lp.has_family("overflow"):
        od, os_, op = f.overflow_routes
        lp.add_objective_term("travel", lp.variables("overflow"), inst.district_site_travel[od, os_])
        eligible = inst.virtual_admissions_by_district()
        gd, gp = np.nonzero(eligible > 0)
        lp.add_objective_term("unmet", lp.variables("virtual_unmet"), inst.pathways.los_days[gp])
    lp.objective_weights = inst.weights.as_dict()


def build(instance: Instance) -> Formulation:
    """Build the whole programme: every rule family's rows, in the order of
    :data:`optimiser.rules.REGISTRY`, then the objective. Returns a :class:`Formulation`;
    :func:`optimiser.model.solve.solve_instance` builds, solves and decodes, and takes an
    ``extra`` callable that adds rows between build and solve (as the near-tie search does)."""
    streams = make_streams(instance)
    z, s, k = allowed_pairs(instance, streams)
    dz, dk = np.nonzero(streams.admissions > 0)
    unit_index = -np.ones((instance.n_sites, len(instance.wards)), int)
    opt = instance.bed_choices
    unit_index[opt.unit_site, opt.unit_ward] = np.arange(len(opt.unit_site))
    unit_of_pair = unit_index[s, streams.ward[k]]
    routes = instance.overflow_pairs()
    unit_of_route = unit_index[routes[1], instance.pathways.ward[routes[2]]] if len(routes[0]) else np.zeros(0, int)
    f = Formulation(instance, LinearProgram(instance.name), streams, (z, s, k), routes, (dz, dk),
                    unit_of_pair, unit_of_route, radius_form=use_radius_form(instance))
    for rule in REGISTRY:
        rule.add_rows(f)
    add_objective(f)
    return f


def configuration_start(f: Formulation, unit_beds: np.ndarray, virtual_beds: np.ndarray | None) -> np.ndarray:
    """A starting point for the solver from a configuration (beds on each unit, virtual beds
    per district): the integer columns set, every other column NaN (left to the solver)."""
    inst, lp, opt = f.instance, f.lp, f.instance.bed_choices
    values = np.full(lp.n_vars, np.nan)
    values[lp.variables("bed_option")] = (opt.option_beds == unit_beds[opt.option_unit]).astype(float)
    site_beds = np.bincount(opt.unit_site, weights=unit_beds, minlength=inst.n_sites)
    values[lp.variables("site_open")] = (site_beds > 0).astype(float)
    if inst.virtual is not None and virtual_beds is not None:
        values[lp.variables("virtual_blocks")] = np.asarray(virtual_beds, float) // inst.virtual.step
        values[lp.variables("virtual_run")] = (np.asarray(virtual_beds) > 0).astype(float)
    return values


def add_exclusion_cut(f: Formulation, open_sites: np.ndarray) -> None:
    """No-good cut: the next solution must open a different set of sites."""
    cols = f.lp.variables("site_open")
    is_open = np.asarray(open_sites, bool)
    vals = np.where(is_open, -1.0, 1.0)
    f.cuts += 1
    f.lp.add_constraints(f"exclude_configuration_{f.cuts}", [f"exclude_configuration_{f.cuts}"],
                         np.zeros(len(cols), int), cols, vals, 1.0 - is_open.sum(), INF)
