"""Workshop: clinicians change the limits and see the best configuration at once.

The controls sit in the sidebar in collapsible groups under the "Find" button (which stays in
view); the answer's status, key figures and map come first on the page. Every setting is in
the page's query string (see :mod:`optimiser.ui.settings`)."""

from __future__ import annotations

from functools import partial

import streamlit as st

from optimiser import api, maps
from optimiser.errors import OptimiserError
from optimiser.options import option_from_solution
from optimiser.ui import access, common, settings, state

STATUS_LABELS = {"free": "Model decides", "keep_open": "Keep beds", "close": "No inpatient beds"}
FIND = "Find the best configuration"
MAP_HEIGHT = 640
MAP_DRAWN = "workshop_map_drawn"       # this session's browser has drawn a map (and has its drawing code)


def controls(sc, ds) -> None:
    """The workshop settings, in groups (their values are in the session state: see
    :func:`optimiser.ui.state.init_controls`)."""
    with st.expander("Travel", expanded=True):
        st.slider("Longest journey to the hospital (minutes)", 20, 90, step=5, key="max_travel")
        st.slider("Share of residents aged 65+ within the threshold (%)", 50, 100, step=1, key="coverage_share")
        st.select_slider("Threshold (minutes)", list(settings.THRESHOLDS), key="coverage_threshold")
        st.radio("Catchments", ["split", "single"], horizontal=False, key="assignment",
                 format_func=lambda v: {"split": "Areas may share hospitals (faster)",
                                        "single": "One hospital per area (clean catchments)"}[v])
    with st.expander("Beds", expanded=False):
        st.radio("Size beds by", ["erlang", "occupancy"], key="rule",
                 format_func=lambda v: {"erlang": "Chance a patient finds no free bed",
                                        "occupancy": "Average occupancy"}[v])
        st.slider("Highest acceptable chance a patient finds no free bed (%) (when sized by that chance)",
                  1, 20, step=1, key="blocking")
        st.slider("Highest acceptable average occupancy (%) (when sized by occupancy)", 70, 98, step=1,
                  key="occupancy")
        st.slider("Fewest beds on a hospital that keeps inpatient beds", 0, 40, step=2, key="min_beds")
        st.slider("Rehabilitation patients suitable for a home-based bed (%)", 0, 80, step=5, key="virtual_share")
    with st.expander("Demand", expanded=False):
        st.slider("Plan for the year", 2022, 2040, step=1, key="horizon")
        st.checkbox("Grow demand with the population projections", key="use_projections")
        st.number_input("Flat demand growth to that year (%) (when not using the projections)", -50.0, 200.0,
                        step=1.0, key="flat_growth")
    with st.expander("Hospitals", expanded=False):
        for sid, name in ds.sites["site_name"].items():
            st.selectbox(name, list(STATUS_LABELS), format_func=STATUS_LABELS.get, key=settings.site_key(sid))
        if "stroke" in sc.pathways:
            st.multiselect("Hospitals that may host stroke rehabilitation", list(ds.sites.index),
                           format_func=lambda s: ds.sites.loc[s, "site_name"], key="stroke_sites")
    with st.expander("Budget", expanded=False):
        st.number_input("Annual budget (£ a year; 0 = no limit)", 0, 200_000_000, step=500_000, key="budget")


