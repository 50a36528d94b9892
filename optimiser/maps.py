"""Maps for people: LLR small areas shaded by travel time to their hospital, district
boundaries, hospitals sized by beds, districts labelled with home-based beds, catchments.

Everything is drawn from the dataset's own polygons in British National Grid coordinates, so
maps work with no internet (no tile server). Two renderers: plotly (interactive, for the app,
and a self-contained HTML file with plotly.js inlined) and matplotlib (PNG and PDF for slides
and handouts). The district sheet ("what option B means for Melton residents") comes as a
table, a one-page figure (PNG/PDF) and a self-contained HTML page. A street basemap is an
option for when the network allows it. Uses only the dataset and solutions (presentation layer).
"""

from __future__ import annotations

import html
import io
import weakref
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from optimiser.dataset.core import Dataset

# Travel bands a councillor can read; colour-blind-safe (viridis), light = near.
TRAVEL_BANDS: tuple[tuple[float, float, str, str], ...] = (
    (0, 20, "under 20 minutes", "#FDE725"),
    (20, 30, "20 to 30 minutes", "#5EC962"),
    (30, 45, "30 to 45 minutes", "#21918C"),
    (45, np.inf, "45 minutes or more", "#3B528B"),
)
NOT_SERVED = ("no hospital within reach", "#BDBDBD")
LEGEND_TITLE = "Travel time to the hospital"
SITE_COLOUR = "#D55E00"       # Okabe-Ito vermillion: stands out on the viridis shades
CLOSED_COLOUR = "#000000"
BOUNDARY_COLOUR = "#222222"
CATCHMENT_COLOUR = "#4D4D4D"
# A district whose label does not fit inside it gets a callout (a label set off to one side
# with a leader line); callouts keep off districts under this share of the view.
CALLOUT_AREA_SHARE = 0.03
# Label text size as a share of the view's width (per character) and height (per line), for
# placing labels; each renderer works out its own from the drawn map size and font size.
LABEL_SIZE = (0.0088, 0.021)
# The interactive map draws outlines simplified by this many metres (British National Grid):
# the whole of LLR on a 1440x900 screen is about 100 m a pixel and a district close-up about
# 45 m, so 20 m moves no line by as much as half a pixel, and the browser draws fewer points.
# Drawn coordinates are rounded to whole metres (the figure sent to the browser is half the size).
DISPLAY_TOLERANCE_M = 20.0


@dataclass(frozen=True)
class MapLayers:
    zones: gpd.GeoDataFrame       # zone polygons with site_id, site_name, travel_minutes, band
    districts: gpd.GeoDataFrame   # district polygons with virtual beds and a label point
    sites: gpd.GeoDataFrame       # hospital points with beds
    catchments: gpd.GeoDataFrame  # one (multi)polygon per hospital: the zones it serves
    title: str
    data_line: str = ""           # what the data is, in one line (shown on every map)
    footer: str = ""              # where the result came from (provenance), for footers
    # the zone and district outlines simplified for drawing (DISPLAY_TOLERANCE_M), one per row of
    # ``zones`` and ``districts``; worked out once per dataset (None: simplified when drawn)
    display_zones: gpd.GeoSeries | None = None
    display_districts: gpd.GeoSeries | None = None

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        return tuple(float(v) for v in self.districts.total_bounds)  # type: ignore[return-value]


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


def short_name(site_name: str) -> str:
    """'St Luke's Hospital, Market Harborough' -> 'St Luke's Hospital'."""
    return str(site_name).split(",")[0]


_GENERIC_WORDS = {"hospital", "community", "memorial", "centre"}


def map_name(site_name: str) -> str:
    """The short name a map label uses: 'Coalville Community Hospital' -> 'Coalville',
    'St Luke's Hospital, Market Harborough' -> 'St Luke's' (the full name is in the hover)."""
    words = [w for w in short_name(site_name).split() if w.lower() not in _GENERIC_WORDS]
    return " ".join(words) or short_name(site_name)


def display_outlines(geoms, tolerance: float = DISPLAY_TOLERANCE_M) -> np.ndarray:
    """Polygons simplified for drawing: no vertex moves more than ``tolerance`` metres and
    each polygon keeps its own topology (no ring crosses itself or vanishes)."""
    return shapely.simplify(np.asarray(geoms, object), tolerance, preserve_topology=True)


# dataset -> (its zone and district outlines for drawing); one entry per live dataset
_DISPLAY_CACHE: dict[int, tuple[weakref.ref, gpd.GeoSeries, gpd.GeoSeries]] = {}


def _dataset_display_outlines(dataset: Dataset) -> tuple[gpd.GeoSeries, gpd.GeoSeries]:
    key = id(dataset.zones)
    hit = _DISPLAY_CACHE.get(key)
    if hit is not None and hit[0]() is dataset.zones:
        return hit[1], hit[2]
    for k in [k for k, v in _DISPLAY_CACHE.items() if v[0]() is None]:
        del _DISPLAY_CACHE[k]
    zones = gpd.GeoSeries(display_outlines(dataset.zones.geometry.values), index=dataset.zones.index,
                          crs=dataset.zones.crs)
    districts = gpd.GeoSeries(display_outlines(dataset.districts.geometry.values), index=dataset.districts.index,
                              crs=dataset.districts.crs)
    _DISPLAY_CACHE[key] = (weakref.ref(dataset.zones), zones, districts)
    return zones, districts


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
    from optimiser.provenance import footer_line

    data_line = dataset.data_line()
    footer = footer_line(getattr(solution, "provenance", {}) or {}) or f"Data: {data_line}."
    display_zones, display_districts = _dataset_display_outlines(dataset)
    return MapLayers(zones, districts, sites, catchments,
                     title or f"Travel time to community hospital beds: {solution.name}",
                     data_line=data_line, footer=footer,
                     display_zones=display_zones.reindex(zones.index),
                     display_districts=display_districts.reindex(districts.index))


def _wrap(text: str, width: int, sep: str = "\n") -> str:
    import textwrap

    return sep.join(textwrap.wrap(text, width))


def district_bounds(layers: MapLayers, district_code: str, pad: float = 0.12) -> tuple[float, float, float, float]:
    """The box around one district, padded by ``pad`` of its larger side."""
    minx, miny, maxx, maxy = layers.districts.loc[[district_code]].total_bounds
    p = pad * max(maxx - minx, maxy - miny)
    return (float(minx - p), float(miny - p), float(maxx + p), float(maxy + p))


# ---------------------------------------------------------------------------------------
# Label placement (shared by both renderers)
# ---------------------------------------------------------------------------------------

def _box_overlap(box: np.ndarray, boxes: np.ndarray) -> float:
    """Total area of ``box`` (x0, y0, x1, y1) covered by each of ``boxes`` (n x 4), summed."""
    if not len(boxes):
        return 0.0
    w = np.clip(np.minimum(box[2], boxes[:, 2]) - np.maximum(box[0], boxes[:, 0]), 0, None)
    h = np.clip(np.minimum(box[3], boxes[:, 3]) - np.maximum(box[1], boxes[:, 1]), 0, None)
    return float((w * h).sum())


def _mostly_inside(box, view, share: float = 0.85) -> bool:
    """Whether at least ``share`` of a label's (estimated, generous) box is inside the view."""
    b = shapely.box(*box)
    return b.intersection(view).area >= share * b.area


