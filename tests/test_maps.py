"""Offline maps from the real dataset and real solutions (one real solve per module)."""

from __future__ import annotations

import html
import re

import numpy as np
import pytest

from optimiser import api, maps
from optimiser.scenario import default_scenario

MELTON, HARBOROUGH, LEICESTER = "E07000133", "E07000131", "E06000016"


@pytest.fixture(scope="module")
def solved(llr_dataset):
    """The default LLR scenario, optimised once for this module (30 s limit)."""
    sc = default_scenario().with_changes(**{"solver.time_limit_seconds": 30})
    return api.solve(sc, llr_dataset)


@pytest.fixture(scope="module")
def status_quo(llr_scenario, llr_dataset):
    return api.evaluate(llr_scenario, api.shipped_options()["Status quo"], llr_dataset)


@pytest.fixture(scope="module")
def consolidation(llr_scenario, llr_dataset):
    return api.evaluate(llr_scenario, api.shipped_options()["Consolidate Lutterworth into Market Harborough"],
                        llr_dataset)


@pytest.fixture(scope="module")
def solved_layers(llr_dataset, solved):
    return maps.map_layers(llr_dataset, solved)


def _rings(geoms) -> int:
    return sum(1 + len(p.interiors) for g in geoms for p in getattr(g, "geoms", [g]) if p.geom_type == "Polygon")


def _hex_rgb(colour: str) -> np.ndarray:
    return np.array([int(colour[i:i + 2], 16) for i in (1, 3, 5)]) / 255


@pytest.mark.slow
def test_travel_bands_are_the_councillors_bins_in_a_colour_blind_safe_scale():
    assert maps.band_of([0, 19.9, 20, 29.99, 30, 44.9, 45, 200]).tolist() == [0, 0, 1, 1, 2, 2, 3, 3]
    assert maps.band_of([np.nan]).tolist() == [4]
    assert maps.band_labels() == ["under 20 minutes", "20 to 30 minutes", "30 to 45 minutes",
                                  "45 minutes or more", "no hospital within reach"]
    from matplotlib import colormaps

    viridis = colormaps["viridis"](np.linspace(0, 1, 256))[:, :3]
    for colour in maps.band_colours()[:4]:
        assert np.abs(viridis - _hex_rgb(colour)).sum(axis=1).min() < 0.03, colour
    # light = near, dark = far: lightness falls band by band
    lightness = [(_hex_rgb(c) @ [0.299, 0.587, 0.114]) for c in maps.band_colours()[:4]]
    assert lightness == sorted(lightness, reverse=True)


def test_layers_of_a_real_solve(llr_dataset, solved, solved_layers):
    assert solved.ok
    layers = solved_layers
    assert len(layers.zones) == 611 and len(layers.districts) == 9 and len(layers.sites) == 8
    # district boundaries are the zones dissolved by district
    dissolved = llr_dataset.zones.dissolve("district_code").geometry
    assert np.allclose(layers.districts.geometry.area.sort_index(), dissolved.area.sort_index(), rtol=1e-6)
    # one catchment per hospital that serves an area; hospitals without beds serve nobody
    open_sites = set(layers.sites.index[layers.sites["beds"] > 0])
    assert set(layers.catchments["site_id"]) <= open_sites
    assert layers.sites["beds"].sum() == solved.metrics["physical_beds"]
    assert layers.districts["virtual_beds"].sum() == solved.metrics["virtual_beds"]
    z = solved.zones.set_index("zone_code")
    assert np.allclose(layers.zones["travel_minutes"], z.loc[layers.zones.index, "travel_minutes"], equal_nan=True)


def test_evaluated_options_map_their_own_beds(llr_dataset, consolidation):
    layers = maps.map_layers(llr_dataset, consolidation)
    assert "feilding_palmer" not in set(layers.catchments["site_id"])
    assert layers.sites.loc["feilding_palmer", "beds"] == 0
    assert layers.sites.loc["st_lukes", "beds"] == 49
    assert layers.districts["virtual_beds"].sum() == 147   # 26 + 10 + 20 + 20 + 20 + 15 + 12 + 12 + 12