def page() -> None:
    ds = state.active_dataset()
    values = state.init_controls(ds)
    base = state.scenario()
    ids = list(ds.sites.index)
    with st.sidebar:
        mode = st.radio("Answer", list(settings.ANSWER_MODES), horizontal=True, key="answer_mode",
                        format_func=lambda v: {"quick": "Quick (seconds)",
                                               "best": "Best (within 0.5%; about a minute)"}[v])
        with st.form("workshop_controls", border=False):
            submitted = st.form_submit_button(FIND, type="primary", width="stretch", key="find")
            controls(base, ds)
        st.button("Back to the default settings", width="stretch", key="reset_settings",
                  on_click=state.reset_controls, args=(ds,))
    st.title("Workshop: find the best configuration")
    for problem in st.session_state.get(state.URL_PROBLEMS, []):
        st.warning(problem)
    if submitted:
        values = {key: st.session_state[key] for key in values}
        try:
            changes = settings.to_changes(values, ids, "stroke" in base.pathways)
            changed = base.with_changes(**changes)
            default = state.base_scenario()
            # the default's settings again: the default itself (its figures' notes, and its kept answer)
            if changed.with_changes(name=default.name).fingerprint() == default.fingerprint():
                changed = default
            else:                       # named after what it is, not after the file it started from
                changed = changed.with_changes(name=f"Workshop settings (plan for {changed.horizon_year})")
            state.set_scenario(changed)
        except OptimiserError as exc:
            state.show_error(exc)
            return
    current = state.scenario()
    values["answer_mode"] = mode
    state.sync_query(values, ds)
    notes = state.site_notes()
    if notes:
        with st.expander(f"The settings' hospitals, matched to the imported dataset ({len(notes)} notes)"):
            for note in notes:
                st.markdown(f"- {note}")
    banner = st.empty()
    queue_notice = st.empty()      # the place in the solve queue, if others are solving
    figures = st.container()       # the key figures, once the answer is in
    map_slot = st.empty()
    if state.has_answer(current, mode == "quick", st.session_state.get("dataset_path")):
        sol, err = state.solve(current, quick=mode == "quick", notice=queue_notice)     # kept: at once
    else:
        if not st.session_state.get(MAP_DRAWN):
            # the browser loads the map's drawing code while the answer is found, not after
            map_slot.plotly_chart(waiting_map(), width="stretch", key="workshop_map_waiting")
        with banner.status("Finding the best configuration…", expanded=False):
            sol, err = state.solve(current, quick=mode == "quick", notice=queue_notice)
    if err is not None:
        map_slot.empty()
        banner.error("No configuration meets every limit", icon=":material/error:")
        state.show_error(err)
        _offer_nearest(err)
        return
    common.show_answer_status(sol, banner)
    # The previous run is the last answer found with different settings.
    text = state.scenario_text(current)
    last = st.session_state.get("last_run")
    if last is None or last[2] != text:
        st.session_state["previous_run"] = last
        st.session_state["last_run"] = (sol, current, text)
    prev = st.session_state.get("previous_run")
    previous, previous_sc = (prev[0], prev[1]) if prev else (None, None)
    with figures:
        common.headline_metrics(sol, previous)
    map_slot.plotly_chart(answer_map(sol, ds), width="stretch", key="workshop_map")
    st.session_state[MAP_DRAWN] = True
    common.answer_warnings(sol, current.budget_per_year)
    st.caption(f"{common.solution_caption(sol)} **Data:** {ds.data_line()} ({ds.name}). Change a limit in the "
               f"sidebar, then press **{FIND}**.")
    if previous is not None:
        with st.expander("What changed since the previous run", expanded=True):
            st.caption("Arrows on the figures above show the change from the previous run.")
            for line in common.settings_changes(previous_sc, current, ds.sites["site_name"]):
                st.markdown(f"- {line}")
            changes = state.derived(sol, "bed_changes", lambda: common.bed_changes(sol, previous), also=previous)
            if len(changes):
                st.dataframe(changes, hide_index=True, width="stretch")
            else:
                st.markdown("The beds are the same as in the previous run.")
    st.subheader("Community hospital beds")
    st.dataframe(sites_table(sol), hide_index=True, width="stretch")
    st.subheader("Home-based (virtual) beds")
    st.dataframe(virtual_table(sol), hide_index=True, width="stretch")
    with st.expander("Technical detail (for analysts): how the answer was found, how demand was estimated"):
        st.markdown(common.technical_detail(sol))
        for note in sol.notes:
            st.markdown(f"- {note}")
    d1, d2 = st.columns(2)
    # Files are made when someone clicks (deferred), so the page does not wait for them.
    d1.download_button("Download the results (Excel)", partial(api.excel_bytes, sol),
                       "llr_bed_configuration.xlsx",
                       "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", key="dl_xlsx",
                       on_click="ignore", icon=":material/download:")
    d2.download_button("Download the results (GeoPackage, for QGIS)", partial(api.geopackage_bytes, sol, ds),
                       "llr_bed_configuration.gpkg", "application/geopackage+sqlite3", key="dl_gpkg",
                       on_click="ignore", icon=":material/download:")
    _save_form(sol, current, mode)


def answer_map(sol, ds):
    """The answer's map (made once per answer)."""
    return state.derived(sol, f"workshop_map:{ds.name}", lambda: maps.plotly_map(
        maps.map_layers(ds, sol, "Travel time to community hospital beds: this answer"), height=MAP_HEIGHT))


def waiting_map():
    """An empty map frame, the answer's map's size, shown while the first answer is found."""
    import plotly.graph_objects as go

    fig = go.Figure()
    fig.add_annotation(text="The map appears here when the answer is found.", showarrow=False,
                       x=0.5, y=0.5, xref="paper", yref="paper", font=dict(size=16, color="#4C6272"))
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    fig.update_layout(height=MAP_HEIGHT, plot_bgcolor="white", paper_bgcolor="white")
    return fig


def sites_table(sol):
    return state.derived(sol, "sites_table", lambda: common.sites_table(sol))


