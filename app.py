"""LLR community bed optimiser: the Streamlit app (``make run`` opens it on 127.0.0.1; see
the README's "Security" for serving it to a network)."""

import streamlit as st

from optimiser.ui import (
    access,
    assumptions_page,
    compare_page,
    data_page,
    impact_page,
    look,
    maps_page,
    state,
    uncertainty_page,
    workshop,
)

st.set_page_config(page_title="LLR community bed optimiser", page_icon=access.page_icon(), layout="wide")
access.require_sign_in()
look.header()

pages = st.navigation([
    st.Page(workshop.page, title="Workshop", icon=":material/tune:", url_path="start", default=True),
    st.Page(compare_page.page, title="Compare options", icon=":material/compare:", url_path="compare"),
    st.Page(maps_page.page, title="Maps", icon=":material/map:", url_path="maps"),
    st.Page(impact_page.page, title="Impact", icon=":material/groups:", url_path="impact"),
    st.Page(uncertainty_page.page, title="How sure are we?", icon=":material/stacked_line_chart:",
            url_path="uncertainty"),
    st.Page(data_page.page, title="Data", icon=":material/database:", url_path="data"),
    st.Page(assumptions_page.page, title="Assumptions", icon=":material/checklist:", url_path="assumptions"),
    # the Workshop at /workshop too (the page at the root has no other address)
    st.Page(workshop.page, title="Workshop", url_path="workshop", visibility="hidden"),
])
state.init_controls(state.active_dataset())     # a link's settings apply whichever page it opens
pages.run()
look.footer()
