"""The comparison as files for the steering group: an Excel workbook with real numbers (units
in the headers) and an About sheet, and a printable PDF (settings, weights and scales,
scores, rule breaks, near-ties, provenance) in which no option's column is ever cut: the
options are set out a few at a time, each table the page's full width.

Pure functions of the answers (no Streamlit), so tests and the CLI can use them."""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import UTC, datetime

import pandas as pd

from optimiser.compare import METRICS, Criterion, compare_table, format_value, metric_label
from optimiser.provenance import provenance_rows
from optimiser.spreadsheets import excel_workbook, sheet_names

OPTIONS_PER_TABLE = 4          # on paper: a label column and four options fit A4 landscape
SHOWN_METRICS = ("annual_cost_gbp", "physical_beds", "virtual_beds", "open_sites", "smallest_open_site_beds",
                 "mean_travel_minutes_65_plus", "p95_travel_minutes_65_plus", "share_within_20_minutes_65_plus",
                 "share_within_30_minutes_65_plus", "share_within_45_minutes_65_plus",
                 "worst_district_mean_travel_minutes", "mean_occupancy", "patients_finding_no_free_bed_per_year",
                 "patients_redirected_per_year", "unmet_admissions_per_year", "new_ward_capital_gbp")


def measures(pairs) -> list[str]:
    have = set().union(*(set(s.metrics) for _, s in pairs)) if pairs else set()
    return [k for k in SHOWN_METRICS if k in have]


def numeric_table(pairs) -> pd.DataFrame:
    """Measures (rows, labelled with their unit) by options: numbers in the unit stated
    (percentages as 0-100)."""
    table = compare_table([(label, s.metrics) for label, s in pairs], measures(pairs))
    out = table.apply(pd.to_numeric, errors="coerce").astype(float)
    units = []
    for key in out.index:
        info = METRICS[key]
        if info.fmt == "pct":
            out.loc[key] = out.loc[key] * 100
        units.append(info.unit)
    out.insert(0, "Unit", units)
    out.index = [METRICS[k].label for k in out.index]
    out.index.name = "Measure"
    return out


def about_rows(pairs, scenario, settings_text: str, dataset_line: str) -> list[tuple[str, str]]:
    rows = [("Title", "Comparison of options for the LLR community hospital review"),
            ("Made (UTC)", datetime.now(UTC).strftime("%Y-%m-%d %H:%M")),
            ("Settings every option is measured with", f"{scenario.name}: {settings_text}"),
            ("Data", dataset_line),
            ("Scores", "each criterion scored 0-10 on the fixed scale stated on the Weights sheet (not stretched "
                       "between the options shown); options that break rules of the settings are ranked after "
                       "those that meet them"),
            ("Options", "; ".join(label for label, _ in pairs))]
    first = next((s for _, s in pairs if s.provenance), None)
    if first is not None:
        rows += [(label, value) for label, value in provenance_rows(first.provenance)
                 if label not in ("Option",)]
    return rows


def _weights_table(criteria: Sequence[Criterion]) -> pd.DataFrame:
    rows = []
    for c in criteria:
        info = METRICS.get(c.key)
        scale = 100 if info is not None and info.fmt == "pct" else 1
        rows.append({"Criterion": metric_label(c.key), "Unit": info.unit if info else "", "Weight": c.weight,
                     "Weight share (%)": 0.0, "Scores 0 at": c.score_0_at * scale,
                     "Scores 10 at": c.score_10_at * scale, "Better when": c.better})
    out = pd.DataFrame(rows)
    total = out["Weight"].sum() if len(out) else 0
    if total > 0:
        out["Weight share (%)"] = 100 * out["Weight"] / total
    return out


def _scores_table(scores: pd.DataFrame | None) -> pd.DataFrame | None:
    if scores is None:
        return None
    out = scores.rename(columns={"weighted_score": "Weighted score (0-10)", "rank": "Rank",
                                 "rules_broken": "Rules of the settings broken"})
    first = ["Rank", "Weighted score (0-10)", "Rules of the settings broken"]
    out = out[first + [c for c in out.columns if c not in first]]
    out.index.name = "Option"
    return out.sort_values("Rank")


def _settings_table(scenario) -> pd.DataFrame:
    from optimiser.scenario import setting_rows

    rows = [{"Setting": r["key"], "Value": r["value"], "Unit": r["unit"], "Meaning": r["meaning"]}
            for r in setting_rows(scenario)]
    return pd.DataFrame(rows, columns=["Setting", "Value", "Unit", "Meaning"])


def _near_ties_table(pairs) -> pd.DataFrame:
    rows = [{"Option": label, "Near-tie": t.description, "Costs more (£ a year)": float(t.difference_gbp_per_year),
             "Costs more (%)": 100 * float(t.difference_share)}
            for label, s in pairs for t in (s.near_ties or ())]
    return pd.DataFrame(rows, columns=["Option", "Near-tie", "Costs more (£ a year)", "Costs more (%)"])


