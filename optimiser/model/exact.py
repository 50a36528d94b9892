r"""The best answer, proven: a branch-and-bound on grouped relaxations of the model, every
candidate routed at full resolution.

Why not hand the whole model to the MIP solver: its few integer decisions (beds on about
ten units, which sites keep beds, home-based beds per district) sit on top of thousands of
routing columns, and its linear relaxation is weak exactly there (a unit half open pays half
its fixed cost and gets the largest ward's efficiency). General-purpose solvers spend
seconds in cut loops, restarts and heuristics on that structure. Here:

1. **Bounds on groups.** The full programme is rewritten on groups of small areas
   (:mod:`optimiser.model.aggregate`): a *fine* grouping (district, reachable sites, sites
   within the travel-standard threshold: 88 groups on LLR) whose optimum is within a few
   hundredths of a percent of the full one's, and a *coarse* one (district and reachable
   sites: 35 groups) that is twice as fast and still decides which sites and units may
   close. Both are relaxations: every bound they give holds for the full model.
2. **Branching on what matters.** A best-first branch-and-bound branches first on whether
   each site and each unit keeps beds, then on whether each district runs home-based beds
   and how many blocks, and only then, if the bound is still short of the tolerance, on the
   beds of a unit (as ranges of its bed choices). Mixed-integer rounding cuts on the
   home-based capacity rows give each district's blocks their exact hull. Each node is
   solved on the coarse grouping first; the fine one is solved only for nodes whose coarse
   bound is near the best answer.
3. **Answers at full resolution.** Candidate configurations (a start, such as the previous
   answer; each integral node and the search's rounding heuristic; the grouped quick
   model's answer when the search has not closed in ``OWN_NODES`` nodes) are routed on every small
   area with the configuration fixed, a linear programme whose value is exact. The best is
   the answer, and its gap is measured against the smallest bound left open: proven.

Nothing depends on the clock but the time limit, which only stops a search that has not
finished (the answer then says so, as a time-limited solve does).
"""

from __future__ import annotations

import heapq
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np
import scipy.sparse as sp

from optimiser.instance import Instance
from optimiser.model.aggregate import Aggregation, aggregate
from optimiser.model.backends import LpSession, RawResult, Status, solve_program
from optimiser.model.formulation import Formulation, build, configuration_start
from optimiser.model.lp import FrozenProgram

INT_TOL = 1e-6
HEURISTIC_RUNS = 6         # primal heuristic runs at most, ...
HEURISTIC_INTERVAL = 30    # ... at least this many nodes apart
MAX_NODES = 4000
FINE_MARGIN = 0.003     # nodes whose coarse bound is within 0.3% of the cutoff are re-bounded on the fine grouping
GROUPED_GAP = 0.01      # the grouped quick model's own stopping gap (it only proposes a candidate)
EXACT_MAX_ZONES = 5000  # beyond this (national maps) the direct solve and the quick answer's own paths are used
OWN_NODES = 150         # nodes the search may take on its own answers before the grouped model is asked for one, ...
FIRST_ANSWER_NODES = 100  # ... or fewer, if it has found none by then

Extra = Callable[[Formulation], None]


# ---------------------------------------------------------------------------------------
# the integer columns, by meaning
# ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Structure:
    """The integer columns of the grouped programmes (numbered as their kept columns, which
    both groupings share), by what they mean."""

    unit_choices: tuple[np.ndarray, ...]   # per unit: its option columns, fewest beds first
    unit_capacity: tuple[np.ndarray, ...]  # erlangs each option carries
    unit_cost: tuple[np.ndarray, ...]      # objective coefficient of each option
    closed_option: np.ndarray              # per unit: the no-beds option's column (-1: none)
    site_open: np.ndarray
    site_choices: tuple[np.ndarray, ...]   # per site: option columns with beds of its units
    virtual_run: np.ndarray
    virtual_blocks: np.ndarray
    other: np.ndarray                      # any other integer column (rows a caller added)
    n_kept: int


