"""The district council pack and the impact files (presentation of :mod:`optimiser.impact`).

One printable A4 page per district, as PDF (and PNG, the same figure) and as a self-contained
HTML page: a map of change (small areas shaded by minutes gained or lost, hospitals before and
after, arrows from closed or shrunk sites to where their patients now go), the district's
impact table, its deprivation breakdown, the paragraph written from the table, the settings
and the options compared, the date, where the data come from (provenance) with the OS/ONS
attribution, and any caveat (near-ties, a quick or time-limited answer). Readable on a
projector and in black-and-white print: the shades of change also carry hatching (``/`` for
longer, ``\\`` for shorter, denser for more), hospitals are told apart by marker shape and
labelled with their beds, and every figure is written as a number. Maps are drawn from the
dataset's own polygons (no tile server), with the static-map helpers of :mod:`optimiser.maps`.

:func:`write_impact` writes ``impact_by_lsoa.csv``, ``impact_by_district.csv``,
``impact_by_imd_decile.csv``, ``impact_by_imd_quintile.csv``, ``impact_sites.csv``,
``summary.json`` and, with ``pack=True``, ``packs/<district>.pdf`` and ``.html`` for every
district and ``packs/district_packs.zip`` holding them all.
"""

from __future__ import annotations

import base64
import html
import io
import json
import textwrap
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import shapely

from optimiser.dataset.core import Dataset
from optimiser.impact import MAIN_LABEL, Impact, district_by_quintile, district_paragraph
from optimiser.maps import BOUNDARY_COLOUR, _pyplot, fit_aspect, short_name
from optimiser.provenance import ATTRIBUTION, footer_line

A4_PORTRAIT = (8.27, 11.69)   # inches
# Bands of change in minutes: label, lower, upper, colour (PuOr, colour-blind safe), hatch
# (for black-and-white print: '/' longer, '\' shorter, denser = more).
CHANGE_BANDS: tuple[tuple[str, float, float, str, str], ...] = (
    ("10 or more minutes longer", 10, np.inf, "#b35806", "////"),
    ("5 to 10 minutes longer", 5, 10, "#f1a340", "///"),
    ("1 to 5 minutes longer", 1, 5, "#fee0b6", "/"),
    ("within a minute", -1, 1, "#f7f7f7", ""),
    ("1 to 5 minutes shorter", -5, -1, "#d8daeb", "\\"),
    ("5 or more minutes shorter", -np.inf, -5, "#998ec3", "\\\\\\"),
)
LOST_REACH = ("no hospital within reach after", "#4d4d4d", "xx")
KEPT_COLOUR, CLOSED_MARK, OPENED_COLOUR = "#1b1b1b", "#000000", "#1b1b1b"
ARROW_COLOUR = "#542788"
ARROW_MIN_ADMISSIONS = 3.0     # a year: smaller flows from a closed site are not drawn


def change_band(change, after) -> np.ndarray:
    """Index into CHANGE_BANDS (or len(CHANGE_BANDS): no hospital within reach after)."""
    c = np.asarray(change, float)
    out = np.full(c.shape, len(CHANGE_BANDS))
    for k, (_, lo, hi, _, _) in enumerate(CHANGE_BANDS):
        inside = (c >= lo) & (c < hi) if k != 3 else (c > lo) & (c < hi)
        out[np.isfinite(c) & inside] = k
    out[~np.isfinite(c) & ~np.isfinite(np.asarray(after, float))] = len(CHANGE_BANDS)
    both_nan = ~np.isfinite(c) & np.isfinite(np.asarray(after, float))
    out[both_nan] = 4          # a hospital within reach where there was none: shorter
    return out


def _district_box(dataset: Dataset, code: str, pad: float = 0.08) -> tuple[float, float, float, float]:
    minx, miny, maxx, maxy = dataset.districts.loc[[code]].total_bounds
    p = pad * max(maxx - minx, maxy - miny)
    return (float(minx - p), float(miny - p), float(maxx + p), float(maxy + p))


