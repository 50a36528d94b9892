r"""A robust configuration: beds that keep the blocking target in at least a stated share of
futures, at the lowest expected cost, shown on futures it was not planned for.

**The model (scenario-based, in the same MIP).** The futures :math:`f = 1..N` are drawn from
the scenario's ranges (:mod:`optimiser.futures`). The bed decisions are made once, for every
future: bed options :math:`y`, sites keeping beds :math:`o`, home-based beds per district.
Everything that adapts to the year as it turns out — which hospital each area's patients go
to, who goes on when a hospital is full, who uses a hospital bed instead of a home-based one
— is decided per future, with that future's demand and stays: each future gets its own copy
of the optimiser's routing, onward-flow, capacity, travel-standard and equity rows
(:mod:`optimiser.model.formulation`, built for that future's instance), sharing the bed
columns. A binary :math:`z_f` per future says the future is *given up*: only then may its
patients go unplaced (:math:`m_{f,ip} \le z_f` for every area that can reach a hospital, and
the same for home-based patients), and at most :math:`\lfloor (1-r) N \rfloor` futures may be
given up (:math:`r`: the reliability asked for). In a future that is not given up every
patient is planned a bed with each unit's load within what its beds carry at the blocking
target, so (as for the point answer) the patient-flow model keeps every unit within the
target there. The objective is the point model's at central values — cost, travel, unmet
bed-days, equity — with each bed's cost its mean over the futures (costs are uncertain too):
the robust configuration is the point answer, at expected cost, among configurations that
meet the target in enough futures.

**Solved by constraint generation on the bed decisions** (:func:`plan_robust`; Benders'
decomposition). A future does not need its own copy of the routing in the programme: what it
asks of the beds is that the fewest admissions it leaves unplaced with them — a linear
programme once the beds are fixed, :class:`FutureCheck` — be none. That figure is convex in
the bed decisions, so each check of a configuration that fails a future gives a row on the bed
decisions alone that every configuration meeting the future satisfies and the one checked
does not (:class:`FeasibilityCut`). The programme is the central block and these rows: solve
it, check every sampled future with the beds found (a few milliseconds each, from the last
basis), add the row of each future failed, repeat. The rows only ever remove configurations
failing some future, so the programme is a relaxation of the one holding every future's
routing, and when the configuration found fails no future it is that programme's answer and
the last solve's bound is proven for the whole. Rounds before the last solve to a looser gap
(``ROUND_GAP``; any configuration gives valid rows); the last is solved to the gap asked. A
future whose check gives no row (a hard rule fails whatever the routing, integer routing)
or that fails again at a configuration already tried is held by a copy of its own rows
instead (:meth:`RobustModel.add_future`), which is exact. When the programme cannot meet every
future in it, those no configuration can meet even alone are found (a MIP each, on the Dask
workers) and given up without counting against the share asked; if that is not enough, the
fewest futures any configuration must give up is found (a MIP counting them), those it gives
up stay given up (leaving the programme to choose which made each solve about 60 times
slower on LLR) and the cheapest configuration meeting the rest is returned, with a plain
note. On the LLR default, 100 futures are planned for in about 3.5 minutes (a copy of the
routing per future, as before, did not finish 12 futures in 8 minutes).

**Resolution.** On LLR the futures are planned on groups of small areas (as the quick answer
does: district, nearest hospital and 12-minute travel band; 611 areas become 27 groups);
``resolution='full'`` keeps every area (small instances, or once the full model is fast).

**Plan, validate, add what failed (out-of-sample reliability).** Meeting the target in a
share r of the futures planned for does not mean meeting it in a share r of futures to come:
a programme allowed to give up some futures picks *which* (the ones dearest to meet), and
"meets the target" is a joint condition on every hospital and district at once, so a
configuration that just meets 9 of 12 sampled futures met only 30-33% of 40 new ones on LLR.
Giving futures up is also what makes the programme hard: with 8 LLR futures, 3 of which may be
given up, the solver was 8.8% from optimal after 200 s, against optimal (1%) in 52 s when all
8 must be met. So :func:`robust_solve` plans to meet *every* future it plans for that any
configuration can meet (``PLAN_LEVEL``; the scenario approach of Calafiore and Campi, Math.
Program. 102, 2005, with the futures no configuration can meet given up and said so), and
uses the reliability r asked for as the test the plan must pass on futures it was not
planned for. Each plan is tried on a *fresh* sample of ``validation_samples`` futures (the
k-th sample's seed is derived from the user's seed by :func:`validation_seed`, so the run is
reproducible), each checked at full resolution (beds fixed, routing re-planned, ~0.2 s a
future on the Dask workers). The plan is accepted when the one-sided Clopper-Pearson lower
confidence bound on its reliability, from the validation futures it meets, is at least r. The
bound's confidence is 95% *in all*: each of the at most ``validation_rounds`` validations is at
1 - 0.05 / validation_rounds (Bonferroni), because the loop stops at the first that passes.
When the bound falls short, the validation futures the plan failed are added to the futures
planned for and it plans again (the programme starting from the futures the last one needed
and the worst failures), validated on another fresh sample that played no part in it. The
loop stops when the bound holds, when more than a share 1 - r of the futures drawn cannot be
met by any configuration (then no configuration can pass; a note says so), or after
``validation_rounds`` plans (a note says the bound was not reached). The in-sample
reliability, every validation (futures, met, share, bound) and the number of rounds are
reported. This is sample-based planning with a posteriori validation as in Pagnoncelli,
Ahmed and Shapiro (J. Optim. Theory Appl. 142, 2009). :func:`plan_robust` still solves the
chance-constrained programme (giving up a share of futures) for any reliability it is given.

**How reliable is it, honestly.** The configuration is then checked on a *third* sample of
futures, independent of the ones planned for and of every validation sample (seed + 1 by
default), each at full resolution. That figure (``out_of_sample``) is the one to quote. The
point answer is checked on the same futures, so the report says what the extra beds buy and
in which futures the point answer fails.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
import scipy.sparse as sp

from optimiser.dataset.core import Dataset
from optimiser.errors import InfeasibleError, ScenarioError, SolveError
from optimiser.futures import FutureCompiler, sample_futures, uncertain_figures
from optimiser.instance import Instance
from optimiser.model.backends import LpSession, Status, solve_program
from optimiser.model.formulation import Formulation, build
from optimiser.model.lp import INF, FrozenProgram
from optimiser.scenario import Scenario
from optimiser.solution import Solution

FIRST_STAGE = ("bed_option", "site_open", "virtual_blocks", "virtual_run")
# Rows a future block does without: it carries no objective, so the equity rows (which only
# define the worst district's travel) bind nothing, and the strong links (x <= beds open)
# only tighten a relaxation the capacity rows already make exact (no beds, no capacity).
FEASIBILITY_ONLY_DROPS = ("equity", "strong_link")
UNPLACED_TOLERANCE = 1e-6     # share of admissions a year left unplaced that still counts as none
ROUND_GAP = 0.05              # stopping gap of the robust programme's rounds before the last (see plan_robust)
VALIDATION_CONFIDENCE = 0.95  # confidence of the lower bound on the reliability, over all validation rounds
VALIDATION_ROUNDS = 4         # plans validated at most (plan, validate, add the failures, plan again, ...)
PLAN_LEVEL = 1.0              # share of the futures planned for that a plan meets (all that any configuration can)
_VALIDATION_STREAM = 7919     # mixed into the seed of the validation samples (apart from planning and check)
Progress = Callable[[int, int], None]
log = logging.getLogger(__name__)


def reach_groups(inst: Instance) -> np.ndarray:
    """Each small area's group: areas of one district that reach the same hospitals within
    every travel threshold the rules use (each pathway's travel limit and the travel
    standard's threshold). Within a group every area may use the same hospitals and counts
    the same way for the travel standard, so a plan for the groups, its shares copied to
    every area, is a plan for the areas: a future the grouped model can meet, the full model
    can meet too. (LLR: 611 areas, 85 groups.)"""
    limits = {float(m) for m in inst.pathways.max_travel if np.isfinite(m)}
    limits |= {float(r.threshold_minutes) for r in inst.rules.coverage}
    weights = np.int64(1) << np.arange(inst.n_sites, dtype=np.int64)
    keys = [inst.zones.district.astype(np.int64)]
    rule = inst.rules.deprivation
    if rule is not None and rule.limits:
        # the deprivation rule's rows compare the most and least deprived groups: keep them apart
        decile = inst.zones.deprivation_decile
        keys.append(np.isin(decile, rule.most_deprived_deciles) + 2 * np.isin(decile, rule.least_deprived_deciles))
    for limit in sorted(limits):
        keys.append((inst.travel <= limit + 1e-9).astype(np.int64) @ weights)
    _, group = np.unique(np.stack(keys, axis=1), axis=0, return_inverse=True)
    return group.ravel()


def grouped(inst: Instance, group: np.ndarray) -> Instance:
    """The instance on the groups of :func:`reach_groups` (see
    :func:`optimiser.model.quick.grouped_instance`): every member of a group is on the same
    side of every threshold, so the group's mean travel is too."""
    from optimiser.model.quick import grouped_instance

    return grouped_instance(inst, group)


def _plan_instance(inst: Instance, resolution: str, group: np.ndarray | None = None) -> Instance:
    if resolution == "full":
        return inst
    if resolution == "grouped":
        return grouped(inst, reach_groups(inst) if group is None else group)
    raise ScenarioError(f"unknown resolution '{resolution}' (grouped or full)")


def _unplaced_columns(f: Formulation, inst: Instance) -> tuple[np.ndarray, np.ndarray]:
    """(columns, most each can hold) of the patients a future's plan may leave unplaced:
    the unmet share of every area that can reach a hospital, and home-based patients."""
    reachable = np.zeros(len(f.demand_rows[0]), bool)
    if len(f.pairs[0]):
        reachable[f.demand_row_of_pairs()] = True
    cols = [f.lp.variables("unmet")[reachable]]
    most = [np.ones(int(reachable.sum()))]
    if f.lp.has_family("virtual_unmet"):
        eligible = inst.virtual_admissions_by_district()
        gd, gp = np.nonzero(eligible > 0)
        cols.append(f.lp.variables("virtual_unmet"))
        most.append(eligible[gd, gp])
    return np.concatenate(cols), np.concatenate(most)


def _first_stage_columns(p: FrozenProgram) -> np.ndarray:
    return np.concatenate([np.arange(p.var_families[f].start, p.var_families[f].stop)
                           for f in FIRST_STAGE if f in p.var_families])


def _future_rows(p: FrozenProgram, firsts: np.ndarray) -> np.ndarray:
    """The rows a future block copies: every row that touches a routing column (a row on the
    bed decisions alone — one option per unit, estate limits, open-site counts, the budget at
    central costs — is a rule about the configuration itself and stays in the central block
    once), less the feasibility-only drops. Decided from the programme, so a new rule family
    needs no entry here."""
    first = np.zeros(p.shape[1], bool)
    first[firsts] = True
    pattern = p.matrix.tocsr(copy=True)
    pattern.data = np.ones_like(pattern.data)
    keep = pattern @ (~first).astype(float) > 0          # the row has a routing entry
    for fam in FEASIBILITY_ONLY_DROPS:
        if fam in p.row_families:
            keep[p.row_families[fam]] = False
    return np.flatnonzero(keep)


def _unplaced_objective(f: Formulation, inst: Instance, p: FrozenProgram) -> np.ndarray:
    """An objective counting the admissions a year left unplaced among patients who can reach
    a hospital (hospital and home-based), and nothing else."""
    cols, _ = _unplaced_columns(f, inst)
    objective = np.zeros(p.shape[1])
    weight = np.ones(len(cols))
    if len(f.demand_rows[0]):
        dz, dk = f.demand_rows
        reachable = np.zeros(len(dz), bool)
        if len(f.pairs[0]):
            reachable[f.demand_row_of_pairs()] = True
        weight[: int(reachable.sum())] = f.streams.admissions[dz, dk][reachable]   # unmet shares -> admissions
    objective[cols] = weight
    return objective


def impossible(inst: Instance, time_limit: float = 120.0) -> bool:
    """True when no configuration the rules allow can place every patient of this future who
    can reach a hospital within the blocking target, even planned for this future alone: the
    fewest patients left unplaced (a MIP over the beds and the routing) is more than none.
    (If the solver cannot prove it in ``time_limit`` the future is not called impossible.)"""
    f = build(inst)
    p = f.lp.freeze(inst.weights.as_dict())
    objective = _unplaced_objective(f, inst, p)
    result = solve_program(replace(p, objective=objective, objective_offset=0.0), inst.solver.backend,
                           ortools_solver=inst.solver.ortools_solver, time_limit=time_limit, mip_gap=0.0)
    if result.status == Status.INFEASIBLE:
        return True     # a hard rule fails whatever the beds
    if result.status != Status.OPTIMAL or result.bound is None:
        return False
    return result.bound > UNPLACED_TOLERANCE * max(1.0, float(inst.hospital_admissions.sum()))


@dataclass(frozen=True)
class FeasibilityCut:
    r"""What one future asks of the bed decisions, as a row on them. With the beds fixed at
    :math:`\hat y` the fewest admissions a year left unplaced in the future, :math:`u(\hat y)`, is
    a linear programme's value, convex in the bounds of its columns, so with the programme's
    reduced costs :math:`d` on the bed columns :math:`u(y) \ge u(\hat y) + d^\top (y - \hat y)` for
    every :math:`y`. Meeting the future asks :math:`u(y) \le \tau` (``UNPLACED_TOLERANCE``), so
    every configuration meeting it satisfies
    :math:`d^\top y - M z \le \tau - u(\hat y) + d^\top \hat y` with :math:`z = 0`; a future given up
    (:math:`z = 1`) is freed by :math:`M`, the most it can leave unplaced. The row cuts off
    :math:`\hat y` when the future fails there (Benders' feasibility cut, in the form of
    Geoffrion's generalised Benders: the subproblem's value, not a ray, since unplaced patients
    keep it feasible)."""

    future: int
    coefficients: np.ndarray    # on the bed columns (the programme's first-stage columns, in order)
    rhs: float
    most: float


class FutureCheck:
    """One future's "fewest admissions left unplaced with these beds" linear programme, built
    once and re-solved with the bed columns fixed each time (GLOP re-solves from its last basis
    in a few milliseconds); gives the figure and, when the future fails, its cut."""

    def __init__(self, number: int, inst: Instance, first_names: np.ndarray) -> None:
        f = build(inst)
        p = f.lp.freeze(inst.weights.as_dict())
        self.number = int(number)
        self.first = _first_stage_columns(p)
        if len(self.first) != len(first_names) or not np.array_equal(p.var_names[self.first], first_names):
            raise SolveError("a future's bed options differ from the central scenario's")
        objective = _unplaced_objective(f, inst, p)
        cols, most = _unplaced_columns(f, inst)
        self.most = float(objective[cols] @ most) + 1.0
        self.tolerance = UNPLACED_TOLERANCE * max(1.0, float(inst.hospital_admissions.sum()))
        relaxed = replace(p, objective=objective, objective_offset=0.0, var_integer=np.zeros(p.shape[1], bool))
        self.exact = not p.var_integer[np.setdiff1d(np.arange(p.shape[1]), self.first)].any()
        self.lower, self.upper = relaxed.var_lower.copy(), relaxed.var_upper.copy()
        self.session = LpSession(relaxed, inst.solver.backend)

    def separate(self, first_values: np.ndarray) -> tuple[float, FeasibilityCut | None]:
        """(admissions a year left unplaced with the bed columns at ``first_values`` — infinite
        when a hard rule fails whatever the routing —, the future's cut there, or None when
        the future is met or no cut can be had: a hard rule fails, the solver gives no reduced
        costs, or the routing has integer decisions so the linear programme only bounds it)."""
        lower, upper = self.lower.copy(), self.upper.copy()
        lower[self.first] = first_values
        upper[self.first] = first_values
        result = self.session.solve(lower, upper)
        if not result.status.has_solution:
            return float("inf"), None
        unplaced = max(0.0, float(result.objective))
        if unplaced <= self.tolerance or result.reduced_costs is None or not self.exact:
            return unplaced, None
        d = result.reduced_costs[self.first]
        return unplaced, FeasibilityCut(self.number, d, float(self.tolerance - unplaced + d @ first_values), self.most)


class _FutureJob:
    """Futures planned for, sent to the Dask workers: each can be screened (can any
    configuration meet it alone?)."""

    def __init__(self, futures: list[Instance]) -> None:
        self.futures = futures

    def screen(self, items: list[int]) -> list[tuple[int, bool]]:
        return [(i, impossible(self.futures[i])) for i in items]



def _screen_chunk(job: _FutureJob, items: list) -> list:
    return job.screen(items)


class RobustModel:
    """The scenario-based programme (see the module docstring), grown future by future.

    The *central block* is the point model at central values (its routing, travel, unmet and
    equity terms in the objective), with each bed column's cost the mean of its cost over
    the sampled futures (costs are uncertain figures): the robust configuration is the point
    model's answer, at expected costs, among configurations that meet the target in enough
    futures. Each *future block* holds one future's routing, onward-flow, capacity,
    travel-standard and equity rows on its own columns (no objective: it only has to be
    possible), sharing the bed columns, with its patients unplaced only if the future is
    given up (a binary)."""

    def __init__(self, central: Instance, expected_cost: np.ndarray | None = None) -> None:
        self.central = central
        self.formulation = build(central)
        p = self.formulation.lp.freeze(central.weights.as_dict())
        self.p0 = p
        self.first = _first_stage_columns(p)
        self.n1 = len(self.first)
        objective = p.objective.copy()
        if expected_cost is not None:
            objective[self.first] = expected_cost
        self.objective_offset = p.objective_offset
        # the central block as it is: its columns keep their order, first-stage ones included
        self._cols = [(p.var_names, p.var_lower, p.var_upper, p.var_integer, objective)]
        coo = p.matrix.tocoo()
        self._entries = [(coo.row, coo.col, coo.data)]
        self._rows = [(p.row_names, p.row_lower, p.row_upper)]
        self.n_cols = p.shape[1]
        self.n_rows = p.shape[0]
        self.futures: list[int] = []          # sample numbers of the futures in the programme (each has a
        self.forced: list[bool] = []          # 'given up' binary), in order; given up whatever the beds
        self.blocks: list[int] = []           # futures held as a block of their own rows
        self._unplaced: list[tuple[int, np.ndarray, np.ndarray]] = []   # (future, columns, most) per block
        self.cuts: list[FeasibilityCut] = []

    def _register(self, number: int, forced_give_up: bool = False) -> None:
        if int(number) not in self.futures:
            self.futures.append(int(number))
            self.forced.append(bool(forced_give_up))
        elif forced_give_up:
            self.forced[self.futures.index(int(number))] = True

    def add_cut(self, cut: FeasibilityCut) -> None:
        if len(cut.coefficients) != self.n1:
            raise SolveError("a cut's bed decisions differ from the central scenario's")
        self._register(cut.future)
        self.cuts.append(cut)

    def first_stage_objective(self, inst: Instance) -> np.ndarray:
        """A future's bed-column costs in the objective (weighted)."""
        f = build(inst)
        p = f.lp.freeze(inst.weights.as_dict())
        return p.objective[_first_stage_columns(p)]

    def add_future(self, number: int, inst: Instance, forced_give_up: bool = False) -> None:
        """Hold the future as a block of its own routing rows on its own columns (exact)."""
        f = build(inst)
        p = f.lp.freeze(inst.weights.as_dict())
        firsts = _first_stage_columns(p)
        if len(firsts) != self.n1 or not np.array_equal(p.var_names[firsts], self.p0.var_names[self.first]):
            raise SolveError("a future's bed options differ from the central scenario's")
        second = np.setdiff1d(np.arange(p.shape[1]), firsts)
        col_map = np.empty(p.shape[1], int)
        col_map[firsts] = self.first
        col_map[second] = self.n_cols + np.arange(len(second))
        tag = f"future_{number}_"
        self._cols.append((np.char.add(tag, p.var_names[second].astype(str)).astype(object), p.var_lower[second],
                           p.var_upper[second], p.var_integer[second], np.zeros(len(second))))
        rows = _future_rows(p, firsts)
        sub = p.matrix[rows].tocoo()
        self._entries.append((sub.row + self.n_rows, col_map[sub.col], sub.data))
        self._rows.append((np.char.add(tag, p.row_names[rows].astype(str)).astype(object), p.row_lower[rows],
                           p.row_upper[rows]))
        self.n_cols += len(second)
        self.n_rows += len(rows)
        cols, most = _unplaced_columns(f, inst)
        self._unplaced.append((int(number), col_map[cols], most))
        self.blocks.append(int(number))
        self._register(number, forced_give_up)

    def set_given_up(self, numbers) -> None:
        """Give these futures up whatever the beds (and no other but as ``program`` allows)."""
        self.forced = [k in numbers for k in self.futures]

    def program(self, may_give_up: int, honour_given_up: bool = True) -> FrozenProgram:
        """The programme with at most ``may_give_up`` of its futures given up besides those
        given up whatever the beds (all of them count when not ``honour_given_up``); the
        'given up' binaries are the last columns."""
        n = len(self.futures)
        z = self.n_cols + np.arange(n)
        forced = np.asarray(self.forced, bool) if honour_given_up else np.zeros(n, bool)
        names, lower, upper, integer, objective = (list(x) for x in zip(*self._cols, strict=True))
        names.append(np.array([f"future_{k}_given_up" for k in self.futures], object))
        lower.append(forced.astype(float))
        upper.append(np.ones(n))
        integer.append(np.ones(n, bool))
        objective.append(np.zeros(n))
        rows, cols, vals = (list(x) for x in zip(*self._entries, strict=True))
        rnames, rlo, rhi = (list(x) for x in zip(*self._rows, strict=True))
        r0 = self.n_rows
        z_of = {number: z[k] for k, number in enumerate(self.futures)}
        for number, ucols, most in self._unplaced:   # unplaced <= most x given_up
            m = len(ucols)
            local = r0 + np.arange(m)
            rows.append(np.concatenate([local, local]))
            cols.append(np.concatenate([ucols, np.full(m, z_of[number])]))
            vals.append(np.concatenate([np.ones(m), -most]))
            rnames.append(np.array([f"future_{number}_unplaced_only_if_given_up_{i}" for i in range(m)], object))
            rlo.append(np.full(m, -INF))
            rhi.append(np.zeros(m))
            r0 += m
        for j, cut in enumerate(self.cuts):   # the future's cut, unless it is given up
            rows.append(np.full(self.n1 + 1, r0))
            cols.append(np.append(self.first, z_of[cut.future]))
            vals.append(np.append(cut.coefficients, -cut.most))
            rnames.append(np.array([f"future_{cut.future}_cut_{j}"], object))
            rlo.append(np.array([-INF]))
            rhi.append(np.array([cut.rhs]))
            r0 += 1
        free = z[~forced]   # futures given up whatever the beds do not count
        if n:
            rows.append(np.full(len(free), r0))
            cols.append(free)
            vals.append(np.ones(len(free)))
            rnames.append(np.array([f"at_most_{may_give_up}_futures_given_up"], object))
            rlo.append(np.array([-INF]))
            rhi.append(np.array([float(may_give_up)]))
            r0 += 1
        matrix = sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                               shape=(r0, self.n_cols + n))
        matrix.sum_duplicates()
        families = {fam: self.p0.var_families[fam] for fam in FIRST_STAGE if fam in self.p0.var_families}
        families["future_given_up"] = slice(self.n_cols, self.n_cols + n)
        return FrozenProgram(
            var_names=np.concatenate(names), var_lower=np.concatenate(lower), var_upper=np.concatenate(upper),
            var_integer=np.concatenate(integer), objective=np.concatenate(objective),
            objective_offset=self.objective_offset, matrix=matrix, row_names=np.concatenate(rnames),
            row_lower=np.concatenate(rlo), row_upper=np.concatenate(rhi), var_families=families, row_families={})

    def column_names(self) -> np.ndarray:
        return np.concatenate([c[0] for c in self._cols]
                              + [np.array([f"future_{k}_given_up" for k in self.futures], object)])

    def hint_from(self, values: np.ndarray, names: np.ndarray | None = None) -> np.ndarray:
        """A start for the next programme from a solution whose columns were ``names`` (default:
        the programme's now): blocks and 'given up' binaries added since are left to the solver."""
        now = self.column_names()
        if names is None:
            return values.copy()
        position = {name: k for k, name in enumerate(names)}
        known = np.array([position.get(name, -1) for name in now])
        hint = np.full(len(now), np.nan)
        hint[known >= 0] = values[known[known >= 0]]
        return hint

    def given_up(self, values: np.ndarray) -> list[int]:
        n = len(self.futures)
        flags = values[self.n_cols:self.n_cols + n] > 0.5
        return [k for k, flag in zip(self.futures, flags, strict=True) if flag]

    def fewest_given_up(self, backend: str, ortools_solver: str, time_limit: float):
        """(the fewest futures in the programme any configuration must give up (besides those given up
        whatever the beds), proven?, that solution);
        (None, False, None) if the solver found none in time."""
        p = self.program(len(self.futures), honour_given_up=False)
        objective = np.zeros(p.shape[1])
        free = np.arange(p.var_families["future_given_up"].start, p.var_families["future_given_up"].stop)
        objective[free] = 1.0
        result = solve_program(replace(p, objective=objective, objective_offset=0.0), backend,
                               ortools_solver=ortools_solver, time_limit=time_limit, mip_gap=0.0)
        if not result.status.has_solution:
            return None, False, None
        count = int(round(result.values[free].sum()))
        return count, result.status == Status.OPTIMAL, result.values


