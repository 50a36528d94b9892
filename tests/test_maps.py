"""Offline maps from the real dataset and real solutions."""

from __future__ import annotations

import numpy as np
import pytest

from optimiser import api, maps


@pytest.fixture(scope="module")
def status_quo(llr_scenario, llr_dataset):
    return api.evaluate(llr_scenario, api.shipped_options()["Status quo"], llr_dataset)


@pytest.fixture(scope="module")
def consolidation(llr_scenario, llr_dataset):
    return api.evaluate(llr_scenario, api.shipped_options()["Consolidate Lutterworth into Market Harborough"],
                        llr_dataset)


def test_travel_bands():
    assert maps.band_of([0, 19.9, 20, 29.99, 30, 44.9, 45, 200]).tolist() == [0, 0, 1, 1, 2, 2, 3, 3]
    assert maps.band_of([np.nan]).tolist() == [4]
    assert len(maps.band_labels()) == len(maps.band_colours()) == 5


def test_layers_hold_every_area_district_and_hospital(llr_dataset, consolidation):
    layers = maps.map_layers(llr_dataset, consolidation)
    assert len(layers.zones) == 611 and len(layers.districts) == 9 and len(layers.sites) == 8
    # one catchment per hospital that serves someone; Feilding Palmer has no beds
    assert "feilding_palmer" not in set(layers.catchments["site_id"])
    assert layers.sites.loc["feilding_palmer", "beds"] == 0
    assert layers.sites.loc["st_lukes", "beds"] == 49
    assert layers.districts["virtual_beds"].sum() == 146
    # shading agrees with the solution's own travel times
    z = consolidation.zones.set_index("zone_code")
    assert np.allclose(layers.zones["travel_minutes"], z.loc[layers.zones.index, "travel_minutes"])


def test_plotly_map_draws_offline_with_full_legend(llr_dataset, status_quo):
    fig = maps.plotly_map(maps.map_layers(llr_dataset, status_quo))
    names = {t.name for t in fig.data}
    assert set(maps.band_labels()) <= names
    assert {"district boundary", "hospital catchment", "hospital with beds (size = beds)"} <= names
    assert fig.layout.yaxis.scaleanchor == "x"            # true shape, not stretched
    assert all(t.type == "scatter" for t in fig.data)    # plain x/y traces: no tile server
    html = maps.html_bytes(fig).decode()
    import re

    assert not re.search(r"<script[^>]*\ssrc=", html), "no external scripts: opens with no internet"
    assert len(html) > 3_000_000 // 2                      # plotly.js inlined


def test_static_exports(llr_dataset, status_quo):
    layers = maps.map_layers(llr_dataset, status_quo)
    png = maps.static_map(layers, fmt="png")
    pdf = maps.static_map(layers, fmt="pdf")
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 50_000
    assert pdf[:5] == b"%PDF-" and len(pdf) > 20_000
    district = maps.district_map(layers, "E07000133")
    assert district[:4] == b"\x89PNG" and len(district) > 30_000


def test_district_sheet_before_and_after(llr_dataset, status_quo, consolidation):
    sheet = maps.district_sheet(llr_dataset, status_quo, consolidation, "E07000131")   # Harborough
    assert list(sheet.columns) == ["Status quo", "Consolidate Lutterworth into Market Harborough"]
    beds = sheet.loc["Community hospital beds in the district (beds)"]
    assert beds.tolist() == ["49", "49"]   # 36 at St Luke's + 13 at Feilding Palmer; then all 49 at St Luke's
    uses = sheet.loc["Hospitals residents use (share of residents)"]
    assert "Feilding Palmer" in uses.iloc[0] and "Feilding Palmer" not in uses.iloc[1]
    virt = sheet.loc["Home-based (virtual) beds for the district (beds)"]
    assert virt.tolist() == ["13", "20"]
    with pytest.raises(KeyError):
        maps.district_sheet(llr_dataset, status_quo, consolidation, "E99999999")


def test_optional_basemap_figure(llr_dataset, status_quo):
    fig = maps.plotly_map_with_basemap(maps.map_layers(llr_dataset, status_quo))
    assert {t.type for t in fig.data} == {"choroplethmap", "scattermap"}
    assert fig.layout.map.style == "open-street-map"
    assert len(fig.data[0].locations) == 611