def _fmt(value, kind: str = "people") -> str:
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return "–"
    if kind == "people":
        return f"{int(value):,}"
    if kind == "change":
        return f"{value:+.1f}"
    if kind == "admissions":
        return f"{value:,.0f}"
    return f"{value:.1f}"


# ---------------------------------------------------------------------------------------
# What goes on a page (shared by the PDF and the HTML)
# ---------------------------------------------------------------------------------------

def district_row(impact: Impact, code: str, travel_times: str = MAIN_LABEL) -> dict:
    d = impact.by_district
    return d[(d["district_code"] == code) & (d["travel_times"] == travel_times)].iloc[0].to_dict()


def district_table(impact: Impact, code: str) -> pd.DataFrame:
    """The district's impact table as people read it: measure, residents aged 65+, all residents."""
    r = district_row(impact, code)
    rows = [
        ("Residents", _fmt(r["population_65_plus"]), _fmt(r["population"])),
        ("... whose journey would be a minute or more longer", _fmt(r["people_longer_65_plus"]), _fmt(r["people_longer"])),
        ("... whose journey would be a minute or more shorter", _fmt(r["people_shorter_65_plus"]), _fmt(r["people_shorter"])),
        ("Mean change in journey (minutes)", _fmt(r["mean_change_minutes_65_plus"], "change"),
         _fmt(r["mean_change_minutes"], "change")),
        ("Mean journey before → after (minutes)",
         f"{_fmt(r['mean_minutes_before_65_plus'], 'min')} → {_fmt(r['mean_minutes_after_65_plus'], 'min')}",
         f"{_fmt(r['mean_minutes_before'], 'min')} → {_fmt(r['mean_minutes_after'], 'min')}"),
        ("More than 30 minutes from their bed, before → after",
         f"{_fmt(r['people_over_30_minutes_before_65_plus'])} → {_fmt(r['people_over_30_minutes_after_65_plus'])}",
         f"{_fmt(r['people_over_30_minutes_before'])} → {_fmt(r['people_over_30_minutes_after'])}"),
        ("... of them within 30 minutes today (pushed over 30 minutes)", _fmt(r["people_pushed_over_30_minutes_65_plus"]),
         _fmt(r["people_pushed_over_30_minutes"])),
        ("Pushed over 45 minutes", _fmt(r["people_pushed_over_45_minutes_65_plus"]),
         _fmt(r["people_pushed_over_45_minutes"])),
    ]
    for label in impact.travel_labels[1:]:
        s = district_row(impact, code, label)
        rows += [(f"By {label}: mean journey before → after (minutes)",
                  f"{_fmt(s['mean_minutes_before_65_plus'], 'min')} → {_fmt(s['mean_minutes_after_65_plus'], 'min')}",
                  f"{_fmt(s['mean_minutes_before'], 'min')} → {_fmt(s['mean_minutes_after'], 'min')}"),
                 (f"By {label}: more than 30 minutes (or no route), after",
                  _fmt(s["people_over_30_minutes_after_65_plus"]), _fmt(s["people_over_30_minutes_after"]))]
    rows.append(("Admissions a year to a different hospital", "", _fmt(r["admissions_changing_hospital_per_year"],
                                                                        "admissions")))
    return pd.DataFrame(rows, columns=["Measure", "Aged 65+", "All residents"])


def deprivation_table(impact: Impact, code: str) -> pd.DataFrame:
    """The district's residents aged 65+ by IMD 2019 quintile (national fifths)."""
    q = district_by_quintile(impact, code)
    names = {1: "1 (most deprived)", 2: "2", 3: "3", 4: "4", 5: "5 (least deprived)", 0: "unknown"}
    return pd.DataFrame({
        "IMD quintile": [names.get(int(v), str(v)) for v in q["imd_quintile"]],
        "Aged 65+": [_fmt(v) for v in q["population_65_plus"]],
        "Longer journey": [_fmt(v) for v in q["people_longer_65_plus"]],
        "Mean change (min)": [_fmt(v, "change") for v in q["mean_change_minutes_65_plus"]],
        "Newly over 30 min": [_fmt(v) for v in q["people_pushed_over_30_minutes_65_plus"]],
    })