def configuration_of(model: RobustModel, values: np.ndarray, central: Instance) -> tuple[np.ndarray, np.ndarray | None]:
    """(beds per unit, home-based beds per district) of a solution of the robust programme."""
    p = model.p0
    opt = central.bed_choices
    chosen = values[p.var_families["bed_option"]] > 0.5
    beds = np.zeros(len(opt.unit_site), int)
    beds[opt.option_unit[chosen]] = opt.option_beds[chosen]
    virtual = None
    if central.virtual is not None and "virtual_blocks" in p.var_families:
        virtual = np.round(values[p.var_families["virtual_blocks"]]).astype(int) * central.virtual.step
    return beds, virtual


# ---------------------------------------------------------------------------------------
# checking a configuration in a future
# ---------------------------------------------------------------------------------------

def meets_target(inst: Instance, beds: np.ndarray, virtual: np.ndarray | None) -> tuple[bool, float]:
    """Whether, with these beds fixed, every patient of ``inst`` who can reach a hospital can
    be planned a bed within the blocking target; and the fewest admissions a year that cannot
    (a linear programme re-plans the routing to leave as few unplaced as the rules allow, so
    the figure does not depend on how the objective weighs travel against unmet demand, and
    is never less on groups of areas than on the areas themselves)."""
    from optimiser.model.quick import with_configuration

    fixed = with_configuration(inst, beds, virtual)
    f = build(fixed)
    p = f.lp.freeze(fixed.weights.as_dict())
    objective = _unplaced_objective(f, fixed, p)
    result = solve_program(replace(p, objective=objective, objective_offset=0.0), fixed.solver.backend,
                           ortools_solver=fixed.solver.ortools_solver,
                           time_limit=max(fixed.solver.time_limit_seconds, 60.0), mip_gap=0.0)
    if not result.status.has_solution:
        return False, float("inf")   # a hard rule (e.g. the travel standard) cannot be met
    unplaced = max(0.0, float(objective @ result.values))
    return unplaced <= UNPLACED_TOLERANCE * max(1.0, float(inst.hospital_admissions.sum())), unplaced