def _breaks_table(pairs) -> pd.DataFrame:
    rows = [{"Option": label, "Rule of the settings it breaks": b} for label, s in pairs for b in s.breaks]
    return pd.DataFrame(rows, columns=["Option", "Rule of the settings it breaks"])


def _beds_table(sol) -> pd.DataFrame:
    s = sol.sites
    return pd.DataFrame({"Hospital": s["site_name"], "Beds": s["beds"].astype(int),
                         "Beds today": s["current_beds"].astype(int)})


def excel_bytes(pairs, scenario, criteria: Sequence[Criterion], scores: pd.DataFrame | None,
                settings_text: str, dataset_line: str) -> bytes:
    """About, Comparison (numbers, units in a column and headers), Appraisal, Weights, Settings,
    Near-ties, Rule breaks, and each option's beds per hospital."""
    about = pd.DataFrame(about_rows(pairs, scenario, settings_text, dataset_line), columns=["Item", "Value"])
    sheets: list[tuple[str, pd.DataFrame, bool]] = [("About", about, False),
                                                    ("Comparison", numeric_table(pairs), True)]
    table = _scores_table(scores)
    if table is not None:
        sheets.append(("Appraisal", table, True))
    sheets += [("Weights", _weights_table(criteria), False), ("Settings", _settings_table(scenario), False),
               ("Near-ties", _near_ties_table(pairs), False), ("Rule breaks", _breaks_table(pairs), False)]
    labels = [label for label, _ in pairs]
    reserved = [name for name, _, _ in sheets]
    for name, (label, sol) in zip(sheet_names(labels, "Beds ", reserved=reserved), pairs, strict=True):
        beds = _beds_table(sol)
        beds.insert(0, "Option", label)
        sheets.append((name, beds, False))
    data = excel_workbook([(n, _neutral_frame(t, i), i) for n, t, i in sheets])
    return _format_workbook(data)


def _neutral_frame(frame: pd.DataFrame, index: bool) -> pd.DataFrame:
    from optimiser.spreadsheets import neutralised

    return neutralised(frame, index=index)


def _format_workbook(data: bytes) -> bytes:
    """Column widths, wrapped headers, thousands separators (numbers stay numbers)."""
    from openpyxl import load_workbook
    from openpyxl.styles import Alignment, Font

    book = load_workbook(io.BytesIO(data))
    for sheet in book.worksheets:
        for cell in sheet[1]:
            cell.font = Font(bold=True)
            cell.alignment = Alignment(wrap_text=True, vertical="top")
        for col in sheet.columns:
            letter = col[0].column_letter
            longest = max((len(str(c.value)) for c in col if c.value is not None), default=8)
            sheet.column_dimensions[letter].width = min(60, max(12, longest + 2))
            for c in col[1:]:
                if isinstance(c.value, float):
                    c.number_format = "#,##0.0" if abs(c.value) < 1000 else "#,##0"
                elif isinstance(c.value, str) and len(c.value) > 60:
                    c.alignment = Alignment(wrap_text=True, vertical="top")
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


# ---- the printable PDF -------------------------------------------------------------------------------

