"""Assignment: where each zone's hospital patients of each pathway are first sent.

Shares form: :math:`x_{ijp} \\in [0,1]` (binary under single assignment) for pairs within the
pathway's travel limit at sites hosting it, and the unmet share :math:`m_{ip}`:
:math:`\\sum_j x_{ijp} + m_{ip} = 1`; strong links :math:`x_{ijp} \\le \\sum_{k \\in u(j,p), c_k>0}
y_k` (a zone is sent only to a unit with beds). Where nothing but the objective needs to know
who goes where (the classical p-median) the same assignment is written in the radius form.
Violations: shares that do not add to one, a split zone under single assignment, and a share
beyond the travel limit, at a site not hosting the pathway, or at a unit with no beds."""

from __future__ import annotations

import numpy as np

from optimiser.instance import Instance
from optimiser.model.lp import INF
from optimiser.model.names import join
from optimiser.model.streams import make_streams
from optimiser.rules.base import RawSolution, Rule, Violation

STRONG_LINKING_AUTO_LIMIT = 50_000   # pairs; see use_strong_links


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


def add_radius_assignment(f) -> None:
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
    group = f.demand_row_of_pairs()
    t = inst.travel[z, s]
    order = np.lexsort((t, group))
    served = served_for_sure(f)
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
    zcols = lp.add_variables("not_within", join("not_within", np.round(level_travel[inner], 2), "min_zone",
                                                 inst.zones.ids[dz[level_group[inner]]], names[dk[level_group[inner]]]),
                             0, INF)   # <= 1 at any optimum (positive cost); no bound keeps the LP fast
    reachable = np.zeros(len(dz), bool)
    reachable[level_group] = True
    u = lp.add_variables("unmet", join("unmet", inst.zones.ids[dz], names[dk]), (~reachable).astype(float),
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
        entry, ycols = f.bed_choices_of(f.unit_of_pair[used])
    ruled = np.flatnonzero(has_row)
    after_sub = ruled[~first[ruled] & sub[np.maximum(ruled - 1, 0)]]
    later = ruled[~first[ruled] & ~sub[np.maximum(ruled - 1, 0)]]
    rows = np.concatenate([row_of_level[level_of_pair[used][entry]], row_of_level[ruled], row_of_level[later],
                           row_of_level[after_sub]])
    cols = np.concatenate([ycols, col_of_level[ruled], col_of_level[later - 1], site_open[sub_site[after_sub - 1]]])
    vals = np.concatenate([np.ones(len(ycols)), np.ones(len(ruled)), -np.ones(len(later)), np.ones(len(after_sub))])
    lower = (first[ruled] | sub[np.maximum(ruled - 1, 0)] & ~first[ruled]).astype(float)
    lp.add_constraints("reach", join("reach_zone", inst.zones.ids[dz[level_group[ruled]]],
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


def served_for_sure(f) -> int | None:
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


def add_shares(f) -> None:
    inst, lp = f.instance, f.lp
    z, s, k = f.pairs
    names = np.asarray(f.streams.names, object)
    x = lp.add_variables("assign", join("assign", inst.zones.ids[z], "to", inst.sites.ids[s], names[k]),
                         0, 1, integer=inst.rules.single_assignment)
    dz, dk = f.demand_rows
    u = lp.add_variables("unmet", join("unmet", inst.zones.ids[dz], names[dk]), 0, 1,
                         integer=inst.rules.single_assignment)
    row_of_pair = f.demand_row_of_pairs()
    lp.add_constraints("serve_demand", join("serve_demand_zone", inst.zones.ids[dz], names[dk]),
                       np.concatenate([row_of_pair, np.arange(len(dz))]), np.concatenate([x, u]),
                       1.0, 1.0, 1.0)


def use_strong_links(inst: Instance, n_pairs: int) -> bool:
    """Strong links (x <= open for every pair) tighten the relaxation but add a row per pair.
    Measured on the synthetic 33,000 x 150 instance (116,322 pairs): with them the LP
    relaxation took 89 s, without them 3.5 s, and the bound was only 0.07% weaker; so 'auto'
    writes them only for models with at most ``STRONG_LINKING_AUTO_LIMIT`` pairs (LLR: 6,455)."""
    if not inst.rules.capacity_limits:
        return True  # without capacity rows the links are what keeps x at open sites
    mode = inst.solver.strong_linking
    return mode == "on" or (mode == "auto" and n_pairs <= STRONG_LINKING_AUTO_LIMIT)


def add_strong_links(f) -> None:
    inst, lp = f.instance, f.lp
    x = lp.variables("assign")
    if not use_strong_links(inst, len(x)):
        return
    n = len(x)
    rows_opts, opt_cols = f.bed_choices_of(f.unit_of_pair)
    z, s, k = f.pairs
    names = join("link", inst.zones.ids[z], inst.sites.ids[s], np.asarray(f.streams.names, object)[k])
    lp.add_constraints("strong_link", names, np.concatenate([np.arange(n), rows_opts]),
                       np.concatenate([x, opt_cols]),
                       np.concatenate([np.ones(n), -np.ones(len(opt_cols))]), -INF, 0.0)


class Assignment(Rule):
    name = "serve_demand"
    label = "serving every patient once"
    measured = False

    def add_rows(self, f) -> None:
        if f.radius_form:
            add_radius_assignment(f)
        else:
            add_shares(f)

    def violations(self, inst: Instance, raw: RawSolution) -> list[Violation]:
        out: list[Violation] = []
        total = raw.assignment.sum(axis=1) + raw.unmet
        need = inst.hospital_admissions > 0
        for zi, pi in zip(*np.nonzero(need & (np.abs(total - 1.0) > 1e-5)), strict=True):
            out.append(Violation(self.name, f"{inst.zones.ids[zi]}/{inst.pathways.ids[pi]}", total[zi, pi] - 1,
                                 f"shares sum to {total[zi, pi]:.6f}, not 1"))
        live = raw.assignment > 1e-6
        if inst.rules.single_assignment:
            split = (raw.assignment > 1e-5) & (raw.assignment < 1 - 1e-5)
            for zi, si, pi in np.argwhere(split)[:50]:
                out.append(Violation("single_assignment", f"{inst.zones.ids[zi]}/{inst.pathways.ids[pi]}",
                                     raw.assignment[zi, si, pi], "zone split between hospitals under single assignment"))
        minutes = inst.travel[:, :, None]
        too_far = live & (minutes > inst.pathways.max_travel[None, None, :] + 1e-6)
        not_hosted = live & ~inst.pathways.site_allowed.T[None, :, :]
        units = -np.ones((inst.n_sites, len(inst.wards)), int)
        units[inst.bed_choices.unit_site, inst.bed_choices.unit_ward] = np.arange(len(inst.bed_choices.unit_site))
        unit_of = units[:, inst.pathways.ward]                                   # (S, P)
        unit_beds = np.where(unit_of >= 0, raw.unit_beds[np.maximum(unit_of, 0)], 0)
        closed = live & (unit_beds[None, :, :] <= 0)
        for mask, rule, text in ((too_far, "travel_limit", "assigned beyond the travel limit"),
                                 (not_hosted, "pathway_sites", "assigned to a site that does not host the pathway"),
                                 (closed, "strong_link", "assigned to a unit with no beds")):
            for zi, si, pi in np.argwhere(mask)[:50]:
                out.append(Violation(rule, f"{inst.zones.ids[zi]}->{inst.sites.ids[si]}/{inst.pathways.ids[pi]}",
                                     float(inst.travel[zi, si]), text))
        return out


class StrongLinks(Rule):
    """Strong links tighten the relaxation (a zone is sent only to a unit with beds); what
    they forbid is checked with the assignment."""

    name = "strong_link"
    label = "sending patients only to units with beds"
    measured = False

    def add_rows(self, f) -> None:
        if not f.radius_form:
            add_strong_links(f)