class CheckJob:
    """What a worker needs to check configurations in futures (compiled fast)."""

    def __init__(self, compiler: FutureCompiler, configurations: dict[str, tuple[np.ndarray, np.ndarray | None]]):
        self.compiler = compiler
        self.configurations = configurations

    def run(self, rows: list[tuple[int, dict[str, float]]]) -> list[tuple[int, dict[str, tuple[bool, float]]]]:
        out = []
        for i, values in rows:
            inst = self.compiler.compile(values)
            out.append((i, {name: meets_target(inst, *config) for name, config in self.configurations.items()}))
        return out


def _check_chunk(job: CheckJob, rows: list) -> list:
    return job.run(rows)


def check_futures(compiler: FutureCompiler, configurations: dict, drawn: pd.DataFrame, client,
                  progress: Progress | None = None) -> pd.DataFrame:
    """For each future (row of ``drawn``) and configuration: met (bool) and unplaced
    admissions a year, as columns '<name>_meets_target' and '<name>_unplaced_per_year'."""
    from optimiser.parallel import chunked, map_chunks, worker_count

    rows = [(int(i), {k: float(v) for k, v in r.items()}) for i, r in drawn.iterrows()]
    chunks = chunked(rows, worker_count(client) * 4)
    parts = map_chunks(_check_chunk, CheckJob(compiler, configurations), chunks, client, progress=progress,
                       weights=[len(c) for c in chunks])
    records = {}
    for part in parts:
        for i, result in part:
            records[i] = {**{f"{n}_meets_target": ok for n, (ok, _) in result.items()},
                          **{f"{n}_unplaced_per_year": lost for n, (_, lost) in result.items()}}
    return pd.DataFrame.from_dict(records, orient="index").loc[drawn.index]


