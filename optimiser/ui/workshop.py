"""Workshop: clinicians change the limits and see the best configuration at once."""

from __future__ import annotations

from functools import partial

import streamlit as st

from optimiser import api, maps
from optimiser.errors import OptimiserError
from optimiser.options import option_from_solution
from optimiser.ui import common, state

STATUS_LABELS = {"free": "Model decides", "keep_open": "Keep beds", "close": "No inpatient beds"}


def controls(sc, ds) -> dict:
    """The workshop settings; returns the scenario changes they imply."""
    ch: dict = {}
    st.subheader("Travel")
    ch["travel.max_minutes"] = st.slider("Longest journey to the hospital (minutes)", 20, 90,
                                         int(sc.travel.max_minutes), 5, key="max_travel")
    std = sc.travel.standard
    c1, c2 = st.columns(2)
    share = c1.slider("Share of residents aged 65+ within the threshold (%)", 50, 100,
                      int(round(100 * (std.share if std else 0.95))), 1, key="coverage_share")
    threshold = c2.select_slider("Threshold (minutes)", [15, 20, 25, 30, 35, 40, 45, 60],
                                 int(std.threshold_minutes if std else 30), key="coverage_threshold")
    ch["travel.standard.share"] = share / 100
    ch["travel.standard.threshold_minutes"] = float(threshold)
    ch["travel.assignment"] = st.radio(
        "Catchments", ["split", "single"], index=0 if sc.travel.assignment == "split" else 1, horizontal=True,
        format_func=lambda v: {"split": "Areas may share hospitals (faster)",
                               "single": "One hospital per area (clean catchments)"}[v], key="assignment")

    st.subheader("Beds")
    rule = st.radio("Size beds by", ["erlang", "occupancy"], index=0 if sc.utilisation.rule == "erlang" else 1,
                    horizontal=True, key="rule",
                    format_func=lambda v: {"erlang": "Chance a patient finds no free bed",
                                           "occupancy": "Average occupancy"}[v])
    ch["utilisation.rule"] = rule
    if rule == "erlang":
        ch["utilisation.blocking_target"] = st.slider(
            "Highest acceptable chance a patient finds no free bed (%)", 1, 20,
            int(round(100 * sc.utilisation.blocking_target)), 1, key="blocking") / 100
    else:
        ch["utilisation.occupancy_target"] = st.slider(
            "Highest acceptable average occupancy (%)", 70, 98, int(round(100 * sc.utilisation.occupancy_target)),
            1, key="occupancy") / 100
    ch["min_beds_per_open_site"] = st.slider("Fewest beds on a hospital that keeps inpatient beds", 0, 40,
                                             int(sc.min_beds_per_open_site), 2, key="min_beds")
    ch["pathways.rehab.virtual_share"] = st.slider(
        "Rehabilitation patients suitable for a home-based bed (%)", 0, 80,
        int(round(100 * sc.pathways["rehab"].virtual_share)), 5, key="virtual_share") / 100

    st.subheader("Demand")
    ch["horizon_year"] = st.slider("Plan for the year", 2022, 2040, int(sc.horizon_year), 1, key="horizon")
    use_proj = st.checkbox("Grow demand with the population projections", value=sc.growth == "dataset",
                           key="use_projections")
    if not use_proj:
        ch["growth"] = float(st.number_input("Flat demand growth to that year (%)", -50.0, 200.0,
                                             0.0 if sc.growth == "dataset" else float(sc.growth), 1.0,
                                             key="flat_growth"))
    else:
        ch["growth"] = "dataset"

    st.subheader("Hospitals")
    sites = {}
    for sid, name in ds.sites["site_name"].items():
        current = sc.sites[sid].status if sid in sc.sites else "free"
        value = st.selectbox(name, list(STATUS_LABELS), index=list(STATUS_LABELS).index(current),
                             format_func=STATUS_LABELS.get, key=f"status_{sid}")
        if value != "free":
            sites[sid] = {"status": value}
    ch["sites"] = sites
    stroke = sc.pathways.get("stroke")
    if stroke is not None:
        chosen = st.multiselect("Hospitals that may host stroke rehabilitation", list(ds.sites.index),
                                default=[s for s in stroke.sites if s in ds.sites.index]
                                if stroke.sites != "all" else list(ds.sites.index),
                                format_func=lambda s: ds.sites.loc[s, "site_name"], key="stroke_sites")
        ch["pathways.stroke.sites"] = chosen
    budget = st.number_input("Annual budget (£ a year; 0 = no limit)", 0, 200_000_000,
                             int(sc.budget_per_year or 0), 500_000, key="budget")
    ch["budget_per_year"] = float(budget) if budget else None
    return ch