def settings_lines(impact: Impact) -> list[str]:
    """The options compared and the settings they were measured with."""
    o, b = impact.option, impact.baseline
    lines = [f"Option: '{o.name}' ({o.status_message}).", f"Compared with: '{b.name}' ({b.status_message})."]
    prov = o.provenance
    if prov:
        lines.append(f"Scenario: '{prov.get('scenario', '')}' (settings SHA-256 {str(prov.get('scenario_sha256', ''))[:12]}).")
    lines += list(impact.settings)
    lines.append(f"Journeys are to where patients get a bed in the patient-flow model (their first hospital, or the "
                 f"next within reach when it is full), for the {impact.reference_pathway} pathway; a journey changes "
                 "when it moves by a minute or more.")
    return lines


def site_lines(impact: Impact) -> list[str]:
    """Hospitals with fewer beds and where their patients now go (largest flows first)."""
    out = []
    sc = impact.site_changes
    for _sid, g in sc.groupby("site_id", sort=False):
        first = g.iloc[0]
        dest = "; ".join(f"{short_name(r.to_site_name) if r.to_site_id else 'not admitted to a community bed'} "
                         f"{r.admissions_per_year:,.0f}" for r in g.head(4).itertuples())
        more = f"; {len(g) - 4} more" if len(g) > 4 else ""
        out.append(f"{short_name(first['site_name'])}: {first['beds_before']} → {first['beds_after']} beds; its "
                   f"{first['admissions_per_year_before']:,.0f} admissions a year now go to {dest}{more}")
    return out


# ---------------------------------------------------------------------------------------
# The map of change (matplotlib; no tiles)
# ---------------------------------------------------------------------------------------

def _legend_handles():
    from matplotlib.lines import Line2D
    from matplotlib.patches import FancyArrow, Patch

    handles = [Patch(facecolor=c, edgecolor="#555555", hatch=h, label=lab) for lab, _, _, c, h in CHANGE_BANDS]
    handles.append(Patch(facecolor=LOST_REACH[1], edgecolor="#555555", hatch=LOST_REACH[2], label=LOST_REACH[0]))
    handles += [Line2D([], [], marker="o", color="w", markerfacecolor="white", markeredgecolor=KEPT_COLOUR,
                       markeredgewidth=2, markersize=10, label="hospital with beds\n(beds before → after)"),
                Line2D([], [], marker="X", color="w", markerfacecolor=CLOSED_MARK, markersize=11,
                       label="hospital that loses its beds"),
                Line2D([], [], marker="^", color="w", markerfacecolor=OPENED_COLOUR, markersize=10,
                       label="hospital that gains beds\nit did not have"),
                FancyArrow(0, 0, 1, 0, width=0.2, color=ARROW_COLOUR, label="where a closed or shrunk\nsite's "
                           "patients go\n(admissions a year)"),
                Line2D([], [], color=BOUNDARY_COLOUR, lw=3.2, label="this district"),
                Line2D([], [], color=BOUNDARY_COLOUR, lw=1.0, label="other district boundaries")]
    return handles


