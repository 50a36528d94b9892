"""Formatting helpers shared by the pages (people-facing numbers and labels)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from optimiser.compare import METRICS, format_value, metric_label

HEADLINE = ("annual_cost_gbp", "physical_beds", "virtual_beds", "open_sites",
            "share_within_standard_65_plus", "mean_travel_minutes_65_plus",
            "patients_finding_no_free_bed_per_year", "unmet_admissions_per_year")
MINUS = "-"      # the metric's delta is read as negative only with an ASCII minus sign


def standard_minutes(solution) -> float:
    """The travel standard's threshold the answer was found with (30 minutes if none)."""
    try:
        rules = solution.instance.rules.coverage
    except AttributeError:
        rules = ()
    return float(rules[0].threshold_minutes) if rules else 30.0


def share_within(solution, minutes: float, population: str = "65_plus") -> float:
    """Share of residents (``all`` or ``65_plus``) whose hospital (reference pathway,
    share-weighted) is within ``minutes``, for any threshold."""
    import numpy as np

    key = f"share_within_{minutes:g}_minutes_{population}"
    if key in solution.metrics:
        return float(solution.metrics[key])
    from optimiser.solution import reference_pathway

    a = solution.assignment
    inst = solution.instance
    ref = inst.pathways.ids[reference_pathway(inst)]
    a = a[a["pathway"] == ref]
    pop = pd.Series(inst.zones.population_65 if population == "65_plus" else inst.zones.population,
                    index=inst.zones.ids)
    total = float(pop.sum())
    w = pop.reindex(a["zone_code"]).to_numpy(float) * a["share"].to_numpy(float)
    near = a["travel_minutes"].to_numpy(float) <= minutes + 1e-9
    return float(np.sum(w[near]) / total) if total > 0 else float("nan")


def headline_values(solution) -> list[tuple[str, str, str | None, str]]:
    """(label, shown value, key in METRICS for the delta's sense, raw key) for each tile."""
    minutes = standard_minutes(solution)
    out = []
    for key in HEADLINE:
        if key == "share_within_standard_65_plus":
            value = share_within(solution, minutes)
            out.append((f"Residents 65+ within {minutes:g} minutes (%)", format_value("share_within_30_minutes_65_plus",
                                                                                     value),
                        "share_within_30_minutes_65_plus", value))
        else:
            value = solution.metrics.get(key)
            out.append((metric_label(key), format_value(key, value), key, value))
    return out


def _delta(info_key: str, d: float) -> str | None:
    if abs(d) <= 1e-9:
        return None
    info = METRICS[info_key]
    sign = "+" if d > 0 else MINUS
    if info.fmt == "gbp":
        return f"{sign}£{abs(d):,.0f}"
    if info.fmt == "pct":
        return f"{sign}{100 * abs(d):.1f} points"
    if info.fmt in ("int", "num"):
        shown = f"{abs(d):,.0f}" if info.fmt == "int" or abs(d) >= 10 else f"{abs(d):,.1f}"
        return None if float(shown.replace(",", "")) == 0 else f"{sign}{shown}"
    shown = f"{abs(d):.1f}"
    return None if float(shown) == 0 else f"{sign}{shown}"


def headline_metrics(solution, previous=None) -> None:
    """The key figures as metric tiles, with the change from the previous run (a saving
    shows as a green down-arrow: the sign is an ASCII minus the tile reads as negative)."""
    cols = st.columns(4)
    before = {label: raw for label, _, _, raw in headline_values(previous)} if previous is not None else {}
    for i, (label, shown, info_key, raw) in enumerate(headline_values(solution)):
        delta = None
        old = before.get(label)
        if old is not None and raw is not None and not (isinstance(raw, float) and pd.isna(raw)):
            delta = _delta(info_key, float(raw) - float(old))
        better = METRICS[info_key].better
        cols[i % 4].metric(label, shown, delta,
                           delta_color="inverse" if better == "lower" else "normal" if better == "higher" else "off")