def site_label_boxes(layers: MapLayers, bounds=None, label_size: tuple[float, float] = LABEL_SIZE) -> np.ndarray:
    """Approximate boxes (data units) of the hospital markers and their labels, which both
    renderers put centred above an open hospital and below one without beds."""
    minx, miny, maxx, maxy = bounds or layers.bounds
    cw, lh = label_size[0] * (maxx - minx), label_size[1] * (maxy - miny)
    out = []
    for name, beds, x, y in zip(layers.sites["site_name"], layers.sites["beds"], layers.sites.geometry.x,
                                layers.sites.geometry.y):
        r = 0.012 * (maxx - minx) * (1 + np.sqrt(max(beds, 0)) / 8)
        out.append((x - r, y - r, x + r, y + r))
        half = 0.5 * cw * len(f"{short_name(name)}: {beds} beds")
        if beds > 0:
            out.append((x - half, y + r, x + half, y + r + lh))
        else:
            out.append((x - half, y - r - lh, x + half, y - r))
    return np.asarray(out, float).reshape(-1, 4)


def district_labels(layers: MapLayers, bounds: tuple[float, float, float, float] | None = None,
                    label_size: tuple[float, float] = LABEL_SIZE, highlight: str | None = None) -> pd.DataFrame:
    """Where each district's label goes, shared by both renderers: ``anchor_x/anchor_y`` (a
    point inside the district) and ``x/y`` (the centre of the text). A label sits inside its
    district where it covers the fewest hospital labels and other district labels; a district
    too small at this scale (``callout``) gets its label set off to one side with a leader
    line. Districts not in view (``bounds``), and in a close-up a neighbour whose label would
    cover hospital labels, are left out. ``label_size``: a character's width and a line's
    height as shares of the view's width and height."""
    minx, miny, maxx, maxy = bounds or layers.bounds
    view_w, view_h = maxx - minx, maxy - miny
    view = shapely.box(minx, miny, maxx, maxy)
    cw, lh = label_size[0] * view_w, label_size[1] * view_h
    d = layers.districts
    visible = d.geometry.intersection(view)
    keep = (visible.area / d.geometry.area > 0.15) | (visible.area / view.area > 0.1)
    d, visible = d[keep], visible[keep]
    obstacles = site_label_boxes(layers, bounds, label_size)
    zoomed = bounds is not None
    rows = {}
    leaders: list = []
    # A callout should not sit on another small district (it would seem to name that one).
    tiny = d.geometry.area / view.area < CALLOUT_AREA_SHARE
    small = shapely.union_all(shapely.make_valid(d.geometry[tiny].values).tolist()) if tiny.any() else None
    # Smallest first: they have the fewest good spots; the large districts have room to spare.
    for code in visible.area.sort_values().index:
        name, beds = d.loc[code, "district_name"], int(d.loc[code, "virtual_beds"])
        poly = shapely.make_valid(visible[code])
        w = cw * max(len(name), len(f"{beds} home-based beds")) + 0.01 * view_w
        h = 2 * lh + 0.01 * view_h
        point = d.loc[code, "label_point"]
        anchor = point if poly.contains(point) else poly.representative_point()

        def fits(x, y, w=w, h=h):
            return minx <= x - w / 2 and x + w / 2 <= maxx and miny <= y - h / 2 and y + h / 2 <= maxy

        # Inside the district, where the label covers least and stays inside the boundary.
        bx0, by0, bx1, by1 = poly.bounds
        gx, gy = np.meshgrid(np.linspace(bx0, bx1, 14), np.linspace(by0, by1, 14))
        inside = [(x, y) for x, y in zip(gx.ravel(), gy.ravel()) if poly.contains(shapely.Point(x, y))]
        best, best_score, is_callout = (anchor.x, anchor.y), np.inf, False
        for x, y in [(anchor.x, anchor.y), *inside]:
            if not fits(x, y):
                continue
            box = np.array([x - w / 2, y - h / 2, x + w / 2, y + h / 2])
            covered = _box_overlap(box, obstacles) / (w * h)
            outside = shapely.box(*box).difference(poly).area / (w * h)
            score = 10 * covered + 2 * outside + np.hypot((x - anchor.x) / view_w, (y - anchor.y) / view_h)
            if covered <= 0.12 and outside <= 0.4 and score < best_score:
                best, best_score = (x, y), score
        if not np.isfinite(best_score):
            # Too small at this scale (or crowded): a callout beside it, with a leader line.
            is_callout = True
            for r in (0.09, 0.12, 0.15, 0.19):
                for a in np.deg2rad(np.arange(0, 360, 15)):
                    x, y = anchor.x + r * view_w * np.cos(a), anchor.y + r * view_h * np.sin(a)
                    if not fits(x, y):
                        continue
                    box = np.array([x - w / 2, y - h / 2, x + w / 2, y + h / 2])
                    covered = _box_overlap(box, obstacles) / (w * h)
                    on_small = shapely.box(*box).intersection(small).area / (w * h) if small is not None else 0.0
                    line = shapely.LineString([(anchor.x, anchor.y), (x, y)])
                    crossings = sum(line.crosses(other) for other in leaders)
                    score = 10 * covered + 4 * on_small + 3 * crossings + np.hypot(r, 0)
                    if score < best_score:
                        best, best_score = (x, y), score
        x, y = best
        if code != highlight and (not np.isfinite(best_score) or (zoomed and best_score > 3)):
            continue    # no room at this scale: a neighbour's label is not worth hiding a hospital
        if is_callout:
            leaders.append(shapely.LineString([(anchor.x, anchor.y), (x, y)]))
        obstacles = np.vstack([obstacles, [[x - w / 2, y - h / 2, x + w / 2, y + h / 2]]])
        rows[code] = {"district_name": name, "virtual_beds": beds, "anchor_x": anchor.x, "anchor_y": anchor.y,
                      "x": x, "y": y, "callout": is_callout, "text": f"{name}\n{beds} home-based beds"}
    cols = ["district_name", "virtual_beds", "anchor_x", "anchor_y", "x", "y", "callout", "text"]
    return pd.DataFrame.from_dict(rows, orient="index", columns=cols).reindex([c for c in layers.districts.index
                                                                               if c in rows])


# ---------------------------------------------------------------------------------------
# Hospital and district labels on the interactive map: placed in screen pixels, clear of every marker
# and of each other at every size the map is drawn at
# ---------------------------------------------------------------------------------------

SITE_FONT_PX = 10
DISTRICT_FONT_PX = 10
# A generous estimate of plotly's text (measured in Chromium: about 0.53 em a character, bold
# about 0.55; two lines 25 pixels at 11 pixels); boxes add the annotations' padding.
CHAR_EM, BOLD_CHAR_EM, LINE_EM, BOX_PAD_PX = 0.56, 0.6, 1.25, 3
LABEL_GAP_PX = 2
# Each map is placed for the narrowest drawing it gets: the Workshop and Maps pages on a
# 1024-pixel projector (a 564-pixel column); a district close-up is half of that.
MIN_MAP_WIDTH_PX = 540
LEGEND_ROWS_PX = 100         # the legend above the map: its title and three rows at that width
MIN_CLOSE_UP_WIDTH_PX = 250
MAX_MAP_WIDTH_PX = 1400
# Where a label may sit around its marker: beside it (N, NE, NW, E, W, SE, SW, S: first
# free one wins), then further out with a leader line.
_DIRECTIONS = ((0, 1), (1, 1), (-1, 1), (1, 0), (-1, 0), (1, -1), (-1, -1), (0, -1))
_RINGS_PX = (3, 16, 32, 52)


@dataclass(frozen=True)
class PlotFrame:
    """How a plotly map turns data (metres) into pixels: the axis ranges, and the smallest
    and largest pixels per metre over the widths it may be drawn at (the height is fixed)."""

    x_range: tuple[float, float]
    y_range: tuple[float, float]
    scale_min: float
    scale_max: float

    def scales(self, n: int = 5) -> np.ndarray:
        return np.geomspace(self.scale_min, self.scale_max, n) if self.scale_max > self.scale_min * 1.001 \
            else np.array([self.scale_min])