def draw_change_map(ax, dataset: Dataset, impact: Impact, bounds, highlight: str | None = None,
                    fontsize: float = 7.5) -> None:
    """Small areas shaded (and hatched) by the change in minutes, hospitals before and after,
    arrows from closed or shrunk sites, district boundaries; clipped to ``bounds``."""
    import matplotlib as mpl

    mpl.rcParams["hatch.linewidth"] = 0.6
    view = shapely.box(*bounds)
    lsoa = impact.by_lsoa.set_index("zone_code")
    zones = dataset.zones[["geometry"]].join(lsoa[["change_minutes", "minutes_after"]])
    zones = zones[zones.intersects(view)]
    band = change_band(zones["change_minutes"], zones["minutes_after"])
    styles = [(c, h) for _, _, _, c, h in CHANGE_BANDS] + [(LOST_REACH[1], LOST_REACH[2])]
    for k, (colour, hatch) in enumerate(styles):
        part = zones[band == k]
        if len(part):
            part.plot(ax=ax, facecolor=colour, edgecolor="#666666", linewidth=0.25, hatch=hatch or None)
    districts = dataset.districts[dataset.districts.intersects(view)]
    districts.boundary.plot(ax=ax, color=BOUNDARY_COLOUR, linewidth=1.0)
    if highlight is not None:
        dataset.districts.loc[[highlight]].boundary.plot(ax=ax, color=BOUNDARY_COLOUR, linewidth=3.2)
    minx, miny, maxx, maxy = bounds
    inner = shapely.box(minx + 0.12 * (maxx - minx), miny + 0.05 * (maxy - miny), maxx - 0.12 * (maxx - minx),
                        maxy - 0.05 * (maxy - miny))     # names kept clear of the edges
    for code, row in districts.iterrows():
        part = row.geometry.intersection(inner)
        if code == highlight or part.is_empty or part.area < 0.02 * inner.area:
            continue
        point = part.representative_point()
        ax.annotate(row["district_name"], (point.x, point.y), ha="center", va="center", fontsize=fontsize,
                    style="italic", color="#333333", zorder=4, clip_on=True)

    # Arrows: from each closed or shrunk site to where its patients now go.
    sites = dataset.sites
    sc = impact.site_changes
    flows = sc[(sc["to_site_id"] != "") & (sc["admissions_per_year"] >= ARROW_MIN_ADMISSIONS)]
    biggest = float(flows["admissions_per_year"].max()) if len(flows) else 1.0
    for r in flows.itertuples():
        a, b = sites.loc[r.site_id, "geometry"], sites.loc[r.to_site_id, "geometry"]
        width = 0.8 + 3.2 * r.admissions_per_year / biggest
        arrow = ax.annotate("", xy=(b.x, b.y), xytext=(a.x, a.y), zorder=6, annotation_clip=False,
                            arrowprops=dict(arrowstyle="-|>", color=ARROW_COLOUR, lw=width, shrinkA=6, shrinkB=9,
                                            mutation_scale=10 + 4 * width, connectionstyle="arc3,rad=0.12"))
        arrow.arrow_patch.set_clip_box(ax.bbox)                  # an arrow from afar stops at the map's edge
        mid = (0.4 * a.x + 0.6 * b.x, 0.4 * a.y + 0.6 * b.y)     # nearer the head: clear of the closed site's label
        if inner.contains(shapely.Point(mid)) and r.admissions_per_year >= 5:
            ax.annotate(f"{r.admissions_per_year:,.0f} a year", mid, ha="center", va="center", fontsize=fontsize,
                        color=ARROW_COLOUR, weight="bold", zorder=7, clip_on=True,
                        bbox=dict(boxstyle="round,pad=0.15", fc="white", ec=ARROW_COLOUR, lw=0.6, alpha=0.9))

    # Hospitals: a ring when it keeps beds, a cross when it loses them all, a triangle when new.
    before = impact.baseline.sites.set_index("site_id")["beds"]
    after = impact.option.sites.set_index("site_id")["beds"]
    for sid, row in sites.iterrows():
        p = row.geometry
        if not view.contains(p):
            continue
        b0, b1 = int(before.get(sid, 0)), int(after.get(sid, 0))
        if b0 > 0 and b1 == 0:
            ax.scatter([p.x], [p.y], marker="X", s=160, c=CLOSED_MARK, edgecolors="white", linewidths=1.2, zorder=8)
            note = " (loses its beds)"
        elif b0 == 0 and b1 > 0:
            ax.scatter([p.x], [p.y], marker="^", s=150, c=OPENED_COLOUR, edgecolors="white", linewidths=1.2, zorder=8)
            note = " (new beds)"
        elif b1 > 0:
            ax.scatter([p.x], [p.y], marker="o", s=60 + 3 * b1, facecolors="white", edgecolors=KEPT_COLOUR,
                       linewidths=2.2, zorder=8)
            note = ""
        else:
            ax.scatter([p.x], [p.y], marker="o", s=40, facecolors="white", edgecolors="#888888", linewidths=1, zorder=8)
            note = " (no beds)"
        # centred above the marker (below one that loses its beds, clear of its arrows); towards
        # the middle of the view near an edge, so the label is not cut off
        width, height = bounds[2] - bounds[0], bounds[3] - bounds[1]
        share = (p.x - bounds[0]) / width
        ha = "left" if share < 0.2 else "right" if share > 0.8 else "center"
        tx = min(max(p.x, bounds[0] + 0.015 * width), bounds[2] - 0.015 * width)
        below = (b0 > 0 and b1 == 0) or (p.y - bounds[1]) / height > 0.85
        ax.annotate(f"{short_name(row['site_name'])}\n{b0} → {b1} beds{note}", (p.x, p.y),
                    xytext=(tx, p.y + (-0.035 if below else 0.03) * height), textcoords="data", ha=ha,
                    va="top" if below else "bottom", fontsize=fontsize, weight="bold",
                    zorder=9, clip_on=True, bbox=dict(boxstyle="round,pad=0.2", fc="white", ec="#333333", lw=0.5))
    ax.set_xlim(bounds[0], bounds[2])
    ax.set_ylim(bounds[1], bounds[3])
    ax.set_aspect("equal")
    ax.set_axis_off()