def sites_table(solution) -> pd.DataFrame:
    s = solution.sites
    u = solution.units
    wards = u.pivot_table(index="site_id", columns="ward", values="beds", aggfunc="sum").fillna(0).astype(int)
    wards.columns = [f"{str(c).replace('_', ' ').capitalize()} beds" for c in wards.columns]
    out = s.set_index("site_id")[["site_name", "beds", "current_beds"]].join(wards)
    occ = u[u["beds"] > 0].groupby("site_id").apply(
        lambda g: (g["occupancy"] * g["beds"]).sum() / g["beds"].sum(), include_groups=False)
    out["Mean occupancy"] = occ.reindex(out.index).map(lambda v: f"{100 * v:.0f}%" if pd.notna(v) else "–")
    turned = s.set_index("site_id")["patients_finding_no_free_bed_per_year"]
    out["Patients finding no free bed (a year)"] = turned.round(1)
    out = out.rename(columns={"site_name": "Hospital", "beds": "Beds", "current_beds": "Beds today"})
    return out.reset_index(drop=True)


def virtual_table(solution) -> pd.DataFrame:
    v = solution.virtual_beds
    out = v[["district_name", "beds", "virtual_admissions_per_year", "blocking_probability",
             "patients_finding_no_free_bed_per_year"]].copy()
    out["blocking_probability"] = out["blocking_probability"].map(lambda p: f"{100 * p:.1f}%")
    out["virtual_admissions_per_year"] = out["virtual_admissions_per_year"].round(0).astype(int)
    out["patients_finding_no_free_bed_per_year"] = out["patients_finding_no_free_bed_per_year"].round(1)
    return out.rename(columns={"district_name": "District", "beds": "Home-based beds",
                               "virtual_admissions_per_year": "Patients a year",
                               "blocking_probability": "Chance no bed is free",
                               "patients_finding_no_free_bed_per_year": "Patients finding no free bed (a year)"})


def unserved(solution) -> float:
    """Admissions a year the configuration cannot place within the limits."""
    return float(solution.metrics.get("unmet_admissions_per_year", 0.0) or 0.0)


def answer_label(solution) -> str:
    """What the answer may be called: 'the best' only when it is proven, nothing else comes
    close, and it serves every patient."""
    left = unserved(solution)
    if left >= 0.5:
        return (f"Not every patient can be served within these limits: {left:,.0f} admissions a year "
                "are left without a bed")
    if solution.stopped_by_time_limit:
        return "Stopped by the time limit: a good configuration, not proven the best"
    if solution.status == "quick":
        gap = f" (within {solution.optimality_gap:.1%} of the best possible)" if solution.optimality_gap is not None else ""
        ties = f"; {len(solution.near_ties)} near-ties below" if solution.near_ties else ""
        return f"Quick answer{gap}{ties}"
    if solution.mode == "evaluate":
        return "Measured option" + (f": breaks {len(solution.breaks)} rules of these settings" if solution.breaks else "")
    if solution.near_ties:
        n = len(solution.near_ties)
        return f"Not a single best answer: {n} near-tie{'s' if n > 1 else ''} the model cannot tell apart (below)"
    return "Best configuration found"


def answer_state(solution) -> str:
    """'success' (green) only for a proven single best or a quick answer serving everyone;
    'error' when patients are left unserved; 'warning' otherwise."""
    if unserved(solution) >= 0.5:
        return "error"
    if solution.is_single_best or (solution.status == "quick" and not solution.stopped_by_time_limit
                                   and not solution.near_ties):
        return "success"
    return "warning"


def show_answer_status(solution, where=None) -> None:
    """The answer's label as a coloured banner (green, amber or red; never a green tick over
    unserved patients or near-ties)."""
    where = where if where is not None else st
    kind = answer_state(solution)
    icon = {"success": ":material/check_circle:", "warning": ":material/info:", "error": ":material/error:"}[kind]
    getattr(where, kind)(answer_label(solution), icon=icon)