# ---------------------------------------------------------------------------------------
# validating a plan on fresh futures
# ---------------------------------------------------------------------------------------

def reliability_lower_bound(met: int, futures: int, confidence: float) -> float:
    """One-sided Clopper-Pearson lower confidence bound on the chance of meeting the target,
    from ``met`` of ``futures`` independent futures met: the true chance is at least this with
    probability ``confidence`` (exact for a binomial count; 0 when none is met)."""
    from scipy.stats import beta

    if futures < 1 or not 0 <= met <= futures:
        raise ValueError(f"met {met} of {futures} futures")
    if met == 0:
        return 0.0
    return float(beta.ppf(1.0 - confidence, met, futures - met + 1))


def validation_seed(seed: int, round_number: int) -> int:
    """The seed of the ``round_number``-th validation sample, derived from the user's seed (the
    same seed gives the same validation futures; apart from the planning seed and seed + 1)."""
    state = np.random.SeedSequence([int(seed), _VALIDATION_STREAM, int(round_number)]).generate_state(2, np.uint32)
    derived = int(state[0]) << 31 | int(state[1]) >> 1
    return derived if derived not in (seed, seed + 1) else derived + 2


# ---------------------------------------------------------------------------------------
# the robust answer
# ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class RobustResult:
    solution: Solution                 # the robust configuration, routed at full resolution at central values
    point: Solution                    # the point answer (every figure central)
    reliability: float                 # asked for
    samples: int
    seed: int
    check_seed: int
    given_up: tuple[int, ...]          # in-sample futures the robust configuration gives up
    in_sample_reliability: float
    check: pd.DataFrame                # independent futures: drawn figures + met/unplaced per configuration
    optimality_gap: float | None
    stopped_by_time_limit: bool
    solve_seconds: float
    resolution: str
    notes: tuple[str, ...] = ()
    impossible: tuple[int, ...] = ()   # in-sample futures no configuration can meet (relaxation infeasible)
    rounds: tuple[dict, ...] = ()      # the constraint-generation rounds (of the last plan)
    validation: tuple[dict, ...] = ()  # each plan's validation on fresh futures (see the module docstring)
    validated: bool = False            # the last validation's lower bound reached the reliability asked
    futures_planned_for: int = 0       # the futures of the last plan: the sample and validation failures added
    summary: dict = field(default_factory=dict)

    @property
    def out_of_sample_reliability(self) -> float:
        return float(self.check["robust_meets_target"].mean())

    @property
    def point_out_of_sample_reliability(self) -> float:
        return float(self.check["point_meets_target"].mean())


