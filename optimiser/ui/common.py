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
    wards.columns = [f"{c.replace('_', ' ')} beds" for c in wards.columns]
    out = s.set_index("site_id")[["site_name", "beds", "current_beds"]].join(wards)
    occ = u[u["beds"] > 0].groupby("site_id").apply(
        lambda g: (g["occupancy"] * g["beds"]).sum() / g["beds"].sum(), include_groups=False)
    out["mean occupancy"] = occ.reindex(out.index).map(lambda v: f"{100 * v:.0f}%" if pd.notna(v) else "–")
    turned = s.set_index("site_id")["patients_finding_no_free_bed_per_year"]
    out["patients finding no free bed (a year)"] = turned.round(1)
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


def solution_caption(solution) -> str:
    gap = (f"; within {100 * solution.optimality_gap:.1f}% of the best possible"
           if solution.optimality_gap is not None else "")
    return f"{solution.status_message} — {solution.solver}, {solution.solve_seconds:.1f} s{gap}"
