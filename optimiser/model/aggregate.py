r"""An exact-in-structure aggregation of small areas: a much smaller programme whose optimum
is a proven lower bound for the full one.

Small areas that share a district, the sites each of their pathway streams may use, which of
those sites lie within every travel-standard threshold, and their mix of pathways within a
stream are put in one *group*. The full programme (as built, including any rows a caller
added) is then rewritten on groups:

* a group's assignment share :math:`\tilde x_{gj} = \sum_{i\in g} a_i x_{ij} / A_g` (``a``: the
  zone's admissions of the stream) replaces its members' shares, and likewise its unmet share;
* rows written once per zone (serve demand, strong links) are replaced by their
  admission-weighted sum over the group, which the group's shares state exactly;
* in every other row, and in the objective, each member's coefficient per unit of the
  group's share is :math:`\beta_i = \alpha_i A_g / a_i`; the group's coefficient is the
  smallest :math:`\beta_i` in a ``<=`` row and in the objective, the largest in a ``>=`` row,
  and an equality row whose :math:`\beta_i` differ is split into both. Since
  :math:`\sum_i \alpha_i x_i = \sum_i \beta_i \theta_i` with :math:`\theta_i \ge 0` summing to
  :math:`\tilde x`, every solution of the full programme gives a solution of the grouped one
  at no greater cost: the grouped programme is a *relaxation*.

Capacity, onward flow, reach and virtual beds are proportional to admissions within a group,
so they stay exact; only travel, equity and the travel standard are bounded. To keep those
bounds tight, each member's row is first shifted by a multiple of its serve-demand equality
(:math:`\sum_j x_{ij} + m_i = 1`) so that its nearest allowed site has coefficient zero:
travel becomes the constant :math:`\sum_i a_i t_i^*` plus the extra minutes
:math:`t_{ij} - t_i^*` of going further, which members of a group mostly share.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import scipy.sparse as sp

from optimiser.model.formulation import Formulation
from optimiser.model.lp import FrozenProgram

ZONE_ROW_FAMILIES = ("serve_demand", "strong_link")   # one row per zone(-site) and stream
EXACT_RTOL = 1e-9


@dataclass(frozen=True)
class Aggregation:
    """The grouped programme and how its columns relate to the full one's."""

    program: FrozenProgram
    kept: np.ndarray        # full-programme column of each of the grouped programme's first columns
    zone_group: np.ndarray  # group of each zone
    n_groups: int

    def lift_bounds(self, lower: np.ndarray, upper: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The grouped programme's column bounds with the kept columns' bounds taken from
        full-programme arrays (e.g. a configuration fixed on the integer columns)."""
        lo, hi = self.program.var_lower.copy(), self.program.var_upper.copy()
        k = len(self.kept)
        lo[:k], hi[:k] = lower[self.kept], upper[self.kept]
        return lo, hi


def zone_groups(f: Formulation, coarse: bool = False) -> np.ndarray:
    """Group number of each zone: same district, same allowed sites per stream (and demand
    or not), same sites within each travel-standard threshold, same pathway mix per stream.
    ``coarse``: district and allowed sites only (a weaker but much smaller relaxation, used
    to discard branches far from the best answer cheaply)."""
    inst, streams = f.instance, f.streams
    n_z = inst.n_zones
    open_ok = inst.sites.status >= 0
    parts = [inst.zones.district.astype(np.int64)[:, None]]
    for k in range(len(streams.members)):
        has = streams.admissions[:, k] > 0
        ok = (inst.travel <= streams.max_travel[k] + 1e-9) & (streams.site_allowed[k] & open_ok)[None, :]
        parts.append((ok & has[:, None]).astype(np.int64))
        parts.append(has.astype(np.int64)[:, None])
        members = list(streams.members[k])
        if len(members) > 1 and not coarse:
            adm = inst.hospital_admissions[:, members]
            total = np.where(has, adm.sum(axis=1), 1.0)
            # pathway mix (capacity then stays exact; rows whose coefficients still differ are bounded)
            parts.append(np.round(adm / total[:, None] * 1e9).astype(np.int64))
    for rule in () if coarse else inst.rules.coverage:
        parts.append((inst.travel <= rule.threshold_minutes + 1e-9).astype(np.int64))
    key = np.concatenate(parts, axis=1) if parts else np.zeros((n_z, 1), np.int64)
    _, group = np.unique(key, axis=0, return_inverse=True)
    return group.ravel().astype(int)


def _nearest_pair(f: Formulation) -> np.ndarray:
    """For each demand row (zone, stream), its allowed pair with the shortest journey (-1: none)."""
    z, s, _ = f.pairs
    row = f.demand_row_of_pairs()
    t = f.instance.travel[z, s]
    order = np.lexsort((s, t, row))
    first = np.ones(len(order), bool)
    first[1:] = row[order][1:] != row[order][:-1]
    out = -np.ones(len(f.demand_rows[0]), int)
    out[row[order[first]]] = order[first]
    return out


def aggregate(f: Formulation, program: FrozenProgram, coarse: bool = False) -> Aggregation | None:
    """The grouped relaxation of ``program`` (frozen from ``f``, perhaps with rows a caller
    added); ``None`` when the model has no zone-level shares to group (radius form) or the
    shares must be whole (single assignment)."""
    lp = f.lp
    if f.radius_form or not lp.has_family("assign") or program.var_integer[lp.variables("assign")].any():
        return None
    n_rows, n_cols = program.shape
    group = zone_groups(f, coarse)
    z, s, k = f.pairs
    dz, dk = f.demand_rows
    n_k = len(f.streams.names)
    x_cols, m_cols = lp.variables("assign"), lp.variables("unmet")

    # --- member columns -> grouped columns -------------------------------------------------
    pair_agg = np.unique((group[z] * f.instance.n_sites + s) * n_k + k, return_inverse=True)[1].ravel()
    row_agg = np.unique(group[dz] * n_k + dk, return_inverse=True)[1].ravel()
    n_xa, n_ma = int(pair_agg.max(initial=-1)) + 1, int(row_agg.max(initial=-1)) + 1
    is_zone_col = np.zeros(n_cols, bool)
    is_zone_col[x_cols] = True
    is_zone_col[m_cols] = True
    kept = np.flatnonzero(~is_zone_col)
    n_kept = len(kept)
    new_of = -np.ones(n_cols, int)
    new_of[kept] = np.arange(n_kept)
    new_of[x_cols] = n_kept + pair_agg
    new_of[m_cols] = n_kept + n_xa + row_agg
    n_new = n_kept + n_xa + n_ma
    weight = np.zeros(n_cols)
    weight[x_cols] = f.streams.admissions[z, k]
    weight[m_cols] = f.streams.admissions[dz, dk]
    zc = np.flatnonzero(is_zone_col)
    total = np.bincount(new_of[zc], weights=weight[zc], minlength=n_new)
    members = np.bincount(new_of[zc], minlength=n_new)
    scale = np.ones(n_cols)
    scale[zc] = total[new_of[zc]] / weight[zc]                     # A_g / a_i

    zone_rows = np.zeros(n_rows, bool)
    for family in ZONE_ROW_FAMILIES:
        if family in program.row_families:
            zone_rows[program.row_families[family]] = True
    a = program.matrix.tocsr().astype(float)
    lower, upper = program.row_lower.astype(float).copy(), program.row_upper.astype(float).copy()

    # --- shift the objective and the rows whose coefficients differ within a group ------------
    demand_row_of_col = -np.ones(n_cols, int)
    demand_row_of_col[x_cols] = f.demand_row_of_pairs()
    demand_row_of_col[m_cols] = np.arange(len(dz))
    nearest = _nearest_pair(f)
    coo = a.tocoo()
    sel = is_zone_col[coo.col] & ~zone_rows[coo.row]
    rows, _, low, high = _min_max(coo.row[sel], new_of[coo.col[sel]], coo.data[sel] * scale[coo.col[sel]], members)
    shift_rows = np.unique(rows[~_same(low, high)])
    objective = program.objective.astype(float).copy()
    offset = float(program.objective_offset)
    if len(shift_rows):
        sub = a[shift_rows].toarray()
        sub, shift = _shifted(sub, x_cols, m_cols, nearest, demand_row_of_col)
        lower[shift_rows] -= shift
        upper[shift_rows] -= shift
        keep = np.ones(n_rows)
        keep[shift_rows] = 0.0
        a = (sp.diags(keep) @ a + sp.csr_matrix(sub_to_full(sub, shift_rows, n_rows))).tocsr()
    obj, shift = _shifted(objective[None, :], x_cols, m_cols, nearest, demand_row_of_col)
    objective, offset = obj[0], offset + float(shift[0])

    # --- rows written once per zone: admission-weighted sum over each group --------------------
    coo = a.tocoo()
    owner = _zone_row_owner(program, f, n_rows)
    zr_ids = np.flatnonzero(zone_rows)
    family_of = np.zeros(n_rows, int)
    for i, family in enumerate(ZONE_ROW_FAMILIES):
        if family in program.row_families:
            family_of[program.row_families[family]] = i
    merged_of_row = -np.ones(n_rows, int)
    merged_of_row[zr_ids] = np.unique(new_of[owner[zr_ids]] * len(ZONE_ROW_FAMILIES) + family_of[zr_ids],
                                      return_inverse=True)[1].ravel()
    n_merged = int(merged_of_row.max(initial=-1)) + 1
    owner_weight = np.zeros(n_rows)
    owner_weight[zr_ids] = weight[owner[zr_ids]] / total[new_of[owner[zr_ids]]]
    zr = zone_rows[coo.row]
    own = zr & is_zone_col[coo.col]
    m_rows, m_cols_new, m_low, m_high = _min_max(merged_of_row[coo.row[own]], new_of[coo.col[own]], coo.data[own], members)
    merged_lo = _merged_bound(lower, zr_ids, merged_of_row, owner_weight, n_merged)
    merged_hi = _merged_bound(upper, zr_ids, merged_of_row, owner_weight, n_merged)
    if not np.all(_same(m_low, m_high)):
        raise ValueError("zone rows of a group differ in their own coefficients")   # cannot happen by construction
    other = zr & ~is_zone_col[coo.col]

    # --- every other row: the bound over members that keeps the row valid -----------------
    glob = ~zr
    g_rows, g_cols, g_low, g_high = _min_max(coo.row[glob], new_of[coo.col[glob]],
                                             coo.data[glob] * scale[coo.col[glob]], members)
    two_sided = np.isfinite(lower) & np.isfinite(upper)
    split = np.unique(g_rows[~_same(g_low, g_high) & two_sided[g_rows]])
    use_low = np.isfinite(upper[g_rows])          # <= rows (and the <= half of a split row)
    coef = np.where(use_low, g_low, g_high)
    row_lo, row_hi = lower.copy(), upper.copy()
    row_lo[split] = -np.inf
    copy_of = -np.ones(n_rows, int)
    copy_of[split] = np.arange(len(split))
    in_split = copy_of[g_rows] >= 0

    keep_rows = np.flatnonzero(~zone_rows)
    renum = -np.ones(n_rows, int)
    renum[keep_rows] = np.arange(len(keep_rows))
    n_split = len(split)
    base = len(keep_rows) + n_split
    r_all = np.concatenate([renum[g_rows], len(keep_rows) + copy_of[g_rows[in_split]],
                            base + m_rows, base + merged_of_row[coo.row[other]]])
    c_all = np.concatenate([g_cols, g_cols[in_split], m_cols_new, new_of[coo.col[other]]])
    v_all = np.concatenate([coef, g_high[in_split], m_low, coo.data[other] * owner_weight[coo.row[other]]])
    matrix = sp.csr_matrix((v_all, (r_all, c_all)), shape=(base + n_merged, n_new))
    matrix.sum_duplicates()

    low_obj = np.full(n_new, np.inf)
    np.minimum.at(low_obj, new_of[zc], objective[zc] * scale[zc])
    grouped_objective = np.zeros(n_new)
    grouped_objective[:n_kept] = objective[kept]
    grouped_objective[n_kept:] = low_obj[n_kept:]
    # every member of a group may use the same sites (the grouping keys on them), so each
    # grouped share is over the whole group; the rows above rely on it
    group_total = np.bincount(row_agg, weights=f.streams.admissions[dz, dk], minlength=n_ma)
    row_of_pair_agg = np.zeros(n_xa, int)
    row_of_pair_agg[pair_agg] = row_agg[f.demand_row_of_pairs()]
    if not np.allclose(total[n_kept:n_kept + n_xa], group_total[row_of_pair_agg], rtol=1e-12):
        raise ValueError("a group's members differ in the sites they may use")
    unmet_lower = np.zeros(n_ma)
    np.maximum.at(unmet_lower, row_agg, program.var_lower[m_cols])
    grouped = FrozenProgram(
        var_names=np.concatenate([program.var_names[kept], np.array([f"group_assign_{i}" for i in range(n_xa)], object),
                                  np.array([f"group_unmet_{i}" for i in range(n_ma)], object)]),
        var_lower=np.concatenate([program.var_lower[kept], np.zeros(n_xa), unmet_lower]),
        var_upper=np.concatenate([program.var_upper[kept], np.ones(n_xa + n_ma)]),
        var_integer=np.concatenate([program.var_integer[kept], np.zeros(n_xa + n_ma, bool)]),
        objective=grouped_objective, objective_offset=offset, matrix=matrix,
        row_names=np.concatenate([program.row_names[keep_rows], np.char.add(program.row_names[split].astype(str), "_ge").astype(object),
                                  np.array([f"group_row_{i}" for i in range(n_merged)], object)]),
        row_lower=np.concatenate([row_lo[keep_rows], lower[split], merged_lo]),
        row_upper=np.concatenate([row_hi[keep_rows], np.full(n_split, np.inf), merged_hi]),
        var_families={}, row_families=_kept_families(program.row_families, renum, zone_rows), objective_terms={})
    return Aggregation(grouped, kept, group, int(group.max(initial=-1)) + 1)


def _kept_families(families: dict[str, slice], renum: np.ndarray, zone_rows: np.ndarray) -> dict[str, slice]:
    """Row families of the full programme that the grouped one keeps whole, renumbered."""
    out = {}
    for name, sl in families.items():
        rows = np.arange(sl.start, sl.stop)
        if len(rows) and not zone_rows[rows].any():
            out[name] = slice(int(renum[rows[0]]), int(renum[rows[-1]]) + 1)
    return out


def _same(low: np.ndarray, high: np.ndarray) -> np.ndarray:
    return np.isclose(low, high, rtol=EXACT_RTOL, atol=1e-12)


def sub_to_full(sub: np.ndarray, rows: np.ndarray, n_rows: int) -> sp.coo_matrix:
    r, c = np.nonzero(sub)
    return sp.coo_matrix((sub[r, c], (rows[r], c)), shape=(n_rows, sub.shape[1]))


def _shifted(sub: np.ndarray, x_cols, m_cols, nearest, demand_row_of_col) -> tuple[np.ndarray, np.ndarray]:
    """Each row of ``sub`` minus, per demand row, mu times its serve-demand equality
    (coefficient 1 on the demand row's pairs and its unmet share, right-hand side 1), with mu
    the row's coefficient on the demand row's nearest pair; returns the rows and sum(mu)."""
    sub = sub.copy()
    has = nearest >= 0
    mu = np.zeros((sub.shape[0], len(nearest)))
    mu[:, has] = sub[:, x_cols[nearest[has]]]
    sub[:, x_cols] -= mu[:, demand_row_of_col[x_cols]]
    sub[:, m_cols] -= mu
    return sub, mu.sum(axis=1)


def _min_max(r, nc, beta, members):
    """Per (row, grouped column): smallest and largest per-share coefficient over the
    column's members; members without an entry count as 0."""
    r, nc = np.asarray(r, int), np.asarray(nc, int)
    if len(r) == 0:
        return np.zeros(0, int), np.zeros(0, int), np.zeros(0), np.zeros(0)
    order = np.lexsort((nc, r))
    kr, kc, kb = r[order], nc[order], np.asarray(beta, float)[order]
    start = np.ones(len(kr), bool)
    start[1:] = (kr[1:] != kr[:-1]) | (kc[1:] != kc[:-1])
    idx = np.flatnonzero(start)
    low = np.minimum.reduceat(kb, idx)
    high = np.maximum.reduceat(kb, idx)
    count = np.diff(np.append(idx, len(kr)))
    missing = count < np.maximum(members[kc[idx]], 1)
    return kr[idx], kc[idx], np.where(missing, np.minimum(low, 0.0), low), np.where(missing, np.maximum(high, 0.0), high)


def _zone_row_owner(program: FrozenProgram, f: Formulation, n_rows: int) -> np.ndarray:
    """The member column (assign or unmet) each zone-level row is written for."""
    owner = np.zeros(n_rows, int)
    if "serve_demand" in program.row_families:
        owner[program.row_families["serve_demand"]] = f.lp.variables("unmet")
    if "strong_link" in program.row_families:
        owner[program.row_families["strong_link"]] = f.lp.variables("assign")
    return owner


def _merged_bound(bound, zr_ids, merged_of_row, owner_weight, n_merged) -> np.ndarray:
    """Admission-weighted sum of the members' row bounds (infinite if any member's is)."""
    b = bound[zr_ids]
    out = np.zeros(n_merged)
    finite = np.isfinite(b)
    np.add.at(out, merged_of_row[zr_ids[finite]], b[finite] * owner_weight[zr_ids[finite]])
    out[merged_of_row[zr_ids[~finite]]] = b[~finite]
    return out


def with_bounds(program: FrozenProgram, lower: np.ndarray, upper: np.ndarray, relax: bool = False) -> FrozenProgram:
    return replace(program, var_lower=lower, var_upper=upper,
                   var_integer=np.zeros_like(program.var_integer) if relax else program.var_integer)