def test_plotly_map_draws_every_area_offline_with_binned_legend(solved_layers):
    layers = solved_layers
    fig = maps.plotly_map(layers)
    names = [t.name for t in fig.data]
    assert names[:5] == maps.band_labels()                       # the legend bins, in order
    assert {"district boundary", "hospital catchment", "hospital with beds (size = beds)",
            "hospital without inpatient beds"} <= set(names)
    # every zone polygon is drawn exactly once, in its band's colour
    drawn = sum(list(t.x).count(None) for t in fig.data[:5] if t.fill == "toself")
    assert drawn == _rings(layers.zones.geometry)
    for k, t in enumerate(fig.data[:5]):
        if t.fill == "toself":
            assert t.fillcolor == maps.band_colours()[k]
            assert list(t.x).count(None) == _rings(layers.zones.geometry[layers.zones["band"] == k])
    # district boundaries: 9 districts; labels: 9, each with its home-based beds
    boundary = next(t for t in fig.data if t.name == "district boundary")
    assert list(boundary.x).count(None) >= 9
    labels = [a.text for a in fig.layout.annotations if (a.name or "").startswith("district label")]
    assert len(labels) == 9
    for _, d in layers.districts.iterrows():
        assert any(d["district_name"] in t and f"{d['virtual_beds']} home-based beds" in t for t in labels)
    # hospitals with beds are sized by beds
    open_trace = next(t for t in fig.data if t.name == "hospital with beds (size = beds)")
    sizes = dict(zip((t.split(":")[0] for t in open_trace.text), open_trace.marker.size, strict=True))
    beds = {maps.short_name(n): b for n, b in zip(layers.sites["site_name"], layers.sites["beds"]) if b > 0}
    assert len(sizes) == len(beds)
    big, small = max(beds, key=beds.get), min(beds, key=beds.get)
    assert sizes[big] >= sizes[small]
    assert fig.layout.yaxis.scaleanchor == "x"            # true shape, not stretched
    assert all(t.type == "scatter" for t in fig.data)    # plain x/y traces: no tile server
    assert fig.layout.title.text.startswith("Travel time to community hospital beds")


def test_every_map_says_what_the_data_is_and_where_the_result_came_from(llr_dataset, solved, solved_layers):
    layers = solved_layers
    assert layers.data_line == "ONS mid-2020 small-area populations; travel times estimated from road distance"
    record = solved.provenance
    for text in (layers.data_line, record["dataset_sha256"][:12], record["scenario_sha256"][:12],
                 "LLR default (2030)", record["software"], record["solver"], "Open Government Licence v3.0"):
        assert text in layers.footer, text
    # interactive (app and HTML file): one footer annotation under the map
    fig = maps.plotly_map(layers)
    footers = [a.text for a in fig.layout.annotations if a.xref == "paper"]
    assert len(footers) == 1 and "ONS mid-2020 small-area populations" in footers[0]
    assert record["dataset_sha256"][:12] in footers[0]
    # static (PNG and PDF): the same footer below the map
    static = maps.static_figure(layers)
    texts = " ".join(t.get_text().replace("\n", " ") for t in static.texts)
    assert record["scenario_sha256"][:12] in texts and "ONS mid-2020 small-area populations" in texts
    __import__("matplotlib.pyplot").pyplot.close(static)
    # a solution made without the api still says what the data is
    from dataclasses import replace

    bare = maps.map_layers(llr_dataset, replace(solved, provenance={}))
    assert bare.footer == f"Data: {layers.data_line}."


