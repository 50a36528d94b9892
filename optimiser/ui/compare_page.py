"""Compare options: the steering group's side-by-side view, options appraisal on fixed
scales, the printable comparison (PDF) and workbook (Excel), and the options library."""

from __future__ import annotations

from functools import partial

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from optimiser import api
from optimiser.compare import (
    DEFAULT_CRITERIA,
    METRICS,
    Criterion,
    appraisal,
    compare_table,
    criteria_from,
    default_scale,
    labelled,
    metric_label,
)
from optimiser.errors import OptimiserError
from optimiser.options import Option, slug
from optimiser.ui import access, common, compare_report, state

# Okabe-Ito: colour-blind-safe categorical colours.
DASHES = ["solid", "dash", "dot", "dashdot"]   # lines differ by more than colour
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000"]
BEST_LABEL = "Workshop answer"
OPTIONS_PER_TABLE = 4          # side by side on screen: any number of options, four to a table
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

# The comparison tables wrap their text in columns of equal width (nothing is cut off, on
# screen or in print).
TABLE_CSS = """
<style>
.st-key-side_by_side [data-testid="stTable"] { overflow: visible !important; }
.st-key-side_by_side table { table-layout: fixed; width: 100% !important; }
.st-key-side_by_side th, .st-key-side_by_side td, .st-key-side_by_side th *, .st-key-side_by_side td * {
  white-space: normal !important; overflow-wrap: anywhere !important; overflow: visible !important;
  text-overflow: clip !important; vertical-align: top; }
.st-key-side_by_side tr > *:first-child { width: 30%; }
@media print { .st-key-side_by_side tr { break-inside: avoid; } }
</style>
"""


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


def _side_by_side(table: pd.DataFrame, pairs, baseline: str) -> None:
    """The comparison, four options to a table (each with the measures' names), coloured
    against the baseline; rule breaks and near-ties as rows of their own."""
    num = table.apply(pd.to_numeric, errors="coerce")
    shown = labelled(table)
    shown.loc["Rules of these settings it breaks"] = [str(len(s.breaks)) for _, s in pairs]
    shown.loc["Near-ties (configurations the model cannot tell apart)"] = [
        str(len(s.near_ties or ())) for _, s in pairs]
    keys = list(table.index)

    def colour(col):
        out = []
        for i in range(len(shown)):
            key = keys[i] if i < len(keys) else None
            info = METRICS.get(key) if key else None
            if key is None or col.name == baseline or info is None or not info.better:
                out.append("")
                continue
            a, b = num.loc[key, col.name], num.loc[key, baseline]
            if pd.isna(a) or pd.isna(b) or abs(a - b) < 1e-9:
                out.append("")
                continue
            good = (a < b) if info.better == "lower" else (a > b)
            out.append("background-color: #CCEBD9" if good else "background-color: #F9D9C6")
        return out

    st.markdown(TABLE_CSS, unsafe_allow_html=True)
    with st.container(key="side_by_side"):
        columns = list(shown.columns)
        for start in range(0, len(columns), OPTIONS_PER_TABLE):
            part = shown[columns[start:start + OPTIONS_PER_TABLE]]
            if len(columns) > OPTIONS_PER_TABLE:
                st.caption(f"Options {start + 1}–{start + len(part.columns)} of {len(columns)}")
            st.table(part.style.apply(colour, axis=0))


def _criteria_base() -> pd.DataFrame:
    """The appraisal's starting criteria (or a saved comparison's), in the units people read."""
    saved = st.session_state.get("criteria_base")
    spec = saved if saved is not None else {k: {"weight": w, "score_0_at": z, "score_10_at": t}
                                            for k, (w, z, t) in DEFAULT_CRITERIA.items()}
    rows = []
    for key, c in spec.items():
        scale = _display_scale(key)
        rows.append({"criterion": metric_label(key), "weight": float(c["weight"]),
                     "zero": float(c["score_0_at"]) * scale, "ten": float(c["score_10_at"]) * scale})
    return pd.DataFrame(rows, columns=["criterion", "weight", "zero", "ten"])


def _display_scale(key: str) -> float:
    info = METRICS.get(key)
    return 100.0 if info is not None and info.fmt == "pct" else 1.0


def _criteria_editor() -> list[Criterion]:
    choosable = [metric_label(k) for k in METRICS if METRICS[k].better]
    by_label = {metric_label(k): k for k in METRICS}
    edited = st.data_editor(
        _criteria_base(), hide_index=True, num_rows="dynamic", key=f"criteria_editor_{st.session_state.get('criteria_rev', 0)}",
        width="stretch",
        column_config={
            "criterion": st.column_config.SelectboxColumn("Criterion", options=choosable, required=True, width="large"),
            "weight": st.column_config.NumberColumn("Weight", min_value=0.0, step=5.0),
            "zero": st.column_config.NumberColumn("Scores 0 at (its unit; % as 0–100)"),
            "ten": st.column_config.NumberColumn("Scores 10 at")})
    spec = {}
    for row in edited.itertuples(index=False):
        key = by_label.get(row.criterion)
        if key is None or pd.isna(row.weight):
            continue
        zero, ten = default_scale(key) if pd.isna(row.zero) or pd.isna(row.ten) else (
            row.zero / _display_scale(key), row.ten / _display_scale(key))
        spec[key] = {"weight": float(row.weight), "score_0_at": float(zero), "score_10_at": float(ten)}
    return criteria_from(spec)