@dataclass(frozen=True)
class RobustPlan:
    """What the robust programme chose: beds per unit, home-based beds per district, the
    futures given up, and how it got there."""

    beds: np.ndarray
    virtual: np.ndarray | None
    given_up: tuple[int, ...]
    impossible: tuple[int, ...]
    objective: float
    gap: float | None
    stopped_by_time_limit: bool
    seconds: float
    rounds: tuple[dict, ...]
    notes: tuple[str, ...]
    in_programme: tuple[int, ...] = ()   # the futures the last programme held as blocks of rows
    cuts: tuple[FeasibilityCut, ...] = ()   # and the cuts it held (constraint generation)


def plan_robust(central: Instance, futures: list[Instance], reliability: float, *, time_limit: float = 300.0,
                mip_gap: float = 0.01, client=None, start: tuple[int, ...] = (),
                start_cuts: tuple[FeasibilityCut, ...] = (), known_impossible: tuple[int, ...] = ()) -> RobustPlan:
    """The robust programme over ``futures`` (instances of the futures, at the resolution
    planned on), solved by constraint generation (see :func:`robust_solve`): the bed decisions
    and the central block are solved with each future held by its cuts
    (:class:`FeasibilityCut`); every future is then checked with the beds found (a linear
    programme each, re-solved from its last basis), each future failed adds its cut, and the
    loop repeats until none fails. A future whose check cannot give a cut (a hard rule fails
    whatever the routing, or integer routing), or that fails again at a configuration already
    tried, is held by its own block of rows instead (exact). With a Dask ``client`` the
    futures are screened (can any configuration meet it alone?) on its workers. ``start``:
    futures held as blocks from the first solve, ``start_cuts``: cuts found by an earlier plan
    (both save rounds; the answer is the same programme's); ``known_impossible``: futures
    already found that no configuration can meet."""
    if not 0 < reliability <= 1:
        raise ScenarioError(f"the reliability must be more than 0 and at most 1, got {reliability}")
    from optimiser.parallel import chunked, map_chunks, worker_count

    job = _FutureJob(futures)
    parts = worker_count(client) * 2 if client is not None else 1

    def run(function, items):
        if not items:
            return []
        if client is None:
            return function(job, items)
        return [r for part in map_chunks(function, job, chunked(items, parts), client) for r in part]

    started = time.perf_counter()
    sv = central.solver
    samples = len(futures)
    model = RobustModel(central)
    expected = np.mean([model.first_stage_objective(f) for f in futures], axis=0)
    model = RobustModel(central, expected)
    first_names = model.p0.var_names[model.first]
    checks: dict[int, FutureCheck] = {}

    def check_of(i: int) -> FutureCheck:
        if i not in checks:
            checks[i] = FutureCheck(i, futures[i], first_names)
        return checks[i]

    asked = int(math.floor((1.0 - reliability) * samples + 1e-9))
    hopeless: set[int] = set(known_impossible)   # futures no configuration can meet (given up, no rows)
    screened: dict[int, bool] = {i: True for i in hopeless}  # future -> no configuration can meet it alone

    def screen(items: list[int]) -> list[int]:
        """Screen these futures; those no configuration can meet alone are given up: taken out
        of the programme altogether (a block's rows would still bind the beds)."""
        nonlocal model
        fresh = [i for i in items if i not in screened]
        screened.update(dict(run(_screen_chunk, fresh)))
        newly = [i for i in fresh if screened[i]]
        hopeless.update(newly)
        if any(i in model.futures for i in newly):
            kept = RobustModel(central, expected)
            for i in model.blocks:
                if i not in hopeless:
                    kept.add_future(i, futures[i])
            for cut in model.cuts:
                if cut.future not in hopeless:
                    kept.add_cut(cut)
            model = kept
        return newly

    for i in start:
        if i not in hopeless:
            model.add_future(i, futures[i])
    for cut in start_cuts:
        if cut.future not in hopeless and cut.future < samples:
            model.add_cut(cut)
    least = 0                      # the fewest futures any configuration must give up, ...
    chosen: set[int] = set()       # ... and which (found by the MIP counting them)
    rounds: list[dict] = []
    tried: set[bytes] = set()
    hint = None
    # rounds solve to a looser gap (any configuration gives valid cuts); once one fails no
    # future, it is solved again to the gap asked, which is the answer (and its proof) if that
    # one fails none either
    gap_now = max(mip_gap, ROUND_GAP)
    while True:
        round_started = time.perf_counter()
        # once not every future can be met, those the counting MIP gave up stay given up (the
        # master then has no choice of which to give up, the hard part of such a programme)
        may_give_up = 0 if chosen else max(asked - len(hopeless), 0)
        model.set_given_up(chosen)
        program = model.program(may_give_up)
        result = solve_program(program, sv.backend, ortools_solver=sv.ortools_solver,
                               time_limit=time_limit, mip_gap=gap_now, hint=hint)
        master_seconds = time.perf_counter() - round_started
        hint = None
        log.debug("robust master: %s, may give up %d, least %d, hopeless %s", result.status, may_give_up, least, hopeless)
        if result.status == Status.INFEASIBLE:
            # some future in the programme cannot be met: those no configuration can meet alone
            # are given up; if none is, the fewest any configuration must give up
            if screen(list(model.futures)):
                continue
            fewest, proven, values = model.fewest_given_up(sv.backend, sv.ortools_solver, time_limit)
            log.info("robust plan: the programme's %d futures cannot all be met: at least %s must be given up%s",
                     len(model.futures), fewest, "" if proven else " (not proven)")
            if fewest is None:
                raise SolveError(f"the robust model found no configuration in {time_limit:g} s; use fewer futures "
                                 "(--samples) or allow more time")
            least, hint = fewest, model.hint_from(values)
            chosen = set(model.given_up(values))
            continue
        if not result.status.has_solution:
            raise SolveError(f"the robust model found no configuration in {time_limit:g} s "
                             f"({result.status.describe()}); use fewer futures (--samples) or allow more time")
        beds, virtual = configuration_of(model, result.values, central)
        y = np.round(result.values[model.first], 9)
        again = y.tobytes() in tried
        tried.add(y.tobytes())
        given = set(model.given_up(result.values)) | hopeless
        failed: list[int] = []
        for i in range(samples):
            if i in given or i in model.blocks:
                continue   # given up, or held exactly by its own rows
            check = check_of(i)
            unplaced, cut = check.separate(y)
            if not check.exact and np.isfinite(unplaced):
                unplaced = meets_target(futures[i], beds, virtual)[1]
            if unplaced <= check.tolerance:
                continue
            failed.append(i)
            if cut is None or again:
                model.add_future(i, futures[i])
            else:
                model.add_cut(cut)
        rounds.append({"futures_in_model": len(model.futures), "cuts": len(model.cuts), "blocks": len(model.blocks),
                       "futures_no_configuration_can_meet": len(hopeless), "futures_failed": len(failed),
                       "objective": result.objective, "gap": result.gap, "gap_asked": gap_now,
                       "master_seconds": master_seconds, "seconds": time.perf_counter() - round_started})
        log.info("robust plan: round %d, %d futures failed, %d cuts and %d blocks in the programme, %.1f s "
                 "(%.1f s the programme, to %.1f%%)", len(rounds), len(failed), len(model.cuts), len(model.blocks),
                 rounds[-1]["seconds"], master_seconds, 100 * gap_now)
        hint = model.hint_from(result.values, program.var_names)
        if not failed:
            if gap_now <= mip_gap:
                break
            gap_now = mip_gap
    # the futures given up: say which no configuration could meet even alone
    screen(sorted(set(model.given_up(result.values)) - hopeless))
    notes = []
    if len(hopeless) + least > asked:
        why = (f"in {len(hopeless)} of the {samples} futures planned for no configuration can place every patient "
               "within the blocking target, even one planned for that future alone" if hopeless else "")
        more = (f"{' and ' if hopeless else ''}every configuration in whole beds gives up at least {least} "
                f"{'more ' if hopeless else ''}of them" if least else "")
        notes.append(f"a {reliability:.0%} reliability cannot be had with the estate limits, hub limits and travel "
                     f"rules as they are: {why}{more}; this configuration meets the target in as many of the "
                     f"{samples} futures as any can ({samples - len(hopeless) - least}) and is the cheapest meeting "
                     "those")
    return RobustPlan(beds, virtual, tuple(sorted(set(model.given_up(result.values)) | hopeless)),
                      tuple(sorted(hopeless)), float(result.objective), result.gap,
                      result.status == Status.FEASIBLE, time.perf_counter() - started, tuple(rounds), tuple(notes),
                      tuple(model.blocks), tuple(model.cuts))


