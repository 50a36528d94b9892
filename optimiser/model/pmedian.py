r"""The classical p-median at scale: a Lagrangian bound, fast interchange, reduced-cost fixing,
branching on sites and exact zone aggregation around the shared formulation.

The p-median (open exactly :math:`p` sites, send every zone to its nearest open site,
minimise demand-weighted travel) is solved in these steps; the exact models use the one
formulation (:mod:`optimiser.model.formulation`, radius form) and either backend:

1. **Good answers fast.** A greedy start, then *fast interchange* (the best single swap of an
   open and a closed site, repeated until none improves: Whitaker 1983; Resende & Werneck
   2007), all in numpy. With :math:`d^1_i, d^2_i` each zone's nearest and second-nearest open
   costs, :math:`\phi_i` its nearest open site, swapping closed :math:`a` in and open
   :math:`r` out changes the total by
   :math:`-\mathrm{gain}(a) + \mathrm{loss}(r) - \mathrm{extra}(a, r)` with
   :math:`\mathrm{gain}(a) = \sum_i (d^1_i - c_{ia})^+`,
   :math:`\mathrm{loss}(r) = \sum_{\phi_i = r} (d^2_i - d^1_i)` and
   :math:`\mathrm{extra}(a, r) = \sum_{\phi_i = r} (d^2_i - \max(c_{ia}, d^1_i))^+`. Only a
   zone's sites nearer than its second-nearest open one contribute, read off each zone's
   sites sorted once by cost, so a pass costs the length of those lists, not zones x sites.
2. **A bound that scales with sites, not zones x times.** Relaxing "every zone is served
   once" with multipliers :math:`\lambda_i` leaves
   :math:`L(\lambda) = \sum_i \lambda_i + \min_{|Y| = p} \sum_{j \in Y} \rho_j`,
   :math:`\rho_j = \sum_i \min(0, c_{ij} - \lambda_i)`: the :math:`p` sites of least
   :math:`\rho`. Subgradient steps on :math:`\lambda` (Held, Wolfe & Crowder 1974) drive it to
   the linear relaxation's bound; each step touches only the pairs cheaper than
   :math:`\lambda_i` (a prefix of each zone's sorted sites). The relaxation's site choices
   seed more interchange.
3. **Reduced-cost fixing and probing.** At any :math:`\lambda`, opening a site
   :math:`j \notin Y` costs at least :math:`L + \rho_j - \rho_{[p]}` and closing
   :math:`j \in Y` at least :math:`L - \rho_j + \rho_{[p+1]}`; where that reaches the target
   :math:`T` (the incumbent, less half a unit when every cost is a whole number, less the gap
   tolerance) no answer better than the target has that site otherwise, so it is fixed.
   Probing forces a free site the other way and re-optimises the dual briefly.
4. **Branching on sites, exact models at the leaves.** Depth first, each node forces a site
   open or closed and re-optimises the dual from its parent's multipliers (fixing more on
   the way); a node whose bound reaches the target is closed. A node with few free sites (or
   the root, when its bound is within 0.1% of the incumbent) is a leaf: with the fixed sites
   settled, a zone only ever uses one of its sites up to the first fixed-open one or the
   :math:`(|R| - q + 1)`-th free one (:math:`q` of the free set :math:`R` open); zones whose
   sites come in the same order up to that point always use the same site, so they merge into
   one zone whose cost to each site is the sum of theirs. That exact, smaller instance goes to
   the shared formulation and the chosen backend, started from the incumbent. The optimum is
   at least :math:`\max(L^*, \min(T, \text{lowest bound of an unfinished leaf}))`; when the
   bound alone closes every branch the backend still scores the answer as a cross-check.

Finally the open sites are scored on the original zones (every zone to its nearest open
site), so the answer's tables and metrics never depend on the reductions.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from optimiser.instance import Instance
from optimiser.model.backends import Status, solve_program
from optimiser.model.formulation import build, configuration_start
from optimiser.solution import Solution, Tables

BOUND_SHARE_OF_TIME = 0.3        # at most this share of the time limit goes to the bound
BOUND_SECONDS = 30.0             # ... and at most this long
PROBE_ITERATIONS = 60          # subgradient steps per probed site
PROBE_ABOVE = 30               # probe while more sites than this are free,
PROBE_GAP = 0.003              # ... or more than PROBE_BELOW when the bound is this far below the incumbent
PROBE_BELOW = 12
PROBE_MISSES = 8               # probing stops after this many sites in a row that stay free
DENSE_PAIRS = 1_000_000        # up to this many pairs whole-matrix passes beat the sorted prefixes
CANDIDATES = 6                 # the relaxation's latest site choices the interchange starts from
LEAF_FREE = 16                 # branching stops at this many free sites: the formulation takes over
DIRECT_GAP = 0.001             # ... or straight away when the root bound is this close,
DIRECT_FREE = 30               # or PROBE_GAP close with at most this many free sites,
DIRECT_LEVELS = 200_000        # and the reduced model has at most this many levels
NODE_ITERATIONS = 120          # subgradient steps per branching node
QUICK_SECONDS = 10.0             # the quick answer's budget for interchange and the bound


# ---------------------------------------------------------------------------------------
# the problem as arrays
# ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Problem:
    """A p-median on weighted costs: ``cost[i, j]`` = zone i's demand x travel to site j
    (zones without demand left out)."""

    cost: np.ndarray            # (Z, S) float64
    zone_rows: np.ndarray       # index into the instance's zones of each row
    p: int
    must_open: np.ndarray       # (S,) bool
    closed: np.ndarray          # (S,) bool
    scale: float                # objective = scale * total cost (the travel weight)
    integral: bool              # every cost a whole number: a better answer is at least 1 lower
    order: np.ndarray           # (Z, S) each zone's sites, cheapest first (ties: lower index)
    sorted_cost: np.ndarray     # (Z, S) cost in that order
    width: list = field(default_factory=lambda: [1 << 30])   # how far the last multipliers reached

    @property
    def n_sites(self) -> int:
        return self.cost.shape[1]


def applies(inst: Instance) -> bool:
    """True for the classical p-median: exactly p sites open, one ward and one pathway at every
    site, no capacity, travel standard, equity, virtual beds, budget, lexicographic stages,
    alternatives or site costs, finite travel everywhere, and the travel term alone in the
    objective."""
    r, w = inst.rules, inst.weights
    pw = inst.pathways
    if r.open_exactly is None or r.capacity_limits or r.coverage or r.budget is not None:
        return False
    if r.open_at_least is not None or r.open_at_most is not None or r.min_beds_open_site > 1:
        return False
    if inst.virtual is not None or w.lexicographic or w.equity or inst.solver.alternatives:
        return False
    if inst.solver.assignment_form == "shares" or len(inst.wards) != 1 or len(pw.ids) != 1:
        return False
    if not pw.site_allowed.all() or np.isfinite(pw.max_travel).any() or w.travel <= 0:
        return False
    if w.cost and (inst.sites.fixed_cost.any() or inst.sites.cost_per_bed.any()):
        return False
    opt = inst.bed_choices
    one_bed = np.bincount(opt.option_unit, weights=(opt.option_beds > 0).astype(float),
                          minlength=len(opt.unit_site))
    if len(opt.unit_site) != inst.n_sites or not np.array_equal(np.sort(opt.unit_site), np.arange(inst.n_sites)):
        return False
    if (one_bed != 1).any() or (w.cost and opt.option_capital.any()):
        return False
    if inst.virtual_admissions.any() or not np.isfinite(inst.travel).all() or (inst.travel < 0).any():
        return False
    free = inst.sites.status >= 0
    return 1 <= r.open_exactly <= int(free.sum()) and int((inst.sites.status > 0).sum()) <= r.open_exactly


def problem_of(inst: Instance) -> Problem:
    demand = inst.hospital_admissions[:, 0]
    rows = np.flatnonzero(demand > 0)
    cost = demand[rows, None] * inst.travel[rows]
    integral = bool(np.all(cost == np.round(cost))) and float(np.abs(cost).sum()) < 2 ** 52
    index = np.int16 if cost.shape[1] < 2 ** 15 else np.int32
    order = np.argsort(cost, axis=1, kind="stable").astype(index)
    return Problem(cost=np.ascontiguousarray(cost, float), zone_rows=rows, p=int(inst.rules.open_exactly),
                   must_open=inst.sites.status > 0, closed=inst.sites.status < 0,
                   scale=float(inst.weights.travel), integral=integral, order=order,
                   sorted_cost=np.take_along_axis(cost, order.astype(np.intp), axis=1))


# ---------------------------------------------------------------------------------------
# primal: greedy and fast interchange
# ---------------------------------------------------------------------------------------

def total_cost(cost: np.ndarray, open_sites: np.ndarray) -> float:
    """Every zone to its nearest open site."""
    return float(cost[:, np.flatnonzero(open_sites)].min(axis=1).sum())


def _sums(index: np.ndarray, weights: np.ndarray, minlength: int) -> np.ndarray:
    """np.bincount with weights, always float (an empty input would give integers)."""
    return np.bincount(index, weights=weights, minlength=minlength).astype(float, copy=False)


def _prefix(length: np.ndarray, n_s: int) -> tuple[np.ndarray, np.ndarray]:
    """(zone, flat index into the sorted arrays) of each zone's first ``length`` sites."""
    zone = np.repeat(np.arange(len(length)), length)
    start = np.repeat(np.cumsum(length) - length, length)
    return zone, zone * n_s + (np.arange(len(zone)) - start)