def plot_frame(bounds, height: int, margin_top: int, margin_bottom: int, min_width: int,
               max_width: int = MAX_MAP_WIDTH_PX, pad: float = 0.03) -> PlotFrame:
    """The map's axis ranges (``bounds`` padded by ``pad``) and pixel scales: plotly keeps the
    aspect equal by widening whichever range has room to spare, so a metre is
    min(plot width / x range, plot height / y range) pixels (10-pixel side margins)."""
    minx, miny, maxx, maxy = bounds
    px, py = pad * (maxx - minx), pad * (maxy - miny)
    xr, yr = (minx - px, maxx + px), (miny - py, maxy + py)
    plot_h = max(height - margin_top - margin_bottom, 50)
    by_h = plot_h / (yr[1] - yr[0])
    lo = min((min_width - 20) / (xr[1] - xr[0]), by_h)
    hi = min((max_width - 20) / (xr[1] - xr[0]), by_h)
    return PlotFrame(xr, yr, lo, max(hi, lo))


def text_box_px(text: str, font_px: float, bold: bool = False) -> tuple[float, float]:
    """Width and height in pixels of an annotation's box holding ``text`` (lines split on \\n)."""
    lines = text.split("\n")
    em = BOLD_CHAR_EM if bold else CHAR_EM
    return (max(len(line) for line in lines) * em * font_px + 2 * BOX_PAD_PX,
            len(lines) * LINE_EM * font_px + 2 * BOX_PAD_PX)


def marker_diameter_px(beds) -> np.ndarray:
    """The plotly markers' diameters: sized by beds; a hospital without beds is a cross."""
    b = np.clip(np.asarray(beds, float), 0, None)
    return np.where(b > 0, 10 + 2.2 * np.sqrt(b), 11)


def site_label_text(site_name: str, beds: int) -> str:
    return f"{map_name(site_name)}\n{beds} beds" if beds > 0 else f"{map_name(site_name)}\nno beds"