def answer_warnings(solution, budget: float | None = None) -> None:
    """The caveats that must sit next to a recommended configuration."""
    left = unserved(solution)
    if left >= 0.5:
        why = (f" The annual budget ({format_value('annual_cost_gbp', budget)} a year) is the likely cause: "
               "raise it, or relax another limit." if budget else " Relax a limit (travel, beds) to serve them.")
        st.error(f"**{left:,.0f} admissions a year are left without a bed** in this configuration.{why}")
    if solution.stopped_by_time_limit:
        st.warning("The time limit ended this search before the answer was proven: it is a good "
                   "configuration but may not be the best, and it is not kept for others. Allow more time.")
    if solution.near_ties:
        st.warning("**Not a single best answer.** These materially different configurations are within "
                   "the margin; the model cannot tell them apart:\n\n"
                   + "\n".join(f"- {t.description}" for t in solution.near_ties))
    elif solution.near_tie_note:
        st.caption(f"Near-ties: {solution.near_tie_note}.")


def near_tie_lines(solution) -> list[str]:
    """The near-ties in words (for pages and printed sheets)."""
    return [t.description for t in getattr(solution, "near_ties", ()) or ()]


def solution_caption(solution) -> str:
    gap = (f" It is within {100 * solution.optimality_gap:.1f}% of the best possible."
           if solution.optimality_gap is not None else "")
    secs = solution.solve_seconds
    took = f"{secs:.1f} seconds" if secs < 10 else f"{secs:.0f} seconds"
    return f"Found in {took}.{gap}"


def technical_detail(solution) -> str:
    """How the answer was computed, for analysts (kept out of the headline text)."""
    return f"{solution.status_message} (solver {solution.solver}, status {solution.status})."


