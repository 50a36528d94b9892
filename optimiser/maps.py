"""Maps for people: LLR small areas shaded by travel time to their hospital, district
boundaries, hospitals sized by beds, districts labelled with home-based beds, catchments.

Everything is drawn from the dataset's own polygons in British National Grid coordinates, so
maps work with no internet (no tile server). Two renderers: plotly (interactive, for the app,
and a self-contained HTML file with plotly.js inlined) and matplotlib (PNG and PDF for slides
and handouts). Uses only the dataset and a solution (presentation layer).
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from optimiser.dataset.core import Dataset

# Travel bands a councillor can read; colour-blind-safe (viridis end points), light = near.
TRAVEL_BANDS: tuple[tuple[float, float, str, str], ...] = (
    (0, 20, "under 20 minutes", "#FDE725"),
    (20, 30, "20 to 30 minutes", "#5EC962"),
    (30, 45, "30 to 45 minutes", "#21918C"),
    (45, np.inf, "45 minutes or more", "#3B528B"),
)
NOT_SERVED = ("no hospital within reach", "#BDBDBD")
SITE_COLOUR = "#D55E00"       # Okabe-Ito vermillion: stands out on the viridis shades
CLOSED_COLOUR = "#000000"
BOUNDARY_COLOUR = "#222222"
CATCHMENT_COLOUR = "#4D4D4D"


@dataclass(frozen=True)
class MapLayers:
    zones: gpd.GeoDataFrame       # zone polygons with site_id, site_name, travel_minutes, band
    districts: gpd.GeoDataFrame   # district polygons with virtual beds and a label point
    sites: gpd.GeoDataFrame       # hospital points with beds
    catchments: gpd.GeoDataFrame  # one (multi)polygon per hospital: the zones it serves
    title: str


def band_of(minutes) -> np.ndarray:
    """Index into TRAVEL_BANDS of each travel time (len(TRAVEL_BANDS) = not served)."""
    m = np.asarray(minutes, float)
    out = np.full(m.shape, len(TRAVEL_BANDS))
    for k, (lo, hi, _, _) in enumerate(TRAVEL_BANDS):
        out[(m >= lo) & (m < hi)] = k
    return out


def band_labels() -> list[str]:
    return [b[2] for b in TRAVEL_BANDS] + [NOT_SERVED[0]]


def band_colours() -> list[str]:
    return [b[3] for b in TRAVEL_BANDS] + [NOT_SERVED[1]]


def map_layers(dataset: Dataset, solution, title: str | None = None) -> MapLayers:
    """The layers of the engagement map for one solution (optimised or evaluated)."""
    zt = solution.zones.set_index("zone_code")
    zones = dataset.zones[["zone_name", "district_code", "pop_total", "geometry"]].copy()
    zones["site_id"] = zt["site_id"].reindex(zones.index)
    zones["site_name"] = zt["site_name"].reindex(zones.index)
    zones["travel_minutes"] = zt["travel_minutes"].reindex(zones.index)
    zones["band"] = band_of(zones["travel_minutes"].fillna(np.inf).where(zones["site_id"].notna(), np.nan))
    zones.loc[zones["site_id"].isna(), "band"] = len(TRAVEL_BANDS)
    zones["band_label"] = np.asarray(band_labels(), object)[zones["band"].to_numpy(int)]

    v = solution.virtual_beds.set_index("district_code")
    districts = dataset.districts[["district_name", "geometry"]].copy()
    districts["virtual_beds"] = v["beds"].reindex(districts.index).fillna(0).astype(int)
    districts["label_point"] = districts.geometry.representative_point()

    s = solution.sites.set_index("site_id")
    sites = dataset.sites[["site_name", "geometry"]].copy()
    sites["beds"] = s["beds"].reindex(sites.index).fillna(0).astype(int)
    sites["current_beds"] = s["current_beds"].reindex(sites.index).fillna(0).astype(int)

    served = zones[zones["site_id"].notna()]
    if len(served):
        parts = {sid: shapely.union_all(shapely.make_valid(g.geometry.values).tolist())
                 for sid, g in served.groupby("site_id")}
        catchments = gpd.GeoDataFrame({"site_id": list(parts)}, geometry=list(parts.values()), crs=zones.crs)
    else:
        catchments = gpd.GeoDataFrame({"site_id": []}, geometry=[], crs=zones.crs)
    return MapLayers(zones, districts, sites, catchments, title or f"Travel time to community hospital beds: {solution.name}")


# ---------------------------------------------------------------------------------------
# plotly (interactive; no basemap needed)
# ---------------------------------------------------------------------------------------

def _rings_xy(geoms) -> tuple[list[float | None], list[float | None]]:
    """Exterior and interior rings of polygons as one None-separated path."""
    xs: list[float | None] = []
    ys: list[float | None] = []
    for g in geoms:
        if g is None or g.is_empty:
            continue
        polys = getattr(g, "geoms", [g])
        for p in polys:
            if p.geom_type != "Polygon":
                continue
            for ring in [p.exterior, *p.interiors]:
                c = np.asarray(ring.coords)
                xs.extend(c[:, 0].tolist() + [None])
                ys.extend(c[:, 1].tolist() + [None])
    return xs, ys


def _outline_xy(geoms) -> tuple[list, list]:
    xs: list = []
    ys: list = []
    for g in geoms:
        b = g.boundary
        for line in getattr(b, "geoms", [b]):
            c = np.asarray(line.coords)
            if len(c):
                xs.extend(c[:, 0].tolist() + [None])
                ys.extend(c[:, 1].tolist() + [None])
    return xs, ys


def plotly_map(layers: MapLayers, *, show_catchments: bool = True, height: int = 720):
    """An interactive map (plotly) in British National Grid metres, equal aspect, no tiles."""
    import plotly.graph_objects as go

    fig = go.Figure()
    z = layers.zones
    for k, (label, colour) in enumerate(zip(band_labels(), band_colours())):
        part = z[z["band"] == k]
        if not len(part):
            # keep the legend complete: an invisible entry
            fig.add_trace(go.Scatter(x=[None], y=[None], mode="markers", name=label,
                                     marker=dict(color=colour, size=12, symbol="square"), showlegend=True))
            continue
        xs, ys = _rings_xy(part.geometry.values)
        fig.add_trace(go.Scatter(x=xs, y=ys, fill="toself", fillcolor=colour, mode="lines",
                                 line=dict(color="rgba(255,255,255,0.35)", width=0.4), name=label,
                                 hoverinfo="skip", legendgroup=label))
    # hover points: one per zone (polygons do not carry hover text well)
    pts = z.geometry.representative_point()
    text = [f"{n}<br>{(s if isinstance(s, str) else 'no hospital in reach')}"
            + (f"<br>{t:.0f} minutes" if np.isfinite(t) else "")
            for n, s, t in zip(z["zone_name"], z["site_name"], z["travel_minutes"].fillna(np.inf))]
    fig.add_trace(go.Scatter(x=pts.x, y=pts.y, mode="markers", marker=dict(size=6, opacity=0),
                             text=text, hoverinfo="text", showlegend=False, name="areas"))
    if show_catchments and len(layers.catchments):
        xs, ys = _outline_xy(layers.catchments.geometry.values)
        fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", line=dict(color=CATCHMENT_COLOUR, width=1.6, dash="dot"),
                                 name="hospital catchment", hoverinfo="skip"))
    xs, ys = _outline_xy(layers.districts.geometry.values)
    fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", line=dict(color=BOUNDARY_COLOUR, width=1.8),
                             name="district boundary", hoverinfo="skip"))
    d = layers.districts
    fig.add_trace(go.Scatter(
        x=d["label_point"].x, y=d["label_point"].y, mode="text",
        text=[f"<b>{n}</b><br>{v} home-based beds" for n, v in zip(d["district_name"], d["virtual_beds"])],
        textfont=dict(size=11, color="#111111"), hoverinfo="skip", showlegend=False, name="districts"))
    s = layers.sites
    open_ = s["beds"] > 0
    size = np.where(open_, 10 + 2.2 * np.sqrt(s["beds"].clip(lower=0)), 10)
    fig.add_trace(go.Scatter(
        x=s.geometry.x[open_], y=s.geometry.y[open_], mode="markers+text", name="hospital with beds (size = beds)",
        marker=dict(size=size[open_], color=SITE_COLOUR, line=dict(color="white", width=1.5)),
        text=[f"{n.split(',')[0]}: {b} beds" for n, b in zip(s["site_name"][open_], s["beds"][open_])],
        textposition="top center", textfont=dict(size=11, color="#111111"),
        hovertext=[f"{n}<br>{b} beds (today {c})" for n, b, c in zip(s["site_name"][open_], s["beds"][open_], s["current_beds"][open_])],
        hoverinfo="text"))
    if (~open_).any():
        fig.add_trace(go.Scatter(
            x=s.geometry.x[~open_], y=s.geometry.y[~open_], mode="markers+text", name="hospital without inpatient beds",
            marker=dict(size=11, color="white", symbol="x-thin", line=dict(color=CLOSED_COLOUR, width=2.5)),
            text=[f"{n.split(',')[0]}: no beds" for n in s["site_name"][~open_]], textposition="bottom center",
            textfont=dict(size=10, color="#333333"), hoverinfo="text",
            hovertext=[f"{n}<br>no inpatient beds (today {c})" for n, c in zip(s["site_name"][~open_], s["current_beds"][~open_])]))
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False, scaleanchor="x", scaleratio=1)
    fig.update_layout(title=dict(text=layers.title, x=0.01), height=height, plot_bgcolor="white",
                      paper_bgcolor="white", margin=dict(l=10, r=10, t=60, b=10),
                      legend=dict(title="Travel time to the hospital", yanchor="top", y=0.98, x=0.99, xanchor="right",
                                  bgcolor="rgba(255,255,255,0.85)"))
    return fig


def html_bytes(fig) -> bytes:
    """A self-contained HTML page (plotly.js inlined: opens with no internet)."""
    return fig.to_html(include_plotlyjs=True, full_html=True, config={"displaylogo": False}).encode("utf-8")


# ---------------------------------------------------------------------------------------
# matplotlib (static: PNG and PDF)
# ---------------------------------------------------------------------------------------

def static_map(layers: MapLayers, *, fmt: str = "png", dpi: int = 150, note: str = "",
               bounds: tuple[float, float, float, float] | None = None, highlight: str | None = None) -> bytes:
    """The map as PNG or PDF bytes, with legend and plain title; ``bounds`` zooms in,
    ``highlight`` (a district code) draws that district's boundary heavier."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    fig, ax = plt.subplots(figsize=(11, 9.5))
    z = layers.zones
    colours = np.asarray(band_colours(), object)[z["band"].to_numpy(int)]
    z.plot(ax=ax, color=list(colours), edgecolor=(1, 1, 1, 0.35), linewidth=0.3)
    if len(layers.catchments):
        layers.catchments.boundary.plot(ax=ax, color=CATCHMENT_COLOUR, linewidth=1.2, linestyle=":")
    layers.districts.boundary.plot(ax=ax, color=BOUNDARY_COLOUR, linewidth=1.4)
    if highlight is not None and highlight in layers.districts.index:
        layers.districts.loc[[highlight]].boundary.plot(ax=ax, color=BOUNDARY_COLOUR, linewidth=3.5)
    d = layers.districts
    if bounds is not None:
        box = shapely.box(*bounds)
        d = d[[box.contains(p) for p in d["label_point"]]]
    for name, v, p in zip(d["district_name"], d["virtual_beds"], d["label_point"]):
        ax.annotate(f"{name}\n{v} home-based beds", (p.x, p.y), ha="center", va="center", fontsize=8,
                    bbox=dict(boxstyle="round,pad=0.2", fc="white", ec="none", alpha=0.75))
    s = layers.sites
    open_ = s["beds"] > 0
    ax.scatter(s.geometry.x[open_], s.geometry.y[open_], s=30 + 6 * s["beds"][open_], c=SITE_COLOUR,
               edgecolors="white", linewidths=1.2, zorder=5)
    ax.scatter(s.geometry.x[~open_], s.geometry.y[~open_], s=60, c=CLOSED_COLOUR, marker="x", zorder=5)
    if bounds is not None:
        s = s[s.intersects(shapely.box(*bounds))]
    for name, b, x, y in zip(s["site_name"], s["beds"], s.geometry.x, s.geometry.y):
        ax.annotate(f"{name.split(',')[0]}: {b} beds" if b else f"{name.split(',')[0]}: no beds", (x, y),
                    xytext=(6, 6), textcoords="offset points", fontsize=8, weight="bold", zorder=6,
                    bbox=dict(boxstyle="round,pad=0.15", fc="white", ec="none", alpha=0.8))
    handles = [Patch(facecolor=c, edgecolor="#888888", label=lab) for lab, c in zip(band_labels(), band_colours())]
    handles += [plt.Line2D([], [], color=BOUNDARY_COLOUR, lw=1.4, label="district boundary"),
                plt.Line2D([], [], marker="o", color="w", markerfacecolor=SITE_COLOUR, markersize=10,
                           label="hospital with beds (size = beds)"),
                plt.Line2D([], [], marker="x", color=CLOSED_COLOUR, lw=0, markersize=8, label="hospital without beds")]
    ax.legend(handles=handles, title="Travel time to the hospital", loc="lower left", fontsize=8, title_fontsize=9,
              framealpha=0.9)
    ax.set_title(layers.title, fontsize=13, loc="left")
    ax.set_axis_off()
    ax.set_aspect("equal")
    if bounds is not None:
        ax.set_xlim(bounds[0], bounds[2])
        ax.set_ylim(bounds[1], bounds[3])
    if note:
        fig.text(0.01, 0.01, note, fontsize=7, color="#444444")
    buf = io.BytesIO()
    fig.savefig(buf, format=fmt, dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


# ---------------------------------------------------------------------------------------
# The district sheet: "what option B means for Melton residents"
# ---------------------------------------------------------------------------------------

def district_sheet(dataset: Dataset, before, after, district_code: str) -> pd.DataFrame:
    """Before/after figures for one district's residents, in plain words with units."""
    if district_code not in dataset.districts.index:
        raise KeyError(f"district {district_code} is not in the dataset")

    def figures(sol) -> dict[str, str]:
        z = sol.zones
        z = z[z["district_code"] == district_code]
        pop65 = z["population_65_plus"].to_numpy(float)
        t = z["travel_minutes"].to_numpy(float)
        ok = np.isfinite(t)
        mean65 = float((pop65[ok] * t[ok]).sum() / pop65[ok].sum()) if pop65[ok].sum() > 0 else float("nan")
        within30 = float(pop65[ok & (t <= 30)].sum() / pop65.sum()) if pop65.sum() > 0 else float("nan")
        hospitals = z.groupby("site_name")["population"].sum().sort_values(ascending=False)
        main = ", ".join(f"{n.split(',')[0]} ({100 * p / z['population'].sum():.0f}%)" for n, p in hospitals.head(3).items())
        v = sol.virtual_beds.set_index("district_code")["beds"].get(district_code, 0)
        sites = sol.sites
        in_district = dataset.sites.index[dataset.sites["district_code"] == district_code]
        local = int(sites[sites["site_id"].isin(in_district)]["beds"].sum())
        return {
            "Mean travel to hospital, residents 65+ (minutes)": f"{mean65:.1f}",
            "Residents 65+ within 30 minutes (%)": f"{100 * within30:.0f}%",
            "Longest journey (minutes)": f"{np.nanmax(t) if ok.any() else float('nan'):.0f}",
            "Hospitals residents use (share of residents)": main or "none in reach",
            "Community hospital beds in the district (beds)": f"{local}",
            "Home-based (virtual) beds for the district (beds)": f"{int(v)}",
        }

    a, b = figures(before), figures(after)
    first, second = before.name, after.name
    if first == second:
        first, second = f"{first} (before)", f"{second} (after)"
    return pd.DataFrame({first: pd.Series(a), second: pd.Series(b)}).rename_axis("Measure")


def district_map(layers: MapLayers, district_code: str, *, fmt: str = "png") -> bytes:
    """A close-up of one district and its surroundings (static), for a council handout."""
    d = layers.districts
    name = d.loc[district_code, "district_name"]
    minx, miny, maxx, maxy = d.loc[[district_code]].total_bounds
    pad = 0.12 * max(maxx - minx, maxy - miny)
    title = f"{name}: travel time to community hospital beds ({layers.title.split(': ', 1)[-1]})"
    zoomed = MapLayers(layers.zones, d, layers.sites, layers.catchments, title)
    return static_map(zoomed, fmt=fmt, bounds=(minx - pad, miny - pad, maxx + pad, maxy + pad),
                      highlight=district_code)


# ---------------------------------------------------------------------------------------
# Optional street basemap (only when the network allows a tile server)
# ---------------------------------------------------------------------------------------

def plotly_map_with_basemap(layers: MapLayers, *, height: int = 720, style: str = "open-street-map"):
    """The same map over OpenStreetMap tiles. Needs internet: offer it as an option only;
    without a network the areas, hospitals and legend still draw, on a blank background."""
    import json

    import plotly.graph_objects as go

    z = layers.zones.to_crs(4326)
    geo = json.loads(z[["geometry"]].assign(id=z.index).set_index("id").to_json())
    n = len(band_labels())
    scale = []
    for k, c in enumerate(band_colours()):
        scale += [[k / n, c], [(k + 1) / n, c]]
    fig = go.Figure(go.Choroplethmap(
        geojson=geo, locations=list(z.index), z=z["band"].to_numpy(float), zmin=0, zmax=n,
        colorscale=scale, marker_opacity=0.65, marker_line_width=0.2,
        text=[f"{a}: {b}" for a, b in zip(z["zone_name"], z["band_label"])], hoverinfo="text",
        colorbar=dict(title="Travel time", tickvals=[k + 0.5 for k in range(n)], ticktext=band_labels())))
    s = layers.sites.to_crs(4326)
    fig.add_trace(go.Scattermap(
        lat=s.geometry.y, lon=s.geometry.x, mode="markers+text",
        marker=dict(size=(10 + 2.2 * np.sqrt(s["beds"].clip(lower=0))).tolist(), color=SITE_COLOUR),
        text=[f"{n.split(',')[0]}: {b} beds" for n, b in zip(s["site_name"], s["beds"])], textposition="top center",
        name="hospital (size = beds)"))
    c = s.geometry.union_all().centroid
    fig.update_layout(map=dict(style=style, center=dict(lat=c.y, lon=c.x), zoom=8.3), height=height,
                      margin=dict(l=0, r=0, t=50, b=0), title=dict(text=layers.title, x=0.01))
    return fig
