"""Compare options: the steering group's side-by-side view and options appraisal."""

from __future__ import annotations

from functools import partial

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from optimiser import api
from optimiser.compare import (
    DEFAULT_CRITERIA,
    METRICS,
    appraisal,
    compare_table,
    labelled,
    metric_label,
)
from optimiser.errors import OptimiserError
from optimiser.options import Option, slug
from optimiser.ui import common, state

# Okabe-Ito: colour-blind-safe categorical colours.
DASHES = ["solid", "dash", "dot", "dashdot"]   # lines differ by more than colour
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000"]


BEST_LABEL = "Best configuration"


def _solutions(chosen: list[str], options: dict[str, Option], sc):
    """(label, solution) pairs, labelled as the options were chosen; and problems in words."""
    out, problems = [], []
    for name in chosen:
        sol, err = state.solution_for(name, options, sc)
        if err is not None:
            problems.append(f"{name}: {err}")
        else:
            out.append((BEST_LABEL if name == state.BEST else name, sol))
    return out, problems


def _comparison_excel(table, scores, labelled_sols) -> bytes:
    from optimiser.spreadsheets import comparison_workbook

    return comparison_workbook(labelled(table), scores, [(label, sol.sites) for label, sol in labelled_sols])


def _highlight(table: pd.DataFrame, baseline: str):
    num = table.apply(pd.to_numeric, errors="coerce")
    shown = labelled(table)

    def colour(col):
        out = []
        for key in table.index:
            info = METRICS.get(key)
            a, b = num.loc[key, col.name], num.loc[key, baseline]
            if col.name == baseline or info is None or not info.better or pd.isna(a) or pd.isna(b) or abs(a - b) < 1e-9:
                out.append("")
                continue
            good = (a < b) if info.better == "lower" else (a > b)
            out.append("background-color: #D5F0E3" if good else "background-color: #FBE3D6")
        return out

    styled = shown.style.apply(lambda col: colour(col), axis=0)
    return styled