def structure(f: Formulation, agg: Aggregation) -> Structure:
    opt, lp, program = f.instance.bed_choices, f.lp, agg.program
    local = -np.ones(f.lp.n_vars, int)
    local[agg.kept] = np.arange(len(agg.kept))
    y = local[lp.variables("bed_option")]
    units, closed, caps, costs = [], [], [], []
    for u in range(len(opt.unit_site)):
        k = np.flatnonzero(opt.option_unit == u)
        k = k[np.argsort(opt.option_beds[k], kind="stable")]
        units.append(y[k])
        caps.append(opt.option_capacity[k].astype(float))
        costs.append(program.objective[y[k]].astype(float))
        zero = k[opt.option_beds[k] == 0]
        closed.append(y[zero[0]] if len(zero) else -1)
    site_open = local[lp.variables("site_open")]
    site_choices = tuple(y[(opt.unit_site[opt.option_unit] == j) & (opt.option_beds > 0)]
                         for j in range(f.instance.n_sites))
    virtual_run = local[lp.variables("virtual_run")] if lp.has_family("virtual_run") else np.zeros(0, int)
    virtual_blocks = local[lp.variables("virtual_blocks")] if lp.has_family("virtual_blocks") else np.zeros(0, int)
    known = np.zeros(program.shape[1], bool)
    known[y] = True
    known[site_open] = True
    known[virtual_run] = True
    known[virtual_blocks] = True
    other = np.flatnonzero(program.var_integer & ~known)
    return Structure(tuple(units), tuple(caps), tuple(costs), np.asarray(closed, int), site_open, site_choices,
                     virtual_run, virtual_blocks, other, len(agg.kept))


def with_rounding_cuts(program: FrozenProgram, s: Structure) -> FrozenProgram:
    r"""Mixed-integer rounding cuts on the home-based capacity rows. Such a row reads
    :math:`-s + a_w w - |a_m| m \le u`, with :math:`s \ge 0` the district's patients carried
    elsewhere (erlangs), :math:`m` its integer blocks and :math:`w` whether it runs. When it
    runs, :math:`s + |a_m| m \ge B = a_w - u`; with :math:`q = B/|a_m|` and :math:`f = q -
    \lfloor q \rfloor`, the cut :math:`s \ge |a_m| f (\lceil q \rceil w - m)` holds at every
    integer point (for :math:`w = 0` its right-hand side is not positive) and is the hull of a
    district's blocks and the patients they cannot carry."""
    fam = program.row_families.get("virtual_capacity")
    if fam is None or not len(s.virtual_blocks):
        return program
    a = program.matrix.tocsr()
    blocks, runs = set(s.virtual_blocks.tolist()), set(s.virtual_run.tolist())
    rows, cols, vals, rhs = [], [], [], []
    for r in range(fam.start, fam.stop):
        idx = a.indices[a.indptr[r]:a.indptr[r + 1]]
        val = a.data[a.indptr[r]:a.indptr[r + 1]]
        m_at = [i for i, c in enumerate(idx) if c in blocks]
        w_at = [i for i, c in enumerate(idx) if c in runs]
        rest = [i for i in range(len(idx)) if i not in m_at and i not in w_at]
        if len(m_at) != 1 or len(w_at) > 1 or not np.isfinite(program.row_upper[r]):
            continue
        am = -val[m_at[0]]
        aw = val[w_at[0]] if w_at else 0.0
        if am <= 0 or aw < 0 or any(val[i] > 0 or program.var_lower[idx[i]] < 0 for i in rest):
            continue
        q = (aw - program.row_upper[r]) / am
        frac = q - np.floor(q)
        if q <= 0 or frac < 1e-6 or frac > 1 - 1e-6:
            continue
        # -s - |a_m| f m + |a_m| f ceil(q) w <= 0 (without w, the constant goes to the right)
        n = len(rhs)
        rows += [n] * (len(rest) + 1)
        cols += [int(idx[i]) for i in rest] + [int(idx[m_at[0]])]
        vals += [float(val[i]) for i in rest] + [-am * frac]
        if w_at:
            rows.append(n)
            cols.append(int(idx[w_at[0]]))
            vals.append(am * frac * np.ceil(q))
            rhs.append(0.0)
        else:
            rhs.append(-am * frac * np.ceil(q))
    if not rhs:
        return program
    cuts = sp.csr_matrix((vals, (rows, cols)), shape=(len(rhs), program.shape[1]))
    m = program.shape[0]
    families = dict(program.row_families)
    families["virtual_rounding"] = slice(m, m + len(rhs))
    return replace(program, matrix=sp.vstack([program.matrix, cuts]).tocsr(),
                   row_names=np.concatenate([program.row_names,
                                             np.array([f"virtual_rounding_{i}" for i in range(len(rhs))], object)]),
                   row_lower=np.concatenate([program.row_lower, np.full(len(rhs), -np.inf)]),
                   row_upper=np.concatenate([program.row_upper, rhs]), row_families=families)


