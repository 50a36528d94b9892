"""Maps for district councils: offline maps, a per-district view, downloads."""

from __future__ import annotations

import dataclasses
from functools import partial

import streamlit as st

from optimiser import maps
from optimiser.ui import common, state

PNG, PDF, HTML, CSV = "image/png", "application/pdf", "text/html", "text/csv"


def _pick(label: str, key: str, options, sc, default: int = 0):
    names = [state.BEST, *options]
    name = st.selectbox(label, names, index=min(default, len(names) - 1), key=key)
    with st.spinner("Preparing the option…"):
        sol, err = state.solution_for(name, options, sc)
    if sol is not None and name == state.BEST:
        # Titles say what it is, not the scenario file's name.
        sol = dataclasses.replace(sol, name="Workshop answer for the current settings")
    return sol, err


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in text).strip("_").lower()


def _download(col, label: str, make, file_name: str, mime: str, key: str) -> None:
    """A download whose file is made only when someone clicks (maps take a second or two)."""
    col.download_button(label, make, file_name, mime, key=key, on_click="ignore", icon=":material/download:")


def page() -> None:
    st.title("Maps for district councils")
    st.caption("Drawn from the dataset's own boundaries: no internet map service is needed. Each small "
               "area (LSOA) is shaded by the travel time to the hospital that serves it; hospitals are "
               "sized by their beds; each district shows its home-based (virtual) beds.")
    ds = state.active_dataset()
    st.caption(f"**Data:** {ds.data_line()} ({ds.name}).")
    sc = state.scenario()
    options, _ = state.all_options()
    sol, err = _pick("Option to map", "map_option", options, sc)
    if err is not None:
        state.show_error(err)
        return
    if sol.mode != "evaluate":          # a recommended configuration: its status and near-ties
        common.show_answer_status(sol)
        common.answer_warnings(sol, sc.budget_per_year)
    c1, c2 = st.columns(2)
    show_catch = c1.checkbox("Show each hospital's catchment", value=True, key="show_catchments")
    basemap = c2.checkbox("Street map underneath (needs internet; often blocked on NHS and council networks)",
                          value=False, key="basemap")
    layers = state.derived(sol, f"layers:{ds.name}:{sol.name}",
                           lambda: maps.map_layers(ds, sol, f"Travel time to community hospital beds: {sol.name}"))
    fig = state.derived(sol, f"map:{ds.name}:{sol.name}:{show_catch}",
                        lambda: maps.plotly_map(layers, show_catchments=show_catch))
    if basemap:
        st.plotly_chart(maps.plotly_map_with_basemap(layers), width="stretch", key="basemap_map")
    else:
        st.plotly_chart(fig, width="stretch", key="main_map")
    name = _slug(sol.name)
    c1, c2, c3 = st.columns(3)
    _download(c1, "Map for slides (PNG)", partial(maps.static_map, layers, fmt="png", show_catchments=show_catch),
              f"llr_map_{name}.png", PNG, "dl_png")
    _download(c2, "Map for printing (PDF)", partial(maps.static_map, layers, fmt="pdf", show_catchments=show_catch),
              f"llr_map_{name}.pdf", PDF, "dl_pdf")
    _download(c3, "Interactive map (HTML, opens offline)", partial(maps.html_bytes, fig), f"llr_map_{name}.html",
              HTML, "dl_html")

    st.header("What an option means for one district")
    st.caption("Travel to the hospital that serves the district's residents, the nearest hospital with "
               "beds, and home-based beds, before and after.")
    districts = ds.districts["district_name"]
    code = st.selectbox("District", list(districts.index), format_func=districts.get, key="district_pick")
    c1, c2 = st.columns(2)
    with c1:
        before, e1 = _pick("Before", "before_option", options, sc,
                           default=1 + list(options).index("Status quo") if "Status quo" in options else 0)
    with c2:
        after, e2 = _pick("After", "after_option", options, sc, default=0)
    if e1 or e2:
        state.show_error(e1 or e2)
        return
    sheet = maps.district_sheet(ds, before, after, code)
    st.subheader(maps.district_sheet_title(ds, after, code))
    if after.mode != "evaluate" and after.near_ties:
        common.answer_warnings(after)
    st.table(sheet)
    left, right = st.columns(2)
    for col, (s, when) in zip((left, right), ((before, "Before"), (after, "After")), strict=True):
        def close_up(s=s, when=when):
            lay = maps.map_layers(ds, s, f"{when}: {s.name}")
            return maps.plotly_map(lay, bounds=maps.district_bounds(lay, code), highlight=code, height=560,
                                   show_legend=False)

        # made once per answer and district (a redraw of the page does not place its labels again)
        fig = state.derived(s, f"close_up:{ds.name}:{s.name}:{when}:{code}", close_up)
        col.plotly_chart(fig, width="stretch", key=f"district_map_{when.lower()}")
    st.caption("Colours as on the map above: yellow under 20 minutes, light green 20–30, teal 30–45, "
               "dark blue 45 minutes or more, grey no hospital within reach.")
    stem = f"{_slug(districts[code])}_{_slug(after.name)}"
    from optimiser.ui.workshop import settings_description

    settings = settings_description(sc)
    st.markdown(f"**Download the sheet for {districts[code]}**, or the pack for every district:")
    d1, d2, d3, d4, d5 = st.columns(5)
    _download(d1, "PNG", partial(maps.district_sheet_figure, ds, before, after, code, fmt="png", settings=settings),
              f"{stem}.png", PNG, "dl_dpng")
    _download(d2, "PDF", partial(maps.district_sheet_figure, ds, before, after, code, fmt="pdf", settings=settings),
              f"{stem}.pdf", PDF, "dl_dpdf")
    _download(d3, "HTML (offline)", partial(maps.district_sheet_html, ds, before, after, code),
              f"{stem}.html", HTML, "dl_dhtml")
    _download(d4, "Figures (CSV)", sheet.to_csv().encode("utf-8"), f"{stem}.csv", CSV, "dl_dcsv")
    _download(d5, "District pack (PDF)", partial(maps.district_pack_pdf, ds, before, after, settings=settings),
              f"district_pack_{_slug(after.name)}.pdf", PDF, "dl_dpack")
