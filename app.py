"""LLR community bed optimiser: the Streamlit app (``make run`` opens it)."""

import streamlit as st

from optimiser.ui import (
    assumptions_page,
    compare_page,
    data_page,
    maps_page,
    uncertainty_page,
    workshop,
)

st.set_page_config(page_title="LLR community bed optimiser", page_icon=":material/local_hospital:", layout="wide")

pages = st.navigation([
    st.Page(workshop.page, title="Workshop", icon=":material/tune:", url_path="workshop", default=True),
    st.Page(compare_page.page, title="Compare options", icon=":material/compare:", url_path="compare"),
    st.Page(maps_page.page, title="Maps", icon=":material/map:", url_path="maps"),
    st.Page(uncertainty_page.page, title="How sure are we?", icon=":material/stacked_line_chart:",
            url_path="uncertainty"),
    st.Page(data_page.page, title="Data", icon=":material/database:", url_path="data"),
    st.Page(assumptions_page.page, title="Assumptions", icon=":material/checklist:", url_path="assumptions"),
])
st.sidebar.caption("Leicester, Leicestershire and Rutland community services redesign, Phase 2")
pages.run()