# ---------------------------------------------------------------------------------------
# branching
# ---------------------------------------------------------------------------------------

def branch(s: Structure, values: np.ndarray, lower: np.ndarray, upper: np.ndarray
           ) -> list[tuple[np.ndarray, np.ndarray]] | None:
    """Two children (kept-column bounds) that cut off ``values``; None when every integer
    column is integral. Order: sites, units open, districts running home-based beds, other
    integer columns, blocks, then a unit's beds."""
    def child(at_least=(), at_most=()):
        lo, hi = lower.copy(), upper.copy()
        for cols, val in at_least:
            lo[cols] = val
        for cols, val in at_most:
            hi[cols] = val
        return lo, hi

    def most_fractional(cols):
        if not len(cols):
            return -1
        fr = np.abs(values[cols] - np.round(values[cols]))
        i = int(np.argmax(fr))
        return int(cols[i]) if fr[i] > INT_TOL else -1

    c = most_fractional(s.site_open)
    if c >= 0:
        j = int(np.flatnonzero(s.site_open == c)[0])
        return [child(at_most=[(c, 0.0), (s.site_choices[j], 0.0)]), child(at_least=[(c, 1.0)])]
    has_closed = s.closed_option >= 0
    if has_closed.any():
        open_share = 1.0 - values[s.closed_option[has_closed]]
        fr = np.abs(open_share - np.round(open_share))
        if fr.max() > INT_TOL:
            u = int(np.flatnonzero(has_closed)[int(np.argmax(fr))])
            return [child(at_most=[(s.unit_choices[u][1:], 0.0)]), child(at_most=[(s.closed_option[u], 0.0)])]
    for cols in (s.virtual_run, s.other, s.virtual_blocks):
        c = most_fractional(cols)
        if c >= 0:
            return [child(at_most=[(c, float(np.floor(values[c])))]), child(at_least=[(c, float(np.ceil(values[c])))])]
    # a unit's beds: split its allowed bed counts where the load it carries falls
    best_u, best_score = -1, INT_TOL
    for u, cols in enumerate(s.unit_choices):
        v = values[cols]
        if (v > INT_TOL).sum() > 1:
            score = float(v.sum() - v.max()) * float(np.abs(s.unit_cost[u]).max(initial=0.0))
            if score > best_score:
                best_u, best_score = u, score
    if best_u < 0:
        return None
    cols, cap = s.unit_choices[best_u], s.unit_capacity[best_u]
    v = values[cols]
    carried = float(cap @ v)
    allowed = np.flatnonzero(upper[cols] > 0.5)
    fits = allowed[cap[allowed] >= carried - 1e-9]
    k = int(fits[0]) if len(fits) else int(allowed[-1])
    split = k if v[allowed[allowed < k]].sum() > INT_TOL else k + 1
    return [child(at_most=[(cols[split:], 0.0)]), child(at_most=[(cols[:split], 0.0)])]


# ---------------------------------------------------------------------------------------
# the search
# ---------------------------------------------------------------------------------------

@dataclass(order=True)
class _Node:
    bound: float
    order: int
    fine: bool = field(compare=False)
    lower: np.ndarray = field(compare=False)
    upper: np.ndarray = field(compare=False)
    values: np.ndarray = field(compare=False)
    done: bool = field(default=False, compare=False)


class Tier:
    """One grouped programme (with its rounding cuts) and its solver session."""

    def __init__(self, agg: Aggregation, s: Structure, backend: str) -> None:
        self.agg = agg
        self.program = with_rounding_cuts(agg.program, s)
        self.session = LpSession(self.program, backend)

    def solve(self, lower: np.ndarray, upper: np.ndarray, deadline: float) -> RawResult:
        lo, hi = self.program.var_lower.copy(), self.program.var_upper.copy()
        k = len(lower)
        lo[:k], hi[:k] = lower, upper
        return self.session.solve(lo, hi, max(0.05, deadline - time.perf_counter()))