def _scales_within(a: np.ndarray, b: np.ndarray, half: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The open interval of scales s where |a s + b| < half (empty: lo >= hi)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        t1, t2 = (-half - b) / a, (half - b) / a
    flat = a == 0
    lo = np.where(flat, np.where(np.abs(b) < half, -np.inf, np.inf), np.minimum(t1, t2))
    hi = np.where(flat, np.where(np.abs(b) < half, np.inf, -np.inf), np.maximum(t1, t2))
    return lo, hi


def district_label_text(district_name: str, virtual_beds: int) -> str:
    return f"{district_name}\n{virtual_beds} home-based beds"


@dataclass
class _Placer:
    """Places labels one by one in screen pixels around anchor points given in metres, each
    clear of every marker, of the labels placed before it and of the map's edge at every
    scale of ``frame`` (a label sits a fixed number of pixels from its anchor, so its place
    on the map moves as the map is drawn larger)."""

    frame: PlotFrame
    markers: np.ndarray                     # x, y (metres), radius (pixels) of every marker
    placed: list = field(default_factory=list)    # x, y, dx, dy, w, h of the labels placed
    keys: list = field(default_factory=list)      # what each placed label labels

    def remove(self, key) -> tuple:
        k = self.keys.index(key)
        self.keys.pop(k)
        return self.placed.pop(k)

    def put(self, key, entry: tuple) -> None:
        self.keys.append(key)
        self.placed.append(entry)

    def _cost(self, x, y, dx, dy, w, h) -> float:
        """How badly a label at (dx, dy) pixels from (x, y) metres fits: 1000 for each marker
        or label it covers at some scale of the frame (worked out exactly: a box's distance
        from another is linear in the scale, so the scales where two overlap are an
        interval), plus the pixels it reaches outside the map. 0 is clear."""
        m = self.markers
        p = np.asarray(self.placed, float).reshape(-1, 6)
        ox = np.concatenate([m[:, 0], p[:, 0]])
        oy = np.concatenate([m[:, 1], p[:, 1]])
        odx = np.concatenate([np.zeros(len(m)), p[:, 2]])
        ody = np.concatenate([np.zeros(len(m)), p[:, 3]])
        half_w = np.concatenate([m[:, 2], p[:, 4] / 2]) + w / 2 + LABEL_GAP_PX
        half_h = np.concatenate([m[:, 2], p[:, 5] / 2]) + h / 2 + LABEL_GAP_PX
        lo_x, hi_x = _scales_within(x - ox, dx - odx, half_w)
        lo_y, hi_y = _scales_within(y - oy, dy - ody, half_h)
        lo, hi = np.maximum(lo_x, lo_y), np.minimum(hi_x, hi_y)
        # the open interval (lo, hi) meets the closed one [scale_min, scale_max]
        clash = (lo < hi) & (lo < self.frame.scale_max) & (hi > self.frame.scale_min)
        cost = 1000.0 * float(clash.sum())
        (fx0, fx1), (fy0, fy1) = self.frame.x_range, self.frame.y_range
        for sc in (self.frame.scale_min, self.frame.scale_max):      # inside at both ends: inside between
            cx, cy = x * sc + dx, y * sc + dy
            cost += (max(0.0, fx0 * sc - (cx - w / 2)) + max(0.0, (cx + w / 2) - fx1 * sc)
                     + max(0.0, fy0 * sc - (cy - h / 2)) + max(0.0, (cy + h / 2) - fy1 * sc))
        return cost

    def place(self, x: float, y: float, w: float, h: float, candidates,
              optional: bool = False, penalty=None, key=None) -> tuple[float, float, bool]:
        """The first candidate offset (dx, dy) that is clear (or, given a ``penalty`` of an
        offset, the clear one with the least), else the one covering least; and whether it
        is clear. An ``optional`` label that finds no clear place is not kept."""
        best, best_cost, best_clear = None, np.inf, False
        for dx, dy in candidates:
            cost = self._cost(x, y, dx, dy, w, h)
            clear = cost < 1
            score = cost * 1000 + (penalty(dx, dy) if penalty is not None else 0.0)
            if score < best_cost:
                best, best_cost, best_clear = (dx, dy), score, clear
            if clear and penalty is None:
                break
        best_cost = 0.0 if best_clear else best_cost
        if best_cost < 1 or not optional:
            self.put(key, (x, y, best[0], best[1], w, h))
        return best[0], best[1], best_cost < 1


def _around(radius: float, w: float, h: float, rings, directions=_DIRECTIONS):
    """Offsets putting a w x h box just clear of a circle of ``radius`` pixels, in each
    direction, then further out (``rings``: extra pixels)."""
    for gap in rings:
        for ux, uy in directions:
            yield ux * (radius + gap + w / 2), uy * (radius + gap + h / 2)


def place_map_labels(layers: MapLayers, frame: PlotFrame, shown: np.ndarray | None = None,
                     districts: list | None = None, optional: set | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Where the hospitals' and the districts' labels go on the interactive map, in pixels
    from their anchors (``dx`` right, ``dy`` up, to the label's centre), so that at every
    scale ``frame`` allows no label covers a marker or another label and each stays inside
    the map. First each district's label, smallest district first: the free place nearest
    its label point, inside the district if it can be, without a ``leader`` line if it can
    be. Then each hospital's label, the hospitals with most neighbours first: the first free
    place of N, NE, NW, E, W, SE, SW, S beside its marker (S first for one without beds),
    then the same further out with a leader line. If that leaves a label without a free
    place, hospitals first instead, if that leaves fewer. Deterministic; ``clear`` False
    marks a label that found no free place (it then takes the place covering least). ``shown``: which hospitals to label;
    ``districts``: which districts (codes; default all); ``optional``: the hospitals and
    districts (ids, codes) labelled only where a clear place is found (a close-up's
    neighbours)."""
    optional = optional or set()
    s = layers.sites
    n = len(s)
    shown = np.ones(n, bool) if shown is None else np.asarray(shown, bool)
    xs, ys = s.geometry.x.to_numpy(float), s.geometry.y.to_numpy(float)
    radius = marker_diameter_px(s["beds"]) / 2 + 1
    d = np.hypot(xs[:, None] - xs[None, :], ys[:, None] - ys[None, :]) * frame.scale_min
    cols = ["text", "x", "y", "dx", "dy", "width", "height", "radius", "leader", "clear"]
    compass = tuple((np.cos(a), np.sin(a)) for a in np.deg2rad(np.arange(90, 450, 22.5)))

    dist = layers.districts if districts is None else layers.districts.loc[list(districts)]
    fine = [(ux * r, uy * r) for r in (6, 12, 20, 30, 42) for ux, uy in compass]

    def place_districts(placer, codes=None, rows=None):
        rows = {} if rows is None else rows
        for code in (dist.geometry.area.sort_values().index if codes is None else codes):
            name, beds = dist.loc[code, "district_name"], int(dist.loc[code, "virtual_beds"])
            point = dist.loc[code, "label_point"]
            text = district_label_text(name, beds)
            w, h = text_box_px(text, DISTRICT_FONT_PX, bold=True)
            far = _around(0, w, h, (30, 55, 85, 120, 160, 200), compass)
            own = shapely.make_valid(dist.loc[code].geometry)

            def penalty(dx, dy, own=own, x=point.x, y=point.y):
                # near its point, inside its own district, without a leader line if it can
                at = shapely.Point(x + dx / frame.scale_min, y + dy / frame.scale_min)
                far_off = np.hypot(dx, dy)
                return far_off / 100 + (0 if own.contains(at) else 3) + (1 if far_off > 25 else 0)

            dx, dy, clear = placer.place(point.x, point.y, w, h, [(0.0, 0.0), *fine, *far], optional=code in optional,
                                         penalty=penalty, key=("district", code))
            if not clear and code in optional:
                rows.pop(code, None)
                continue
            apart = np.hypot(max(0.0, abs(dx) - w / 2), max(0.0, abs(dy) - h / 2))    # off its point: a line
            rows[code] = {"text": text, "x": point.x, "y": point.y, "dx": dx, "dy": dy, "width": w, "height": h,
                          "radius": 0.0, "leader": bool(apart > 6), "clear": clear}
        return rows

    def place_sites(placer, only=None, rows=None):
        rows = {} if rows is None else rows
        for i in sorted(range(n), key=lambda i: (-int((d[i] < 150).sum()), i)):
            if not shown[i] or (only is not None and i not in only):
                continue
            text = site_label_text(s["site_name"].iloc[i], int(s["beds"].iloc[i]))
            w, h = text_box_px(text, SITE_FONT_PX)
            dirs = _DIRECTIONS[::-1] if s["beds"].iloc[i] <= 0 else _DIRECTIONS    # a cross: below it first
            candidates = [*_around(radius[i], w, h, _RINGS_PX, dirs),
                          *_around(radius[i], w, h, (80, 110, 150), compass)]
            dx, dy, clear = placer.place(xs[i], ys[i], w, h, candidates, optional=s.index[i] in optional,
                                         key=("site", i))
            if not clear and s.index[i] in optional:
                rows.pop(s.index[i], None)
                continue
            # a line to the marker when the label is not right beside it
            apart = np.hypot(max(0.0, abs(dx) - w / 2), max(0.0, abs(dy) - h / 2)) - radius[i]
            rows[s.index[i]] = {"text": text, "x": xs[i], "y": ys[i], "dx": dx, "dy": dy, "width": w, "height": h,
                                "radius": radius[i], "leader": bool(apart > 10), "clear": clear}
        return rows

    def unclear(rows) -> int:
        return sum(not r["clear"] for r in rows.values())

    # districts first (each on its own district); a hospital left without a free place gets
    # one by moving the nearest district label that makes room; failing that, hospitals
    # first, if that leaves fewer labels without a free place
    placer = _Placer(frame, np.column_stack([xs, ys, radius]))
    d_rows = place_districts(placer)
    s_rows = place_sites(placer)
    for sid in [k for k, r in s_rows.items() if not r["clear"]]:
        i = list(s.index).index(sid)
        near = sorted(d_rows, key=lambda c: np.hypot(d_rows[c]["x"] - xs[i], d_rows[c]["y"] - ys[i]))
        for code in near[:4]:
            saved_site, saved_district = placer.remove(("site", i)), placer.remove(("district", code))
            rows_s, rows_d = dict(s_rows), dict(d_rows)
            place_sites(placer, only={i}, rows=rows_s)
            place_districts(placer, codes=[code], rows=rows_d)
            if rows_s[sid]["clear"] and rows_d.get(code, {"clear": False})["clear"]:
                s_rows, d_rows = rows_s, rows_d
                break
            for key in (("site", i), ("district", code)):
                if key in placer.keys:
                    placer.remove(key)
            placer.put(("site", i), saved_site)
            placer.put(("district", code), saved_district)
    if unclear(s_rows) + unclear(d_rows):
        other = _Placer(frame, np.column_stack([xs, ys, radius]))
        s2 = place_sites(other)
        d2 = place_districts(other)
        if unclear(s2) + unclear(d2) < unclear(s_rows) + unclear(d_rows):
            s_rows, d_rows = s2, d2
    sites = pd.DataFrame.from_dict(s_rows, orient="index", columns=cols).reindex([c for c in s.index if c in s_rows])
    districts_out = pd.DataFrame.from_dict(d_rows, orient="index", columns=cols).reindex(
        [c for c in layers.districts.index if c in d_rows])
    return sites, districts_out


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
        for p in getattr(g, "geoms", [g]):
            if p.geom_type != "Polygon":
                continue
            for ring in [p.exterior, *p.interiors]:
                c = np.rint(np.asarray(ring.coords)).astype(int)   # whole metres: all a screen shows
                xs.extend(c[:, 0].tolist() + [None])
                ys.extend(c[:, 1].tolist() + [None])
    return xs, ys


def _outline_xy(geoms) -> tuple[list, list]:
    xs: list = []
    ys: list = []
    for g in geoms:
        b = g.boundary
        for line in getattr(b, "geoms", [b]):
            c = np.rint(np.asarray(line.coords)).astype(int)   # whole metres
            if len(c):
                xs.extend(c[:, 0].tolist() + [None])
                ys.extend(c[:, 1].tolist() + [None])
    return xs, ys


def plotly_map(layers: MapLayers, *, show_catchments: bool = True, height: int = 720,
               bounds: tuple[float, float, float, float] | None = None, highlight: str | None = None,
               show_legend: bool = True, show_footer: bool = True, min_width: int | None = None):
    """An interactive map (plotly) in British National Grid metres, equal aspect, no tiles.
    ``bounds`` zooms in; ``highlight`` (a district code) draws that district's boundary heavier.
    Labels are placed clear of the markers and of each other for any drawing at least
    ``min_width`` pixels wide (default: a 1024-pixel projector's column; half that for a
    close-up) and ``height`` tall; the legend sits above the map, so the map has the width."""
    import plotly.graph_objects as go
    fig = go.Figure()
    z = layers.zones
    zone_outlines = (layers.display_zones if layers.display_zones is not None
                     else gpd.GeoSeries(display_outlines(z.geometry.values), index=z.index))
    district_outlines = (layers.display_districts if layers.display_districts is not None
                         else gpd.GeoSeries(display_outlines(layers.districts.geometry.values),
                                            index=layers.districts.index))
    for k, (label, colour) in enumerate(zip(band_labels(), band_colours())):
        part = z[z["band"] == k]
        if not len(part):
            # keep the legend complete: an invisible entry
            fig.add_trace(go.Scatter(x=[None], y=[None], mode="markers", name=label, legendgroup=label,
                                     marker=dict(color=colour, size=12, symbol="square"), showlegend=True))
            continue
        xs, ys = _rings_xy(zone_outlines.loc[part.index].values)
        fig.add_trace(go.Scatter(x=xs, y=ys, fill="toself", fillcolor=colour, mode="lines",
                                 line=dict(color="rgba(255,255,255,0.35)", width=0.4), name=label,
                                 hoverinfo="skip", legendgroup=label))
    # hover points: one per zone (polygons do not carry hover text well). Drawn as an invisible
    # line (width 0) rather than invisible markers: the browser hovers on the points just the same
    # but draws one SVG path, not one per zone (half the time to draw the map in Chromium).
    pts = z.geometry.representative_point()
    text = [f"<b>{n}</b><br>{(short_name(s) if isinstance(s, str) else 'no hospital in reach')}"
            + (f": {t:.0f} minutes" if np.isfinite(t) else "")
            for n, s, t in zip(z["zone_name"], z["site_name"], z["travel_minutes"].fillna(np.inf))]
    fig.add_trace(go.Scatter(x=np.rint(pts.x).astype(int), y=np.rint(pts.y).astype(int), mode="lines",
                             line=dict(width=0), text=text, hoverinfo="text", showlegend=False, name="areas"))
    if show_catchments and len(layers.catchments):
        xs, ys = _outline_xy(display_outlines(layers.catchments.geometry.values))
        fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", line=dict(color=CATCHMENT_COLOUR, width=1.6, dash="dot"),
                                 name="hospital catchment", hoverinfo="skip"))
    xs, ys = _outline_xy(district_outlines.values)
    fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", line=dict(color=BOUNDARY_COLOUR, width=1.8),
                             name="district boundary", hoverinfo="skip"))
    if highlight is not None and highlight in layers.districts.index:
        xs, ys = _outline_xy(district_outlines.loc[[highlight]].values)
        fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", line=dict(color=BOUNDARY_COLOUR, width=4.5),
                                 name=f"{layers.districts.loc[highlight, 'district_name']} (this district)",
                                 hoverinfo="skip"))
    s = layers.sites
    open_ = (s["beds"] > 0).to_numpy()
    size = marker_diameter_px(s["beds"])
    footer = (layers.footer or (f"Data: {layers.data_line}." if layers.data_line else "")) if show_footer else ""
    margin_top = (40 + LEGEND_ROWS_PX) if show_legend else 60
    margin_bottom = 70 if footer else 10
    view_bounds = bounds or layers.bounds
    frame = plot_frame(view_bounds, height, margin_top, margin_bottom,
                       min_width or (MIN_CLOSE_UP_WIDTH_PX if bounds is not None else MIN_MAP_WIDTH_PX))
    if bounds is not None:   # a close-up labels the hospitals and the districts in view
        view = shapely.box(*bounds)
        shown = s.intersects(view).to_numpy()
        share = layers.districts.geometry.intersection(view).area / layers.districts.geometry.area
        in_view = [c for c in layers.districts.index if c == highlight or share[c] > 0.3]
        # the district's own hospitals and name always; its neighbours' where there is room
        own = (shapely.make_valid(layers.districts.loc[highlight].geometry).buffer(1.0)
               if highlight in layers.districts.index else view)
        optional = {sid for sid, pt in zip(s.index, s.geometry) if not own.contains(pt)}
        optional |= {c for c in in_view if c != highlight}
    else:
        shown, in_view, optional = np.ones(len(s), bool), None, set()
    site_labels, district_label_rows = place_map_labels(layers, frame, shown, in_view, optional)
    fig.add_trace(go.Scatter(
        x=s.geometry.x[open_], y=s.geometry.y[open_], mode="markers", name="hospital with beds (size = beds)",
        marker=dict(size=size[open_], color=SITE_COLOUR, line=dict(color="white", width=1.5)),
        text=[f"{short_name(n)}: {b} beds" for n, b in zip(s["site_name"][open_], s["beds"][open_])],
        hovertext=[f"<b>{html.escape(n)}</b><br>{b} beds (today {c})"
                   for n, b, c in zip(s["site_name"][open_], s["beds"][open_], s["current_beds"][open_])],
        hoverinfo="text"))
    # Always present (possibly empty) so the legend reads the same on every map.
    closed_x = s.geometry.x[~open_].tolist() or [None]
    closed_y = s.geometry.y[~open_].tolist() or [None]
    fig.add_trace(go.Scatter(
        x=closed_x, y=closed_y, mode="markers", name="hospital without inpatient beds",
        marker=dict(size=11, color="white", symbol="x-thin", line=dict(color=CLOSED_COLOUR, width=2.5)),
        text=[f"{short_name(n)}: no beds" for n in s["site_name"][~open_]], hoverinfo="text",
        hovertext=[f"<b>{html.escape(n)}</b><br>no inpatient beds (today {c})"
                   for n, c in zip(s["site_name"][~open_], s["current_beds"][~open_])]))
    for kind, labels, opacity in (("hospital", site_labels, 0.85), ("district", district_label_rows, 0.78)):
        for key, lab in labels.iterrows():
            first, rest = lab["text"].split("\n", 1)
            first = f"<b>{html.escape(first)}</b>" if kind == "district" else html.escape(first)
            common = dict(x=lab["x"], y=lab["y"], name=f"{kind} label {key}", xanchor="center", yanchor="middle",
                          text=f"{first}<br>{html.escape(rest)}", font=dict(size=SITE_FONT_PX if kind == "hospital" else DISTRICT_FONT_PX, color="#111111"),
                          bgcolor=f"rgba(255,255,255,{opacity})", borderpad=BOX_PAD_PX - 1, borderwidth=1,
                          bordercolor="rgba(0,0,0,0)")
            if lab["leader"]:     # set off from its hospital or district, with a line to it
                fig.add_annotation(**common, showarrow=True, ax=lab["dx"], ay=-lab["dy"], arrowhead=0,
                                   arrowwidth=1, arrowcolor="#333333", standoff=lab["radius"])
            else:
                fig.add_annotation(**common, showarrow=False, xshift=lab["dx"], yshift=lab["dy"])
    fig.update_xaxes(visible=False, range=list(frame.x_range))
    fig.update_yaxes(visible=False, scaleanchor="x", scaleratio=1, range=list(frame.y_range))
    if footer:   # what the data is, and where the result came from, under the map
        fig.add_annotation(xref="paper", yref="paper", x=0, y=0, yshift=-8, xanchor="left", yanchor="top",
                           showarrow=False, align="left", font=dict(size=9, color="#4C6272"),
                           text=html.escape(_wrap(footer, 160)).replace("\n", "<br>"))
    fig.update_layout(title=dict(text=html.escape(layers.title), x=0.01, y=1.0, yref="container", yanchor="top",
                                 pad=dict(t=8)), height=height, plot_bgcolor="white",
                      paper_bgcolor="white", margin=dict(l=10, r=10, t=margin_top, b=margin_bottom),
                      showlegend=show_legend,
                      # above the map, never over it (it hid Melton on a projector), nor beside it
                      # (it took half the width of a 1024-pixel projector's column)
                      legend=dict(title=dict(text=LEGEND_TITLE, side="top"), orientation="h",
                                  yanchor="bottom", y=1.0, x=0, xanchor="left", bgcolor="rgba(255,255,255,0.85)",
                                  font=dict(size=11)))
    return fig


def html_bytes(fig) -> bytes:
    """A self-contained HTML page (plotly.js inlined: opens with no internet)."""
    return fig.to_html(include_plotlyjs=True, full_html=True, config={"displaylogo": False}).encode("utf-8")


# ---------------------------------------------------------------------------------------
# matplotlib (static: PNG and PDF)
# ---------------------------------------------------------------------------------------

def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _legend_handles(plt) -> list:
    from matplotlib.patches import Patch

    handles = [Patch(facecolor=c, edgecolor="#888888", label=lab) for lab, c in zip(band_labels(), band_colours())]
    handles += [plt.Line2D([], [], color=CATCHMENT_COLOUR, lw=1.2, ls=":", label="hospital catchment"),
                plt.Line2D([], [], color=BOUNDARY_COLOUR, lw=1.4, label="district boundary"),
                plt.Line2D([], [], marker="o", color="w", markerfacecolor=SITE_COLOUR, markersize=10,
                           label="hospital with beds (size = beds)"),
                plt.Line2D([], [], marker="x", color=CLOSED_COLOUR, lw=0, markersize=8,
                           label="hospital without inpatient beds")]
    return handles


def _static_label_size(ax, bounds, fontsize: float) -> tuple[float, float]:
    """A label character's width and line height as shares of the view (matplotlib, in
    inches: the map is drawn at equal aspect inside the axes)."""
    fig = ax.figure
    pos = ax.get_position()
    aw, ah = pos.width * fig.get_figwidth(), pos.height * fig.get_figheight()
    vw, vh = bounds[2] - bounds[0], bounds[3] - bounds[1]
    drawn_w = min(aw, ah * vw / vh)
    drawn_h = drawn_w * vh / vw
    return 0.65 * fontsize / 72 / drawn_w, 1.5 * fontsize / 72 / drawn_h


def fit_aspect(bounds: tuple[float, float, float, float], aspect: float) -> tuple[float, float, float, float]:
    """Widen or heighten ``bounds`` about its centre to width/height = ``aspect`` (so a
    close-up fills its frame with surrounding context rather than white space)."""
    minx, miny, maxx, maxy = bounds
    w, h = maxx - minx, maxy - miny
    cx, cy = (minx + maxx) / 2, (miny + maxy) / 2
    if w / h < aspect:
        w = h * aspect
    else:
        h = w / aspect
    return (cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)


def _draw(ax, layers: MapLayers, *, bounds=None, highlight: str | None = None, show_catchments: bool = True,
          fontsize: float = 8) -> None:
    """Draw the map layers on a matplotlib axis (no legend, no title)."""
    z = layers.zones
    colours = np.asarray(band_colours(), object)[z["band"].to_numpy(int)]
    z.plot(ax=ax, color=list(colours), edgecolor=(1, 1, 1, 0.35), linewidth=0.3)
    if show_catchments and len(layers.catchments):
        layers.catchments.boundary.plot(ax=ax, color=CATCHMENT_COLOUR, linewidth=1.2, linestyle=":")
    layers.districts.boundary.plot(ax=ax, color=BOUNDARY_COLOUR, linewidth=1.4)
    if highlight is not None and highlight in layers.districts.index:
        layers.districts.loc[[highlight]].boundary.plot(ax=ax, color=BOUNDARY_COLOUR, linewidth=3.5)
    view = shapely.box(*(bounds or layers.bounds))
    size = _static_label_size(ax, bounds or layers.bounds, fontsize)
    for _, lab in district_labels(layers, bounds, size, highlight).iterrows():
        ax.annotate(lab["text"], (lab["anchor_x"], lab["anchor_y"]), xytext=(lab["x"], lab["y"]),
                    ha="center", va="center", fontsize=fontsize, zorder=7, clip_on=True,
                    arrowprops=dict(arrowstyle="-", color="#333333", lw=1.0) if lab["callout"] else None,
                    bbox=dict(boxstyle="round,pad=0.2", fc="white", ec="none", alpha=0.8))
    s = layers.sites
    open_ = (s["beds"] > 0).to_numpy()
    ax.scatter(s.geometry.x[open_], s.geometry.y[open_], s=30 + 6 * s["beds"][open_], c=SITE_COLOUR,
               edgecolors="white", linewidths=1.2, zorder=5)
    ax.scatter(s.geometry.x[~open_], s.geometry.y[~open_], s=60, c=CLOSED_COLOUR, marker="x", zorder=5)
    # Label the hospitals whose label fits in the view (a close-up cuts off its neighbours').
    boxes = site_label_boxes(layers, bounds, size)[1::2]
    fits = [_mostly_inside(b, view) for b in boxes] if bounds is not None else [True] * len(s)
    shown = s[np.asarray(fits, bool) & s.intersects(view).to_numpy()]
    for name, b, x, y in zip(shown["site_name"], shown["beds"], shown.geometry.x, shown.geometry.y):
        # centred above an open hospital, below one without beds (as on the plotly map)
        above = 0.5 * np.sqrt(30 + 6 * b) + 2 if b else -9
        ax.annotate(f"{short_name(name)}: {b} beds" if b else f"{short_name(name)}: no beds", (x, y),
                    xytext=(0, above), textcoords="offset points", ha="center", va="bottom" if b else "top",
                    fontsize=fontsize, weight="bold", zorder=6, clip_on=True,
                    bbox=dict(boxstyle="round,pad=0.15", fc="white", ec="none", alpha=0.8))
    ax.set_axis_off()
    ax.set_aspect("equal")
    if bounds is not None:
        ax.set_xlim(bounds[0], bounds[2])
        ax.set_ylim(bounds[1], bounds[3])


def _save(fig, fmt: str, dpi: int) -> bytes:
    plt = _pyplot()
    buf = io.BytesIO()
    fig.savefig(buf, format=fmt, dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def static_figure(layers: MapLayers, *, note: str = "",
                  bounds: tuple[float, float, float, float] | None = None, highlight: str | None = None,
                  show_catchments: bool = True):
    """The static map as a matplotlib figure: map, legend beside it, plain title, and a
    footer saying what the data is and where the result came from."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(13, 9.5))
    _draw(ax, layers, bounds=bounds, highlight=highlight, show_catchments=show_catchments)
    # Beside the map, never on it.
    ax.legend(handles=_legend_handles(plt), title=LEGEND_TITLE, loc="upper left", bbox_to_anchor=(1.0, 1.0),
              fontsize=9, title_fontsize=10, frameon=False)
    ax.set_title(layers.title, fontsize=13, loc="left")
    footer = " ".join(t for t in (note, layers.footer) if t)
    if footer:
        fig.text(0.01, 0.0, _wrap(footer, 200), fontsize=7, color="#444444", va="top")
    return fig


def static_map(layers: MapLayers, *, fmt: str = "png", dpi: int = 150, note: str = "",
               bounds: tuple[float, float, float, float] | None = None, highlight: str | None = None,
               show_catchments: bool = True) -> bytes:
    """The map as PNG or PDF bytes, with legend, plain title and footer; ``bounds`` zooms in,
    ``highlight`` (a district code) draws that district's boundary heavier."""
    fig = static_figure(layers, note=note, bounds=bounds, highlight=highlight, show_catchments=show_catchments)
    return _save(fig, fmt, dpi)


def district_map(layers: MapLayers, district_code: str, *, fmt: str = "png") -> bytes:
    """A close-up of one district and its surroundings (static), for a council handout."""
    name = layers.districts.loc[district_code, "district_name"]
    title = f"{name}: travel time to community hospital beds ({layers.title.split(': ', 1)[-1]})"
    from dataclasses import replace

    zoomed = replace(layers, title=title)
    return static_map(zoomed, fmt=fmt, bounds=district_bounds(layers, district_code), highlight=district_code)


def write_map(layers: MapLayers, path: str | Path, *, show_catchments: bool = True) -> Path:
    """Write the map to ``path``: .png or .pdf (static) or .html (interactive, self-contained)."""
    from optimiser.dataset.store import atomic_write_bytes

    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".html":
        data = html_bytes(plotly_map(layers, show_catchments=show_catchments))
    elif suffix in (".png", ".pdf"):
        data = static_map(layers, fmt=suffix[1:], show_catchments=show_catchments)
    else:
        raise ValueError(f"map files can be .png, .pdf or .html, not '{path.suffix}'")
    atomic_write_bytes(path, data)
    return path


# ---------------------------------------------------------------------------------------
# The district sheet: "what option B means for Melton residents"
# ---------------------------------------------------------------------------------------

SHEET_ROWS = (
    "Mean travel to the hospital that serves them, residents 65+ (minutes)",
    "Residents 65+ within 30 minutes of that hospital (%)",
    "Longest journey to the hospital that serves them (minutes)",
    "Hospitals residents use (share of residents)",
    "Nearest hospital with beds (share of residents for whom it is nearest)",
    "Travel to the nearest hospital with beds, residents 65+ (mean minutes)",
    "Community hospital beds in the district (beds)",
    "Community hospital beds within 30 minutes of the district's residents (beds, mean)",
    "Home-based (virtual) beds for the district (beds)",
)


def _district_figures(dataset: Dataset, sol, district_code: str) -> dict[str, str]:
    z = sol.zones
    z = z[z["district_code"] == district_code]
    pop = z["population"].to_numpy(float)
    pop65 = z["population_65_plus"].to_numpy(float)
    t = z["travel_minutes"].to_numpy(float)
    ok = np.isfinite(t)
    mean65 = float((pop65[ok] * t[ok]).sum() / pop65[ok].sum()) if pop65[ok].sum() > 0 else float("nan")
    within30 = float(pop65[ok & (t <= 30)].sum() / pop65.sum()) if pop65.sum() > 0 else float("nan")
    hospitals = z.groupby("site_name")["population"].sum().sort_values(ascending=False)
    main = ", ".join(f"{short_name(n)} ({100 * p / pop.sum():.0f}%)" for n, p in hospitals.head(3).items())

    sites = sol.sites.set_index("site_id")
    open_ids = [s for s in sites.index[sites["beds"] > 0] if s in dataset.sites.index]
    tm = dataset.travel_matrix().loc[z["zone_code"]]
    if open_ids:
        near = tm[open_ids]
        nearest_min = near.min(axis=1).to_numpy(float)
        nearest_site = near.idxmin(axis=1)
        by_site = pd.Series(pop, index=nearest_site.index).groupby(nearest_site.to_numpy()).sum()
        by_site = by_site.sort_values(ascending=False)
        names = dataset.sites["site_name"]
        nearest = ", ".join(f"{short_name(names[s])} ({100 * p / pop.sum():.0f}%)" for s, p in by_site.head(2).items())
        mean_near = float((pop65 * nearest_min).sum() / pop65.sum()) if pop65.sum() > 0 else float("nan")
        beds = sites.loc[open_ids, "beds"].to_numpy(float)
        beds_30 = float(((near.to_numpy(float) <= 30) @ beds * pop).sum() / pop.sum()) if pop.sum() > 0 else 0.0
    else:
        nearest, mean_near, beds_30 = "none", float("nan"), 0.0
    v = sol.virtual_beds.set_index("district_code")["beds"].get(district_code, 0)
    in_district = dataset.sites.index[dataset.sites["district_code"] == district_code]
    local = int(sites.loc[sites.index.isin(in_district), "beds"].sum())
    longest = float(np.nanmax(t)) if ok.any() else float("nan")
    values = (f"{mean65:.1f}", f"{100 * within30:.0f}%", f"{longest:.0f}", main or "none in reach",
              nearest, f"{mean_near:.1f}", f"{local}", f"{beds_30:.0f}", f"{int(v)}")
    return dict(zip(SHEET_ROWS, values, strict=True))


def district_sheet(dataset: Dataset, before, after, district_code: str) -> pd.DataFrame:
    """Before/after figures for one district's residents, in plain words with units:
    travel to the hospital that serves them, the nearest hospital with beds, beds in and
    near the district, home-based beds."""
    if district_code not in dataset.districts.index:
        raise KeyError(f"district {district_code} is not in the dataset")
    a, b = _district_figures(dataset, before, district_code), _district_figures(dataset, after, district_code)
    first, second = before.name, after.name
    if first == second:
        first, second = f"{first} (before)", f"{second} (after)"
    return pd.DataFrame({first: pd.Series(a), second: pd.Series(b)}).rename_axis("Measure")


def district_sheet_title(dataset: Dataset, after, district_code: str) -> str:
    return f"What '{after.name}' means for {dataset.districts.loc[district_code, 'district_name']} residents"


def _sheet_note(dataset: Dataset, before, after=None, settings: str = "") -> str:
    """What the sheet compares, with what settings, and the after-option's near-ties (a
    recommendation with near-ties is never shown as the single best)."""
    note = (f"Compared with '{before.name}'. Data: {dataset.data_line()} ({dataset.name}). "
            "Each small area (LSOA) is shaded by the travel time to the hospital that serves it.")
    if settings:
        note += f" Settings: {settings}."
    ties = [t.description for t in (getattr(after, "near_ties", ()) or ())]
    if ties:
        note += " Not a single best answer; the model cannot tell these apart: " + " ".join(ties)
    return note


def _sheet_footer(dataset: Dataset, after) -> str:
    from optimiser.provenance import footer_line

    return footer_line(getattr(after, "provenance", {}) or {}) or f"Data: {dataset.data_line()}."


def district_sheet_figure(dataset: Dataset, before, after, district_code: str, *, fmt: str = "png",
                          dpi: int = 150, settings: str = "") -> bytes:
    """A one-page handout (A4 landscape; PNG or PDF): before and after maps of the district
    side by side, a shared legend, and the district sheet as a table."""
    return _save(_district_sheet_fig(dataset, before, after, district_code, settings), fmt, dpi)


def district_pack_pdf(dataset: Dataset, before, after, *, settings: str = "") -> bytes:
    """Every district's sheet, one page each, in one PDF (the council pack)."""
    from matplotlib.backends.backend_pdf import PdfPages

    plt = _pyplot()
    buf = io.BytesIO()
    with PdfPages(buf, metadata={"Title": f"District pack: {after.name}", "Creator": "LLR community bed optimiser"}
                  ) as pdf:
        for code in dataset.districts.index:
            fig = _district_sheet_fig(dataset, before, after, code, settings)
            pdf.savefig(fig)
            plt.close(fig)
    return buf.getvalue()


def _district_sheet_fig(dataset: Dataset, before, after, district_code: str, settings: str = ""):
    import textwrap

    sheet = district_sheet(dataset, before, after, district_code)
    plt = _pyplot()
    fig = plt.figure(figsize=(11.69, 8.27))
    fig.text(0.02, 0.975, district_sheet_title(dataset, after, district_code), ha="left", va="top", fontsize=15,
             weight="bold", color="#212B32")
    fig.text(0.02, 0.935, textwrap.fill(_sheet_note(dataset, before, after, settings), 190), ha="left", va="top",
             fontsize=8, color="#4C6272")
    fig.text(0.02, 0.008, textwrap.fill(_sheet_footer(dataset, after), 230), ha="left", va="bottom",
             fontsize=6, color="#4C6272")
    gs = fig.add_gridspec(3, 2, height_ratios=[5.0, 0.5, 3.1], hspace=0.1, wspace=0.05,
                          left=0.02, right=0.98, top=0.86, bottom=0.045)
    for col, (sol, when) in enumerate(((before, "Before"), (after, "After"))):
        layers = map_layers(dataset, sol)
        ax = fig.add_subplot(gs[0, col])
        pos = ax.get_position()
        aspect = (pos.width * fig.get_figwidth()) / (pos.height * fig.get_figheight())
        bounds = fit_aspect(district_bounds(layers, district_code, pad=0.06), aspect)
        _draw(ax, layers, bounds=bounds, highlight=district_code, fontsize=7)
        ax.set_title(textwrap.shorten(f"{when}: {sol.name}", 70), fontsize=11, loc="left", color="#212B32")
    lax = fig.add_subplot(gs[1, :])
    lax.set_axis_off()
    lax.legend(handles=_legend_handles(plt), loc="center", ncol=5, fontsize=8, title=LEGEND_TITLE,
               title_fontsize=8, frameon=False)
    tax = fig.add_subplot(gs[2, :])
    tax.set_axis_off()
    cells = [[textwrap.fill(str(m), 75)] + [textwrap.fill(str(v), 45) for v in row]
             for m, row in zip(sheet.index, sheet.to_numpy())]
    header = ["Measure"] + [textwrap.fill(str(c), 45) for c in sheet.columns]
    table = tax.table(cellText=cells, colLabels=header, loc="upper center", cellLoc="left",
                      colWidths=[0.44, 0.28, 0.28])
    table.auto_set_font_size(False)
    table.set_fontsize(8)
    lines = [max(str(t).count("\n") + 1 for t in row) for row in [header, *cells]]
    unit = 0.92 / (sum(lines) + 0.6 * len(lines))
    for (r, _c), cell in table.get_celld().items():
        cell.set_height(unit * (lines[r] + 0.6))
        cell.set_edgecolor("#D8DDE0")
        if r == 0:
            cell.set_text_props(weight="bold")
            cell.set_facecolor("#E8EDEE")
    return fig


def _legend_html() -> str:
    """The map legend as HTML (colour swatches), shared by both maps of the district sheet."""
    items = [f'<span class="key"><span class="swatch" style="background:{c}"></span>{html.escape(lab)}</span>'
             for lab, c in zip(band_labels(), band_colours())]
    items += ['<span class="key"><span class="line dotted"></span>hospital catchment</span>',
              '<span class="key"><span class="line"></span>district boundary</span>',
              '<span class="key"><span class="line thick"></span>this district</span>',
              f'<span class="key"><span class="dot" style="background:{SITE_COLOUR}"></span>'
              'hospital with beds (size = beds)</span>',
              '<span class="key"><b>&#x2715;</b>&nbsp;hospital without inpatient beds</span>']
    return f'<div class="legend"><b>{html.escape(LEGEND_TITLE)}:</b> {" ".join(items)}</div>'


def district_sheet_html(dataset: Dataset, before, after, district_code: str) -> bytes:
    """The district sheet as one self-contained HTML page (plotly.js inlined once): title,
    the table, a legend, and interactive before and after maps of the district."""
    sheet = district_sheet(dataset, before, after, district_code)
    title = district_sheet_title(dataset, after, district_code)
    width, height = 620, 580
    parts = []
    for k, (sol, when) in enumerate(((before, "Before"), (after, "After"))):
        layers = map_layers(dataset, sol, f"{when}: {sol.name}")
        # The view has the plot area's shape, so plotly need not stretch it (equal aspect).
        bounds = fit_aspect(district_bounds(layers, district_code, pad=0.06), (width - 20) / (height - 70))
        fig = plotly_map(layers, bounds=bounds, highlight=district_code, height=height, show_legend=False,
                         show_footer=False)
        fig.update_layout(width=width, autosize=False)
        parts.append(fig.to_html(include_plotlyjs=k == 0, full_html=False,
                                 config={"displaylogo": False, "responsive": False}))
    table = sheet.reset_index().to_html(classes="sheet", border=0, escape=True, index=False)
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>
body {{ font-family: Arial, Helvetica, sans-serif; color: #212B32; margin: 24px; }}
h1 {{ font-size: 24px; }} p.note {{ color: #4C6272; font-size: 13px; }}
table.sheet {{ border-collapse: collapse; font-size: 14px; margin: 12px 0 16px; }}
table.sheet th, table.sheet td {{ border: 1px solid #D8DDE0; padding: 6px 10px; text-align: left; vertical-align: top; }}
table.sheet thead th {{ background: #E8EDEE; }}
.legend {{ font-size: 13px; margin: 8px 0; line-height: 2; }} .key {{ margin-right: 14px; white-space: nowrap; }}
.swatch {{ display: inline-block; width: 18px; height: 12px; border: 1px solid #888; margin-right: 5px; vertical-align: -1px; }}
.line {{ display: inline-block; width: 22px; border-top: 2px solid #222; margin-right: 5px; vertical-align: 4px; }}
.line.dotted {{ border-top: 2px dotted #4D4D4D; }} .line.thick {{ border-top-width: 5px; }}
.dot {{ display: inline-block; width: 12px; height: 12px; border-radius: 6px; margin-right: 5px; vertical-align: -1px; }}
.maps {{ display: flex; flex-wrap: wrap; gap: 12px; }}
</style></head><body>
<h1>{html.escape(title)}</h1>
<p class="note">{html.escape(_sheet_note(dataset, before, after))}</p>
{table}
{_legend_html()}
<div class="maps"><div>{parts[0]}</div><div>{parts[1]}</div></div>
<p class="note footer">{html.escape(_sheet_footer(dataset, after))}</p>
</body></html>
"""
    return page.encode("utf-8")


def write_district_sheet(dataset: Dataset, before, after, district_code: str, path: str | Path) -> Path:
    """Write the district sheet to ``path``: .png or .pdf (one page), .html, or .csv (the table)."""
    from optimiser.dataset.store import atomic_write_bytes

    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in (".png", ".pdf"):
        data = district_sheet_figure(dataset, before, after, district_code, fmt=suffix[1:])
    elif suffix == ".html":
        data = district_sheet_html(dataset, before, after, district_code)
    elif suffix == ".csv":
        data = district_sheet(dataset, before, after, district_code).to_csv().encode("utf-8")
    else:
        raise ValueError(f"district sheets can be .png, .pdf, .html or .csv, not '{path.suffix}'")
    atomic_write_bytes(path, data)
    return path


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
        text=[f"{short_name(n)}: {b} beds" for n, b in zip(s["site_name"], s["beds"])], textposition="top center",
        name="hospital (size = beds)"))
    c = s.geometry.union_all().centroid
    footer = layers.footer or (f"Data: {layers.data_line}." if layers.data_line else "")
    if footer:
        fig.add_annotation(xref="paper", yref="paper", x=0, y=0, yshift=-8, xanchor="left", yanchor="top",
                           showarrow=False, align="left", font=dict(size=9, color="#4C6272"),
                           text=html.escape(_wrap(footer, 160)).replace("\n", "<br>"))
    fig.update_layout(map=dict(style=style, center=dict(lat=c.y, lon=c.x), zoom=8.3), height=height,
                      margin=dict(l=0, r=0, t=50, b=70 if footer else 0),
                      title=dict(text=html.escape(layers.title), x=0.01))
    return fig
