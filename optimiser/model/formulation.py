r"""The bed-configuration model, written once for both solver backends.

Notation: zones :math:`i`, sites :math:`j`, pathways :math:`p`, units :math:`u` (a ward type
on a site), bed options :math:`k` of a unit (with :math:`c_k` beds carrying at most
:math:`\kappa_k` erlangs under the utilisation rule), districts :math:`d` with virtual-bed
options :math:`v`. Demand is in admissions per year: :math:`h_{ip}` must use a hospital bed;
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

Constraints (one function each, in the order :func:`build` calls them)

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
* deprivation equity (optional; :mod:`optimiser.deprivation`): the most deprived areas' mean
  travel at most :math:`N` minutes above the least deprived's, and/or at most :math:`M` above
  a baseline option's;
* budget, and fewest/most/exactly so many open sites.

Objective: a weighted sum (or lexicographic order) of four named terms — annual *cost*
(fixed site costs, beds, annualised new-ward capital, virtual beds), *travel* (hospital
admission-minutes), *unmet* (bed-days of demand not served), *equity* (:math:`T`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from optimiser.deprivation import add_deprivation_equity
from optimiser.flow import OnwardRoutes, onward_routes
from optimiser.instance import Instance
from optimiser.model.lp import INF, LinearProgram

STRONG_LINKING_AUTO_LIMIT = 50_000   # pairs; see use_strong_links


def _clean(values) -> np.ndarray:
    """Names safe for every solver's file format: letters, digits and underscores."""
    out = np.asarray(values, dtype=object).astype(str)
    if out.size == 0:
        return out.astype(object)
    for ch in " -.,'&()/:":
        out = np.char.replace(out, ch, "_")
    return out.astype(object)


def _join(*parts) -> np.ndarray:
    """Element-wise '_'.join of string arrays/scalars."""
    out = None
    for part in parts:
        arr = _clean(np.atleast_1d(np.asarray(part, dtype=object)))
        out = arr if out is None else np.char.add(np.char.add(out.astype(str), "_"), arr.astype(str))
    return np.asarray(out, dtype=object)


@dataclass(frozen=True)
class Streams:
    """Pathways that share a ward type, host sites and travel limit are assigned together
    (one catchment, one variable per zone-site pair), which keeps the model small."""

    members: tuple[tuple[int, ...], ...]
    of_pathway: np.ndarray
    ward: np.ndarray
    admissions: np.ndarray     # (Z, streams) hospital admissions per year
    load: np.ndarray           # (Z, streams) erlangs
    site_allowed: np.ndarray   # (streams, S)
    max_travel: np.ndarray
    names: tuple[str, ...]


def make_streams(inst: Instance) -> Streams:
    pw = inst.pathways
    groups: dict[tuple, list[int]] = {}
    for p in range(len(pw.ids)):
        key = (int(pw.ward[p]), pw.site_allowed[p].tobytes(), float(pw.max_travel[p]))
        groups.setdefault(key, []).append(p)
    members = tuple(tuple(g) for g in groups.values())
    of_pathway = np.zeros(len(pw.ids), int)
    for k, g in enumerate(members):
        of_pathway[list(g)] = k
    adm = np.column_stack([inst.hospital_admissions[:, list(g)].sum(axis=1) for g in members])
    load = np.column_stack([inst.hospital_load[:, list(g)].sum(axis=1) for g in members])
    return Streams(members, of_pathway, np.array([pw.ward[g[0]] for g in members]), adm, load,
                   np.array([pw.site_allowed[g[0]] for g in members]),
                   np.array([pw.max_travel[g[0]] for g in members]),
                   tuple("_".join(pw.ids[p] for p in g) for g in members))