def test_small_city_districts_get_callouts_and_labels_do_not_overlap(solved_layers):
    labels = maps.district_labels(solved_layers)
    assert len(labels) == 9
    assert labels.loc[LEICESTER, "callout"] and labels.loc["E07000135", "callout"]   # Oadby and Wigston
    assert not labels.loc[MELTON, "callout"]
    minx, miny, maxx, maxy = solved_layers.bounds
    cw, lh = maps.LABEL_SIZE[0] * (maxx - minx), maps.LABEL_SIZE[1] * (maxy - miny)
    boxes = []
    for _, r in labels.iterrows():
        w = cw * max(len(r["district_name"]), len(f"{r['virtual_beds']} home-based beds"))
        boxes.append((r["x"] - w / 2, r["y"] - lh, r["x"] + w / 2, r["y"] + lh))
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            overlap = max(0, min(a[2], b[2]) - max(a[0], b[0])) * max(0, min(a[3], b[3]) - max(a[1], b[1]))
            assert overlap == 0, (a, b)


def test_matplotlib_draws_every_polygon(solved_layers):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    maps._draw(ax, solved_layers)
    polys = ax.collections[0]
    assert len(polys.get_paths()) == sum(len(getattr(g, "geoms", [g])) for g in solved_layers.zones.geometry)
    plt.close(fig)


def test_map_files_png_pdf_and_self_contained_html(solved_layers, tmp_path):
    png = maps.write_map(solved_layers, tmp_path / "map.png")
    pdf = maps.write_map(solved_layers, tmp_path / "map.pdf")
    page = maps.write_map(solved_layers, tmp_path / "map.html")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 100_000
    assert pdf.read_bytes()[:5] == b"%PDF-" and pdf.stat().st_size > 30_000
    text = page.read_text(encoding="utf-8")
    assert not re.search(r"<script[^>]*\ssrc=", text), "no external scripts: opens with no internet"
    assert "https://cdn" not in text.split("<body>")[-1][:2000]
    assert page.stat().st_size > 3_000_000                 # plotly.js inlined
    assert "Travel time to community hospital beds" in text
    with pytest.raises(ValueError, match="png, .pdf or .html"):
        maps.write_map(solved_layers, tmp_path / "map.svg")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["map.html", "map.pdf", "map.png"]   # nothing half-written


def test_district_sheet_before_and_after(llr_dataset, status_quo, consolidation):
    sheet = maps.district_sheet(llr_dataset, status_quo, consolidation, HARBOROUGH)
    assert list(sheet.columns) == ["Status quo", "Consolidate Lutterworth into Market Harborough"]
    assert list(sheet.index) == list(maps.SHEET_ROWS)
    beds = sheet.loc["Community hospital beds in the district (beds)"]
    assert beds.tolist() == ["49", "49"]   # 36 at St Luke's + 13 at Feilding Palmer; then all 49 at St Luke's
    uses = sheet.loc["Hospitals residents use (share of residents)"]
    assert "Feilding Palmer" in uses.iloc[0] and "Feilding Palmer" not in uses.iloc[1]
    nearest = sheet.loc["Nearest hospital with beds (share of residents for whom it is nearest)"]
    assert "Feilding Palmer" in nearest.iloc[0] and "Feilding Palmer" not in nearest.iloc[1]
    before, after = (float(v) for v in sheet.loc["Travel to the nearest hospital with beds, residents 65+ (mean minutes)"])
    assert after > before                  # Lutterworth residents now travel further
    virt = sheet.loc["Home-based (virtual) beds for the district (beds)"]
    assert virt.tolist() == ["13", "20"]
    with pytest.raises(KeyError):
        maps.district_sheet(llr_dataset, status_quo, consolidation, "E99999999")


