"""Who is affected: an option against a baseline (by default the status quo), area by area.

Every figure comes from the patient-flow model (:mod:`optimiser.flow`) run on each of the two
answers, exactly as their metrics do: where a small area's patients get a bed (their first
hospital, or the next within reach when it is full), how far that is, and how that changes.
An evaluated option and an optimiser's answer (full or quick) are treated alike.

For each small area (LSOA) and pathway: the hospital most of its patients use before and
after, and the admission-weighted mean minutes to where they get a bed. The *journey* of an
area is that of the reference pathway (the travel standard's; rehabilitation on the LLR
default): its residents have a *longer* journey when it rises by at least
``CHANGE_THRESHOLD_MINUTES``, a *shorter* one when it falls by as much, and an *unchanged*
one otherwise (an area whose patients lose every hospital within reach counts as longer, one
that gains one as shorter), so the three counts add up to the population. Tables by district
and by IMD 2019 decile and quintile count people (all and aged 65+) with longer and shorter
journeys, the mean change, people pushed beyond 30 and 45 minutes, and admissions a year
whose hospital changes; with a second travel matrix (e.g. public transport) every table is
repeated on it (column ``travel_times``). For each site with fewer beds, where its patients
now go. The ten worst-affected areas are named, and a paragraph per district is written from
the district table's own numbers (:func:`district_paragraph`).

Presentation-independent: the maps, PDFs and HTML pages are in :mod:`optimiser.impact_pack`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from optimiser.errors import ScenarioError
from optimiser.rules.deprivation import rule_of
from optimiser.solution import Solution, flow_of

CHANGE_THRESHOLD_MINUTES = 1.0     # a journey changes when it moves by at least this
THRESHOLDS = (30, 45)              # minutes: people pushed beyond these are counted
MAIN_LABEL = "road"                # the dataset's own travel times
WORST_AREAS = 10


@dataclass(frozen=True)
class Impact:
    """The impact of ``option`` against ``baseline`` (both :class:`Solution`)."""

    option: Solution
    baseline: Solution
    by_lsoa: pd.DataFrame
    by_district: pd.DataFrame       # one row per district and travel_times
    by_imd_decile: pd.DataFrame     # one row per IMD decile and travel_times
    by_imd_quintile: pd.DataFrame
    overall: pd.DataFrame           # one row per travel_times: the whole area
    site_changes: pd.DataFrame      # per site with fewer beds: where its patients go
    worst_areas: pd.DataFrame       # the ten areas whose journeys lengthen most
    paragraphs: Mapping[str, str] = field(default_factory=dict)   # district code -> paragraph
    travel_labels: tuple[str, ...] = (MAIN_LABEL,)
    reference_pathway: str = ""
    settings: tuple[str, ...] = ()   # the scenario's settings that matter here, in words

    @property
    def caveats(self) -> list[str]:
        """What must be said next to these figures: near-ties, quick or time-limited answers."""
        out = []
        for role, sol in (("option", self.option), ("baseline", self.baseline)):
            if sol.near_ties:
                out.append(f"The {role} '{sol.name}' has {len(sol.near_ties)} near-tie(s): materially different "
                           "configurations within the margin that the model cannot tell apart ("
                           + "; ".join(t.description for t in sol.near_ties) + ").")
            if sol.stopped_by_time_limit:
                out.append(f"The {role} '{sol.name}' was cut short by the time limit: not proven the best.")
            if sol.status == "quick":
                gap = f" within {sol.optimality_gap:.1%} of the best possible" if sol.optimality_gap is not None else ""
                out.append(f"The {role} '{sol.name}' is a quick answer{gap}, not the full optimisation.")
        return out

    def summary(self) -> dict:
        """Everything a reader needs in one mapping (``summary.json``)."""
        def records(df: pd.DataFrame) -> list[dict]:
            return [{k: _plain(v) for k, v in r.items()} for r in df.to_dict("records")]

        m0, m1 = self.baseline.metrics, self.option.metrics
        return {
            "option": self.option.name, "baseline": self.baseline.name,
            "option_status": self.option.status_message, "baseline_status": self.baseline.status_message,
            "reference_pathway": self.reference_pathway,
            "change_threshold_minutes": CHANGE_THRESHOLD_MINUTES,
            "travel_times": list(self.travel_labels),
            "settings": list(self.settings),
            "overall": records(self.overall),
            "deprivation_gap_minutes": {"baseline": _plain(m0.get("deprivation_gap_minutes")),
                                        "option": _plain(m1.get("deprivation_gap_minutes"))},
            "mean_travel_minutes_most_deprived": {"baseline": _plain(m0.get("mean_travel_minutes_most_deprived")),
                                                  "option": _plain(m1.get("mean_travel_minutes_most_deprived"))},
            "worst_affected_areas": records(self.worst_areas),
            "closed_or_shrunk_sites": records(self.site_changes),
            "district_paragraphs": dict(self.paragraphs),
            "caveats": self.caveats,
            "near_ties": {"option": [t.summary() for t in self.option.near_ties],
                          "baseline": [t.summary() for t in self.baseline.near_ties]},
            "provenance": {"option": dict(self.option.provenance), "baseline": dict(self.baseline.provenance)},
        }


def _plain(value):
    if isinstance(value, (np.floating, float)):
        v = float(value)
        return None if not np.isfinite(v) else v
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    return value


# ---------------------------------------------------------------------------------------
# Where each area's patients get a bed (the flow model)
# ---------------------------------------------------------------------------------------

def placed_admissions(sol: Solution) -> np.ndarray:
    """(zones, pathways, sites) hospital admissions a year placed by the patient-flow model."""
    inst = sol.instance
    flow = flow_of(inst, sol.tables)
    out = np.zeros((inst.n_zones, len(inst.pathways.ids), inst.n_sites))
    np.add.at(out, (flow.placed_zone, flow.placed_pathway, flow.placed_site), flow.placed_admissions)
    return out


def _journeys(placed: np.ndarray, minutes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(Z, P) admission-weighted mean minutes to where patients get a bed (NaN: none placed, or
    the main hospital has no route on this matrix) and (Z, P) the main hospital (-1: none)."""
    total = placed.sum(axis=2)
    main = np.where(total > 1e-12, placed.argmax(axis=2), -1)
    routed = np.isfinite(minutes)[:, None, :]
    w = np.where(routed, placed, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = (w * np.nan_to_num(minutes, nan=0.0, posinf=0.0)[:, None, :]).sum(axis=2) / w.sum(axis=2)
    zi, pi = np.indices(main.shape)
    main_routed = np.isfinite(minutes[zi, np.maximum(main, 0)])
    mean = np.where((main >= 0) & main_routed & (w.sum(axis=2) > 1e-12), mean, np.nan)
    return mean, main


def _check_comparable(baseline: Solution, option: Solution) -> None:
    a, b = baseline.instance, option.instance
    same = (list(a.zones.ids) == list(b.zones.ids) and list(a.sites.ids) == list(b.sites.ids)
            and tuple(a.pathways.ids) == tuple(b.pathways.ids))
    if not same:
        raise ScenarioError(f"'{option.name}' and '{baseline.name}' are on different areas, sites or pathways: "
                            "compare options measured on the same dataset and scenario")
    pa, pb = baseline.provenance, option.provenance
    for key, what in (("dataset_sha256", "dataset"), ("scenario_sha256", "scenario")):
        if pa.get(key) and pb.get(key) and pa[key] != pb[key]:
            raise ScenarioError(f"'{option.name}' and '{baseline.name}' were measured on different {what}s "
                                f"({what} SHA-256 {str(pb[key])[:12]} and {str(pa[key])[:12]}): compare options "
                                "measured on the same dataset and scenario")


# ---------------------------------------------------------------------------------------
# The tables
# ---------------------------------------------------------------------------------------

def impact_of(baseline: Solution, option: Solution, settings: tuple[str, ...] = ()) -> Impact:
    """The impact of ``option`` against ``baseline`` (see the module docstring). Both must be
    solutions with their instance (fresh from :mod:`optimiser.api`) on the same dataset and
    scenario."""
    _check_comparable(baseline, option)
    inst = option.instance
    ref = rule_of(option.instance).pathway
    pids = list(inst.pathways.ids)
    site_names = np.asarray([str(n) for n in inst.sites.names], object)
    before, after = placed_admissions(baseline), placed_admissions(option)
    matrices = [(MAIN_LABEL, inst.travel)]
    if inst.second_travel is not None:
        matrices.append((inst.second_travel_label or "second travel matrix", inst.second_travel))

    district_names = np.asarray(inst.districts.names, object)
    decile = np.asarray(inst.zones.deprivation_decile, int)
    lsoa = pd.DataFrame({
        "zone_code": inst.zones.ids, "zone_name": inst.zones.names,
        "district_code": inst.districts.ids[inst.zones.district], "district_name": district_names[inst.zones.district],
        "imd_decile": decile, "imd_quintile": (decile + 1) // 2,
        "population": np.round(inst.zones.population).astype(int),
        "population_65_plus": np.round(inst.zones.population_65).astype(int)})
    for k, (_label, minutes) in enumerate(matrices):
        suffix = "" if k == 0 else "_second_matrix"
        t0, h0 = _journeys(before, minutes)
        t1, h1 = _journeys(after, minutes)
        if k == 0:
            lsoa["hospital_before"] = np.where(h0[:, ref] >= 0, site_names[np.maximum(h0[:, ref], 0)], "")
            lsoa["hospital_after"] = np.where(h1[:, ref] >= 0, site_names[np.maximum(h1[:, ref], 0)], "")
        lsoa[f"minutes_before{suffix}"] = np.round(t0[:, ref], 2)
        lsoa[f"minutes_after{suffix}"] = np.round(t1[:, ref], 2)
        lsoa[f"change_minutes{suffix}"] = np.round(t1[:, ref] - t0[:, ref], 2)
        lsoa[f"journey{suffix}"] = journey_class(lsoa[f"minutes_before{suffix}"], lsoa[f"minutes_after{suffix}"])
        if k == 0:
            for p, pid in enumerate(pids):
                lsoa[f"hospital_before_{pid}"] = np.where(h0[:, p] >= 0, site_names[np.maximum(h0[:, p], 0)], "")
                lsoa[f"hospital_after_{pid}"] = np.where(h1[:, p] >= 0, site_names[np.maximum(h1[:, p], 0)], "")
                lsoa[f"minutes_before_{pid}"] = np.round(t0[:, p], 2)
                lsoa[f"minutes_after_{pid}"] = np.round(t1[:, p], 2)
    # where the plan sends each area's patients first (before any are sent on from a full hospital)
    first0 = baseline.zones.set_index("zone_code")["site_name"].reindex(inst.zones.ids)
    first1 = option.zones.set_index("zone_code")["site_name"].reindex(inst.zones.ids)
    lsoa.insert(lsoa.columns.get_loc("hospital_before"), "first_hospital_before", first0.fillna("").to_numpy())
    lsoa.insert(lsoa.columns.get_loc("hospital_before"), "first_hospital_after", first1.fillna("").to_numpy())
    lsoa["admissions_per_year_before"] = before.sum(axis=(1, 2))
    lsoa["admissions_per_year_after"] = after.sum(axis=(1, 2))
    lsoa["admissions_changing_hospital_per_year"] = np.maximum(after - before, 0.0).sum(axis=(1, 2))

    labels = [label for label, _ in matrices]
    by_district = _grouped(lsoa, labels, ["district_code", "district_name"])
    by_district = _with_deprivation_columns(by_district, lsoa, labels)
    by_decile = _grouped(lsoa, labels, ["imd_decile"])
    by_quintile = _grouped(lsoa, labels, ["imd_quintile"])
    overall = _grouped(lsoa.assign(area="all areas"), labels, ["area"])
    worst = (lsoa[lsoa["change_minutes"] > 0]
             .sort_values(["change_minutes", "population_65_plus", "zone_code"], ascending=[False, False, True])
             .head(WORST_AREAS)[["zone_code", "zone_name", "district_name", "imd_decile", "population",
                                 "population_65_plus", "hospital_before", "hospital_after", "minutes_before",
                                 "minutes_after", "change_minutes"]].reset_index(drop=True))
    road = by_district[by_district["travel_times"] == MAIN_LABEL]
    paragraphs = {r["district_code"]: district_paragraph(r)[0] for r in road.to_dict("records")}
    return Impact(option=option, baseline=baseline, by_lsoa=lsoa, by_district=by_district,
                  by_imd_decile=by_decile, by_imd_quintile=by_quintile, overall=overall,
                  site_changes=site_changes(baseline, option, before, after), worst_areas=worst,
                  paragraphs=paragraphs, travel_labels=tuple(labels), reference_pathway=pids[ref],
                  settings=tuple(settings))


def journey_class(before, after, threshold: float = CHANGE_THRESHOLD_MINUTES) -> np.ndarray:
    """'longer', 'shorter' or 'unchanged' for each area (losing every hospital within reach is
    longer, gaining one shorter; none before or after is unchanged)."""
    b, a = np.asarray(before, float), np.asarray(after, float)
    nb, na = np.isnan(b), np.isnan(a)
    change = np.where(nb | na, 0.0, a - b)
    longer = (~nb & na) | (~nb & ~na & (change >= threshold))
    shorter = (nb & ~na) | (~nb & ~na & (change <= -threshold))
    return np.where(longer, "longer", np.where(shorter, "shorter", "unchanged")).astype(object)


def _people(frame: pd.DataFrame, mask, column: str) -> int:
    return int(frame.loc[np.asarray(mask, bool), column].sum())


def _mean(values: np.ndarray, weights: np.ndarray) -> float:
    ok = np.isfinite(values) & (weights > 0)
    return float((values[ok] * weights[ok]).sum() / weights[ok].sum()) if weights[ok].sum() > 0 else float("nan")


def _figures(g: pd.DataFrame, suffix: str) -> dict:
    """The impact figures of one group of areas on one matrix."""
    before, after = g[f"minutes_before{suffix}"].to_numpy(float), g[f"minutes_after{suffix}"].to_numpy(float)
    journey = g[f"journey{suffix}"].to_numpy()
    pop, pop65 = g["population"].to_numpy(float), g["population_65_plus"].to_numpy(float)
    change = after - before
    out = {"areas": int(len(g)), "population": int(pop.sum()), "population_65_plus": int(pop65.sum())}
    for label, p in (("", pop), ("_65_plus", pop65)):
        out[f"people_longer{label}"] = int(p[journey == "longer"].sum())
        out[f"people_shorter{label}"] = int(p[journey == "shorter"].sum())
        out[f"people_unchanged{label}"] = int(p[journey == "unchanged"].sum())
        out[f"mean_change_minutes{label}"] = round(_mean(change, p), 1)
        longer = (journey == "longer") & np.isfinite(change)
        out[f"mean_increase_minutes_longer{label}"] = round(_mean(change[longer], p[longer]), 1)
        out[f"mean_minutes_before{label}"] = round(_mean(before, p), 1)
        out[f"mean_minutes_after{label}"] = round(_mean(after, p), 1)
        for t in THRESHOLDS:
            over_before = ~(before <= t + 1e-9)          # NaN (no hospital within reach) is over
            over_after = ~(after <= t + 1e-9)
            out[f"people_over_{t}_minutes_before{label}"] = int(p[over_before].sum())
            out[f"people_over_{t}_minutes_after{label}"] = int(p[over_after].sum())
            out[f"people_pushed_over_{t}_minutes{label}"] = int(p[~over_before & over_after].sum())
        out[f"people_no_hospital_in_reach_after{label}"] = int(p[np.isnan(after)].sum())
    out["admissions_changing_hospital_per_year"] = round(float(g["admissions_changing_hospital_per_year"].sum()), 1)
    out["admissions_per_year_before"] = round(float(g["admissions_per_year_before"].sum()), 1)
    out["admissions_per_year_after"] = round(float(g["admissions_per_year_after"].sum()), 1)
    return out


def _grouped(lsoa: pd.DataFrame, labels: list[str], keys: list[str]) -> pd.DataFrame:
    rows = []
    for k, label in enumerate(labels):
        suffix = "" if k == 0 else "_second_matrix"
        for key, g in lsoa.groupby(keys, sort=True):
            key = key if isinstance(key, tuple) else (key,)
            rows.append({"travel_times": label, **dict(zip(keys, key, strict=True)), **_figures(g, suffix)})
    return pd.DataFrame(rows)


def district_by_quintile(impact: Impact, district_code: str, travel_times: str = MAIN_LABEL) -> pd.DataFrame:
    """The deprivation breakdown of one district: its areas by IMD 2019 quintile (1 = the most
    deprived fifth of areas in England), with the same figures as the other tables."""
    labels = list(impact.travel_labels)
    lsoa = impact.by_lsoa[impact.by_lsoa["district_code"] == district_code]
    table = _grouped(lsoa, labels, ["imd_quintile"])
    return table[table["travel_times"] == travel_times].reset_index(drop=True)


def _with_deprivation_columns(by_district: pd.DataFrame, lsoa: pd.DataFrame, labels: list[str]) -> pd.DataFrame:
    """Per district: people aged 65+ in the most deprived fifth of areas in England (IMD
    quintile 1), their mean change in minutes, the mean change for the district's other
    residents aged 65+, and the difference."""
    out = by_district.copy()
    cols = {"population_65_plus_most_deprived_fifth": [], "mean_change_minutes_65_plus_most_deprived_fifth": [],
            "mean_change_minutes_65_plus_rest": [], "deprivation_difference_minutes_65_plus": []}
    for r in out.itertuples(index=False):
        suffix = "" if r.travel_times == labels[0] else "_second_matrix"
        g = lsoa[lsoa["district_code"] == r.district_code]
        change = (g[f"minutes_after{suffix}"] - g[f"minutes_before{suffix}"]).to_numpy(float)
        pop65 = g["population_65_plus"].to_numpy(float)
        deprived = (g["imd_quintile"] == 1).to_numpy()
        a = round(_mean(change[deprived], pop65[deprived]), 1)
        b = round(_mean(change[~deprived], pop65[~deprived]), 1)
        cols["population_65_plus_most_deprived_fifth"].append(int(pop65[deprived].sum()))
        cols["mean_change_minutes_65_plus_most_deprived_fifth"].append(a)
        cols["mean_change_minutes_65_plus_rest"].append(b)
        cols["deprivation_difference_minutes_65_plus"].append(round(a - b, 1) if np.isfinite(a - b) else float("nan"))
    for k, v in cols.items():
        out[k] = v
    return out


def site_changes(baseline: Solution, option: Solution, before: np.ndarray | None = None,
                 after: np.ndarray | None = None) -> pd.DataFrame:
    """For each site with fewer beds in ``option``: where the patients it placed before now
    get a bed, in admissions a year. Per area and pathway, the admissions a site loses are
    shared among the sites that gain that area's patients, in proportion to their gains; what
    no site gains is 'not admitted to a community hospital bed' (a home-based bed instead, or
    no bed within reach)."""
    inst = option.instance
    before = placed_admissions(baseline) if before is None else before
    after = placed_admissions(option) if after is None else after
    beds0 = baseline.sites.set_index("site_id")["beds"].reindex(inst.sites.ids).fillna(0).to_numpy()
    beds1 = option.sites.set_index("site_id")["beds"].reindex(inst.sites.ids).fillna(0).to_numpy()
    loss = np.maximum(before - after, 0.0)                  # (Z, P, S)
    gain = np.maximum(after - before, 0.0)
    total_loss = loss.sum(axis=2, keepdims=True)
    total_gain = gain.sum(axis=2, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        to_gainers = np.where(total_loss > 0, np.minimum(total_gain / total_loss, 1.0), 0.0)
        gain_share = np.where(total_gain > 0, gain / total_gain, 0.0)
    rows = []
    names = dict(zip(inst.sites.ids, inst.sites.names, strict=True))
    for s in np.flatnonzero(beds1 < beds0):
        moved = loss[:, :, s][:, :, None] * to_gainers * gain_share      # (Z, P, S): from s to each site
        by_site = moved.sum(axis=(0, 1))
        rest = float(loss[:, :, s].sum() - by_site.sum())
        base = {"site_id": inst.sites.ids[s], "site_name": names[inst.sites.ids[s]], "beds_before": int(beds0[s]),
                "beds_after": int(beds1[s]), "admissions_per_year_before": round(float(before[:, :, s].sum()), 1),
                "admissions_per_year_after": round(float(after[:, :, s].sum()), 1)}
        for t in np.argsort(-by_site, kind="stable"):
            if by_site[t] >= 0.05:
                rows.append({**base, "to_site_id": inst.sites.ids[t], "to_site_name": names[inst.sites.ids[t]],
                             "admissions_per_year": round(float(by_site[t]), 1)})
        if rest >= 0.05:
            rows.append({**base, "to_site_id": "", "to_site_name": "not admitted to a community hospital bed "
                         "(a home-based bed, or no bed within reach)", "admissions_per_year": round(rest, 1)})
    cols = ["site_id", "site_name", "beds_before", "beds_after", "admissions_per_year_before",
            "admissions_per_year_after", "to_site_id", "to_site_name", "admissions_per_year"]
    return pd.DataFrame(rows, columns=cols)


# ---------------------------------------------------------------------------------------
# The paragraph, written from the district table's numbers
# ---------------------------------------------------------------------------------------

def _n(value) -> str:
    return f"{int(value):,}"


def district_paragraph(row: Mapping) -> tuple[str, dict[str, float]]:
    """A plain-English paragraph for one district (a row of ``Impact.by_district``), and the
    figures it quotes, in the order it quotes them (column -> the table's value; people are
    whole numbers, minutes to 0.1 (a change as its size, its sign in words: 'lengthen',
    'shorten'), admissions rounded to whole numbers in the text). The
    thresholds in 'aged 65+' and 'more than 30 minutes' are words of the text, not figures."""
    name = row["district_name"]
    used: dict[str, float] = {}

    def use(column: str, fmt) -> str:
        used[column] = row[column]
        return fmt(row[column])

    parts = []
    longer, shorter = row["people_longer_65_plus"], row["people_shorter_65_plus"]
    if longer > 0:
        parts.append(f"In {name}, {use('people_longer_65_plus', _n)} of the {use('population_65_plus', _n)} people "
                     f"aged 65+ would travel a minute or more further to the community hospital bed they use, on average "
                     f"{use('mean_increase_minutes_longer_65_plus', lambda v: f'{v:.1f}')} minutes further")
    else:
        parts.append(f"In {name}, none of the {use('population_65_plus', _n)} people aged 65+ would travel "
                     "a minute or more further to the community hospital bed they use")
    if shorter > 0:
        parts[-1] += f"; {use('people_shorter_65_plus', _n)} would travel a minute or more less."
    else:
        parts[-1] += "."
    over = row["people_over_30_minutes_after_65_plus"]
    if over > 0:
        over_text = use("people_over_30_minutes_after_65_plus", _n)
        pushed = row["people_pushed_over_30_minutes_65_plus"]
        if pushed <= 0:            # everyone that far is that far today
            parts.append(f"{over_text} would be more than 30 minutes from it, as they are today.")
        elif pushed >= over:       # nobody that far is that far today
            parts.append(f"{over_text} would be more than 30 minutes from it; none of them are today.")
        else:
            parts.append(f"{over_text} would be more than 30 minutes from it, "
                         f"{use('people_pushed_over_30_minutes_65_plus', _n)} of whom are not today.")
    else:
        parts.append("None would be more than 30 minutes from it.")
    moved = row["admissions_changing_hospital_per_year"]
    if moved >= 0.5:
        parts.append(f"About {use('admissions_changing_hospital_per_year', lambda v: _n(round(v)))} admissions a year "
                     "would be to a different hospital.")
    else:
        parts.append("No admissions would move to a different hospital.")
    deprived = row["population_65_plus_most_deprived_fifth"]
    if deprived > 0 and np.isfinite(row["deprivation_difference_minutes_65_plus"]):

        def change(column: str) -> str:
            value = row[column]
            if abs(value) < 0.05:
                return "stay the same on average"
            used[column] = value
            return f"{'lengthen' if value > 0 else 'shorten'} by {abs(value):.1f} minutes on average"

        who = use("population_65_plus_most_deprived_fifth", _n)
        a = change("mean_change_minutes_65_plus_most_deprived_fifth")
        b = change("mean_change_minutes_65_plus_rest")
        verdict = ("no worse off than the rest" if row["deprivation_difference_minutes_65_plus"] <= 0
                   else "worse off than the rest by "
                   f"{use('deprivation_difference_minutes_65_plus', lambda v: f'{v:.1f}')} minutes")
        parts.append(f"For the {who} people aged 65+ living in the most deprived fifth of areas in England, "
                     f"journeys would {a}, and for the district's other residents aged 65+ they would {b}: the "
                     f"most deprived would be {verdict}.")
    else:
        parts.append(f"None of {name}'s small areas is among the most deprived fifth in England.")
    return " ".join(parts), used