def robust_solve(scenario: Scenario, dataset: Dataset, *, samples: int = 50, reliability: float = 0.9,
                 seed: int = 1, check_samples: int | None = None, check_seed: int | None = None,
                 validation_samples: int | None = None, validation_rounds: int = VALIDATION_ROUNDS,
                 resolution: str = "grouped", point: Solution | None = None, scheduler: str | None = None,
                 workers: int | None = None, client=None, progress: Progress | None = None,
                 time_limit: float | None = None, mip_gap: float | None = None) -> RobustResult:
    """The robust configuration (see the module docstring): planned on ``samples`` futures
    (seed ``seed``), validated on ``validation_samples`` fresh futures a round (default: 2 x
    samples, at least 100) and re-planned with the failures added until the reliability's
    lower confidence bound reaches ``reliability`` or ``validation_rounds`` plans were tried;
    then checked on ``check_samples`` independent futures (default: 4 x samples, at least 100;
    seed ``check_seed``, default seed + 1) beside the point answer (``point``, or a fresh
    quick answer).

    Each plan is found by constraint generation: solve with the futures added so far, check
    every sampled future with the configuration found, add those it fails, repeat. With the
    futures added so far the programme is a relaxation of the one with all of them (a
    configuration that meets the target in all but k of the sampled futures meets it in all
    but at most k of those added), so when the configuration found fails no future left out it
    is the answer of the whole programme, and the bound of the last solve is a bound for the
    whole: the gap stated is proven (for the futures the last plan was made for)."""
    from optimiser.options import option_from_solution
    from optimiser.parallel import dask_client, warm_up

    started = time.perf_counter()
    if not 0 < reliability <= 1:
        raise ScenarioError(f"the reliability must be more than 0 and at most 1, got {reliability}")
    if samples < 1:
        raise ScenarioError(f"the number of futures must be at least 1, got {samples}")
    if validation_rounds < 1:
        raise ScenarioError(f"the number of validation rounds must be at least 1, got {validation_rounds}")
    figures = uncertain_figures(scenario)
    if not figures:
        raise ScenarioError("the scenario gives no figure a range (low/high) or variants: a robust "
                            "configuration needs futures to be robust against")
    check_samples = check_samples or max(100, 4 * samples)
    validation_samples = validation_samples or max(100, 2 * samples)
    check_seed = seed + 1 if check_seed is None else check_seed
    if check_seed == seed:
        raise ScenarioError("the out-of-sample check needs another seed than the futures planned for")
    drawn = sample_futures(figures, samples, seed)
    independent = sample_futures(figures, check_samples, check_seed)
    compiler = FutureCompiler(dataset, scenario)
    central = compiler.central
    limit = time_limit if time_limit is not None else max(central.solver.time_limit_seconds, 300.0)
    gap = mip_gap if mip_gap is not None else max(central.solver.mip_gap, 0.01)
    group = reach_groups(central)
    plans = [_plan_instance(compiler.compile({k: float(v) for k, v in r.items()}), resolution, group)
             for _, r in drawn.iterrows()]
    planned_central = _plan_instance(central, resolution, group)
    per_round = 1.0 - (1.0 - VALIDATION_CONFIDENCE) / validation_rounds     # Bonferroni over the rounds
    validation: list[dict] = []
    start: tuple[int, ...] = ()
    start_cuts: tuple[FeasibilityCut, ...] = ()
    known_impossible: tuple[int, ...] = ()
    with dask_client(scheduler, workers, client) as c:
        c.gather(warm_up(c))
        for round_number in range(validation_rounds):
            plan = plan_robust(planned_central, plans, PLAN_LEVEL, time_limit=limit, mip_gap=gap, client=c,
                               start=start, start_cuts=start_cuts, known_impossible=known_impossible)
            vseed = validation_seed(seed, round_number)
            fresh = sample_futures(figures, validation_samples, vseed)
            checked = check_futures(compiler, {"robust": (plan.beds, plan.virtual)}, fresh, c)
            met = checked["robust_meets_target"].astype(bool)
            bound = reliability_lower_bound(int(met.sum()), validation_samples, per_round)
            validation.append({"round": round_number + 1, "futures_planned_for": len(plans),
                               "in_sample_reliability": (len(plans) - len(plan.given_up)) / len(plans),
                               "validation_seed": vseed, "validation_futures": validation_samples,
                               "met": int(met.sum()), "reliability": float(met.mean()),
                               "lower_bound": bound, "plan_seconds": plan.seconds})
            log.info("robust validation %d: planned for %d futures, met %d of %d fresh ones, lower bound %.3f",
                     round_number + 1, len(plans), int(met.sum()), validation_samples, bound)
            # futures no configuration meets, counted in the sample drawn (the futures added later
            # are those a plan failed, so they would overstate the share)
            out_of_reach = sum(i < samples for i in plan.given_up) > (1.0 - reliability) * samples + 1e-9
            if bound >= reliability - 1e-12 or out_of_reach or round_number == validation_rounds - 1:
                break
            # plan again for the kinds of futures this plan failed, as well as those before (the
            # programme starts from the futures the last one needed and the worst failures)
            failing = sorted(fresh.index[~met], key=lambda i: (-checked.loc[i, "robust_unplaced_per_year"], i))
            known_impossible = plan.impossible
            start, start_cuts = plan.in_programme, plan.cuts
            for i in failing:
                values = {k: float(v) for k, v in fresh.loc[i].items()}
                plans.append(_plan_instance(compiler.compile(values), resolution, group))
        beds, virtual, given_up = plan.beds, plan.virtual, plan.given_up
        routed, point, check = _report_pieces(scenario, dataset, compiler, central, beds, virtual, point,
                                              independent, c, progress)
    validated = validation[-1]["lower_bound"] >= reliability - 1e-12
    notes = []
    if plan.given_up:
        alone = (f" ({len(plan.impossible)} of them even with beds planned for that future alone)"
                 if plan.impossible else "")
        notes.append(f"in {len(plan.given_up)} of the {len(plans)} futures planned for no configuration the estate "
                     f"limits, hub limits and travel rules allow places every patient within the blocking target"
                     f"{alone}; they were given up")
    if out_of_reach:
        notes.append(f"of the {samples} futures drawn, more than {1 - reliability:.0%} are such: the "
                     f"{reliability:.0%} reliability asked "
                     "cannot be had with the rules as they are; this configuration meets the target in as many "
                     "of the futures planned for as any can, the cheapest meeting those")
    elif not validated:
        last = validation[-1]
        notes.append(f"after {len(validation)} plans the configuration met the target in {last['met']} of "
                     f"{last['validation_futures']} fresh futures ({last['reliability']:.0%}): not enough to be "
                     f"{VALIDATION_CONFIDENCE:.0%} sure of {reliability:.0%} (the lower bound is "
                     f"{last['lower_bound']:.0%}); plan for more futures (--samples) or allow more rounds")
    check = pd.concat([independent, check], axis=1)
    planned = len(plans)
    last, met_outside = validation[-1], int(check["robust_meets_target"].astype(bool).sum())
    status = (f"robust configuration: meets the blocking target in {planned - len(given_up)} of the {planned} "
              f"futures planned for, in {last['met']} of {last['validation_futures']} fresh validation futures (at "
              f"least {last['lower_bound']:.1%} of futures with {VALIDATION_CONFIDENCE:.0%} confidence; "
              f"{reliability:.0%} asked) and in {met_outside} of {len(check)} independent futures "
              f"({met_outside / len(check):.1%}, out of sample)")
    out = RobustResult(
        solution=replace(routed, status_message=status),
        point=point, reliability=reliability, samples=samples, seed=seed, check_seed=check_seed, given_up=given_up,
        in_sample_reliability=(planned - len(given_up)) / planned, check=check, optimality_gap=plan.gap,
        stopped_by_time_limit=plan.stopped_by_time_limit, solve_seconds=sum(v["plan_seconds"] for v in validation),
        resolution=resolution, notes=tuple(notes), impossible=plan.impossible, rounds=plan.rounds,
        validation=tuple(validation), validated=validated, futures_planned_for=planned)
    summary = robust_summary(out, central, option_from_solution, time.perf_counter() - started)
    return replace(out, summary=summary)