@dataclass
class Search:
    """A proof in progress: the tiers, the best full-resolution objective so far and the
    smallest bound of every branch it has closed."""

    structure: Structure
    fine: Tier
    coarse: Tier | None
    target_gap: float
    upper: float = np.inf
    pruned: float = np.inf       # smallest bound among branches discarded
    nodes: int = 0
    fine_nodes: int = 0

    def cutoff(self) -> float:
        return self.upper - abs(self.upper) * self.target_gap if np.isfinite(self.upper) else np.inf

    def discard(self, bound: float) -> None:
        self.pruned = min(self.pruned, bound)


def _bound_on(search: Search, tier: Tier, lower, upper, deadline) -> tuple[str, RawResult | None]:
    """A node's bound on one grouping: 'pruned' (infeasible, or no better than the cutoff),
    'failed' (solver trouble) or 'open' with its result."""
    res = tier.solve(lower, upper, deadline)
    if res.status == Status.INFEASIBLE:
        return "pruned", None
    if not res.status.has_solution:
        return "failed", None
    if res.objective >= search.cutoff():
        search.discard(res.objective)
        return "pruned", None
    return "open", res


def _evaluate(search: Search, lower, upper, deadline, force_fine: bool = False) -> tuple[str, RawResult | None, bool]:
    """Bound a node: 'pruned', 'failed' (solver trouble) or 'open' with its result and
    whether that is the fine grouping's. The coarse grouping is enough unless its bound comes
    within ``FINE_MARGIN`` of the cutoff (without an answer yet, nothing is near it)."""
    search.nodes += 1
    if not force_fine and search.coarse is not None:
        status, res = _bound_on(search, search.coarse, lower, upper, deadline)
        near = np.isfinite(search.upper) and res is not None and \
            res.objective >= search.cutoff() - abs(search.upper) * FINE_MARGIN
        if status != "open" or not near:
            return status, res, False
    search.fine_nodes += 1
    status, res = _bound_on(search, search.fine, lower, upper, deadline)
    return status, res, True


def structure_decided(s: Structure, values: np.ndarray) -> bool:
    """Whether sites, units and the home-based-bed switches are all integral (only blocks and
    beds left to round)."""
    cols = np.concatenate([s.site_open, s.closed_option[s.closed_option >= 0], s.virtual_run, s.other])
    return bool(np.all(np.abs(values[cols] - np.round(values[cols])) <= INT_TOL))