# ---------------------------------------------------------------------------------------
# The A4 page
# ---------------------------------------------------------------------------------------

def pack_title(dataset: Dataset, impact: Impact, code: str) -> str:
    return f"What '{impact.option.name}' would mean for {dataset.districts.loc[code, 'district_name']}"


def _table(ax, frame: pd.DataFrame, col_widths, fontsize: float, wrap: list[int], title: str) -> None:
    ax.set_axis_off()
    ax.set_title(title, loc="left", fontsize=fontsize + 2, weight="bold", color="#212B32", pad=4)
    cells = [[textwrap.fill(str(v), w) for v, w in zip(row, wrap, strict=True)] for row in frame.to_numpy()]
    header = [textwrap.fill(str(c), w) for c, w in zip(frame.columns, wrap, strict=True)]
    table = ax.table(cellText=cells, colLabels=header, loc="upper left", cellLoc="left", colWidths=col_widths)
    table.auto_set_font_size(False)
    table.set_fontsize(fontsize)
    lines = [max(str(t).count("\n") + 1 for t in row) for row in [header, *cells]]
    unit = 0.98 / (sum(lines) + 0.5 * len(lines))
    for (r, _c), cell in table.get_celld().items():
        cell.set_height(unit * (lines[r] + 0.5))
        cell.set_edgecolor("#888888")
        cell.set_linewidth(0.5)
        if r == 0:
            cell.set_text_props(weight="bold")
            cell.set_facecolor("#E8EDEE")