def _report_pieces(scenario, dataset, compiler, central, beds, virtual, point, independent, client, progress):
    """The robust configuration routed at central values, the point answer, and both checked
    on the independent futures."""
    from optimiser import api
    from optimiser.model.quick import with_configuration
    from optimiser.model.solve import solve_once

    try:
        routed = solve_once(with_configuration(central, beds, virtual), f"{scenario.name} (robust)",
                            explain_infeasible=False)
        routed = replace(routed, _instance=central)
    except (InfeasibleError, SolveError):
        from optimiser.options import Option

        units = pd.DataFrame({"site_id": central.sites.ids[central.bed_choices.unit_site],
                              "key": np.asarray(central.wards, object)[central.bed_choices.unit_ward], "beds": beds})
        vt = pd.DataFrame({"district_code": central.districts.ids, "beds": virtual}) if virtual is not None else None
        routed = api.evaluate(scenario, Option(f"{scenario.name} (robust)", units[units["beds"] > 0], vt), dataset)
    routed = api.with_provenance(routed, scenario, dataset)
    if point is None:
        point = api.quick_solve(scenario, dataset)
    point_config = _configuration_of_solution(central, point)
    check = check_futures(compiler, {"robust": (beds, virtual), "point": point_config}, independent, client,
                          progress=progress)
    return routed, point, check