def test_district_sheet_files(llr_dataset, status_quo, solved, tmp_path):
    out = {ext: maps.write_district_sheet(llr_dataset, status_quo, solved, MELTON, tmp_path / f"melton.{ext}")
           for ext in ("png", "pdf", "html", "csv")}
    assert out["png"].read_bytes()[:4] == b"\x89PNG" and out["png"].stat().st_size > 100_000
    assert out["pdf"].read_bytes()[:5] == b"%PDF-" and out["pdf"].stat().st_size > 30_000
    text = out["html"].read_text(encoding="utf-8")
    assert "means for Melton residents</h1>" in text
    assert "ONS mid-2020 small-area populations" in text and solved.provenance["dataset_sha256"][:12] in text
    assert not re.search(r"<script[^>]*\ssrc=", text)
    assert text.count("Plotly.newPlot") == 2                # before and after maps
    single = len(maps.html_bytes(maps.plotly_map(maps.map_layers(llr_dataset, solved))))
    assert len(text) < 1.5 * single                         # plotly.js inlined once, not twice
    assert "Home-based (virtual) beds for the district (beds)" in out["csv"].read_text()


def test_district_close_up(solved_layers):
    bounds = maps.district_bounds(solved_layers, MELTON)
    fig = maps.plotly_map(solved_layers, bounds=bounds, highlight=MELTON)
    x0, x1 = fig.layout.xaxis.range
    y0, y1 = fig.layout.yaxis.range
    assert x0 < bounds[0] < bounds[2] < x1 and y0 < bounds[1] < bounds[3] < y1    # the district, a little padded
    assert any(t.name == "Melton (this district)" for t in fig.data)
    png = maps.district_map(solved_layers, MELTON)
    assert png[:4] == b"\x89PNG" and len(png) > 30_000
    wide = maps.fit_aspect(bounds, 2.0)
    assert (wide[2] - wide[0]) / (wide[3] - wide[1]) == pytest.approx(2.0)
    assert wide[0] <= bounds[0] and wide[2] >= bounds[2] and wide[1] <= bounds[1] and wide[3] >= bounds[3]


def test_optional_basemap_figure(solved_layers):
    fig = maps.plotly_map_with_basemap(solved_layers)
    assert {t.type for t in fig.data} == {"choroplethmap", "scattermap"}
    assert fig.layout.map.style == "open-street-map"
    assert len(fig.data[0].locations) == 611


def _annotation_boxes(fig, scale: float) -> list[tuple[str, tuple[float, float, float, float]]]:
    """Each map label's box in pixels at ``scale`` (pixels a metre), from the figure's own
    annotations: anchored at (x, y), shifted by xshift/yshift, or set off by ax/ay with a
    leader line; the text's size by the renderer's estimate (checked in Chromium by the
    browser test)."""
    out = []
    for a in fig.layout.annotations:
        if " label " not in (a.name or ""):
            continue
        plain = html.unescape(re.sub(r"<[^>]+>", "", a.text.replace("<br>", "\n")))
        w, h = maps.text_box_px(plain, a.font.size, bold="<b>" in a.text)
        dx, dy = (a.ax, -a.ay) if a.showarrow else (a.xshift or 0, a.yshift or 0)
        cx, cy = a.x * scale + dx, a.y * scale + dy
        out.append((a.name, (cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)))
    return out


def _overlap(a, b) -> float:
    return max(0, min(a[2], b[2]) - max(a[0], b[0])) * max(0, min(a[3], b[3]) - max(a[1], b[1]))