def virtual_table(sol):
    return state.derived(sol, "virtual_table", lambda: common.virtual_table(sol))


def prepare_default_answer() -> bool:
    """Find the default settings' quick answer (the one the Workshop opens on) and make its
    map and tables, so the first person to open the app sees them at once: the server does
    this as it starts (see :mod:`optimiser.ui.serve`). True when the answer is ready."""
    ds = state.dataset(None)
    sc, _notes = state.scenario_on(None, None)
    sol, _err = state.solve_on(sc, None, quick=True, notice=state.QUIET)
    if sol is None:
        return False
    answer_map(sol, ds)
    sites_table(sol)
    virtual_table(sol)
    return True


def settings_description(sc) -> str:
    """The settings an answer was found with, in words (an option's description)."""
    std = sc.travel.standard
    parts = [f"plan for {sc.horizon_year}",
             "demand grown with the population projections" if sc.growth == "dataset"
             else f"demand growth {float(sc.growth):+g}%",
             f"longest journey {sc.travel.max_minutes:g} minutes"]
    if std is not None:
        parts.append(f"{100 * std.share:.0f}% of residents 65+ within {std.threshold_minutes:g} minutes")
    parts.append(f"at most {100 * sc.utilisation.blocking_target:.0f}% chance a patient finds no free bed"
                 if sc.utilisation.rule == "erlang"
                 else f"average occupancy at most {100 * sc.utilisation.occupancy_target:.0f}%")
    kept = [sid for sid, s in sc.sites.items() if s.status == "keep_open"]
    closed = [sid for sid, s in sc.sites.items() if s.status == "close"]
    if kept:
        parts.append("beds kept at " + ", ".join(kept))
    if closed:
        parts.append("no inpatient beds at " + ", ".join(closed))
    if sc.budget_per_year:
        parts.append(f"budget £{sc.budget_per_year:,.0f} a year")
    return "; ".join(parts)


def answer_record(sol, mode: str) -> dict:
    """What is kept of an answer with a saved option."""
    return {"answer_label": common.answer_label(sol), "status": sol.status, "mode": mode,
            "optimality_gap": sol.optimality_gap, "stopped_by_time_limit": sol.stopped_by_time_limit,
            "metrics": {k: v for k, v in sol.metrics.items() if isinstance(v, int | float)},
            "near_ties": [t.summary() for t in sol.near_ties], "breaks": list(sol.breaks),
            "provenance": dict(sol.provenance)}


@st.fragment
def _save_form(sol, current, mode: str) -> None:
    """Naming and saving the answer reruns this form alone (a fragment), not the page: the
    answer, its map and the sidebar stay as they are."""
    with st.expander("Save this answer as an option for the steering group"):
        name = st.text_input("Option name", value="Workshop answer", key="save_name", max_chars=200)
        author = access.author_field("Your name (kept with the option)", key="save_author")
        st.caption("Saving a name that is already in the library makes a new version of it; earlier "
                   "versions are kept.")
        if st.button("Save option", key="save_option"):
            name = name.strip() or "Workshop answer"
            option = option_from_solution(sol, name, f"From the workshop ({common.answer_label(sol)}): "
                                                     f"{settings_description(current)}.")
            try:
                saved = state.library().save(option, author=author, settings_yaml=state.scenario_text(current),
                                             answer=answer_record(sol, mode))
            except OptimiserError as exc:
                state.show_error(exc)
                return
            st.success(saved.message() + " It is now on the Compare options page.")


# Settings the infeasibility diagnosis can suggest, and the workshop control that sets each.
_NEAREST_CONTROLS = {
    "travel.standard.share": ("coverage_share", lambda v: int(100 * v)),
    "min_beds_per_open_site": ("min_beds", lambda v: int(2 * (v // 2))),
}


def _offer_nearest(err) -> None:
    nearest = getattr(getattr(err, "explanation", None), "nearest", {}) or {}
    usable = {k: v for k, v in nearest.items() if k in _NEAREST_CONTROLS}
    if not usable:
        return
    st.button("Use the nearest setting that works", type="primary", key="apply_nearest",
              on_click=_apply_nearest, args=(usable,))


def _apply_nearest(usable: dict) -> None:
    """Runs before the page reruns, so the controls can take the new values."""
    # Only the first suggestion: each alone restores feasibility.
    key, value = next(iter(usable.items()))
    widget, convert = _NEAREST_CONTROLS[key]
    st.session_state[widget] = convert(value)
    state.set_scenario(state.scenario().with_changes(**{key: convert(value) / 100 if widget == "coverage_share"
                                                        else convert(value)}))