def _configuration_of_solution(inst: Instance, sol: Solution) -> tuple[np.ndarray, np.ndarray | None]:
    from optimiser.solution import unit_beds_of, virtual_beds_of

    beds = unit_beds_of(inst, sol.tables)
    return beds, (virtual_beds_of(inst, sol.tables) if inst.virtual is not None else None)


def _drivers(check: pd.DataFrame, figures: list[str], failed: pd.Series, top: int = 3) -> list[dict]:
    """The figures that differ most between the futures a configuration fails in and the rest
    (difference of means in standard deviations)."""
    if failed.all() or not failed.any():
        return []
    out = []
    for key in figures:
        col = check[key].astype(float)
        sd = col.std()
        if not sd > 0:
            continue
        shift = (col[failed].mean() - col[~failed].mean()) / sd
        out.append({"figure": key, "shift_in_sd": float(shift), "mean_when_failing": float(col[failed].mean()),
                    "mean_otherwise": float(col[~failed].mean())})
    return sorted(out, key=lambda d: -abs(d["shift_in_sd"]))[:top]


def robust_summary(r: RobustResult, central: Instance, option_from_solution, seconds: float) -> dict:
    from optimiser.futures import figure_label

    def site_beds(sol: Solution) -> dict[str, int]:
        s = sol.sites
        return {str(k): int(v) for k, v in zip(s["site_id"], s["beds"], strict=True)}

    robust_sites, point_sites = site_beds(r.solution), site_beds(r.point)
    rm, pm = r.solution.metrics, r.point.metrics
    figures = [c for c in r.check.columns if not c.endswith(("_meets_target", "_unplaced_per_year"))]
    point_fails = ~r.check["point_meets_target"].astype(bool)
    robust_fails = ~r.check["robust_meets_target"].astype(bool)
    drivers = _drivers(r.check, figures, point_fails)
    n = len(r.check)
    extra_beds = rm["physical_beds"] - pm["physical_beds"]
    extra_virtual = rm["virtual_beds"] - pm["virtual_beds"]
    extra_cost = rm["annual_cost_gbp"] - pm["annual_cost_gbp"]
    words = list(r.notes) + [
        f"The robust configuration has {rm['physical_beds']:.0f} hospital beds and {rm['virtual_beds']:.0f} home-based "
        f"beds ({extra_beds:+.0f} and {extra_virtual:+.0f} against the point answer), for £{extra_cost / 1e6:+,.2f}m a "
        "year at central costs.",
        f"On {n} futures it was not planned for, it meets the blocking target in {int((~robust_fails).sum())} "
        f"({(~robust_fails).mean():.0%}); the point answer in {int((~point_fails).sum())} ({(~point_fails).mean():.0%}).",
    ]
    if r.validation:
        last = r.validation[-1]
        words.insert(len(r.notes), (
            f"It was planned for {r.futures_planned_for} futures ({r.samples} drawn"
            + (f", and {r.futures_planned_for - r.samples} futures an earlier plan failed" if r.futures_planned_for > r.samples
               else "")
            + f") in {len(r.validation)} round{'s' if len(r.validation) > 1 else ''}, and meets the target in "
            f"{r.in_sample_reliability:.0%} of them. Tried on {last['validation_futures']} fresh futures it met it in "
            f"{last['met']}: we can be {VALIDATION_CONFIDENCE:.0%} sure it meets it in at least "
            f"{last['lower_bound']:.0%} of futures"
            + (f", as asked ({r.reliability:.0%})." if r.validated else f", less than the {r.reliability:.0%} asked.")))
    if drivers:
        d = drivers[0]
        direction = "higher" if d["shift_in_sd"] > 0 else "lower"
        words.append(f"The point answer fails mostly when {figure_label(d['figure'])} is {direction} "
                     f"(mean {d['mean_when_failing']:.3g} in the futures it fails, {d['mean_otherwise']:.3g} otherwise).")
    changed = {s: (point_sites.get(s, 0), robust_sites.get(s, 0)) for s in robust_sites
               if robust_sites.get(s, 0) != point_sites.get(s, 0)}
    return {
        "reliability_asked": r.reliability,
        "futures_sampled": r.samples,
        "futures_planned_for": r.futures_planned_for,
        "seed": r.seed,
        "resolution": r.resolution,
        "futures_given_up": list(r.given_up),
        "futures_no_configuration_can_meet": list(r.impossible),
        "notes": list(r.notes),
        "in_sample_reliability": r.in_sample_reliability,
        "validation": {"rounds": list(r.validation), "confidence": VALIDATION_CONFIDENCE,
                       "bound": "one-sided Clopper-Pearson lower bound, Bonferroni over the rounds allowed",
                       "reliability_lower_bound": r.validation[-1]["lower_bound"] if r.validation else None,
                       "reached": r.validated},
        "out_of_sample": {"futures": n, "seed": r.check_seed,
                          "robust_reliability": float((~robust_fails).mean()),
                          "point_reliability": float((~point_fails).mean()),
                          "futures_point_fails": [int(i) for i in r.check.index[point_fails]],
                          "futures_robust_fails": [int(i) for i in r.check.index[robust_fails]]},
        "proven_gap": r.optimality_gap,
        "rounds": list(r.rounds),
        "stopped_by_time_limit": r.stopped_by_time_limit,
        "solve_seconds": r.solve_seconds,
        "seconds": seconds,
        "robust": {"physical_beds": rm["physical_beds"], "virtual_beds": rm["virtual_beds"],
                   "annual_cost_gbp": rm["annual_cost_gbp"], "open_sites": rm["open_sites"], "beds_by_site": robust_sites},
        "point": {"physical_beds": pm["physical_beds"], "virtual_beds": pm["virtual_beds"],
                  "annual_cost_gbp": pm["annual_cost_gbp"], "open_sites": pm["open_sites"], "beds_by_site": point_sites,
                  "status": r.point.status},
        "what_extra_beds_buy": {"hospital_beds": extra_beds, "home_based_beds": extra_virtual,
                                "annual_cost_gbp": extra_cost,
                                "sites_changed": {s: {"point": a, "robust": b} for s, (a, b) in changed.items()},
                                "reliability_gained": float((~robust_fails).mean() - (~point_fails).mean())},
        "point_fails_most_when": drivers,
        "in_plain_words": words,
    }


def write_robust(result: RobustResult, dataset: Dataset, out) -> None:
    """The robust configuration's result files in ``out`` (as ``solve`` writes them), the
    point answer's in ``out/point``, and ``robust.json`` (the comparison) and
    ``out_of_sample.csv`` (each independent future: its figures, and whether each
    configuration meets the target)."""
    import json
    from pathlib import Path

    from optimiser.dataset.store import atomic_write_text
    from optimiser.outputs import write_results

    out = Path(out)
    write_results(result.solution, dataset, out)
    write_results(result.point, dataset, out / "point")
    atomic_write_text(out / "robust.json", json.dumps(result.summary, indent=2, default=_plain))
    atomic_write_text(out / "out_of_sample.csv", result.check.to_csv(float_format="%.10g"))


def _plain(value):
    if isinstance(value, (np.floating, np.integer, np.bool_)):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")