def _first_true(flags_of, n_z: int, n_s: int, width: int, need: int) -> np.ndarray:
    """Position (in each zone's sorted order) of its ``need``-th (1st or 2nd) site whose flag
    is set, looking at the first ``width`` positions and widening only for the zones that need
    it; ``n_s`` where there is none. ``flags_of(rows, width)`` gives those rows' flags."""
    pos = np.full(n_z, n_s)
    todo = np.arange(n_z)
    while len(todo):
        flags = flags_of(todo, width)
        local = np.arange(len(todo))
        first = np.argmax(flags, axis=1)
        found = flags[local, first]
        if need == 2:
            flags[local, first] = False
            second = np.argmax(flags, axis=1)
            found &= flags[local, second]
            first = second
        pos[todo[found]] = first[found]
        if width >= n_s:
            break
        todo = todo[~found]
        width = min(n_s, 2 * width)
    return pos


class _Nearest:
    """Each zone's nearest and second-nearest open site, read off its sorted order."""

    def __init__(self, prob: Problem, is_open: np.ndarray, far: float, second: bool = True):
        n_z, n_s = prob.order.shape
        width = min(n_s, 4 * max(1, -(-n_s // max(1, int(is_open.sum())))) + 4)

        def flags_of(rows, w):
            return is_open[prob.order[:, :w] if len(rows) == n_z else prob.order[rows, :w]]

        self.pos1 = _first_true(flags_of, n_z, n_s, width, 1)
        self.pos2 = (_first_true(flags_of, n_z, n_s, width, 2) if second and is_open.sum() > 1
                     else np.full(n_z, n_s))
        rows = np.arange(n_z)
        self.d1 = prob.sorted_cost[rows, self.pos1]
        self.site1 = prob.order[rows, self.pos1].astype(np.intp)
        has2 = self.pos2 < n_s
        self.d2 = np.where(has2, prob.sorted_cost[rows, np.minimum(self.pos2, n_s - 1)], far)

    @property
    def value(self) -> float:
        return float(self.d1.sum())


def greedy(prob: Problem) -> np.ndarray:
    """Open the forced sites, then repeatedly the site that saves the most (savings summed over
    each zone's sites nearer than its nearest open one)."""
    n_z, n_s = prob.order.shape
    is_open = prob.must_open.copy()
    allowed = ~prob.closed
    far = float(prob.sorted_cost[:, -1].max()) + 1.0
    while is_open.sum() < prob.p:
        if not is_open.any():
            saving = -prob.cost.sum(axis=0)
        else:
            near = _Nearest(prob, is_open, far, second=False)
            zone, flat = _prefix(near.pos1, n_s)
            saving = _sums(prob.order.ravel()[flat], weights=near.d1[zone] - prob.sorted_cost.ravel()[flat],
                                 minlength=n_s)
        saving[is_open | ~allowed] = -np.inf
        is_open[int(np.argmax(saving))] = True
    return is_open


def local_search(prob: Problem, is_open: np.ndarray, deadline: float = math.inf) -> tuple[np.ndarray, float]:
    """Fast interchange from ``is_open``: the best swap while one improves. Never worse than
    its start; deterministic (ties go to the lowest site index). Only the sites nearer than a
    zone's second-nearest open site enter its gain and extra terms, so each pass costs the
    length of those lists, not zones x sites."""
    n_z, n_s = prob.order.shape
    is_open = is_open.copy()
    far = float(prob.sorted_cost[:, -1].max()) + 1.0
    can_in = ~prob.closed
    can_out = ~prob.must_open
    order_flat, cost_flat = prob.order.ravel(), prob.sorted_cost.ravel()
    near = _Nearest(prob, is_open, far)
    tol = 1e-9 * max(1.0, abs(near.value))
    while time.perf_counter() < deadline:
        zone, flat = _prefix(np.minimum(near.pos2, n_s), n_s)
        site, c = order_flat[flat].astype(np.intp), cost_flat[flat]
        d1, d2 = near.d1[zone], near.d2[zone]
        gain = _sums(site, weights=np.maximum(d1 - c, 0.0), minlength=n_s)
        loss = _sums(near.site1, weights=near.d2 - near.d1, minlength=n_s)
        extra = _sums(near.site1[zone] * n_s + site, weights=np.maximum(d2 - np.maximum(c, d1), 0.0),
                            minlength=n_s * n_s).reshape(n_s, n_s)
        outs, ins = np.flatnonzero(is_open & can_out), np.flatnonzero(~is_open & can_in)
        if not len(outs) or not len(ins):
            break
        delta = loss[outs, None] - gain[None, ins] - extra[np.ix_(outs, ins)]   # (out r, in a)
        k = int(np.argmin(delta))
        r, a = outs[k // len(ins)], ins[k % len(ins)]
        if not delta.flat[k] < -tol:
            break
        is_open[r], is_open[a] = False, True
        near = _Nearest(prob, is_open, far)
    return is_open, near.value


# ---------------------------------------------------------------------------------------
# bound: Lagrangian relaxation with reduced-cost fixing
# ---------------------------------------------------------------------------------------

@dataclass
class Bound:
    value: float                 # best Lagrangian bound L*
    fixed_open: np.ndarray       # (S,) bool, includes must-open sites
    fixed_closed: np.ndarray     # (S,) bool, includes closed sites
    target: float                # fixings hold for every answer below this
    iterations: int
    candidates: list             # site sets the relaxation chose (for the interchange)
    multipliers: np.ndarray      # lambda at the best bound
    probed: int = 0              # sites fixed by probing


def _target(prob: Problem, upper: float, gap: float) -> float:
    """Answers below this value are the ones worth finding: the incumbent less the gap
    tolerance, and less half a unit when every cost is a whole number (a better answer is then
    at least one unit better, so nothing at or above the target is below the incumbent)."""
    t = upper - gap * abs(upper)
    if prob.integral:
        t = min(t, upper - 0.5)
    return t


def _below(prob: Problem, lam: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(zone, site, cost - multiplier) of every pair cheaper than the zone's multiplier: a
    prefix of each zone's sorted sites."""
    n_z, n_s = prob.order.shape
    if n_z * n_s <= DENSE_PAIRS:
        below = prob.sorted_cost[:, :prob.width[0]] < lam[:, None]
        if below.shape[1] < n_s and below[:, -1].any():
            below = prob.sorted_cost < lam[:, None]
        width = below.shape[1]
        k = below.sum(axis=1)
        prob.width[0] = min(n_s, int(k.max(initial=0)) + 8)      # the next call looks this far
        flat = np.flatnonzero(below)
        zone = flat // width
        flat = zone * n_s + (flat - zone * width)
    else:
        k = _first_true(lambda rows, w: (prob.sorted_cost[:, :w] >= lam[:, None]) if len(rows) == n_z
                        else (prob.sorted_cost[rows, :w] >= lam[rows, None]), n_z, n_s, min(n_s, 16), 1)
        zone, flat = _prefix(k, n_s)
    return zone, prob.order.ravel()[flat].astype(np.intp), prob.sorted_cost.ravel()[flat] - lam[zone]


def _subgradient(prob: Problem, upper: float, target: float, lam: np.ndarray, fixed_open: np.ndarray,
                 fixed_closed: np.ndarray, *, deadline: float, max_iterations: int, theta: float,
                 keep_candidates: bool = False, fix: bool = True):
    """Subgradient ascent on L(lambda) from ``lam`` with the given sites forced; fixes sites by
    reduced cost on the way (in place) when ``fix``. Returns (best bound, its multipliers,
    iterations, candidates); it stops as soon as the bound reaches the target (nothing below the
    target has these fixings), and returns +inf when no answer has them."""
    n_z, n_s = prob.cost.shape
    tol = 1e-9 * max(1.0, abs(upper))
    best, best_lam = -np.inf, lam.copy()
    stall = 0
    candidates: list[np.ndarray] = []
    direction = np.zeros(n_z)
    it = 0
    for it in range(1, max_iterations + 1):
        if time.perf_counter() > deadline:
            break
        zone, site, gain = _below(prob, lam)
        rho = _sums(site, weights=gain, minlength=n_s)
        free = ~(fixed_open | fixed_closed)
        q = prob.p - int(fixed_open.sum())
        free_idx = np.flatnonzero(free)
        if q < 0 or q > len(free_idx):
            return np.inf, lam, it, candidates          # no answer has these fixings
        order = free_idx[np.argsort(rho[free_idx], kind="stable")]
        y = fixed_open.copy()
        y[order[:q]] = True
        value = float(lam.sum() + rho[y].sum())
        if value > best + tol:
            best, best_lam, stall = value, lam.copy(), 0
        else:
            stall += 1
        if value >= target + tol:
            if fix:
                fixed_open[:] = y
                fixed_closed[:] = ~y
            return value, lam, it, candidates
        if fix and 0 < q < len(order):
            # reduced-cost fixing (valid at any multipliers)
            outs, ins = order[q:], order[:q]
            fixed_closed[outs[value + rho[outs] - rho[order[q - 1]] >= target + tol]] = True
            fixed_open[ins[value - rho[ins] + rho[order[q]] >= target + tol]] = True
        if q == 0 or q == len(free_idx):
            break
        if keep_candidates and it % 50 == 0:
            candidates.append(y.copy())
            del candidates[:-CANDIDATES]
        # subgradient: 1 - number of chosen sites cheaper than the zone's multiplier
        g = 1.0 - _sums(zone, weights=y[site], minlength=n_z)
        direction = g + 0.3 * direction
        norm = float(direction @ direction)
        if norm == 0:
            break
        if stall >= 20:
            theta *= 0.5
            stall = 0
            lam = best_lam.copy()
            direction[:] = 0
            if theta < 1e-5:
                break
            continue
        lam = np.maximum(lam + theta * (upper - value) / norm * direction, 0.0)
    return best, best_lam, it, candidates


def lagrangian_bound(prob: Problem, upper: float, *, gap: float = 0.0, deadline: float = math.inf,
                     max_iterations: int = 3000, upper_sites: np.ndarray | None = None,
                     multipliers: np.ndarray | None = None, probe: bool = True) -> Bound:
    """Subgradient optimisation of the Lagrangian dual, fixing sites by reduced cost on the
    way, then *probing*: sites still free are forced the other way, in order of their reduced
    cost, and the dual re-optimised briefly from the best multipliers; where that bound reaches
    the target the site is fixed (probing stops after ``PROBE_MISSES`` misses in a row).
    ``upper``: the incumbent's cost; ``multipliers``: a start (else the incumbent's costs)."""
    cost = prob.cost
    n_s = cost.shape[1]
    fixed_open = prob.must_open.copy()
    fixed_closed = prob.closed.copy()
    target = _target(prob, upper, gap)
    if multipliers is not None:
        lam = multipliers.copy()
    elif upper_sites is not None:
        lam = cost[:, np.flatnonzero(upper_sites)].min(axis=1).copy()
    else:
        lam = np.partition(cost, 1, axis=1)[:, 1].copy() if n_s > 1 else cost[:, 0].copy()
    best, lam, iterations, candidates = _subgradient(prob, upper, target, lam, fixed_open, fixed_closed,
                                                     deadline=deadline, max_iterations=max_iterations,
                                                     theta=2.0 if multipliers is None else 0.5,
                                                     keep_candidates=True)
    probed = 0
    while probe and best < target and time.perf_counter() < deadline:
        free = np.flatnonzero(~(fixed_open | fixed_closed))
        if len(free) <= PROBE_BELOW or (len(free) <= PROBE_ABOVE and (upper - best) < PROBE_GAP * upper):
            break           # the exact model with this few free sites is quicker than probing
        _, site, gain = _below(prob, lam)
        rho = _sums(site, weights=gain, minlength=n_s)
        q = prob.p - int(fixed_open.sum())
        if q <= 0 or q >= len(free):
            break
        order = free[np.argsort(rho[free], kind="stable")]
        ins, outs = order[:q], order[q:]
        # what forcing each site the other way costs at these multipliers: probe the dearest first
        penalty = np.concatenate([rho[order[q]] - rho[ins], rho[outs] - rho[order[q - 1]]])
        sites = np.concatenate([ins, outs])[np.argsort(-penalty, kind="stable")]
        chosen = set(ins.tolist())
        changed, misses = False, 0
        for j in sites:
            if time.perf_counter() > deadline or misses >= PROBE_MISSES:
                break
            fo, fc = fixed_open.copy(), fixed_closed.copy()
            if j in chosen:
                fc[j] = True
            else:
                fo[j] = True
            b, _, k, _ = _subgradient(prob, upper, target, lam.copy(), fo, fc, deadline=deadline,
                                      max_iterations=PROBE_ITERATIONS, theta=0.5, fix=False)
            iterations += k
            if b >= target:
                probed += 1
                changed, misses = True, 0
                if j in chosen:
                    fixed_open[j] = True
                else:
                    fixed_closed[j] = True
            else:
                misses += 1
        if not changed:
            break
        b, lam2, k, _ = _subgradient(prob, upper, target, lam.copy(), fixed_open, fixed_closed,
                                     deadline=deadline, max_iterations=300, theta=0.5)
        iterations += k
        if b > best:
            best, lam = b, lam2
    return Bound(best, fixed_open, fixed_closed, target, iterations, candidates, lam, probed)


# ---------------------------------------------------------------------------------------
# the exact reduced instance
# ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Reduced:
    instance: Instance
    sites: np.ndarray           # original site index of each reduced site
    groups: int
    zones: int
    levels: int                 # distinct (group, travel time) levels: the radius form's size


def reduced_instance(inst: Instance, prob: Problem, fixed_open: np.ndarray, fixed_closed: np.ndarray) -> Reduced:
    """Drop the sites fixed closed, keep the fixed-open ones open, and merge zones that use
    their sites in the same order up to where it can matter (see the module docstring)."""
    keep = np.flatnonzero(~fixed_closed)
    is_f1 = fixed_open[keep]
    n_free = int((~is_f1).sum())
    q = prob.p - int(is_f1.sum())
    depth = n_free - q + 1                       # one of each zone's first `depth` free sites is open
    cost = prob.cost[:, keep]
    order = np.argsort(cost, axis=1, kind="stable")
    f1_sorted = is_f1[order]
    free_rank = np.cumsum(~f1_sorted, axis=1)
    stop = f1_sorted | ((~f1_sorted) & (free_rank >= depth))
    length = np.argmax(stop, axis=1) + 1         # positions 0..length-1 matter
    width = int(length.max())
    pos = np.arange(width)
    key = np.where(pos[None, :] < length[:, None], order[:, :width], -1).astype(np.int32)
    _, group, counts = np.unique(key, axis=0, return_inverse=True, return_counts=True)
    group = group.ravel()
    n_g = len(counts)
    summed = np.zeros((n_g, len(keep)))
    np.add.at(summed, group, cost)
    # beyond the positions that matter, a group's cost is its last one that matters
    first_of = np.zeros(n_g, int)
    first_of[group[::-1]] = np.arange(len(group))[::-1]
    g_order = order[first_of]
    g_len = length[first_of]
    last_site = g_order[np.arange(n_g), g_len - 1]
    last_value = summed[np.arange(n_g), last_site]
    rank = np.empty_like(g_order)
    rank[np.arange(n_g)[:, None], g_order] = np.arange(len(keep))[None, :]
    summed = np.where(rank < g_len[:, None], summed, last_value[:, None])
    demand = np.bincount(group, weights=inst.hospital_admissions[prob.zone_rows, 0], minlength=n_g)
    travel = summed / demand[:, None]
    ids = np.array([f"group_{g}" for g in range(n_g)], object)
    reduced = Instance.p_median(travel, prob.p, demand, name=inst.name, zone_ids=ids,
                                site_ids=inst.sites.ids[keep], solver=replace(inst.solver, alternatives=0))
    status = np.where(is_f1, 1, 0).astype(np.int8)
    reduced = replace(reduced, sites=replace(reduced.sites, status=status, names=inst.sites.names[keep]),
                      weights=replace(reduced.weights, travel=1.0))
    return Reduced(reduced, keep, n_g, len(group), int(length[first_of].sum()))


def _solve_reduced(red: Reduced, start_open: np.ndarray | None, deadline: float, gap: float):
    """The reduced instance through the shared formulation and the chosen backend, which gets
    whatever time is left before ``deadline`` once the model is built."""
    inst = red.instance
    f = build(inst)
    hint = None
    if start_open is not None and inst.solver.backend == "ortools":
        hint = configuration_start(f, start_open[red.sites].astype(int), None)
    program = f.lp.freeze(inst.weights.as_dict())
    sv = inst.solver
    left = deadline - time.perf_counter()
    res = solve_program(program, sv.backend, ortools_solver=sv.ortools_solver, time_limit=max(left, 0.05),
                        mip_gap=gap, hint=hint)
    return f, res


def _choice(prob: Problem, lam: np.ndarray, fixed_open: np.ndarray, fixed_closed: np.ndarray):
    """The relaxation's sites at ``lam`` (forced ones, then the cheapest free by rho) and rho."""
    _, site, gain = _below(prob, lam)
    rho = _sums(site, weights=gain, minlength=prob.n_sites)
    free = np.flatnonzero(~(fixed_open | fixed_closed))
    q = prob.p - int(fixed_open.sum())
    order = free[np.argsort(rho[free], kind="stable")]
    y = fixed_open.copy()
    y[order[:max(q, 0)]] = True
    return y, rho, order


@dataclass
class Search:
    """What the branching found: the best answer, the lowest bound still open (``inf`` when
    every branch was closed: nothing below the final target exists), the final target."""

    is_open: np.ndarray
    value: float
    target: float
    unfinished: float
    nodes: int
    leaves: int
    solver: str
    leaf_seconds: float


def branch_and_bound(inst: Instance, prob: Problem, primal, bound: Bound, deadline: float, gap: float) -> Search:
    """Lagrangian branching on sites, the shared formulation at the leaves. Depth first: at each
    node the dual is re-optimised from its parent's multipliers (with reduced-cost fixing);
    a node whose bound reaches the target holds nothing better and is closed; a node with at
    most ``LEAF_FREE`` free sites goes, reduced and aggregated, to the formulation and the
    chosen backend, whose answer and bound settle it; otherwise the relaxation's most
    attractive free site is forced open, then closed. Every improvement found lowers the
    target for the rest of the search."""
    best, upper = primal.is_open.copy(), primal.value
    target = _target(prob, upper, gap)
    stack = [(bound.fixed_open.copy(), bound.fixed_closed.copy(), bound.multipliers.copy(), bound.value, True)]
    unfinished, nodes, leaves, solver, leaf_seconds = np.inf, 0, 0, "", 0.0
    while stack:
        fo, fc, lam, parent, root = stack.pop()
        if parent >= target:
            continue
        if time.perf_counter() > deadline:
            unfinished = min([unfinished, parent] + [n[3] for n in stack])
            break
        nodes += 1
        value = parent
        # at the root, a bound within DIRECT_GAP of the incumbent: the exact model usually closes
        # that at its own root, whatever the number of free sites
        n_free = len(np.flatnonzero(~(fo | fc)))
        direct = root and (upper - parent <= DIRECT_GAP * abs(upper)
                           or (n_free <= DIRECT_FREE and upper - parent <= PROBE_GAP * abs(upper)))
        if n_free > LEAF_FREE and not direct:
            value, lam, _, _ = _subgradient(prob, upper, target, lam, fo, fc, deadline=deadline,
                                            max_iterations=NODE_ITERATIONS, theta=0.25)
            value = max(value, parent)
            if value >= target:
                continue
            y, _, order = _choice(prob, lam, fo, fc)
            if nodes % 8 == 2:
                is_open, v = local_search(prob, y, deadline)
                if v < upper - 1e-9 * abs(upper):
                    best, upper = is_open, v
                    target = _target(prob, upper, gap)
                    if value >= target:
                        continue
        free = np.flatnonzero(~(fo | fc))
        if len(free) <= LEAF_FREE or direct:
            red = reduced_instance(inst, prob, fo, fc)
            if direct and len(free) > LEAF_FREE and red.levels > DIRECT_LEVELS:
                stack.append((fo, fc, lam, parent, False))      # too large to go straight: branch
                continue
            leaves += 1
            start = best if (best[fo].all() and not best[fc].any()) else None
            t = time.perf_counter()
            leaf_deadline = deadline
            if direct and len(free) > LEAF_FREE:      # a quarter of the time left, then branching
                leaf_deadline = t + 0.25 * (deadline - t)
            f, res = _solve_reduced(red, start, leaf_deadline, gap)
            leaf_seconds += time.perf_counter() - t
            solver = res.solver
            if res.status.has_solution:
                yy = res.values[f.lp.variables("site_open")] > 0.5
                leaf_open = np.zeros(prob.n_sites, bool)
                leaf_open[red.sites[yy]] = True
                v = total_cost(prob.cost, leaf_open)
                if v < upper - 1e-9 * abs(upper):
                    best, upper = leaf_open, v
                    target = _target(prob, upper, gap)
            if res.status == Status.INFEASIBLE:
                continue            # nothing below the target with these fixings
            if direct and len(free) > LEAF_FREE and res.status != Status.OPTIMAL and time.perf_counter() < deadline:
                stack.append((fo, fc, lam, parent, False))
                continue
            leaf_bound = res.bound if res.status.has_solution and res.bound is not None else -np.inf
            leaf_bound = max(leaf_bound, value)
            if leaf_bound < target:
                unfinished = min(unfinished, leaf_bound)
            continue
        j = int(order[0]) if len(order) else int(free[0])    # the relaxation's most attractive free site
        closed = fc.copy()
        closed[j] = True
        opened = fo.copy()
        opened[j] = True
        stack.append((fo.copy(), closed, lam.copy(), value, False))
        stack.append((opened, fc.copy(), lam.copy(), value, False))
    return Search(best, upper, target, unfinished, nodes, leaves, solver, leaf_seconds)


# ---------------------------------------------------------------------------------------
# the answer on the original zones
# ---------------------------------------------------------------------------------------

def solution_from_sites(inst: Instance, is_open: np.ndarray, *, name: str, status: str, message: str,
                        solver: str, seconds: float, gap: float | None, notes: tuple[str, ...] = ()) -> Solution:
    """Tables and metrics of a set of open sites: every zone to its nearest open site (ties to
    the first site in the instance's order), scored on the instance itself."""
    open_idx = np.flatnonzero(is_open)
    sub = inst.travel[:, open_idx]
    nearest = open_idx[np.argmin(sub, axis=1)]
    demand = inst.hospital_admissions[:, 0]
    has = demand > 0
    pid = inst.pathways.ids[0]
    units = pd.DataFrame({"site_id": inst.sites.ids, "ward": inst.wards[0],
                          "beds": is_open.astype(int)})
    units = units[units["beds"] > 0].reset_index(drop=True)
    assignment = pd.DataFrame({"zone_code": inst.zones.ids[has], "site_id": inst.sites.ids[nearest[has]],
                               "pathway": pid, "share": 1.0})
    empty = Tables(units, assignment, pd.DataFrame(columns=["zone_code", "pathway", "share"]),
                   pd.DataFrame(columns=["district_code", "beds"]),
                   pd.DataFrame(columns=["district_code", "site_id", "pathway", "admissions_per_year"]),
                   pd.DataFrame(columns=["district_code", "pathway", "admissions_per_year"]))
    minutes = inst.travel[np.arange(inst.n_zones), nearest]
    objective = float(inst.weights.travel * (demand * minutes).sum())
    metrics = p_median_metrics(inst, empty, minutes, demand, gap)
    return Solution(name=name, status=status, status_message=message, objective=objective, tables=empty,
                    metrics=metrics, solver=solver, solve_seconds=seconds, optimality_gap=gap,
                    mode="p_median", notes=notes, _instance=inst)


def p_median_metrics(inst: Instance, tables: Tables, minutes: np.ndarray, demand: np.ndarray,
                     gap: float | None) -> dict:
    """What a p-median user reads: the objective's travel term (demand x minutes), the
    demand-weighted mean and the longest travel to the assigned site, the sites opened, and the
    shares of demand within 20, 30 and 45 minutes. Capacity, cost and queueing metrics mean
    nothing here and are left out. (The independent solution check recomputes the objective, the longest journey
    and the count of open sites with its own code.)"""
    has = demand > 0
    total = float(demand.sum())
    m: dict[str, float] = {
        "weighted_travel": float((demand * minutes).sum()),
        "mean_travel_minutes": float((demand * minutes).sum() / total) if total > 0 else float("nan"),
        "max_travel_minutes": float(minutes[has].max()) if has.any() else float("nan"),
        "open_sites": float(len(tables.units)),
        "candidate_sites": float(inst.n_sites),
        "zones": float(inst.n_zones),
        "demand_total": total,
    }
    for t in (20, 30, 45):
        m[f"share_of_demand_within_{t}_minutes"] = float(demand[minutes <= t + 1e-9].sum() / total) if total else float("nan")
    return m


# ---------------------------------------------------------------------------------------
# the two entry points
# ---------------------------------------------------------------------------------------

@dataclass
class _Primal:
    is_open: np.ndarray
    value: float


def _good_answer(prob: Problem, deadline: float, start: np.ndarray | None = None) -> _Primal:
    candidates = [greedy(prob)]
    if start is not None and start.sum() == prob.p and not (start & prob.closed).any() \
            and (start | ~prob.must_open).all():
        candidates.append(start.copy())
    best = None
    for c in candidates:
        is_open, value = local_search(prob, c, deadline)
        if best is None or value < best.value - 1e-9 * abs(value):
            best = _Primal(is_open, value)
    return best


def _improve_from(prob: Problem, best: _Primal, candidates, deadline: float) -> _Primal:
    """Interchange from the relaxation's site choices; keep the best answer."""
    seen = {best.is_open.tobytes()}
    for y in candidates:
        if time.perf_counter() > deadline:
            break
        if y.tobytes() in seen or y.sum() != prob.p:
            continue
        seen.add(y.tobytes())
        is_open, value = local_search(prob, y, deadline)
        if value < best.value - 1e-9 * abs(best.value):
            best = _Primal(is_open, value)
    return best


def _lower(prob: Problem, value: float) -> float:
    return math.ceil(value - 1e-6) if prob.integral else value


def solve_p_median(inst: Instance, name: str | None = None, start_beds: np.ndarray | None = None) -> Solution:
    """Solve a classical p-median (see :func:`applies`) to the instance's gap tolerance within
    its time limit: interchange, Lagrangian bound and fixing, then the exact reduced model on
    the chosen backend. ``start_beds``: beds per unit of a previous answer (a start)."""
    started = time.perf_counter()
    start_open = None
    if start_beds is not None:
        start_open = np.zeros(inst.n_sites, bool)
        start_open[inst.bed_choices.unit_site[np.asarray(start_beds) > 0]] = True
    name = name or inst.name
    sv = inst.solver
    limit = float(sv.time_limit_seconds)
    prob = problem_of(inst)
    bound_deadline = started + min(BOUND_SECONDS, BOUND_SHARE_OF_TIME * limit)
    primal = _good_answer(prob, bound_deadline, start_open)
    first = lagrangian_bound(prob, primal.value, gap=sv.mip_gap, deadline=bound_deadline,
                             upper_sites=primal.is_open, probe=False)
    bound = first
    if first.value < first.target:
        before = primal.value
        primal = _improve_from(prob, primal, first.candidates[::-1], bound_deadline)
        n_free = len(np.flatnonzero(~(first.fixed_open | first.fixed_closed)))
        probing = n_free > PROBE_ABOVE or (n_free > PROBE_BELOW and primal.value - first.value >= PROBE_GAP * primal.value)
        if primal.value < before or probing:
            # the multipliers have converged: a few steps re-fix against the new target, unless probing
            bound = lagrangian_bound(prob, primal.value, gap=sv.mip_gap, deadline=bound_deadline,
                                     multipliers=first.multipliers, max_iterations=300 if probing else 30,
                                     probe=probing)
            bound.iterations += first.iterations
            bound.value = max(bound.value, first.value)
    bounded = time.perf_counter()
    # the answer is scored on every zone after the solver: keep a little of the limit for it
    deadline = started + limit - min(0.05 * limit, 2.0)
    search = branch_and_bound(inst, prob, primal, bound, deadline, sv.mip_gap)
    answer, answer_value = search.is_open, search.value
    extra_notes: tuple[str, ...] = ()
    if not search.leaves:
        # the bound closed every branch: the chosen backend still scores the answer through the
        # shared formulation (every site fixed, so a linear programme), as a cross-check
        red = reduced_instance(inst, prob, answer, ~answer)
        _, res = _solve_reduced(red, answer, max(deadline, time.perf_counter() + 1.0), 0.0)
        search.solver = res.solver
        if not res.status.has_solution or abs(res.objective - answer_value) > 1e-6 * max(1.0, abs(answer_value)):
            extra_notes += (f"cross-check: {res.solver} scored the answer {res.objective} ({res.status.value}), "
                            f"not {answer_value}",)
    lower = max(bound.value, min(search.target, search.unfinished))
    lower = _lower(prob, lower)
    gap = max(0.0, (answer_value - lower) / answer_value) if answer_value > 0 else 0.0
    proven = gap <= sv.mip_gap + 1e-12
    seconds = time.perf_counter() - started
    if proven:
        status, message = "optimal", Status.OPTIMAL.describe()
    else:
        status, message = "feasible", Status.FEASIBLE.describe()
    n_fixed = int((bound.fixed_open | bound.fixed_closed).sum())
    notes = tuple(inst.notes) + (
        f"p-median: interchange answer {primal.value * prob.scale:,.6g} and Lagrangian bound "
        f"{bound.value * prob.scale:,.6g} ({bound.iterations} iterations) in {bounded - started:.2f} s; "
        f"{n_fixed} of {inst.n_sites} sites fixed by reduced cost ({bound.probed} by probing); then "
        f"{search.nodes} branching node(s) and {search.leaves} reduced exact model(s) solved by {search.solver or 'none'} "
        f"({search.leaf_seconds:.2f} s of {time.perf_counter() - bounded:.2f} s)",)
    notes += extra_notes
    if not proven:
        notes += (f"the time limit ({limit:g} s) stopped the proof at a gap of {gap:.2%}",)
    return solution_from_sites(inst, answer, name=name, status=status, message=message,
                               solver=search.solver,
                               seconds=seconds, gap=gap, notes=notes)


def quick_p_median(inst: Instance, name: str | None = None, seconds: float = QUICK_SECONDS) -> Solution:
    """The quick answer for a p-median: greedy and fast interchange, with the Lagrangian bound
    for its gap; no solver is run (the full solve proves the answer)."""
    started = time.perf_counter()
    name = name or inst.name
    prob = problem_of(inst)
    deadline = started + min(seconds, float(inst.solver.time_limit_seconds))
    primal = _good_answer(prob, deadline)
    bound = lagrangian_bound(prob, primal.value, gap=0.0, deadline=deadline, upper_sites=primal.is_open,
                             probe=False)
    primal = _improve_from(prob, primal, bound.candidates[::-1], deadline)
    lower = _lower(prob, bound.value)
    gap = max(0.0, (primal.value - lower) / primal.value) if primal.value > 0 else 0.0
    how = ("a quick answer: greedy start and fast interchange (best single swaps), its gap measured "
           "against the Lagrangian bound; no solver was run (solve without --quick to prove the answer)")
    status = "optimal" if gap <= 1e-12 else "feasible"
    return solution_from_sites(inst, primal.is_open, name=name, status=status, message=how,
                               solver="p-median interchange (quick)", seconds=time.perf_counter() - started,
                               gap=gap, notes=tuple(inst.notes) + (f"quick answer in {time.perf_counter() - started:.2f} s; "
                                                                   f"Lagrangian bound {bound.value * prob.scale:,.6g}",))


__all__ = ["Problem", "applies", "greedy", "lagrangian_bound", "local_search", "problem_of", "quick_p_median",
           "reduced_instance", "solution_from_sites", "solve_p_median", "total_cost"]