def page() -> None:
    st.title("Compare options")
    st.caption("Every option is measured on the same yardstick: the workshop's current settings "
               "(demand, travel and bed-availability limits). Green: better than the baseline; "
               "orange: worse.")
    sc = state.scenario()
    options, damaged = state.all_options()
    for msg in damaged:
        st.warning(f"A saved option file could not be read and was left untouched: {msg}")
    names = [state.BEST, *options]
    default = [n for n in names if n in ("Status quo", "West Leicestershire proposal", state.BEST)]
    chosen = st.multiselect("Options to compare", names, default=default, key="compare_chosen")
    if not chosen:
        st.info("Choose at least one option.")
        return
    with st.spinner("Measuring the options…"):
        pairs, problems = _solutions(chosen, options, sc)
    for p in problems:
        st.error(p)
    if not pairs:
        return
    sols = [s for _, s in pairs]
    table = compare_table([(label, s.metrics) for label, s in pairs])
    baseline = st.selectbox("Baseline (the others are coloured against it)", list(table.columns),
                            key="compare_baseline")
    st.dataframe(_highlight(table, baseline), width="stretch", height=36 * (len(table) + 1))
    for label, sol in pairs:
        if sol.breaks:
            with st.expander(f"{label}: rules of the current settings it does not meet ({len(sol.breaks)})"):
                for b in sol.breaks:
                    st.markdown(f"- {b}")

    st.subheader("Charts")
    c1, c2 = st.columns(2)
    beds = go.Figure()
    for i, (label, sol) in enumerate(pairs):
        s = sol.sites
        short = s["site_name"].str.split(",").str[0].str.replace(" Community Hospital", "").str.replace(" Hospital", "")
        beds.add_trace(go.Bar(name=label, x=short, y=s["beds"],
                              marker_color=PALETTE[i % len(PALETTE)]))
    beds.update_layout(barmode="group", title="Community hospital beds per site", yaxis_title="beds",
                       height=460, legend=dict(orientation="h", yanchor="bottom", y=1.0, x=0),
                       margin=dict(t=90), xaxis_tickangle=-30)
    c1.plotly_chart(beds, width="stretch", key="chart_beds")
    cost = go.Figure(go.Bar(x=[label for label, _ in pairs], y=[s.metrics["annual_cost_gbp"] / 1e6 for s in sols],
                            marker_color=[PALETTE[i % len(PALETTE)] for i in range(len(sols))],
                            text=[f"£{s.metrics['annual_cost_gbp'] / 1e6:.1f}m" for s in sols], textposition="outside"))
    cost.update_layout(title="Annual cost", yaxis_title="£ million a year", height=420)
    c2.plotly_chart(cost, width="stretch", key="chart_cost")
    dist = go.Figure()
    for i, (label, sol) in enumerate(pairs):
        minutes, share = common.travel_curve(sol)
        dist.add_trace(go.Scatter(name=label, x=minutes, y=share, mode="lines", line_shape="hv",
                                  line=dict(color=PALETTE[i % len(PALETTE)], width=2.5, dash=DASHES[i % len(DASHES)]),
                                  hovertemplate="%{y:.1f}% within %{x:.0f} minutes"))
    for t in (20, 30, 45):
        dist.add_vline(x=t, line=dict(color="#AEB7BD", width=1))
    dist.update_layout(title="Residents aged 65+ within a given travel time of the hospital that serves them",
                       xaxis_title="travel time (minutes)", yaxis_title="% of residents 65+ within that time",
                       yaxis_range=[0, 102], height=420, legend=dict(orientation="h", y=-0.25))
    st.plotly_chart(dist, width="stretch", key="chart_travel")

    st.subheader("Options appraisal")
    st.caption("Set the criteria and weights (the papers say these are co-designed with Healthwatch "
               "and the Citizens' Panel). Each criterion scores 0–10 across the options shown "
               "(best 10, worst 0); the total is the weighted average. The starting weights are an "
               "assumption to change.")
    crit = pd.DataFrame([{"criterion": metric_label(k), "key": k, "weight": w, "better": b}
                         for k, (w, b) in DEFAULT_CRITERIA.items()])
    edited = st.data_editor(
        crit, hide_index=True, num_rows="dynamic", key="criteria_editor", width="stretch",
        column_config={
            "criterion": st.column_config.SelectboxColumn("Criterion", options=[metric_label(k) for k in METRICS
                                                                                if METRICS[k].better], required=True),
            "key": None,
            "weight": st.column_config.NumberColumn("Weight", min_value=0.0, step=5.0),
            "better": st.column_config.SelectboxColumn("Better when", options=["lower", "higher"], required=True)})
    by_label = {metric_label(k): k for k in METRICS}
    criteria = {}
    for row in edited.itertuples(index=False):
        if row.criterion in by_label and pd.notna(row.weight):
            criteria[by_label[row.criterion]] = (float(row.weight), row.better or METRICS[by_label[row.criterion]].better)
    try:
        scores = appraisal([(label, s.metrics) for label, s in pairs], criteria)
        total = "Weighted score (0–10)"
        shown = scores[["weighted_score", "rank", *[c for c in scores.columns if c not in ("weighted_score", "rank")]]]
        shown = (shown.round(1) + 0.0).rename(columns={"weighted_score": total, "rank": "Rank"})   # no "-0.0"
        shown.index.name = "Option"
        st.dataframe(shown.style.format(precision=1).format(precision=0, subset=["Rank"])
                     .highlight_max(subset=[total], color="#D5F0E3"), width="stretch")
        st.caption("Each criterion's column is its score out of 10 across the options shown.")
    except OptimiserError as exc:
        st.warning(str(exc))
        scores = None

    st.subheader("Export")
    xlsx = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    e1, e2 = st.columns(2)
    e1.download_button("Download the comparison (Excel: comparison, appraisal, beds per option)",
                       partial(_comparison_excel, table, scores, pairs), "options_comparison.xlsx", xlsx,
                       key="dl_compare_xlsx", on_click="ignore", icon=":material/download:")
    with e2:
        by_label = dict(pairs)
        one = st.selectbox("One option's full results", list(by_label), key="export_pick")
        ds = state.active_dataset()
        stem = "".join(c if c.isalnum() else "_" for c in one).strip("_").lower()
        r1, r2 = st.columns(2)
        r1.download_button("Excel (one sheet per table)", partial(api.excel_bytes, by_label[one]), f"{stem}.xlsx",
                           xlsx, key="dl_option_xlsx", on_click="ignore", icon=":material/download:")
        r2.download_button("GeoPackage (for QGIS)", partial(api.geopackage_bytes, by_label[one], ds), f"{stem}.gpkg",
                           "application/geopackage+sqlite3", key="dl_option_gpkg", on_click="ignore",
                           icon=":material/download:")

    st.subheader("Options library")
    draft, share = st.columns(2)
    with draft:
        st.markdown("**Draft an option by hand** (beds per hospital, home-based beds per district)")
        _draft_form()
    with share:
        st.markdown("**Share options as files**")
        pick = st.selectbox("Option to download", list(options), key="download_pick")
        if pick:
            st.download_button("Download option file (YAML)", options[pick].to_yaml, f"{slug(pick)}.yaml",
                               "text/yaml", key="download_option", on_click="ignore")
        up = st.file_uploader("Add an option file", type=["yaml", "yml"], key="upload_option")
        replace = st.checkbox("Replace a saved option of the same name", value=False, key="upload_replace")
        if up is not None and st.button("Add to the library", key="add_upload"):
            try:
                o = state.library().import_file(up.getvalue(), up.name, replace=replace)
                st.success(f"Added '{o.name}'.")
            except OptimiserError as exc:
                st.error(f"Not added (nothing else was changed): {exc}")


def _draft_form() -> None:
    ds = state.active_dataset()
    current = ds.current_beds()
    base = pd.DataFrame({"Hospital": ds.sites["site_name"],
                         "General beds": (current.drop(columns=["stroke"], errors="ignore").sum(axis=1)),
                         "Stroke unit beds": current.get("stroke", 0)}).rename_axis("site_id")
    virt = pd.DataFrame({"District": ds.districts["district_name"],
                         "Home-based beds": ds.districts["current_virtual_beds"].round().astype(int)}).rename_axis("district_code")
    with st.form("draft_option"):
        name = st.text_input("Option name", "My option", key="draft_name", max_chars=200)
        beds = st.data_editor(base, disabled=["Hospital"], key="draft_beds", width="stretch")
        vb = st.data_editor(virt, disabled=["District"], key="draft_virtual", width="stretch")
        replace = st.checkbox("Replace a saved option of the same name", value=False, key="draft_replace")
        ok = st.form_submit_button("Save drafted option")
    if ok:
        from optimiser.options import option_from_dict

        data = {"name": name, "description": "Drafted by hand in the app",
                "beds": {sid: {"general": int(r["General beds"]), "stroke_unit": int(r["Stroke unit beds"])}
                         for sid, r in beds.iterrows()},
                "virtual_beds": {d: int(v) for d, v in vb["Home-based beds"].items()}}
        try:
            option = option_from_dict(data, "drafted option")
            state.library().save(option, replace=replace)
            st.success(f"Saved '{option.name}'. Choose it above to compare.")
        except OptimiserError as exc:
            st.error(str(exc))
