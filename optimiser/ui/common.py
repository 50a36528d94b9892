"""Formatting helpers shared by the pages (people-facing numbers and labels)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from optimiser.compare import METRICS, format_value, metric_label

HEADLINE = ("annual_cost_gbp", "physical_beds", "virtual_beds", "open_sites",
            "share_within_30_minutes_65_plus", "mean_travel_minutes_65_plus",
            "patients_finding_no_free_bed_per_year", "unmet_admissions_per_year")


def headline_metrics(solution, previous=None) -> None:
    """The key figures as metric tiles, with the change from the previous run."""
    cols = st.columns(4)
    for i, key in enumerate(HEADLINE):
        value = solution.metrics.get(key)
        delta = None
        if previous is not None and key in previous.metrics:
            d = value - previous.metrics[key]
            if abs(d) > 1e-9:
                info = METRICS[key]
                delta = (f"{d:+,.0f}" if info.fmt in ("gbp", "int", "num") else
                         f"{100 * d:+.1f} points" if info.fmt == "pct" else f"{d:+.1f}")
                if info.fmt == "gbp":
                    delta = ("+£" if d > 0 else "−£") + f"{abs(d):,.0f}"
        better = METRICS[key].better
        cols[i % 4].metric(metric_label(key), format_value(key, value), delta,
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


def answer_label(solution) -> str:
    """What the answer may be called: 'the best' only when it is proven and nothing else
    comes close."""
    if solution.stopped_by_time_limit:
        return "Stopped by the time limit: a good configuration, not proven the best"
    if solution.status == "quick":
        gap = f" (within {solution.optimality_gap:.1%} of the best possible)" if solution.optimality_gap is not None else ""
        return f"Quick answer{gap}"
    if solution.near_ties:
        n = len(solution.near_ties)
        return f"Best configuration found, with {n} near-tie{'s' if n > 1 else ''} the model cannot tell apart"
    return "Best configuration found"


def answer_warnings(solution) -> None:
    """The caveats that must sit next to a recommended configuration."""
    if solution.stopped_by_time_limit:
        st.warning("The time limit ended this search before the answer was proven: it is a good "
                   "configuration but may not be the best, and it is not kept for others. Allow more time.")
    if solution.near_ties:
        st.warning("**Not a single best answer.** These materially different configurations are within "
                   "the margin; the model cannot tell them apart:\n\n"
                   + "\n".join(f"- {t.description}" for t in solution.near_ties))
    elif solution.near_tie_note:
        st.caption(f"Near-ties: {solution.near_tie_note}.")


def solution_caption(solution) -> str:
    gap = (f" It is within {100 * solution.optimality_gap:.1f}% of the best possible."
           if solution.optimality_gap is not None else "")
    secs = solution.solve_seconds
    took = f"{secs:.1f} seconds" if secs < 10 else f"{secs:.0f} seconds"
    return (f"Found in {took}.{gap} "
            f"(Technical detail: {solution.status_message}; solver {solution.solver}.)")


def _flatten(value, prefix: str = "") -> dict:
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            out.update(_flatten(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    return {prefix: value}


# Plain names for the settings the workshop changes (others use the data dictionary).
SETTING_LABELS = {
    "travel.max_minutes": ("Longest journey to the hospital", "minutes"),
    "travel.standard.share": ("Share of residents 65+ who must be within the threshold", ""),
    "travel.standard.threshold_minutes": ("Travel threshold", "minutes"),
    "travel.assignment": ("Catchments", ""),
    "utilisation.rule": ("Beds sized by", ""),
    "utilisation.blocking_target": ("Highest acceptable chance a patient finds no free bed", ""),
    "utilisation.occupancy_target": ("Highest acceptable average occupancy", ""),
    "min_beds_per_open_site": ("Fewest beds on a hospital that keeps inpatient beds", "beds"),
    "pathways.rehab.virtual_share": ("Rehabilitation patients suitable for a home-based bed", ""),
    "pathways.stroke.sites": ("Hospitals that may host stroke rehabilitation", ""),
    "horizon_year": ("Plan for the year", ""),
    "growth": ("Demand growth", ""),
    "budget_per_year": ("Annual budget", "£ a year"),
}
SITE_STATUS_LABELS = {"free": "model decides", "keep_open": "keep beds", "close": "no inpatient beds"}


def settings_changes(previous, current, site_names=None) -> list[str]:
    """The settings that differ between two scenarios, in words:
    'Longest journey to the hospital: 45 → 40 minutes'."""
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
        if key in SETTING_LABELS:
            label, unit = SETTING_LABELS[key]
        elif key in described and described[key]["description"]:
            row = described[key]
            label, unit = row["description"].split(" (")[0].split(";")[0].split(":")[0], row["unit"]
        else:
            label, unit = key, ""
        old, new = a.get(key, "–"), b.get(key, "–")
        out.append(f"{label}: {_show(old)} → {_show(new)}{' ' + unit if unit else ''}")
    return out


def _show(v) -> str:
    if isinstance(v, float):
        return f"{v:,.3g}"
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