def allowed_pairs(inst: Instance, streams: Streams) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(zone, site, stream) assignments the model may use: the site hosts the stream, is not
    closed, and is within the stream's travel limit of the zone."""
    zs, ss, ks = [], [], []
    open_ok = inst.sites.status >= 0
    for k in range(len(streams.members)):
        ok = (inst.travel <= streams.max_travel[k] + 1e-9) & (streams.site_allowed[k] & open_ok)[None, :]
        ok &= (streams.admissions[:, k] > 0)[:, None]
        z, s = np.nonzero(ok)
        zs.append(z)
        ss.append(s)
        ks.append(np.full(len(z), k))
    return np.concatenate(zs), np.concatenate(ss), np.concatenate(ks)


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

    def assignment_values(self, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(share of each allowed pair, unmet share of each demand row) in a solver's answer.
        In the radius form every zone uses its nearest hospital with beds for its pathway."""
        if not self.radius_form:
            return values[self.lp.variables("assign")], values[self.lp.variables("unmet")]
        opt = self.instance.options
        has_beds = np.zeros(len(opt.unit_site), bool)
        chosen = (values[self.lp.variables("bed_option")] > 0.5) & (opt.option_beds > 0)
        has_beds[opt.option_unit[chosen]] = True
        z, s, k = self.pairs
        group = _demand_row_of_pairs(self)
        usable = np.flatnonzero(has_beds[self.unit_of_pair])
        order = usable[np.lexsort((s[usable], self.instance.travel[z[usable], s[usable]], group[usable]))]
        first = np.ones(len(order), bool)
        first[1:] = group[order][1:] != group[order][:-1]
        x = np.zeros(len(z))
        x[order[first]] = 1.0
        u = np.ones(len(self.demand_rows[0]))
        u[group[order[first]]] = 0.0
        return x, u


# ---------------------------------------------------------------------------------------
# one function per family
# ---------------------------------------------------------------------------------------

def add_bed_options(f: Formulation) -> None:
    inst, lp, opt = f.instance, f.lp, f.instance.options
    site = inst.sites.ids[opt.unit_site[opt.option_unit]]
    ward = np.asarray(inst.wards, object)[opt.unit_ward[opt.option_unit]]
    cols = lp.add_variables("bed_option", _join("beds", site, ward, opt.option_beds), 0, 1, integer=True)
    n_units = len(opt.unit_site)
    lp.add_constraints("one_bed_option", _join("one_bed_option", inst.sites.ids[opt.unit_site],
                                               np.asarray(inst.wards, object)[opt.unit_ward]),
                       opt.option_unit, cols, 1.0, 1.0, 1.0)
    # Closed sites keep option 0 only; a unit with a single option (a configuration fixed by
    # hand or by the quick answer) takes it, so a fixed configuration leaves no integer free.
    closed = inst.sites.status[opt.unit_site[opt.option_unit]] < 0
    lp.set_bounds(cols[closed & (opt.option_beds > 0)], upper=0.0)
    only = np.bincount(opt.option_unit, minlength=n_units)[opt.option_unit] == 1
    lp.set_bounds(cols[only & ~(closed & (opt.option_beds > 0))], lower=1.0)


def add_site_open(f: Formulation) -> None:
    inst, lp, opt = f.instance, f.lp, f.instance.options
    n_s = inst.n_sites
    lo = (inst.sites.status > 0).astype(float)
    hi = (inst.sites.status >= 0).astype(float)
    site_cols = lp.add_variables("site_open", _join("open", inst.sites.ids), lo, hi, integer=True)
    beds = lp.variables("bed_option")
    has_beds = opt.option_beds > 0
    # Each unit with beds opens its site.
    n_units = len(opt.unit_site)
    rows = np.concatenate([opt.option_unit[has_beds], np.arange(n_units)])
    cols = np.concatenate([beds[has_beds], site_cols[opt.unit_site]])
    vals = np.concatenate([np.ones(has_beds.sum()), -np.ones(n_units)])
    lp.add_constraints("unit_opens_site", _join("beds_need_open_site", inst.sites.ids[opt.unit_site],
                                                np.asarray(inst.wards, object)[opt.unit_ward]),
                       rows, cols, vals, -INF, 0.0)
    # An open site has beds.
    site_of_option = opt.unit_site[opt.option_unit]
    rows = np.concatenate([np.arange(n_s), site_of_option[has_beds]])
    cols = np.concatenate([site_cols, beds[has_beds]])
    vals = np.concatenate([np.ones(n_s), -np.ones(has_beds.sum())])
    lp.add_constraints("open_site_has_beds", _join("open_site_has_beds", inst.sites.ids), rows, cols,
                       vals, -INF, 0.0)


def add_site_bed_limits(f: Formulation) -> None:
    """Minimum beds on an open site; estate limit across a site's wards."""
    inst, lp, opt = f.instance, f.lp, f.instance.options
    beds = lp.variables("bed_option")
    site_cols = lp.variables("site_open")
    site_of_option = opt.unit_site[opt.option_unit]
    n_s = inst.n_sites
    m = inst.rules.min_beds_open_site
    if m > 0:
        rows = np.concatenate([site_of_option, np.arange(n_s)])
        cols = np.concatenate([beds, site_cols])
        vals = np.concatenate([opt.option_beds.astype(float), -float(m) * np.ones(n_s)])
        lp.add_constraints("min_beds_open_site", _join("min_beds_if_open", inst.sites.ids), rows, cols,
                           vals, 0.0, INF)
    units_per_site = np.bincount(opt.unit_site, minlength=n_s)
    multi = np.flatnonzero(units_per_site > 1)
    if len(multi):
        local = -np.ones(n_s, int)
        local[multi] = np.arange(len(multi))
        keep = local[site_of_option] >= 0
        lp.add_constraints("estate_limit", _join("estate_limit", inst.sites.ids[multi]),
                           local[site_of_option[keep]], beds[keep], opt.option_beds[keep].astype(float),
                           -INF, inst.sites.max_beds[multi].astype(float))


def _demand_row_of_pairs(f: Formulation) -> np.ndarray:
    """Index into ``f.demand_rows`` of each allowed (zone, site, stream) pair."""
    z, _, k = f.pairs
    dz, dk = f.demand_rows
    n_k = len(f.streams.names)
    key = dz * n_k + dk
    order = np.argsort(key)
    return order[np.searchsorted(key, z * n_k + k, sorter=order)]


def _bed_options_of(f: Formulation, units: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each entry of ``units``, the unit's options with beds: (entry index, option
    column) pairs, so that ``sum(y[option])`` says 'this unit has beds'."""
    opt = f.instance.options
    has = np.flatnonzero(opt.option_beds > 0)
    owner = opt.option_unit[has]
    counts = np.bincount(owner, minlength=len(opt.unit_site))
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    has_sorted = has[np.argsort(owner, kind="stable")]
    per = counts[units]
    entry = np.repeat(np.arange(len(units)), per)
    offsets = np.arange(per.sum()) - np.repeat(np.cumsum(per) - per, per)
    return entry, f.lp.variables("bed_option")[has_sorted[np.repeat(starts[units], per) + offsets]]


def use_radius_form(inst: Instance) -> bool:
    """Write the assignment in the radius form when nothing but the objective needs to know
    who goes where (no capacity, travel standard, equity, virtual beds or lexicographic
    stages: the classical p-median and other uncapacitated location problems), and leaving a
    zone unserved costs more than any journey it could make, which keeps the form's
    accounting of unmet zones exact."""
    r, w = inst.rules, inst.weights
    if inst.solver.assignment_form == "shares" or r.capacity_limits or r.coverage or inst.virtual is not None:
        return False
    if r.deprivation is not None and r.deprivation.limits:
        return False
    if w.lexicographic or w.equity > 0:
        return False
    streams = make_streams(inst)
    longest = np.where(np.isfinite(inst.travel), inst.travel, 0.0).max(initial=0.0)
    unmet_cost = w.unmet * 365.0 * streams.load
    travel_cost = w.travel * streams.admissions * longest
    return bool(np.all(unmet_cost[streams.admissions > 0] > travel_cost[streams.admissions > 0]))


def add_radius_assignment(f: Formulation) -> None:
    r"""The assignment in the radius form (Elloumi 2010; García, Labbé & Marín 2011): for each
    zone and pathway, the distinct travel times :math:`D^1 < \dots < D^K` to its allowed
    sites and :math:`z^k \ge 0`, 'no hospital with beds within :math:`D^k`', with
    :math:`z^1 + \sum_{t_{ij}=D^1} y_j \ge 1` and :math:`z^k - z^{k-1} + \sum_{t_{ij}=D^k}
    y_j \ge 0`; :math:`z^K` is the unmet share. Travel is
    :math:`h(D^1 + \sum_{k<K}(D^{k+1}-D^k) z^k - D^K z^K)`. The same optimum as the shares
    form with far fewer columns (one per distinct travel time, not per site), and the same
    linear relaxation; the answer's assignment is each zone's nearest hospital with beds."""
    inst, lp = f.instance, f.lp
    z, s, k = f.pairs
    names = np.asarray(f.streams.names, object)
    dz, dk = f.demand_rows
    group = _demand_row_of_pairs(f)
    t = inst.travel[z, s]
    order = np.lexsort((t, group))
    served = _served_for_sure(f)
    if served is not None:
        # At least p sites open and every zone may use every openable site: one of each
        # zone's (m - p + 1) nearest is open, so farther levels are never reached.
        g_sorted = group[order]
        start = np.searchsorted(g_sorted, np.arange(len(dz)))
        count = np.bincount(g_sorted, minlength=len(dz))
        cut_rank = np.clip(count - served, 0, np.maximum(count - 1, 0))   # 0-based rank of the (m-p+1)-th
        cutoff = t[order][np.minimum(start + cut_rank, len(order) - 1)]
        order = order[t[order] <= cutoff[g_sorted] + 1e-9]
    g_sorted, t_sorted = group[order], t[order]
    new_level = np.ones(len(order), bool)
    new_level[1:] = (g_sorted[1:] != g_sorted[:-1]) | (t_sorted[1:] > t_sorted[:-1] + 1e-9)
    level_of_sorted = np.cumsum(new_level) - 1
    level_of_pair = np.full(len(z), -1)
    level_of_pair[order] = level_of_sorted
    level_group, level_travel = g_sorted[new_level], t_sorted[new_level]
    n_levels = len(level_group)
    last = np.ones(n_levels, bool)
    last[:-1] = level_group[1:] != level_group[:-1]
    first = np.ones(n_levels, bool)
    first[1:] = level_group[1:] != level_group[:-1]
    pairs_at = np.bincount(level_of_sorted, minlength=n_levels)
    one_ward = len(inst.wards) == 1          # then a site has beds for the pathway iff it is open
    site_open = lp.variables("site_open")
    # A zone whose nearest site is alone at D^1 has z^1 = 1 - y(that site) exactly (z^1 has a
    # positive cost), so z^1 and its row are substituted out: the next row reads
    # z^2 + y_a + sum y >= 1. Presolve does not always find this, and it is worth a
    # several-fold faster relaxation on the OR-Library instances.
    sub = first & ~last & (pairs_at == 1) & one_ward
    sub_site = np.full(n_levels, -1)
    sub_site[sub] = s[order[new_level]][sub]
    # z^k for every other level but each zone's last; the last is the zone's unmet share.
    inner = np.flatnonzero(~last & ~sub)
    zcols = lp.add_variables("not_within", _join("not_within", np.round(level_travel[inner], 2), "min_zone",
                                                 inst.zones.ids[dz[level_group[inner]]], names[dk[level_group[inner]]]),
                             0, INF)   # <= 1 at any optimum (positive cost); no bound keeps the LP fast
    reachable = np.zeros(len(dz), bool)
    reachable[level_group] = True
    u = lp.add_variables("unmet", _join("unmet", inst.zones.ids[dz], names[dk]), (~reachable).astype(float),
                         1.0 if served is None else 0.0)
    col_of_level = np.full(n_levels, -1)
    col_of_level[inner] = zcols
    col_of_level[last] = u[level_group[last]]
    # One row per level; when every zone is served for sure its last level needs none (the
    # row would only restate the guarantee, and makes the relaxation much slower to solve).
    has_row = (~last if served is not None else np.ones(n_levels, bool)) & ~sub
    row_of_level = np.cumsum(has_row) - 1
    used = np.flatnonzero(level_of_pair >= 0)
    used = used[has_row[level_of_pair[used]]]
    if one_ward:
        entry, ycols = np.arange(len(used)), site_open[s[used]]
    else:
        entry, ycols = _bed_options_of(f, f.unit_of_pair[used])
    ruled = np.flatnonzero(has_row)
    after_sub = ruled[~first[ruled] & sub[np.maximum(ruled - 1, 0)]]
    later = ruled[~first[ruled] & ~sub[np.maximum(ruled - 1, 0)]]
    rows = np.concatenate([row_of_level[level_of_pair[used][entry]], row_of_level[ruled], row_of_level[later],
                           row_of_level[after_sub]])
    cols = np.concatenate([ycols, col_of_level[ruled], col_of_level[later - 1], site_open[sub_site[after_sub - 1]]])
    vals = np.concatenate([np.ones(len(ycols)), np.ones(len(ruled)), -np.ones(len(later)), np.ones(len(after_sub))])
    lower = (first[ruled] | sub[np.maximum(ruled - 1, 0)] & ~first[ruled]).astype(float)
    lp.add_constraints("reach", _join("reach_zone", inst.zones.ids[dz[level_group[ruled]]],
                                      names[dk[level_group[ruled]]], "within", np.round(level_travel[ruled], 2),
                                      "min"),
                       rows, cols, vals, lower, INF)
    # Travel: h * (D^1 + sum_{k<K} (D^{k+1} - D^k) z^k - D^K z^K), the constant on a fixed
    # column; a substituted z^1 = 1 - y_a adds h (D^2 - D^1) to the constant, minus on y_a.
    h = f.streams.admissions[dz, dk]
    step = np.zeros(n_levels)
    step[:-1] = np.diff(level_travel)
    subs = np.flatnonzero(sub)
    one = lp.add_variables("constant", ["constant_one"], 1.0, 1.0)
    lp.add_objective_term("travel", one, float((h[level_group[first]] * level_travel[first]).sum()
                                               + (h[level_group[subs]] * step[subs]).sum()))
    lp.add_objective_term("travel", site_open[sub_site[subs]], -h[level_group[subs]] * step[subs])
    lp.add_objective_term("travel", zcols, h[level_group[inner]] * step[inner])
    lp.add_objective_term("travel", col_of_level[last], -h[level_group[last]] * level_travel[last])
    lp.add_objective_term("unmet", u, f.streams.load[dz, dk] * 365.0)


def _served_for_sure(f: Formulation) -> int | None:
    """p when at least p sites must open and each open site serves every zone (one ward,
    every pathway at every site, no travel limit): then no zone can go unserved."""
    inst = f.instance
    r = inst.rules
    p = r.open_exactly if r.open_exactly is not None else r.open_at_least
    if not p or len(inst.wards) != 1 or not f.streams.site_allowed.all() or np.isfinite(f.streams.max_travel).any():
        return None
    if not np.isfinite(inst.travel).all():
        return None
    return int(p)


def add_assignment(f: Formulation) -> None:
    inst, lp = f.instance, f.lp
    z, s, k = f.pairs
    names = np.asarray(f.streams.names, object)
    x = lp.add_variables("assign", _join("assign", inst.zones.ids[z], "to", inst.sites.ids[s], names[k]),
                         0, 1, integer=inst.rules.single_assignment)
    dz, dk = f.demand_rows
    u = lp.add_variables("unmet", _join("unmet", inst.zones.ids[dz], names[dk]), 0, 1,
                         integer=inst.rules.single_assignment)
    row_of_pair = _demand_row_of_pairs(f)
    lp.add_constraints("serve_demand", _join("serve_demand_zone", inst.zones.ids[dz], names[dk]),
                       np.concatenate([row_of_pair, np.arange(len(dz))]), np.concatenate([x, u]),
                       1.0, 1.0, 1.0)


def add_virtual_beds(f: Formulation) -> None:
    """Virtual beds per district (integer blocks of ``step`` beds), the virtual-suitable
    patients who use a hospital bed instead (overflow) or go unserved, and the chord capacity
    described in :class:`optimiser.instance.VirtualSizing`."""
    inst, lp = f.instance, f.lp
    v = inst.virtual
    if v is None:
        return
    d_ids = inst.districts.ids
    n_d = len(d_ids)
    pids = np.asarray(inst.pathways.ids, object)
    # Bounds implied by the rows below, stated so that a fixed configuration is all bounds:
    # a district that must run has at least lo/step blocks; one allowed no block cannot run.
    blocks_hi = v.hi // v.step
    blocks_lo = np.where(v.must_run, np.minimum(np.ceil(v.lo / v.step), blocks_hi), 0)
    m = lp.add_variables("virtual_blocks", _join("virtual_beds", d_ids, f"in_blocks_of_{v.step}"),
                         blocks_lo, blocks_hi, integer=True)
    w = lp.add_variables("virtual_run", _join("runs_virtual_beds", d_ids), v.must_run.astype(float),
                         np.maximum(v.must_run, blocks_hi > 0).astype(float), integer=True)
    idx = np.arange(n_d)
    lp.add_constraints("virtual_min_beds", _join("virtual_min_beds", d_ids), np.concatenate([idx, idx]),
                       np.concatenate([m, w]), np.concatenate([np.ones(n_d), -v.lo / v.step]), 0.0, INF)
    lp.add_constraints("virtual_max_beds", _join("virtual_max_beds", d_ids), np.concatenate([idx, idx]),
                       np.concatenate([m, w]), np.concatenate([np.ones(n_d), -v.hi / v.step]), -INF, 0.0)
    od, os_, op = f.overflow_routes
    fcols = lp.add_variables("overflow", _join("overflow", d_ids[od], "to", inst.sites.ids[os_], pids[op]), 0, INF)
    eligible = inst.virtual_admissions_by_district()
    gd, gp = np.nonzero(eligible > 0)
    gcols = lp.add_variables("virtual_unmet", _join("virtual_unmet", d_ids[gd], pids[gp]), 0, INF)
    n_p = len(pids)
    row_of = -np.ones((n_d, n_p), int)
    row_of[gd, gp] = np.arange(len(gd))
    lp.add_constraints("virtual_balance", _join("virtual_balance", d_ids[gd], pids[gp]),
                       np.concatenate([row_of[od, op], np.arange(len(gd))]), np.concatenate([fcols, gcols]),
                       1.0, -INF, eligible[gd, gp])
    vlos = inst.pathways.virtual_los_days / 365.0
    full_load = (eligible * vlos[None, :]).sum(axis=1)           # erlangs if all go virtual
    intercept = v.anchor_capacity - v.slope * v.anchor           # chord value at 0 beds
    slack = np.maximum(0.0, -intercept)                          # switched off when not running
    # carried = full_load - vlos*(overflow + unmet) <= intercept + slope*step*m + slack*(1 - w)
    rows = np.concatenate([od, gd, idx, idx])
    cols = np.concatenate([fcols, gcols, m, w])
    vals = np.concatenate([-vlos[op], -vlos[gp], -v.slope * v.step, slack])
    lp.add_constraints("virtual_capacity", _join("virtual_capacity", d_ids), rows, cols, vals, -INF,
                       intercept + slack - full_load)
    # a district that runs no virtual beds carries no virtual load
    rows = np.concatenate([od, gd, idx])
    cols = np.concatenate([fcols, gcols, w])
    vals = np.concatenate([-vlos[op], -vlos[gp], -full_load])
    lp.add_constraints("virtual_needs_beds", _join("virtual_load_needs_beds", d_ids), rows, cols, vals,
                       -INF, -full_load)


def _planned_load(f: Formulation) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(unit, column, erlangs per unit of the column) of the load a plan sends to each unit
    first: zones' hospital patients and virtual-suitable patients sent to hospital."""
    inst, lp = f.instance, f.lp
    z, s, k = f.pairs
    rows, cols, vals = [f.unit_of_pair], [lp.variables("assign")], [f.streams.load[z, k]]
    if lp.has_family("overflow"):
        op = f.overflow_routes[2]
        rows.append(f.unit_of_route)
        cols.append(lp.variables("overflow"))
        vals.append(inst.pathways.los_days[op] / 365.0)
    return np.concatenate(rows), np.concatenate(cols), np.concatenate(vals)


def uses_onward_flow(inst: Instance) -> bool:
    r = inst.rules
    return r.capacity_limits and r.onward_flow and r.utilisation_rule == "erlang"


def add_onward_flow(f: Formulation) -> None:
    r"""Patients a full unit turns away go on, as bed managers arrange: a share :math:`b` (the
    blocking target) of every unit's offered load :math:`A_v` — its own patients and those
    arriving from elsewhere — is planned onward to other units within reach (:math:`w_{vu}
    \ge 0`, erlangs) or turned away (:math:`t_v \ge 0`): :math:`\sum_u w_{vu} + t_v = b A_v`,
    :math:`A_v = \text{planned}_v + \sum_x w_{xv}`; likewise a share of each hub's home-based
    patients goes to hospital. The capacity rows then hold the whole offered load. Because a
    unit within capacity turns away at most :math:`b` of its patients, the patient-flow model
    run on the answer (with these onward shares) offers every unit no more than planned here:
    the answer keeps its blocking target with the onward flow included."""
    inst, lp = f.instance, f.lp
    if not uses_onward_flow(inst):
        return
    routes = onward_routes(inst)
    f.onward = routes
    opt = inst.options
    n_u, n_h = len(opt.unit_site), len(routes.hub_district)
    b = inst.rules.utilisation_target
    unit_names = _join(inst.sites.ids[opt.unit_site], np.asarray(inst.wards, object)[opt.unit_ward])
    hub_names = _join(inst.districts.ids[routes.hub_district], np.asarray(inst.pathways.ids, object)[routes.hub_pathway])
    source_names = np.concatenate([unit_names, hub_names])
    w = lp.add_variables("onward", _join("onward_from", source_names[routes.source], "to", unit_names[routes.target]), 0, INF)
    t = lp.add_variables("turned_away", _join("turned_away_at", source_names), 0, INF)
    # unit balance: sum_out w + t_v - b (planned_v + sum_in w) = 0
    pu, pc, pv = _planned_load(f)
    is_unit = routes.source < n_u
    rows = np.concatenate([routes.source[is_unit], np.arange(n_u), pu, routes.target])
    cols = np.concatenate([w[is_unit], t[:n_u], pc, w])
    vals = np.concatenate([np.ones(is_unit.sum()), np.ones(n_u), -b * pv, -b * np.ones(len(w))])
    lp.add_constraints("onward_balance", _join("onward_balance", unit_names), rows, cols, vals, 0.0, 0.0)
    if n_h:
        # hub balance: sum_out w + t_h = b_v * (hospital erlangs of the hub's patients)
        #            = b_v * los/365 * (E - overflow - virtual_unmet)
        bv = inst.rules.virtual_target
        stay = inst.pathways.los_days[routes.hub_pathway] / 365.0
        eligible = inst.virtual_admissions_by_district()
        hub_of = -np.ones(eligible.shape, int)
        hub_of[routes.hub_district, routes.hub_pathway] = np.arange(n_h)
        od, _, op = f.overflow_routes
        gd, gp = np.nonzero(eligible > 0)
        rows = [routes.source[~is_unit] - n_u, np.arange(n_h), hub_of[od, op], hub_of[gd, gp]]
        cols = [w[~is_unit], t[n_u:], lp.variables("overflow"), lp.variables("virtual_unmet")]
        vals = [np.ones((~is_unit).sum()), np.ones(n_h), bv * stay[hub_of[od, op]], bv * stay[hub_of[gd, gp]]]
        rhs = bv * stay * eligible[routes.hub_district, routes.hub_pathway]
        lp.add_constraints("hub_onward_balance", _join("hub_onward_balance", hub_names), np.concatenate(rows),
                           np.concatenate(cols), np.concatenate(vals), rhs, rhs)
    lp.add_objective_term("unmet", t, 365.0)
    lp.add_objective_term("travel", w, 365.0 / np.maximum(routes.source_stay_days[routes.source], 1e-9) * routes.minutes)


def add_capacity(f: Formulation) -> None:
    """Capacity (queueing): the load offered to each unit — planned, and onward from full
    units and hubs — is at most what its bed option carries at the utilisation target."""
    inst, lp, opt = f.instance, f.lp, f.instance.options
    if not inst.rules.capacity_limits:
        return
    pu, pc, pv = _planned_load(f)
    parts_rows = [pu, opt.option_unit]
    parts_cols = [pc, lp.variables("bed_option")]
    parts_vals = [pv, -opt.option_capacity]
    if lp.has_family("onward"):
        parts_rows.append(f.onward.target)
        parts_cols.append(lp.variables("onward"))
        parts_vals.append(np.ones(len(f.onward.target)))
    names = _join("capacity", inst.sites.ids[opt.unit_site], np.asarray(inst.wards, object)[opt.unit_ward])
    lp.add_constraints("capacity", names, np.concatenate(parts_rows), np.concatenate(parts_cols),
                       np.concatenate(parts_vals), -INF, 0.0)


def use_strong_links(inst: Instance, n_pairs: int) -> bool:
    """Strong links (x <= open for every pair) tighten the relaxation but add a row per pair.
    Measured on the synthetic 33,000 x 150 instance (116,322 pairs): with them the LP
    relaxation took 89 s, without them 3.5 s, and the bound was only 0.07% weaker; so 'auto'
    writes them only for models with at most ``STRONG_LINKING_AUTO_LIMIT`` pairs (LLR: 6,455)."""
    if not inst.rules.capacity_limits:
        return True  # without capacity rows the links are what keeps x at open sites
    mode = inst.solver.strong_linking
    return mode == "on" or (mode == "auto" and n_pairs <= STRONG_LINKING_AUTO_LIMIT)


def add_strong_links(f: Formulation) -> None:
    inst, lp = f.instance, f.lp
    x = lp.variables("assign")
    if not use_strong_links(inst, len(x)):
        return
    n = len(x)
    rows_opts, opt_cols = _bed_options_of(f, f.unit_of_pair)
    z, s, k = f.pairs
    names = _join("link", inst.zones.ids[z], inst.sites.ids[s], np.asarray(f.streams.names, object)[k])
    lp.add_constraints("strong_link", names, np.concatenate([np.arange(n), rows_opts]),
                       np.concatenate([x, opt_cols]),
                       np.concatenate([np.ones(n), -np.ones(len(opt_cols))]), -INF, 0.0)


def coverage_weights(inst: Instance, population: str) -> np.ndarray:
    return inst.zones.population_65 if population == "65_plus" else inst.zones.population


def add_travel_standard(f: Formulation) -> None:
    inst, lp = f.instance, f.lp
    rules = inst.rules.coverage
    if not rules:
        return
    x = lp.variables("assign")
    z, s, k = f.pairs
    rows, cols, vals, rhs, names = [], [], [], [], []
    for r, rule in enumerate(rules):
        w = coverage_weights(inst, rule.population)
        stream = f.streams.of_pathway[rule.pathway]
        has_demand = f.streams.admissions[:, stream] > 0
        near = (k == stream) & (inst.travel_by(rule.travel_matrix)[z, s] <= rule.threshold_minutes + 1e-9)
        rows.append(np.full(near.sum(), r))
        cols.append(x[near])
        vals.append(w[z[near]])
        rhs.append(rule.share * w[has_demand].sum())
        names.append(f"travel_standard_{inst.pathways.ids[rule.pathway]}_{rule.population}_"
                     f"{rule.share:.0%}_within_{rule.threshold_minutes:g}min"
                     + ("_second_matrix" if rule.travel_matrix == "second" else ""))
    lp.add_constraints("travel_standard", _clean(names), np.concatenate(rows), np.concatenate(cols),
                       np.concatenate(vals), np.asarray(rhs), INF)


def add_equity(f: Formulation) -> None:
    inst, lp = f.instance, f.lp
    w = inst.weights
    if not (w.equity > 0 or (w.lexicographic and "equity" in w.lexicographic)):
        return
    t = lp.add_variables("worst_district_travel", ["worst_district_mean_travel_minutes"], 0, INF)
    x = lp.variables("assign")
    z, s, k = f.pairs
    d = inst.zones.district[z]
    totals = np.zeros(len(inst.districts.ids))
    np.add.at(totals, inst.zones.district, inst.hospital_admissions.sum(axis=1))
    active = np.flatnonzero(totals > 0)
    local = -np.ones(len(totals), int)
    local[active] = np.arange(len(active))
    keep = local[d] >= 0
    coef = f.streams.admissions[z, k] * inst.travel[z, s] / np.where(totals[d] > 0, totals[d], 1)
    lp.add_constraints("equity", _join("equity_district", inst.districts.ids[active]),
                       np.concatenate([local[d[keep]], np.arange(len(active))]),
                       np.concatenate([x[keep], np.repeat(t, len(active))]),
                       np.concatenate([coef[keep], -np.ones(len(active))]), -INF, 0.0)
    lp.add_objective_term("equity", t, 1.0)


def add_open_site_counts(f: Formulation) -> None:
    inst, lp = f.instance, f.lp
    r = inst.rules
    cols = lp.variables("site_open")
    n = len(cols)
    for label, lo, hi in (("exactly", r.open_exactly, r.open_exactly),
                          ("at_least", r.open_at_least, None), ("at_most", None, r.open_at_most)):
        if lo is None and hi is None:
            continue
        value = lo if lo is not None else hi
        lp.add_constraints(f"open_sites_{label}", [f"open_sites_{label}_{value}"], np.zeros(n, int), cols,
                           1.0, -INF if lo is None else float(lo), INF if hi is None else float(hi))


def cost_terms(f: Formulation) -> tuple[np.ndarray, np.ndarray]:
    """(columns, GBP per year) of the annual cost."""
    inst, lp, opt = f.instance, f.lp, f.instance.options
    site_of_option = opt.unit_site[opt.option_unit]
    per_option = (inst.sites.cost_per_bed[site_of_option] * opt.option_beds
                  + opt.option_capital / inst.weights.capital_annualisation_years)
    cols = [lp.variables("site_open"), lp.variables("bed_option")]
    vals = [inst.sites.fixed_cost, per_option]
    if inst.virtual is not None:
        cols.append(lp.variables("virtual_blocks"))
        vals.append(np.full(len(inst.districts.ids), inst.virtual.cost_per_bed * inst.virtual.step))
    return np.concatenate(cols), np.concatenate(vals).astype(float)


def add_budget(f: Formulation) -> None:
    budget = f.instance.rules.budget
    if budget is None:
        return
    cols, vals = cost_terms(f)
    f.lp.add_constraints("budget", ["budget_per_year"], np.zeros(len(cols), int), cols, vals, -INF, budget)


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
    """Build the whole programme. Returns a :class:`Formulation`; call
    :func:`optimiser.model.solve.solve_instance` (which builds, solves and decodes), or add
    constraints to ``f.lp`` first (as the alternatives and lexicographic steps do)."""
    streams = make_streams(instance)
    z, s, k = allowed_pairs(instance, streams)
    dz, dk = np.nonzero(streams.admissions > 0)
    unit_index = -np.ones((instance.n_sites, len(instance.wards)), int)
    opt = instance.options
    unit_index[opt.unit_site, opt.unit_ward] = np.arange(len(opt.unit_site))
    unit_of_pair = unit_index[s, streams.ward[k]]
    routes = instance.overflow_pairs()
    unit_of_route = unit_index[routes[1], instance.pathways.ward[routes[2]]] if len(routes[0]) else np.zeros(0, int)
    f = Formulation(instance, LinearProgram(instance.name), streams, (z, s, k), routes, (dz, dk),
                    unit_of_pair, unit_of_route, radius_form=use_radius_form(instance))
    add_bed_options(f)
    add_site_open(f)
    add_site_bed_limits(f)
    if f.radius_form:
        add_radius_assignment(f)
    else:
        add_assignment(f)
        add_virtual_beds(f)
        add_onward_flow(f)
        add_capacity(f)
        add_strong_links(f)
    add_travel_standard(f)
    add_equity(f)
    add_deprivation_equity(f)     # optimiser.deprivation: the deprivation equity rule
    add_open_site_counts(f)
    add_budget(f)
    add_objective(f)
    return f


def configuration_start(f: Formulation, unit_beds: np.ndarray, virtual_beds: np.ndarray | None) -> np.ndarray:
    """A starting point for the solver from a configuration (beds on each unit, virtual beds
    per district): the integer columns set, every other column NaN (left to the solver)."""
    inst, lp, opt = f.instance, f.lp, f.instance.options
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