def fix_and_resolve(search: Search, values: np.ndarray, lower: np.ndarray, upper: np.ndarray,
                    deadline: float) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """A primal heuristic from a node whose sites and units are decided. Each unit's beds are
    first restricted to the two choices around the capacity the relaxation gives it, and
    each district's blocks to the two around its blocks, and the relaxation re-solved (coarse
    grouping): it then mixes neighbouring choices only, so what is left to round is small.
    The remaining mixtures are rounded one at a time, largest first, to whichever neighbour
    leaves the cheaper relaxation. Returns an integral solution (kept values, bounds) or
    None."""
    s = search.structure
    tier = search.coarse or search.fine
    lo, hi = lower.copy(), upper.copy()
    k = s.n_kept

    def solve(lo_, hi_):
        search.nodes += 1
        r = tier.solve(lo_, hi_, deadline)
        return r if r.status.has_solution else None

    def neighbours(u, v, hi_):
        cols, cap = s.unit_choices[u], s.unit_capacity[u]
        carried = float(cap @ v[cols])
        allowed = np.flatnonzero(hi_[cols] > 0.5)
        above = allowed[cap[allowed] >= carried - 1e-9][:1]
        below = allowed[cap[allowed] < carried - 1e-9][-1:]
        return [int(c) for c in np.concatenate([above, below])]

    v = values
    for u, cols in enumerate(s.unit_choices):
        if (v[cols] > INT_TOL).sum() > 1:
            keep = neighbours(u, v, hi)
            allowed = np.flatnonzero(hi[cols] > 0.5)
            headroom = allowed[allowed > max(keep)][:1]       # one step more, so that neighbours can absorb a rounding down
            mask = np.ones(len(cols), bool)
            mask[keep + [int(c) for c in headroom]] = False
            hi[cols[mask]] = 0.0
    for c in s.virtual_blocks:
        if abs(v[c] - np.round(v[c])) > INT_TOL:
            lo[c], hi[c] = np.floor(v[c]), np.ceil(v[c])
    res = solve(lo, hi)
    if res is None:
        return None
    v = res.values[:k]
    for _ in range(2 * (len(s.unit_choices) + len(s.virtual_blocks)) + 2):
        fractional = [u for u, cols in enumerate(s.unit_choices) if (v[cols] > INT_TOL).sum() > 1]
        splits: list[tuple[np.ndarray, np.ndarray]] = []
        if fractional:
            u = max(fractional, key=lambda u: float(np.abs(s.unit_cost[u]).max()) * (1 - v[s.unit_choices[u]].max()))
            cols = s.unit_choices[u]
            for choice in neighbours(u, v, hi):
                l2, h2 = lo.copy(), hi.copy()
                h2[cols] = 0.0
                h2[cols[choice]] = l2[cols[choice]] = 1.0
                splits.append((l2, h2))
        else:
            blocks = [c for c in s.virtual_blocks if abs(v[c] - np.round(v[c])) > INT_TOL]
            if not blocks:
                break
            c = max(blocks, key=lambda c: abs(v[c] - np.round(v[c])))
            for value in (np.ceil(v[c]), np.floor(v[c])):
                l2, h2 = lo.copy(), hi.copy()
                l2[c] = h2[c] = value
                splits.append((l2, h2))
        best = None
        for l2, h2 in splits:
            r = solve(l2, h2)
            if r is not None and (best is None or r.objective < best[0].objective):
                best = (r, l2, h2)
        if best is None:
            return None
        res, lo, hi = best
        v = res.values[:k]
    if branch(s, v, lo, hi) is not None:
        return None
    return v, lo, hi


def prove(search: Search, lower: np.ndarray, upper: np.ndarray, deadline: float,
          on_integral: Callable[[np.ndarray, np.ndarray, np.ndarray], None] | None = None,
          max_nodes: int = MAX_NODES, heuristic: bool = True,
          answer_within: int | None = None) -> tuple[float, bool]:
    """Branch-and-bound from the kept-column bounds ``lower``/``upper`` until the smallest
    open bound is within the target gap of ``search.upper``: depth-first (into the child with
    the smaller bound) while there is no answer yet, best-first after. ``on_integral(values,
    lower, upper)`` is called at each node whose fine solution is integral (it may lower
    ``search.upper``). Returns (a proven lower bound on the full model, finished)."""
    status, res, fine = _evaluate(search, lower, upper, deadline)
    if status == "pruned":
        return search.pruned, True
    if status == "failed":
        return -np.inf, False
    heap = [_Node(res.objective, 0, fine, lower, upper, res.values)]
    order = 0
    leaves: list[float] = []
    dive: _Node | None = None
    k = search.structure.n_kept
    runs = 0
    last_run = search.nodes     # with an answer in hand, the heuristic waits for a stretch without progress
    seen_upper = search.upper

    def open_bound() -> float:
        live = [n.bound for n in heap if not n.done]
        return min(live + leaves + [search.pruned])

    while True:
        while heap and heap[0].done:
            heapq.heappop(heap)
        if dive is not None and not np.isfinite(search.upper):
            node, dive = dive, None
        else:
            dive = None
            if not heap:
                break
            node = heap[0]
            if node.bound >= search.cutoff():
                break
        if time.perf_counter() > deadline or search.nodes >= max_nodes or (
                answer_within is not None and not np.isfinite(search.upper) and search.nodes >= answer_within):
            return open_bound(), False
        node.done = True
        if search.upper < seen_upper:
            seen_upper, last_run = search.upper, search.nodes
        if (heuristic and runs < HEURISTIC_RUNS and on_integral is not None
                and (not np.isfinite(search.upper) or search.nodes >= last_run + HEURISTIC_INTERVAL)
                and structure_decided(search.structure, node.values[:k])):
            runs += 1
            last_run = search.nodes
            found = fix_and_resolve(search, node.values[:k], node.lower, node.upper, deadline)
            if found is not None:
                on_integral(*found)
        children = branch(search.structure, node.values[:k], node.lower, node.upper)
        if children is None and not node.fine:
            # integral on the coarse grouping: bound it on the fine one before accepting it
            status, res, _ = _evaluate(search, node.lower, node.upper, deadline, force_fine=True)
            if status == "failed":
                return open_bound(), False
            if status == "open":
                order += 1
                dive = _Node(res.objective, order, True, node.lower, node.upper, res.values)
                heapq.heappush(heap, dive)
            continue
        if children is None:
            if on_integral is not None:
                on_integral(node.values[:k], node.lower, node.upper)
            if node.bound < search.cutoff():
                leaves.append(node.bound)      # the grouping's value: a bound for this branch
            else:
                search.discard(node.bound)
            continue
        made = []
        for lo, hi in children:
            status, res, fine = _evaluate(search, lo, hi, deadline)
            if status == "failed":
                return open_bound(), False
            if status == "open":
                order += 1
                made.append(_Node(res.objective, order, fine, lo, hi, res.values))
                heapq.heappush(heap, made[-1])
        dive = min(made) if made else None
    return min([open_bound(), search.upper]), True


