"""Maps for district councils: offline maps, a per-district view, downloads."""

from __future__ import annotations

import streamlit as st

from optimiser import maps
from optimiser.ui import state


def _pick(label: str, key: str, options, sc, default: int = 0):
    names = [state.BEST, *options]
    name = st.selectbox(label, names, index=min(default, len(names) - 1), key=key)
    with st.spinner("Preparing the option…"):
        return state.solution_for(name, options, sc)


def page() -> None:
    st.title("Maps for district councils")
    st.caption("Drawn from the dataset's own boundaries: no internet map service is needed. Each small "
               "area (LSOA) is shaded by the travel time to the hospital that serves it.")
    ds = state.active_dataset()
    sc = state.scenario()
    options, _ = state.all_options()
    sol, err = _pick("Option to map", "map_option", options, sc)
    if err is not None:
        state.show_error(err)
        return
    c1, c2 = st.columns(2)
    show_catch = c1.checkbox("Show each hospital's catchment", value=True, key="show_catchments")
    basemap = c2.checkbox("Street map underneath (needs internet; often blocked on NHS and council networks)",
                          value=False, key="basemap")
    layers = maps.map_layers(ds, sol, f"Travel time to community hospital beds: {sol.name}")
    fig = maps.plotly_map(layers, show_catchments=show_catch)
    if basemap:
        st.plotly_chart(maps.plotly_map_with_basemap(layers), width="stretch", key="basemap_map")
    else:
        st.plotly_chart(fig, width="stretch", key="main_map")
    c1, c2, c3 = st.columns(3)
    c1.download_button("Download map (PNG)", maps.static_map(layers, fmt="png"), "llr_map.png", "image/png",
                       key="dl_png")
    c2.download_button("Download map (PDF)", maps.static_map(layers, fmt="pdf"), "llr_map.pdf",
                       "application/pdf", key="dl_pdf")
    c3.download_button("Download interactive map (HTML, works offline)", maps.html_bytes(fig), "llr_map.html",
                       "text/html", key="dl_html")

    st.header("What an option means for one district")
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
    st.subheader(f"{districts[code]} residents: {before.name} and {after.name}")
    st.table(sheet)
    after_layers = maps.map_layers(ds, after, f"Travel time to community hospital beds: {after.name}")
    png = maps.district_map(after_layers, code)
    st.image(png, caption=f"{districts[code]}: {after.name}", width=820)
    d1, d2 = st.columns(2)
    d1.download_button("Download district map (PNG)", png, f"{districts[code]}_map.png", "image/png", key="dl_dpng")
    d2.download_button("Download district sheet (CSV)", sheet.to_csv().encode("utf-8"),
                       f"{districts[code]}_sheet.csv", "text/csv", key="dl_dcsv")