@pytest.mark.parametrize("height", [640, 720])
def test_no_map_label_covers_another_or_a_hospital_at_any_width_it_is_drawn(solved_layers, height):
    """Issue 16: hospital labels overlapped markers and each other (Melton, Rutland,
    Loughborough, Coalville) on a 1024-pixel projector. Checked here at every scale between a
    1024-pixel projector's column and a wide screen; the browser test measures the drawn map."""
    fig = maps.plotly_map(solved_layers, height=height)
    frame = maps.plot_frame(solved_layers.bounds, height, fig.layout.margin.t, fig.layout.margin.b,
                            maps.MIN_MAP_WIDTH_PX)
    assert frame.x_range == tuple(fig.layout.xaxis.range) and frame.y_range == tuple(fig.layout.yaxis.range)
    hospitals = [t for t in fig.data if t.name in ("hospital with beds (size = beds)", "hospital without inpatient beds")
                 and t.x[0] is not None]
    assert sum(len(t.x) for t in hospitals) == 8
    for scale in frame.scales(7):
        boxes = _annotation_boxes(fig, scale)
        assert len(boxes) == 9 + 8                                   # every district and hospital
        for i, (name, box) in enumerate(boxes):
            for other, box2 in boxes[i + 1:]:
                assert _overlap(box, box2) == 0, (name, other, scale)
            for t in hospitals:
                for x, y, size in zip(t.x, t.y, np.broadcast_to(t.marker.size, len(t.x))):
                    r = size / 2
                    marker = (x * scale - r, y * scale - r, x * scale + r, y * scale + r)
                    assert _overlap(box, marker) == 0, (name, t.name, x, y, scale)
            # inside the map
            assert (frame.x_range[0] * scale <= box[0] and box[2] <= frame.x_range[1] * scale
                    and frame.y_range[0] * scale <= box[1] and box[3] <= frame.y_range[1] * scale), name
    # the labels say what they label: a short hospital name and its beds
    texts = {a.name: a.text for a in fig.layout.annotations if a.name}
    loughborough = texts["hospital label loughborough"]
    beds = int(solved_layers.sites.loc["loughborough", "beds"])
    assert loughborough == f"Loughborough<br>{beds} beds" and "Coalville<br>" in texts["hospital label coalville"]


def test_map_label_places_do_not_depend_on_the_run(solved_layers):
    a, b = maps.plotly_map(solved_layers, height=640), maps.plotly_map(solved_layers, height=640)
    assert [x.to_plotly_json() for x in a.layout.annotations] == [x.to_plotly_json() for x in b.layout.annotations]


def _points(geoms) -> int:
    return sum(len(r.coords) for g in geoms for p in getattr(g, "geoms", [g]) if p.geom_type == "Polygon"
               for r in [p.exterior, *p.interiors])


def test_the_interactive_map_draws_simplified_outlines_that_stay_within_the_tolerance(llr_dataset, solved_layers):
    import shapely

    layers = solved_layers
    source, shown = llr_dataset.zones.geometry, layers.display_zones
    assert shown.index.equals(layers.zones.index)
    # fewer points for the browser, every area still there and a valid polygon
    assert _points(shown) < _points(source)
    assert _points(layers.display_districts) < _points(llr_dataset.districts.geometry)
    assert shown.notna().all() and not shown.is_empty.any() and shown.is_valid.all()
    # no outline moves by more than the tolerance (under half a pixel at 1440x900)
    moved = shapely.hausdorff_distance(source.loc[shown.index].values, shown.values)
    assert moved.max() <= maps.DISPLAY_TOLERANCE_M + 1e-6
    assert moved.max() > 0                                  # it did simplify
    # and each area keeps its size: total area within 0.5%, most areas within 2%
    rel = np.abs(shown.area.to_numpy() / source.loc[shown.index].area.to_numpy() - 1)
    assert abs(shown.area.sum() / source.area.sum() - 1) < 0.005
    assert np.quantile(rel, 0.95) < 0.02
    # the map draws those outlines, in whole metres, one ring per polygon
    fig = maps.plotly_map(layers)
    fills = [t for t in fig.data[:5] if t.fill == "toself"]
    drawn = sum(len(t.x) - list(t.x).count(None) for t in fills)
    assert drawn == _points(shown) < _points(source)
    assert all(float(v).is_integer() for t in fills for v in t.x if v is not None)
    # worked out once per dataset, not once per answer
    assert maps._dataset_display_outlines(llr_dataset)[0] is maps._dataset_display_outlines(llr_dataset)[0]