def page() -> None:
    st.title("Workshop: find the best configuration")
    st.caption("Change a limit, then press **Find the best configuration**. The model chooses beds at "
               "each community hospital, home-based beds in each district and which hospital serves "
               "each area, at the lowest weighted cost and travel.")
    ds = state.active_dataset()
    st.caption(f"**Data:** {ds.data_line()} ({ds.name}).")
    base = state.scenario()
    with st.sidebar:
        with st.form("workshop_controls"):
            changes = controls(base, ds)
            submitted = st.form_submit_button("Find the best configuration", type="primary",
                                              width="stretch")
        if st.button("Back to the default settings", width="stretch"):
            st.session_state.pop(state.SCENARIO_KEY, None)
            for k in list(st.session_state):
                if k not in ("dataset_path",):
                    del st.session_state[k]
            st.rerun()
    try:
        sc = base.with_changes(**changes)
    except OptimiserError as exc:
        state.show_error(exc)
        return
    if submitted:
        state.set_scenario(sc)
    current = state.scenario()
    notes = state.site_notes()
    if notes:
        with st.expander(f"The settings' hospitals, matched to the imported dataset ({len(notes)} notes)"):
            for note in notes:
                st.markdown(f"- {note}")
    quick = st.radio("Answer", ["quick", "best"], horizontal=True, key="answer_mode",
                     format_func=lambda v: {"quick": "Quick (about a second)",
                                            "best": "Best (within 0.5% of the best possible; under a minute)"}[v]
                     ) == "quick"
    queue_notice = st.empty()      # the place in the solve queue, if others are solving
    with st.status("Finding the best configuration…", expanded=False) as status:
        sol, err = state.solve(current, quick=quick, notice=queue_notice)
        status.update(label=common.answer_label(sol) if sol is not None else "No configuration meets every limit",
                      state=("error" if sol is None else "complete" if sol.is_single_best or
                             (sol.status == "quick" and not sol.stopped_by_time_limit) else "running"))
    if err is not None:
        state.show_error(err)
        _offer_nearest(err)
        return
    # The previous run is the last answer found with different settings.
    text = current.to_yaml()
    last = st.session_state.get("last_run")
    if last is None or last[2] != text:
        st.session_state["previous_run"] = last
        st.session_state["last_run"] = (sol, current, text)
    prev = st.session_state.get("previous_run")
    previous, previous_sc = (prev[0], prev[1]) if prev else (None, None)
    st.caption(common.solution_caption(sol))
    common.answer_warnings(sol)
    common.headline_metrics(sol, previous)
    if previous is not None:
        with st.expander("What changed since the previous run", expanded=True):
            st.caption("Arrows on the figures above show the change from the previous run.")
            for line in common.settings_changes(previous_sc, current, ds.sites["site_name"]):
                st.markdown(f"- {line}")
            changes = common.bed_changes(sol, previous)
            if len(changes):
                st.dataframe(changes, hide_index=True, width="stretch")
            else:
                st.markdown("The beds are the same as in the previous run.")
    st.subheader("Community hospital beds")
    st.dataframe(common.sites_table(sol), hide_index=True, width="stretch")
    st.subheader("Home-based (virtual) beds")
    st.dataframe(common.virtual_table(sol), hide_index=True, width="stretch")
    layers = maps.map_layers(ds, sol, "Travel time to community hospital beds: this answer")
    st.plotly_chart(maps.plotly_map(layers, height=760), width="stretch", key="workshop_map")
    with st.expander("How demand was estimated, and other notes"):
        for note in sol.notes:
            st.markdown(f"- {note}")
    d1, d2 = st.columns(2)
    # Files are made when someone clicks (deferred), so the page does not wait for them.
    d1.download_button("Download the results (Excel, one sheet per table)", partial(api.excel_bytes, sol),
                       "llr_bed_configuration.xlsx",
                       "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", key="dl_xlsx",
                       on_click="ignore", icon=":material/download:")
    d2.download_button("Download the results (GeoPackage, for QGIS)", partial(api.geopackage_bytes, sol, ds),
                       "llr_bed_configuration.gpkg", "application/geopackage+sqlite3", key="dl_gpkg",
                       on_click="ignore", icon=":material/download:")
    with st.expander("Save this answer as an option for the steering group"):
        name = st.text_input("Option name", value="Workshop answer", key="save_name", max_chars=200)
        replace = st.checkbox("Replace a saved option of the same name", value=False, key="save_replace")
        if st.button("Save option", key="save_option"):
            try:
                path = state.library().save(option_from_solution(sol, name.strip() or "Workshop answer",
                                                                 f"From the workshop: {sol.name}"),
                                            replace=replace)
                st.success(f"Saved '{name}' ({path.name}). It is now on the Compare options page.")
            except OptimiserError as exc:
                state.show_error(exc)


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