def pack_figure(dataset: Dataset, impact: Impact, code: str, when: datetime | None = None):
    """The district's page (A4 portrait) as a matplotlib figure."""
    plt = _pyplot()
    fig = plt.figure(figsize=A4_PORTRAIT)
    name = dataset.districts.loc[code, "district_name"]
    ink, grey = "#212B32", "#3d4a54"
    fig.text(0.04, 0.978, textwrap.fill(pack_title(dataset, impact, code), 62), ha="left", va="top", fontsize=15,
             weight="bold", color=ink)
    date = (when or datetime.now(UTC)).strftime("%d %B %Y")
    fig.text(0.04, 0.922, textwrap.fill(f"Compared with '{impact.baseline.name}'. Prepared {date} with the LLR community "
                                        "bed optimiser.", 110), ha="left", va="top", fontsize=8.5, color=grey)
    # The map and its legend.
    ax = fig.add_axes((0.03, 0.50, 0.60, 0.37))
    pos = ax.get_position()
    aspect = (pos.width * A4_PORTRAIT[0]) / (pos.height * A4_PORTRAIT[1])
    draw_change_map(ax, dataset, impact, fit_aspect(_district_box(dataset, code), aspect), highlight=code)
    ax.set_title(f"Change in journey to a community hospital bed, {name} and around", loc="left", fontsize=9.5,
                 weight="bold", color=ink)
    lax = fig.add_axes((0.645, 0.56, 0.34, 0.31))
    lax.set_axis_off()
    lax.legend(handles=_legend_handles(), loc="upper left", fontsize=7.4, frameon=False, title="Map key",
               title_fontsize=8.5, alignment="left", handlelength=2.4, handleheight=1.4, labelspacing=0.5)
    sites = site_lines(impact)
    if sites:
        fig.text(0.648, 0.555, textwrap.fill("Hospitals with fewer beds: " + " ".join(s + "." for s in sites), 52),
                 ha="left", va="top", fontsize=7, color=ink)
    # The tables.
    tax = fig.add_axes((0.04, 0.27, 0.555, 0.205))
    _table(tax, district_table(impact, code), [0.56, 0.22, 0.22], 7.6, [40, 14, 14], f"Impact in {name}")
    dax = fig.add_axes((0.625, 0.345, 0.345, 0.13))
    _table(dax, deprivation_table(impact, code), [0.33, 0.17, 0.17, 0.17, 0.16], 7.2, [11, 7, 7, 7, 8],
           "By deprivation, aged 65+")
    fig.text(0.625, 0.335, textwrap.fill("IMD 2019 quintile: national fifths of small areas, 1 = most deprived. "
                                         "Quintiles with no areas in the district are not listed.", 56),
             ha="left", va="top", fontsize=6.5, color=grey)
    # The paragraph, caveats, settings, provenance.
    paragraph = district_paragraph(district_row(impact, code))[0]
    fig.text(0.04, 0.258, "In plain words", ha="left", va="top", fontsize=10, weight="bold", color=ink)
    fig.text(0.04, 0.240, textwrap.fill(paragraph, 118), ha="left", va="top", fontsize=8.6, color=ink, linespacing=1.35)
    y = 0.150
    caveats = impact.caveats
    if caveats:
        text = textwrap.fill("CAVEAT: " + " ".join(caveats), 140)
        fig.text(0.04, y, text, ha="left", va="top", fontsize=7.4, weight="bold", color=ink,
                 bbox=dict(boxstyle="square,pad=0.4", fc="white", ec=ink, lw=1.0))
        y -= 0.014 * (text.count("\n") + 1) + 0.012
    settings = textwrap.fill("Settings: " + " ".join(settings_lines(impact)), 160)
    fig.text(0.04, y, settings, ha="left", va="top", fontsize=6.6, color=grey)
    y -= 0.0115 * (settings.count("\n") + 1) + 0.006
    prov = footer_line(dict(impact.option.provenance)) or f"Data: {dataset.data_line()}. {ATTRIBUTION}."
    if ATTRIBUTION not in prov:
        prov += f" {ATTRIBUTION}."
    fig.text(0.04, y, textwrap.fill("Where the figures come from: " + prov, 170), ha="left", va="top", fontsize=6.2,
             color=grey)
    return fig


def _render(fig, fmt: str, dpi: int = 150) -> bytes:
    plt = _pyplot()
    buf = io.BytesIO()
    fig.savefig(buf, format=fmt, dpi=dpi)      # the whole A4 page: no tight cropping
    plt.close(fig)
    return buf.getvalue()