def _flatten(value, prefix: str = "") -> dict:
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            out.update(_flatten(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    return {prefix: value}


def _pct(v) -> str:
    return f"{100 * float(v):.0f}%" if isinstance(v, int | float) else _show(v)


def _money(v) -> str:
    return "no limit" if v in (None, 0, 0.0) else f"£{float(v):,.0f} a year"


def _minutes(v) -> str:
    return f"{float(v):g} minutes" if isinstance(v, int | float) else _show(v)


def _growth(v) -> str:
    if v == "dataset":
        return "with the population projections"
    return f"flat {float(v) + 0.0:+g}%" if isinstance(v, int | float) else _show(v)


_RULES = {"erlang": "the chance a patient finds no free bed", "occupancy": "average occupancy"}
_CATCHMENTS = {"split": "areas may share hospitals", "single": "one hospital per area"}

# Plain names for the settings the workshop changes, and how each value is written.
SETTING_LABELS = {
    "travel.max_minutes": ("Longest journey to the hospital", _minutes),
    "travel.standard.share": ("Residents 65+ who must be within the threshold", _pct),
    "travel.standard.threshold_minutes": ("Travel threshold", _minutes),
    "travel.assignment": ("Catchments", lambda v: _CATCHMENTS.get(v, _show(v))),
    "utilisation.rule": ("Beds sized by", lambda v: _RULES.get(v, _show(v))),
    "utilisation.blocking_target": ("Highest acceptable chance a patient finds no free bed", _pct),
    "utilisation.occupancy_target": ("Highest acceptable average occupancy", _pct),
    "min_beds_per_open_site": ("Fewest beds on a hospital that keeps inpatient beds", lambda v: f"{_show(v)} beds"),
    "pathways.rehab.virtual_share": ("Rehabilitation patients suitable for a home-based bed", _pct),
    "pathways.stroke.sites": ("Hospitals that may host stroke rehabilitation", None),
    "horizon_year": ("Plan for the year", lambda v: f"{v}"),
    "growth": ("Demand growth", _growth),
    "budget_per_year": ("Annual budget", _money),
}
SITE_STATUS_LABELS = {"free": "model decides", "keep_open": "keep beds", "close": "no inpatient beds"}


def settings_changes(previous, current, site_names=None) -> list[str]:
    """The settings that differ between two scenarios, in words:
    'Longest journey to the hospital: 45 minutes → 40 minutes'."""
    from optimiser.scenario import parameter_table

    if previous is None:
        return []
    described = {r["key"]: r for r in parameter_table()}
    a, b = _flatten(previous.model_dump()), _flatten(current.model_dump())
    names = {} if site_names is None else dict(site_names)
    out = []
    for key in sorted(set(a) | set(b)):
        if key == "name" or a.get(key) == b.get(key):
            continue
        old, new = a.get(key, "free"), b.get(key, "free")
        if key.startswith("sites.") and key.endswith(".status"):
            sid = key.split(".")[1]
            out.append(f"{names.get(sid, sid)}: {SITE_STATUS_LABELS.get(old, old)} → "
                       f"{SITE_STATUS_LABELS.get(new, new)}")
            continue
        old, new = a.get(key), b.get(key)
        if key in SETTING_LABELS:
            label, fmt = SETTING_LABELS[key]
            if fmt is None:          # a list of hospitals
                fmt = lambda v: ", ".join(names.get(x, x) for x in v) if isinstance(v, list | tuple) else _show(v)  # noqa: E731
            out.append(f"{label}: {fmt(old)} → {fmt(new)}")
            continue
        if key in described and described[key]["description"]:
            row = described[key]
            label, unit = row["description"].split(" (")[0].split(";")[0].split(":")[0], row["unit"]
        else:
            label, unit = key.rsplit(".", 1)[-1].replace("_", " ").capitalize(), ""
        out.append(f"{label}: {_show(old)} → {_show(new)}{' ' + unit if unit else ''}")
    return out


def _show(v) -> str:
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return f"{v + 0.0:,.3g}"
    if isinstance(v, list | tuple):
        return ", ".join(map(str, v)) or "none"
    return "none" if v is None else str(v)


def bed_changes(solution, previous) -> pd.DataFrame:
    """Beds per hospital and home-based beds per district that differ from the previous run."""
    if previous is None:
        return pd.DataFrame(columns=["Where", "Previous run (beds)", "This run (beds)", "Change (beds)"])
    rows = []
    s_now = solution.sites.set_index("site_id")
    s_old = previous.sites.set_index("site_id")
    for sid in s_now.index.union(s_old.index, sort=False):
        new = int(s_now["beds"].get(sid, 0))
        old = int(s_old["beds"].get(sid, 0))
        name = s_now["site_name"].get(sid, s_old["site_name"].get(sid, sid))
        rows.append((name, old, new))
    v_now = solution.virtual_beds.set_index("district_code")
    v_old = previous.virtual_beds.set_index("district_code")
    for code in v_now.index.union(v_old.index, sort=False):
        name = v_now["district_name"].get(code, v_old["district_name"].get(code, code))
        rows.append((f"{name} (home-based)", int(v_old["beds"].get(code, 0)), int(v_now["beds"].get(code, 0))))
    out = pd.DataFrame(rows, columns=["Where", "Previous run (beds)", "This run (beds)"])
    out["Change (beds)"] = out["This run (beds)"] - out["Previous run (beds)"]
    out = out[out["Change (beds)"] != 0]
    out["Change (beds)"] = out["Change (beds)"].map(lambda d: f"{d:+d}")
    return out.reset_index(drop=True)


def travel_curve(solution, population: str = "population_65_plus"):
    """(minutes, % of residents within that many minutes of the hospital that serves them):
    the travel distribution as a cumulative curve, for charts."""
    import numpy as np

    z = solution.zones
    t = z["travel_minutes"].to_numpy(float)
    w = z[population].to_numpy(float)
    total = w.sum()
    ok = np.isfinite(t)
    order = np.argsort(t[ok], kind="stable")
    minutes = np.concatenate([[0.0], t[ok][order]])
    share = np.concatenate([[0.0], 100 * np.cumsum(w[ok][order]) / total]) if total > 0 else minutes * 0
    return minutes, share