# ---------------------------------------------------------------------------------------
# candidates at full resolution
# ---------------------------------------------------------------------------------------

@dataclass
class Candidate:
    objective: float
    values: np.ndarray        # full-programme column values
    result: RawResult


def integer_values(f: Formulation, unit_beds: np.ndarray, virtual_beds: np.ndarray | None) -> np.ndarray:
    """Full-programme values of the configuration's integer columns (NaN elsewhere)."""
    return configuration_start(f, unit_beds, virtual_beds)


def _grouped_value(tier: Tier, agg: Aggregation, program: FrozenProgram, values: np.ndarray,
                   deadline: float) -> float | None:
    """The fine grouping's value of a configuration (its integer columns fixed)."""
    kept = values[agg.kept]
    ints = program.var_integer[agg.kept]
    lo, hi = tier.program.var_lower[:len(kept)].copy(), tier.program.var_upper[:len(kept)].copy()
    lo[ints] = hi[ints] = np.round(kept[ints])
    res = tier.solve(lo, hi, deadline)
    return res.objective if res.status.has_solution else None


def route(program: FrozenProgram, fixed: np.ndarray, backend: str, time_limit: float) -> RawResult:
    """The full programme with the integer columns given in ``fixed`` (NaN: free) held
    there: routing every small area for one configuration."""
    lo, hi = program.var_lower.copy(), program.var_upper.copy()
    known = ~np.isnan(fixed)
    if np.any((fixed[known] < lo[known] - 1e-9) | (fixed[known] > hi[known] + 1e-9)):
        return RawResult(Status.INFEASIBLE, None, None, None, 0.0, backend, "outside the bounds")
    lo[known] = hi[known] = fixed[known]
    return solve_program(replace(program, var_lower=lo, var_upper=hi), backend, time_limit=time_limit, mip_gap=0.0)