def district_pack_pdf(dataset: Dataset, impact: Impact, code: str) -> bytes:
    return _render(pack_figure(dataset, impact, code), "pdf")


def district_pack_png(dataset: Dataset, impact: Impact, code: str, dpi: int = 110) -> bytes:
    """The same page as a PNG (for a look on screen, and for the tests)."""
    return _render(pack_figure(dataset, impact, code), "png", dpi)


def change_map_png(dataset: Dataset, impact: Impact, code: str | None = None, dpi: int = 130) -> bytes:
    """The map of change on its own (the whole area, or one district and around), with its key."""
    plt = _pyplot()
    fig = plt.figure(figsize=(11, 7.6))
    ax = fig.add_axes((0.01, 0.02, 0.68, 0.93))
    pos = ax.get_position()
    aspect = (pos.width * 11) / (pos.height * 7.6)
    box = _district_box(dataset, code) if code else tuple(float(v) for v in dataset.districts.total_bounds)
    draw_change_map(ax, dataset, impact, fit_aspect(box, aspect), highlight=code, fontsize=8)
    where = dataset.districts.loc[code, "district_name"] if code else "Leicester, Leicestershire and Rutland"
    ax.set_title(textwrap.fill(f"Change in journey to a community hospital bed, {where}: '{impact.option.name}' "
                               f"against '{impact.baseline.name}'", 110), loc="left", fontsize=10.5, weight="bold")
    lax = fig.add_axes((0.70, 0.25, 0.29, 0.70))
    lax.set_axis_off()
    lax.legend(handles=_legend_handles(), loc="upper left", fontsize=8.5, frameon=False, title="Map key",
               title_fontsize=10, alignment="left", handlelength=2.4, handleheight=1.4)
    return _render(fig, "png", dpi)


# ---------------------------------------------------------------------------------------
# The HTML page
# ---------------------------------------------------------------------------------------

def _html_table(frame: pd.DataFrame) -> str:
    return frame.to_html(index=False, border=0, classes="t", escape=True)