def _open_saved(saved: dict) -> None:
    """Callback: a saved comparison's options and weights into the page's controls."""
    name = st.session_state.get("open_comparison")
    if not name or name not in saved:
        return
    payload = saved[name]["payload"]
    st.session_state["compare_chosen"] = [n for n in payload.get("options", [])
                                          if n in st.session_state.get("_compare_names", [])]
    st.session_state["criteria_base"] = payload.get("criteria") or None
    st.session_state["criteria_rev"] = st.session_state.get("criteria_rev", 0) + 1


def page() -> None:
    st.title("Compare options")
    st.caption("Every option is measured on the same yardstick: the workshop's current settings "
               "(demand, travel and bed-availability limits). Green: better than the baseline; "
               "orange: worse.")
    sc = state.scenario()
    ds = state.active_dataset()
    options, damaged = state.all_options()
    for msg in damaged:
        st.warning(f"A saved option could not be read and was left untouched: {msg}")
    names = [state.BEST, *options]
    st.session_state["_compare_names"] = names
    try:
        saved_comparisons = state.library().comparisons()
    except OptimiserError:
        saved_comparisons = {}
    if saved_comparisons:
        st.selectbox("Open a saved comparison (its options, weights and scales)", ["", *saved_comparisons],
                     key="open_comparison", on_change=_open_saved, args=(saved_comparisons,),
                     format_func=lambda n: n or "–")
    default = [n for n in names if n in ("Status quo", "West Leicestershire proposal", state.BEST)]
    if "compare_chosen" not in st.session_state:
        st.session_state["compare_chosen"] = default
    st.session_state["compare_chosen"] = [n for n in st.session_state["compare_chosen"] if n in names]
    chosen = st.multiselect("Options to compare (any number)", names, key="compare_chosen")
    if not chosen:
        st.info("Choose at least one option.")
        return
    with st.spinner("Measuring the options…"):
        pairs, problems = _solutions(chosen, options, sc)
    for p in problems:
        st.error(p)
    if not pairs:
        return
    table = compare_table([(label, s.metrics) for label, s in pairs], compare_report.measures(pairs))
    baseline = st.selectbox("Baseline (the others are coloured against it)", list(table.columns),
                            key="compare_baseline")
    for label, sol in pairs:
        if label == BEST_LABEL:
            st.markdown(f"**{BEST_LABEL}:**")
            common.show_answer_status(sol)
            common.answer_warnings(sol, sc.budget_per_year)
    _side_by_side(table, pairs, baseline)
    for label, sol in pairs:
        if sol.breaks:
            with st.expander(f"{label}: breaks {len(sol.breaks)} rules of the current settings"):
                for b in sol.breaks:
                    st.markdown(f"- {b}")

    st.subheader("Options appraisal")
    st.caption("Set the criteria, weights and scales (the papers say these are co-designed with Healthwatch "
               "and the Citizens' Panel; the starting values are an assumption to change). Each criterion "
               "scores 0–10 on its fixed scale (linear between the two values, held at 0 or 10 beyond), so "
               "a score does not depend on which other options are shown. The total is the weighted "
               "average. Options that break rules of the settings are ranked after those that meet them.")
    scores = None
    criteria: list[Criterion] = []
    try:
        criteria = _criteria_editor()
        st.caption("Scales in use: " + "; ".join(f"{metric_label(c.key)}: {c.scale_text()}" for c in criteria))
        scores = appraisal([(label, s.metrics) for label, s in pairs], criteria,
                           breaks={label: len(s.breaks) for label, s in pairs})
        shown = compare_report._scores_table(scores).round(1) + 0.0
        shown["Rank"] = [f"{int(r)}" + (f" (breaks {int(b)} rules)" if b else "")
                         for r, b in zip(shown["Rank"], shown["Rules of the settings broken"], strict=True)]
        shown = shown.drop(columns=["Rules of the settings broken"])
        st.markdown(TABLE_CSS, unsafe_allow_html=True)
        with st.container(key="side_by_side_scores"):
            st.table(shown.style.format(precision=1))
    except OptimiserError as exc:
        st.warning(str(exc))

    _save_comparison(chosen, criteria, baseline, sc)

    st.subheader("Print or export the comparison")
    settings_text = _settings_text(sc)
    data_line = f"{ds.data_line()} ({ds.name})"
    e1, e2 = st.columns(2)
    e1.download_button("Comparison for printing (PDF)",
                       partial(compare_report.pdf_bytes, pairs, sc, criteria, scores, settings_text, data_line),
                       "options_comparison.pdf", "application/pdf", key="dl_compare_pdf", on_click="ignore",
                       icon=":material/download:", width="stretch")
    e2.download_button("Comparison workbook (Excel)",
                       partial(compare_report.excel_bytes, pairs, sc, criteria, scores, settings_text, data_line),
                       "options_comparison.xlsx", XLSX, key="dl_compare_xlsx", on_click="ignore",
                       icon=":material/download:", width="stretch")
    with st.expander("One option's full results (Excel, GeoPackage)"):
        by_label = dict(pairs)
        one = st.selectbox("Option", list(by_label), key="export_pick")
        stem = "".join(c if c.isalnum() else "_" for c in one).strip("_").lower()
        r1, r2 = st.columns(2)
        r1.download_button("Excel (one sheet per table)", partial(api.excel_bytes, by_label[one]), f"{stem}.xlsx",
                           XLSX, key="dl_option_xlsx", on_click="ignore", icon=":material/download:")
        r2.download_button("GeoPackage (for QGIS)", partial(api.geopackage_bytes, by_label[one], ds), f"{stem}.gpkg",
                           "application/geopackage+sqlite3", key="dl_option_gpkg", on_click="ignore",
                           icon=":material/download:")

    st.subheader("Charts")
    _charts(pairs)
    _library_section(options)