def configuration_of(f: Formulation, values: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """(beds per unit, virtual beds per district) of a full-programme solution."""
    inst, lp = f.instance, f.lp
    opt = inst.bed_choices
    chosen = values[lp.variables("bed_option")] > 0.5
    beds = np.zeros(len(opt.unit_site), int)
    beds[opt.option_unit[chosen]] = opt.option_beds[chosen]
    virtual = None
    if inst.virtual is not None:
        virtual = (np.round(values[lp.variables("virtual_blocks")]).astype(int) * inst.virtual.step).astype(int)
    return beds, virtual


def grouped_candidate(inst: Instance, extra: Extra | None,
                      start_config: tuple[np.ndarray, np.ndarray | None] | None,
                      time_limit: float | None = None) -> tuple[np.ndarray, np.ndarray | None] | None:
    """A configuration from the quick answer's grouped model (small areas grouped by district,
    nearest site and travel band, travel averaged): solved to within ``GROUPED_GAP``."""
    from optimiser.model.quick import aggregate_zones

    grouped = aggregate_zones(inst)
    g = build(grouped)
    if extra is not None:
        extra(g)
    program = g.lp.freeze(grouped.weights.as_dict())
    hint = configuration_start(g, *start_config) if start_config is not None else None
    sv = inst.solver
    res = solve_program(program, sv.backend, ortools_solver=sv.ortools_solver,
                        time_limit=sv.time_limit_seconds if time_limit is None else time_limit,
                        mip_gap=max(sv.mip_gap, GROUPED_GAP), hint=hint)
    if not res.status.has_solution:
        return None
    return configuration_of(g, res.values)


# ---------------------------------------------------------------------------------------
# the whole solve
# ---------------------------------------------------------------------------------------

@dataclass
class ExactResult:
    formulation: Formulation
    result: RawResult          # the best routed candidate, with the proven bound and status
    nodes: int
    fine_nodes: int
    proven: bool = True        # False: the grouping cannot resolve the tolerance asked for (see solve_exact)

    def configuration(self) -> tuple[np.ndarray, np.ndarray | None] | None:
        return None if self.result.values is None else configuration_of(self.formulation, self.result.values)


def applies(inst: Instance) -> bool:
    """The grouped proof applies to capacitated models with shares of demand (split
    assignment), one weighted objective and no alternatives asked for, with something left
    to decide (a fixed configuration is a linear programme, solved directly)."""
    r, w = inst.rules, inst.weights
    if not (r.capacity_limits and not r.single_assignment and not w.lexicographic
            and inst.solver.alternatives == 0 and inst.solver.assignment_form != "radius"):
        return False
    if inst.n_zones > EXACT_MAX_ZONES:
        return False
    opt, v = inst.bed_choices, inst.virtual
    choices = np.bincount(opt.option_unit, minlength=len(opt.unit_site))
    return bool((choices > 1).any() or (v is not None and (v.hi > v.lo).any()))


def grouped_bound(inst: Instance, upper: float, target_gap: float) -> float | None:
    """A proven lower bound for ``inst`` at least ``1 - target_gap`` times ``upper`` (the
    objective of an answer in hand), or the best the search reached within the time limit;
    ``None`` when the grouping does not apply."""
    started = time.perf_counter()
    deadline = started + inst.solver.time_limit_seconds
    f = build(inst)
    program = f.lp.freeze(inst.weights.as_dict())
    fine_agg = aggregate(f, program)
    if fine_agg is None:
        return None
    coarse_agg = aggregate(f, program, coarse=True)
    s = structure(f, fine_agg)
    fine = Tier(fine_agg, s, inst.solver.backend)
    coarse = Tier(coarse_agg, s, inst.solver.backend) if coarse_agg.n_groups < fine_agg.n_groups else None
    search = Search(s, fine, coarse, target_gap=target_gap, upper=upper)
    k = len(fine_agg.kept)
    bound, _ = prove(search, fine.program.var_lower[:k].copy(), fine.program.var_upper[:k].copy(), deadline)
    return None if not np.isfinite(bound) and bound < 0 else min(bound, upper)


def solve_exact(inst: Instance, start: tuple[np.ndarray, np.ndarray | None] | None = None,
                extra: Extra | None = None, target_gap: float | None = None) -> ExactResult | None:
    """Optimise ``inst`` to within ``target_gap`` (default: its ``mip_gap``), proven on the
    grouped relaxations. ``start``: a configuration (beds per unit, virtual beds per
    district) to try first, such as the previous answer. Candidates come from the start and
    the search's own integral nodes and rounding heuristic, then, if the proof has not closed
    in ``OWN_NODES`` nodes (or found no answer in ``FIRST_ANSWER_NODES``), from the grouped
    quick model (a MIP, seconds on LLR) too; with ``extra`` rows, the grouped model first.
    ``None`` when the method does not apply or finds no configuration (the caller then
    solves the full model directly); an infeasible model gives a result whose status says so."""
    started = time.perf_counter()
    sv = inst.solver
    target = sv.mip_gap if target_gap is None else float(target_gap)
    deadline = started + sv.time_limit_seconds
    f = build(inst)
    if extra is not None:
        extra(f)
    program = f.lp.freeze(inst.weights.as_dict())
    fine_agg = aggregate(f, program)
    if fine_agg is None:
        return None
    coarse_agg = aggregate(f, program, coarse=True)
    s = structure(f, fine_agg)
    fine = Tier(fine_agg, s, sv.backend)
    coarse = Tier(coarse_agg, s, sv.backend) if coarse_agg.n_groups < fine_agg.n_groups else None
    search = Search(s, fine, coarse, target_gap=target)

    best: Candidate | None = None
    tried: set[bytes] = set()
    integer_cols = np.flatnonzero(program.var_integer)
    ints_kept = np.flatnonzero(program.var_integer[fine_agg.kept])

    first: list[Candidate] = []    # the first configuration routed, ...
    resolution: list[float] = []   # ... and how far below its value the fine grouping falls

    def consider(fixed: np.ndarray) -> None:
        nonlocal best
        key = np.round(np.nan_to_num(fixed[integer_cols], nan=-1.0), 6).tobytes()
        if key in tried:
            return
        tried.add(key)
        res = route(program, fixed, sv.backend, max(1.0, deadline - time.perf_counter()))
        if res.status.has_solution and (best is None or res.objective < best.objective - 1e-9):
            best = Candidate(res.objective, res.values, res)
            first[:] = first or [best]
            search.upper = best.objective

    def unresolvable() -> bool:
        """The tolerance asked for is finer than the grouping resolves: its bound stays about
        ``resolution`` below even the first configuration's own value, so the proof could not
        close. (Measured when first asked: a proof that closes never needs it.)"""
        if best is None:
            return False
        if not resolution:
            grouped = _grouped_value(fine, fine_agg, program, first[0].values, deadline)
            resolution.append(0.0 if grouped is None else
                              max(0.0, (first[0].objective - grouped) / max(1e-9, abs(first[0].objective))))
        return target < 2.0 * resolution[0]

    def on_integral(values_kept: np.ndarray, lower, upper) -> None:
        fixed = np.full(program.shape[1], np.nan)
        fixed[fine_agg.kept[ints_kept]] = np.round(values_kept[ints_kept])
        consider(fixed)

    k = len(fine_agg.kept)
    lower, upper = fine.program.var_lower[:k].copy(), fine.program.var_upper[:k].copy()
    def not_proven() -> ExactResult:
        return ExactResult(f, replace(best.result, status=Status.FEASIBLE, bound=None), search.nodes,
                           search.fine_nodes, proven=False)

    if start is not None:
        consider(integer_values(f, *start))
    finished, bound = False, -np.inf
    # With rows added by a caller (the near-tie search's cost cap and "materially different"
    # rows) the grouped model's answer is asked for first: measured on LLR, the proofs then
    # closed in 35-271 nodes, against 324-963 from the search's own answers.
    if extra is None and not unresolvable():
        # the search's own dive and rounding heuristic usually find an answer, and the proof
        # closes, long before the grouped model would have answered
        bound, finished = prove(search, lower, upper, deadline, on_integral=on_integral,
                                max_nodes=search.nodes + OWN_NODES, answer_within=search.nodes + FIRST_ANSWER_NODES)
    if not (finished and best is not None and best.objective - bound <= target * abs(best.objective) + 1e-9) \
            and unresolvable():
        return not_proven()
    if not finished:
        proposal = grouped_candidate(inst, extra, start, max(1.0, deadline - time.perf_counter()))
        if proposal is not None:
            consider(integer_values(f, *proposal))
        if unresolvable():
            return not_proven()
        search.pruned = np.inf
        bound, finished = prove(search, lower, upper, deadline, on_integral=on_integral,
                                max_nodes=search.nodes + MAX_NODES)
    seconds = time.perf_counter() - started
    if best is None:
        if finished and bound == np.inf:
            return ExactResult(f, RawResult(Status.INFEASIBLE, None, None, None, seconds, "grouped proof"),
                               search.nodes, search.fine_nodes)
        return None
    bound = min(bound, best.objective)
    gap = (best.objective - bound) / max(1e-9, abs(best.objective))
    status = Status.OPTIMAL if finished and gap <= target + 1e-12 else Status.FEASIBLE
    label = f"{best.result.solver} (grouped proof, {search.nodes} nodes)"
    result = RawResult(status, best.values, best.objective, bound, seconds, label,
                       f"proven within {gap:.3%} by the grouped relaxation", gap_tolerance=target)
    return ExactResult(f, result, search.nodes, search.fine_nodes)