def district_pack_html(dataset: Dataset, impact: Impact, code: str, when: datetime | None = None) -> bytes:
    """The district's page as one self-contained HTML file (the map inlined as a PNG), for
    screens and for printing on A4."""
    title = pack_title(dataset, impact, code)
    name = dataset.districts.loc[code, "district_name"]
    image = base64.b64encode(change_map_png(dataset, impact, code)).decode("ascii")
    date = (when or datetime.now(UTC)).strftime("%d %B %Y")
    caveats = "".join(f"<p class='caveat'><b>Caveat:</b> {html.escape(c)}</p>" for c in impact.caveats)
    sites = "".join(f"<li>{html.escape(s)}</li>" for s in site_lines(impact))
    settings = "".join(f"<li>{html.escape(s)}</li>" for s in settings_lines(impact))
    prov = footer_line(dict(impact.option.provenance)) or f"Data: {dataset.data_line()}."
    if ATTRIBUTION not in prov:
        prov += f" {ATTRIBUTION}."
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>
@page {{ size: A4; margin: 12mm; }}
body {{ font-family: Arial, Helvetica, sans-serif; color: #212B32; margin: 20px; max-width: 1050px; font-size: 15px; }}
h1 {{ font-size: 26px; margin-bottom: 4px; }} h2 {{ font-size: 19px; margin: 18px 0 6px; }}
p.sub, .small {{ color: #3d4a54; font-size: 13px; }}
img.map {{ width: 100%; border: 1px solid #888; }}
table.t {{ border-collapse: collapse; margin: 6px 0 12px; }}
table.t th, table.t td {{ border: 1px solid #888; padding: 5px 9px; text-align: left; vertical-align: top; }}
table.t thead th {{ background: #E8EDEE; }}
p.paragraph {{ font-size: 17px; line-height: 1.5; border-left: 5px solid #212B32; padding-left: 12px; }}
p.caveat {{ border: 2px solid #212B32; padding: 8px; font-weight: bold; }}
.cols {{ display: flex; flex-wrap: wrap; gap: 24px; }}
</style></head><body>
<h1>{html.escape(title)}</h1>
<p class="sub">Compared with '{html.escape(impact.baseline.name)}'. Prepared {html.escape(date)} with the LLR community
bed optimiser.</p>
{caveats}
<h2>In plain words</h2>
<p class="paragraph">{html.escape(district_paragraph(district_row(impact, code))[0])}</p>
<img class="map" alt="Map: change in journey to a community hospital bed in {html.escape(name)} and around"
 src="data:image/png;base64,{image}">
<p class="small">Small areas are shaded, and hatched for black-and-white print ('/' longer, '\\' shorter, denser for
more), by the change in the journey to where their patients get a bed. Arrows show where a closed or shrunk
hospital's patients go, with admissions a year.</p>
<div class="cols"><div><h2>Impact in {html.escape(name)}</h2>{_html_table(district_table(impact, code))}</div>
<div><h2>By deprivation, aged 65+</h2>{_html_table(deprivation_table(impact, code))}
<p class="small">IMD 2019 quintile: national fifths of small areas, 1 = most deprived.</p></div></div>
{f"<h2>Hospitals with fewer beds</h2><ul>{sites}</ul>" if sites else ""}
<h2>Settings and options compared</h2><ul>{settings}</ul>
<h2>Where the figures come from</h2><p class="small">{html.escape(prov)}</p>
</body></html>
"""
    return page.encode("utf-8")


# ---------------------------------------------------------------------------------------
# Files
# ---------------------------------------------------------------------------------------

def pack_name(dataset: Dataset, code: str) -> str:
    name = str(dataset.districts.loc[code, "district_name"])
    return "".join(c if c.isalnum() else "_" for c in name).strip("_").lower()


def packs_zip(dataset: Dataset, impact: Impact) -> bytes:
    """Every district's pack (PDF and HTML) in one zip."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for code in dataset.districts.index:
            stem = pack_name(dataset, code)
            z.writestr(f"{stem}.pdf", district_pack_pdf(dataset, impact, code))
            z.writestr(f"{stem}.html", district_pack_html(dataset, impact, code))
    return buf.getvalue()


def impact_files(impact: Impact) -> dict[str, str]:
    """The tables and summary as file name → text."""
    return {"impact_by_lsoa.csv": impact.by_lsoa.to_csv(index=False),
            "impact_by_district.csv": impact.by_district.to_csv(index=False),
            "impact_by_imd_decile.csv": impact.by_imd_decile.to_csv(index=False),
            "impact_by_imd_quintile.csv": impact.by_imd_quintile.to_csv(index=False),
            "impact_sites.csv": impact.site_changes.to_csv(index=False),
            "summary.json": json.dumps(impact.summary(), indent=2)}


def write_impact(impact: Impact, dataset: Dataset, out, *, pack: bool = False) -> list[Path]:
    """Write the impact files (and, with ``pack``, every district's PDF and HTML and one zip)
    into ``out``; each file atomically."""
    from optimiser.dataset.store import atomic_write_bytes, atomic_write_text

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in impact_files(impact).items():
        atomic_write_text(out / name, text)
        written.append(out / name)
    if pack:
        folder = out / "packs"
        folder.mkdir(exist_ok=True)
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
            for code in dataset.districts.index:
                stem = pack_name(dataset, code)
                for suffix, data in ((".pdf", district_pack_pdf(dataset, impact, code)),
                                     (".html", district_pack_html(dataset, impact, code))):
                    atomic_write_bytes(folder / f"{stem}{suffix}", data)
                    z.writestr(f"{stem}{suffix}", data)
                    written.append(folder / f"{stem}{suffix}")
        atomic_write_bytes(folder / "district_packs.zip", buf.getvalue())
        written.append(folder / "district_packs.zip")
    return written