def pdf_bytes(pairs, scenario, criteria: Sequence[Criterion], scores: pd.DataFrame | None,
              settings_text: str, dataset_line: str, *, compress: bool = True) -> bytes:
    """A4 landscape: title and date; settings; the comparison, four options per table (each
    table repeats the measure names, so any number of options prints without a cut column);
    the appraisal with its weights and scales; rule breaks; near-ties; provenance."""
    from xml.sax.saxutils import escape

    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.lib.units import mm
    from reportlab.platypus import LongTable, Paragraph, SimpleDocTemplate, Spacer, TableStyle

    styles = getSampleStyleSheet()
    body = styles["BodyText"].clone("body", fontSize=9, leading=11)
    head = styles["BodyText"].clone("head", fontSize=9, leading=11, fontName="Helvetica-Bold",
                                    textColor=colors.white)
    h1, h2 = styles["Title"].clone("h1", fontSize=16, alignment=0), styles["Heading2"]

    def p(text, style=body):
        return Paragraph(escape(str(text)), style)

    grid = TableStyle([("GRID", (0, 0), (-1, -1), 0.4, colors.HexColor("#AEB7BD")),
                       ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#005EB8")),
                       ("VALIGN", (0, 0), (-1, -1), "TOP"),
                       ("ROWBACKGROUNDS", (0, 1), (-1, -1), [colors.white, colors.HexColor("#F0F4F5")])])
    page_w = landscape(A4)[0] - 30 * mm

    def table(header, rows, widths):
        t = LongTable([[p(h, head) for h in header]] + [[p(c) for c in r] for r in rows],
                      colWidths=[w * page_w for w in widths], repeatRows=1)
        t.setStyle(grid)
        return t

    made = datetime.now(UTC).strftime("%d %B %Y %H:%M UTC")
    story = [p("Comparison of options: LLR community hospital review", h1),
             p(f"Made {made}. Every option is measured with the same settings: {scenario.name}."),
             p(f"Settings: {settings_text}."), p(f"Data: {dataset_line}."), Spacer(1, 4 * mm)]
    keys = measures(pairs)
    story.append(p("Side by side", h2))
    for start in range(0, len(pairs), OPTIONS_PER_TABLE):
        chunk = pairs[start:start + OPTIONS_PER_TABLE]
        rows = [[metric_label(k)] + [format_value(k, s.metrics.get(k)) for _, s in chunk] for k in keys]
        rows.append(["Rules of the settings broken"] + [str(len(s.breaks)) for _, s in chunk])
        rows.append(["Near-ties (configurations the model cannot tell apart)"]
                    + [str(len(s.near_ties or ())) for _, s in chunk])
        first = 0.28
        story += [table(["Measure"] + [label for label, _ in chunk], rows,
                        [first] + [(1 - first) / len(chunk)] * len(chunk)), Spacer(1, 4 * mm)]
    story.append(p("Options appraisal", h2))
    story.append(p("Each criterion scores 0-10 on a fixed scale stated below (linear between, held at 0 or 10 "
                   "beyond): a score does not depend on which other options are shown. The total is the "
                   "weighted average. Options that break rules of the settings are ranked after those that "
                   "meet them. The weights and scales are the group's choice."))
    wt = _weights_table(criteria)
    story.append(table(["Criterion", "Weight", "Share of the weight", "Scores 0 at", "Scores 10 at"],
                       [[r.Criterion, f"{r.Weight:g}", f"{r._3:.0f}%",
                         format_value(c.key, c.score_0_at), format_value(c.key, c.score_10_at)]
                        for r, c in zip(wt.itertuples(index=False), criteria, strict=True)],
                       [0.4, 0.12, 0.16, 0.16, 0.16]))
    story.append(Spacer(1, 3 * mm))
    sc_table = _scores_table(scores)
    if sc_table is not None:
        crit_cols = [c for c in sc_table.columns if c not in ("Rank", "Weighted score (0-10)",
                                                                "Rules of the settings broken")]
        rows = []
        for name, r in sc_table.iterrows():
            broken = int(r["Rules of the settings broken"])
            rows.append([str(int(r["Rank"])) + (" (breaks rules)" if broken else ""), name,
                         f"{r['Weighted score (0-10)']:.1f}", str(broken)] + [f"{r[c]:.1f}" for c in crit_cols])
        n = len(crit_cols)
        story.append(table(["Rank", "Option", "Weighted score (0-10)", "Rules broken"] + crit_cols, rows,
                           [0.09, 0.21, 0.09, 0.07] + [0.54 / max(n, 1)] * n))
    breaks = _breaks_table(pairs)
    if len(breaks):
        story += [p("Rules of the settings that options break", h2),
                  table(["Option", "Rule"], breaks.values.tolist(), [0.25, 0.75])]
    ties = _near_ties_table(pairs)
    story.append(p("Near-ties", h2))
    if len(ties):
        story.append(table(["Option", "A configuration the model cannot tell apart", "Costs more a year"],
                           [[r.Option, r._1, f"£{r._2:,.0f} ({r._3:.1f}%)"] for r in ties.itertuples(index=False)],
                           [0.2, 0.6, 0.2]))
    else:
        story.append(p("No option shown has a near-tie recorded (drafted options are measured, not searched)."))
    story.append(p("Where these figures come from", h2))
    story.append(table(["Item", "Value"], [[a, b] for a, b in about_rows(pairs, scenario, settings_text,
                                                                             dataset_line)], [0.25, 0.75]))
    buf = io.BytesIO()

    def footer(canvas, doc):
        canvas.saveState()
        canvas.setFont("Helvetica", 8)
        canvas.drawString(15 * mm, 8 * mm, f"LLR community bed optimiser - comparison made {made} - page {doc.page}")
        canvas.restoreState()

    doc = SimpleDocTemplate(buf, pagesize=landscape(A4), leftMargin=15 * mm, rightMargin=15 * mm,
                            topMargin=12 * mm, bottomMargin=14 * mm, title="Comparison of options",
                            author="LLR community bed optimiser", pageCompression=1 if compress else 0,
                            invariant=1)
    doc.build(story, onFirstPage=footer, onLaterPages=footer)
    return buf.getvalue()