def _settings_text(sc) -> str:
    from optimiser.ui.workshop import settings_description

    return settings_description(sc)


def _save_comparison(chosen, criteria, baseline, sc) -> None:
    with st.expander("Save this comparison (its options, weights and scales)"):
        name = st.text_input("Comparison name", value="", key="comparison_name", max_chars=200)
        author = access.author_field("Your name", key="comparison_author")
        if st.button("Save comparison", key="save_comparison"):
            payload = {"options": list(chosen), "baseline": baseline, "settings_yaml": sc.to_yaml(),
                       "criteria": {c.key: {"weight": c.weight, "score_0_at": c.score_0_at,
                                            "score_10_at": c.score_10_at} for c in criteria}}
            try:
                saved = state.library().save_comparison(name, payload, author=author)
            except OptimiserError as exc:
                state.show_error(exc)
                return
            st.success(f"Saved the comparison '{saved.name}' (version {saved.version}), with its weights.")


def _library_section(options: dict) -> None:
    st.subheader("Options library")
    lib = state.library()
    try:
        entries = lib.entries(include_archived=True)
    except OptimiserError as exc:
        state.show_error(exc)
        entries = []
    if entries:
        listing = pd.DataFrame([{"Option": e.name, "Version": e.version, "Saved by": e.author or "–",
                                 "Saved": e.saved_at_text, "Archived": "yes" if e.archived else "",
                                 "Description": e.option.description} for e in entries])
        st.dataframe(listing, hide_index=True, width="stretch")
        pick = st.selectbox("Saved option", [e.name for e in entries], key="library_pick")
        history = lib.history(pick)
        h1, h2, h3 = st.columns(3)
        version = h1.selectbox("Version", [h.version for h in history], key="library_version",
                               format_func=lambda v: f"{v} ({next(h for h in history if h.version == v).saved_at_text}, "
                                                     f"{next(h for h in history if h.version == v).author or 'no name'})")
        h2.download_button("Export this version (YAML option file)", partial(lib.export_yaml, pick, version),
                           f"{slug(pick)}_v{version}.yaml", "text/yaml", key="export_option", on_click="ignore",
                           icon=":material/download:")
        archived = next(e for e in entries if e.name == pick).archived
        if h3.button("Bring back from the archive" if archived else "Archive (hide from the pages; kept)",
                     key="archive_option"):
            lib.archive(pick, archived=not archived)
            st.rerun()
        chosen = next(h for h in history if h.version == version)
        if chosen.answer.get("answer_label"):
            st.caption(f"Saved with: {chosen.answer['answer_label']}.")
    draft, share = st.columns(2)
    with draft:
        st.markdown("**Draft an option by hand** (beds per hospital, home-based beds per district)")
        _draft_form()
    with share:
        st.markdown("**Add an option file** (YAML; a name already in the library becomes a new version)")
        up = st.file_uploader("Option file", type=["yaml", "yml"], key="upload_option")
        author = access.author_field("Your name (kept with the option)", key="upload_author")
        if up is not None and st.button("Add to the library", key="add_upload"):
            try:
                saved = lib.import_yaml(up.getvalue(), up.name, author=author)
                st.success(saved.message())
            except OptimiserError as exc:
                st.error(f"Not added (nothing else was changed): {exc}")


def _charts(pairs) -> None:
    sols = [s for _, s in pairs]
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
        author = access.author_field("Your name (kept with the option)", key="draft_author")
        ok = st.form_submit_button("Save drafted option")
    if ok:
        from optimiser.options import option_from_dict

        data = {"name": name, "description": "Drafted by hand in the app",
                "beds": {sid: {"general": int(r["General beds"]), "stroke_unit": int(r["Stroke unit beds"])}
                         for sid, r in beds.iterrows()},
                "virtual_beds": {d: int(v) for d, v in vb["Home-based beds"].items()}}
        try:
            option = option_from_dict(data, "drafted option")
            saved = state.library().save(option, author=author)
            st.success(saved.message() + " Choose it above to compare.")
        except OptimiserError as exc:
            st.error(str(exc))
