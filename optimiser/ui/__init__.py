"""The Streamlit front end: thin pages over :mod:`optimiser.api` (no model or data logic)."""
