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


def _flatten(value, prefix: str = "") -> dict:
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            out.update(_flatten(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    return {prefix: value}


def settings_changes(previous, current) -> list[str]:
    """The settings that differ between two scenarios, in words: 'Longest journey ...: 45 → 40'."""
    from optimiser.scenario import parameter_table

    if previous is None:
        return []
    described = {r["key"]: r for r in parameter_table()}
    a, b = _flatten(previous.model_dump()), _flatten(current.model_dump())
    out = []
    for key in sorted(set(a) | set(b)):
        if key == "name" or a.get(key) == b.get(key):
            continue
        row = next((described[k] for k in (key, key.rsplit(".", 1)[0]) if k in described), None)
        label = row["description"] if row else key
        unit = f" {row['unit']}" if row and row["unit"] else ""
        out.append(f"{label} (`{key}`): {_show(a.get(key, '–'))} → {_show(b.get(key, '–'))}{unit}")
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
