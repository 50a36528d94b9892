"""The running app in a real browser (Debian's Chromium, driven by Playwright): it solves the
default scenario, draws the map, shows the comparison table; screenshots are kept in
artifacts/screenshots/ for people to look at."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from tests.served_app import ROOT, SHOTS, free_port, require_chromium, served

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def app_url(tmp_path_factory):
    require_chromium()
    port = free_port()
    env = dict(os.environ, LLR_OPTIONS_DIR=str(tmp_path_factory.mktemp("options")))
    with served([sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"), "--server.port", str(port),
                 "--server.headless", "true", "--browser.gatherUsageStats", "false"], port, env=env) as url:
        yield url


REQUESTS: list[str] = []     # every URL the browser asked for, on every page


@pytest.fixture(scope="module")
def page(browser, app_url):
    pg = browser.new_page(viewport={"width": 1500, "height": 1200})
    pg.on("request", lambda request: REQUESTS.append(request.url))
    yield pg
    pg.close()


def _shoot(page, name: str) -> Path:
    """A screenshot of the whole page: Streamlit scrolls inside its main container, so the
    window is made as tall as the content first."""
    height = page.evaluate("""() => Math.max(...['[data-testid="stMain"]', '[data-testid="stAppViewContainer"]',
        '[data-testid="stMainBlockContainer"]'].map(s => document.querySelector(s)?.scrollHeight || 0))""")
    page.set_viewport_size({"width": 1500, "height": min(max(int(height) + 80, 1200), 12_000)})
    page.wait_for_timeout(2500)   # plotly redraws at the new size
    path = SHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    page.set_viewport_size({"width": 1500, "height": 1200})
    return path


def test_solves_the_default_and_draws_the_map(page, app_url):
    page.goto(app_url)
    page.get_by_text("Annual cost (£ a year)").first.wait_for(timeout=240_000)
    page.locator(".js-plotly-plot").first.wait_for(timeout=60_000)
    assert page.locator("[data-testid='stException']").count() == 0
    assert page.get_by_text("Community hospital beds").count() >= 1
    # the map is drawn: district labels with home-based beds, hospitals with beds
    page.locator(".js-plotly-plot").first.get_by_text("home-based beds").first.wait_for(timeout=30_000)
    assert page.locator(".js-plotly-plot").first.get_by_text("beds").count() >= 9
    assert _shoot(page, "workshop").stat().st_size > 100_000


def test_maps_page_for_councils(page, app_url):
    page.goto(f"{app_url}/maps")
    page.get_by_text("What an option means for one district").first.wait_for(timeout=240_000)
    page.locator(".js-plotly-plot").first.wait_for(timeout=60_000)
    assert page.locator("[data-testid='stException']").count() == 0
    page.get_by_text("means for").first.wait_for(timeout=120_000)
    page.locator(".js-plotly-plot").nth(2).wait_for(timeout=60_000)    # the district before and after
    assert page.get_by_text("Nearest hospital with beds").count() >= 1
    assert _shoot(page, "maps").stat().st_size > 100_000
    # the downloads are made when clicked (deferred): a real PNG and a self-contained HTML sheet
    for label, head, least in (("Map for slides (PNG)", b"\x89PNG", 100_000),
                               ("HTML (offline)", b"<!DOCTYPE html>", 3_000_000)):
        with page.expect_download(timeout=120_000) as info:
            page.get_by_role("button", name=label).click()
        path = Path(info.value.path())
        data = path.read_bytes()
        assert data.startswith(head) and len(data) > least, label
        (SHOTS / info.value.suggested_filename).write_bytes(data)


@pytest.mark.parametrize("path,heading", [("data", "Data"), ("assumptions", "Assumptions")])
def test_data_and_assumptions_pages(page, app_url, path, heading):
    page.goto(f"{app_url}/{path}")
    page.get_by_role("heading", name=heading).first.wait_for(timeout=120_000)
    page.wait_for_timeout(1500)
    assert page.locator("[data-testid='stException']").count() == 0
    assert _shoot(page, path).stat().st_size > 50_000


def test_the_app_fetches_nothing_from_the_internet(page, app_url):
    """Issue 11: the app runs offline (its page icon came from a font CDN on every page)."""
    page.goto(f"{app_url}/assumptions")
    page.get_by_role("heading", name="Assumptions").first.wait_for(timeout=120_000)
    page.wait_for_timeout(2000)
    icon = page.evaluate("() => [...document.querySelectorAll('link[rel~=icon]')].map(l => l.href)")
    assert icon and all(href.startswith(app_url) or href.startswith("data:") for href in icon), icon
    outside = sorted({url for url in REQUESTS if not url.startswith((app_url, "data:", "blob:", "about:"))})
    assert len(REQUESTS) > 20 and outside == [], outside


def test_impact_page_shows_the_patient_flow_figures_and_a_district_s_paragraph(page, app_url):
    """Issue 16: the Impact page in the browser shows the figures the package computes for the
    same option against the status quo, and a district's paragraph in words."""
    from optimiser import api
    from optimiser.scenario import default_scenario

    page.goto(f"{app_url}/impact")
    longer = page.locator("[data-testid='stMetric']", has_text="People 65+ with a longer journey")
    longer.wait_for(timeout=300_000)
    _wait_idle(page)
    assert page.locator("[data-testid='stException']").count() == 0
    name = next(n for n in api.shipped_options() if n != "Status quo")      # the page's first choice
    shown = page.locator("[data-testid='stSelectbox']").first.evaluate(
        "e => [...e.querySelectorAll('input')].map(i => i.value).join(' ') + ' ' + e.innerText")
    assert name in shown, shown
    impact = api.impact(default_scenario(), api.shipped_options()[name])
    overall = impact.overall[impact.overall["travel_times"] == impact.travel_labels[0]].iloc[0]
    assert longer.locator("[data-testid='stMetricValue']").inner_text() == f"{overall['people_longer_65_plus']:,}"
    shorter = page.locator("[data-testid='stMetric']", has_text="People 65+ with a shorter journey")
    assert shorter.locator("[data-testid='stMetricValue']").inner_text() == f"{overall['people_shorter_65_plus']:,}"
    page.locator("[data-testid='stSelectbox']", has_text="District").click()
    page.get_by_role("option", name="Harborough", exact=True).click()
    paragraph = page.get_by_text("In Harborough,").first
    paragraph.wait_for(timeout=120_000)
    _wait_idle(page)
    assert paragraph.inner_text().strip() == impact.paragraphs["E07000131"]
    assert "newly" not in paragraph.inner_text()
    assert _shoot(page, "impact").stat().st_size > 100_000


# ---- issue 16: the workshop walk at a desk and on a projector ---------------------------------------

AXE = ROOT / ".tools" / "node_modules" / "axe-core" / "axe.min.js"
VIEWPORTS = [(1440, 900), (1024, 768)]
COLON_NAME = "Workshop A: 40 min, Melton kept"


def _axe(page) -> list[dict]:
    """axe-core's WCAG 2 A/AA violations on the rendered page (the Makefile installs it from npm)."""
    if not AXE.exists():
        pytest.fail(f"{AXE} is missing: 'make test' installs axe-core from npm")
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("""async () => {
        const r = await axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa']},
                                           resultTypes: ['violations']});
        return r.violations.map(v => ({id: v.id, impact: v.impact, n: v.nodes.length,
                                       where: v.nodes.slice(0, 3).map(n => n.target.join(' ') + ' :: ' +
                                              (n.failureSummary || '').slice(0, 160))}));
    }""")
    return result


def _wait_idle(page, timeout=300_000) -> None:
    """Until the app has finished running (no 'running' status widget)."""
    page.wait_for_timeout(300)
    page.wait_for_function("""() => !document.querySelector('[data-testid="stStatusWidget"] [data-testid="stStatusWidgetRunningIcon"]')
                              && !document.querySelector('[data-testid="stSpinner"]')""", timeout=timeout)
    page.wait_for_timeout(500)


def _top(locator) -> float:
    box = locator.bounding_box()
    assert box is not None
    return box["y"]


@pytest.fixture(scope="module")
def walker(browser):
    return browser


@pytest.mark.parametrize("width,height", VIEWPORTS)
def test_workshop_save_compare_print_maps_district_pack(walker, app_url, width, height):
    size = f"{width}x{height}"
    page = walker.new_page(viewport={"width": width, "height": height}, accept_downloads=True)
    # a page link with settings: /workshop opens the Workshop (not "Page not found"), settings applied
    page.goto(f"{app_url}/workshop?travel=40&threshold=30&share=95&answer=quick")
    page.get_by_text("Annual cost (£ a year)").first.wait_for(timeout=300_000)
    page.locator("[data-testid='stMain'] .js-plotly-plot").first.wait_for(timeout=120_000)
    _wait_idle(page)
    assert page.get_by_text("Page not found").count() == 0
    assert page.locator("[data-testid='stException']").count() == 0
    slider = page.locator("[data-testid='stSidebar'] [data-testid='stSlider'] input[type=range]").first
    assert slider.get_attribute("value") == "40"            # the link's setting is on the control
    # above the fold: status, key figures and the map; the Find button in view
    main = page.locator("[data-testid='stMain']")
    status = main.locator("[data-testid='stAlert']").first
    assert _top(status) < height, "the answer's status is above the fold"
    assert _top(main.locator("[data-testid='stMetric']").last) < height, "every key figure is above the fold"
    assert _top(main.locator(".js-plotly-plot").first) < height - 150, "the map starts above the fold"
    find = page.get_by_role("button", name="Find the best configuration")
    assert 0 <= _top(find) < height
    # the figures are never cut ("£50,2…"); body text 16 px; NHS header, phase banner and footer
    cut = page.evaluate("""() => [...document.querySelectorAll('[data-testid="stMetricValue"] div, [data-testid="stMetricLabel"] p')]
                            .filter(e => e.scrollWidth > e.clientWidth + 1).map(e => e.textContent)""")
    assert cut == [], cut
    size_px = page.evaluate("""() => getComputedStyle(document.querySelector('[data-testid="stMain"] [data-testid="stCaptionContainer"] p, [data-testid="stMain"] p')).fontSize""")
    assert size_px == "16px"
    assert page.locator(".llr-header").get_by_text("LLR community bed optimiser").count() == 1
    assert page.locator(".llr-phase").get_by_text("Beta").count() == 1
    footer = page.locator(".llr-footer")
    assert "Contact:" in footer.inner_text() and "Open Government Licence" in footer.inner_text()
    # the Deploy button and the developer menu are hidden
    assert page.get_by_role("button", name="Deploy").count() == 0
    page.screenshot(path=str(SHOTS / f"workshop_{size}.png"))
    # the map's labels cover neither each other nor a hospital (issue 16: Melton, Rutland,
    # Loughborough and Coalville overlapped on a projector)
    count, clashes = _map_label_clashes(page, main.locator(".js-plotly-plot").first)
    assert count == 9 + 8 and clashes == [], clashes
    violations = _axe(page)
    assert [v for v in violations if v["id"] == "color-contrast"] == [], violations
    assert violations == [], violations
    # reload keeps the settings
    page.reload()
    page.get_by_text("Annual cost (£ a year)").first.wait_for(timeout=300_000)
    _wait_idle(page)
    assert "travel=40" in page.url
    assert page.locator("[data-testid='stSidebar'] [data-testid='stSlider'] input[type=range]").first.get_attribute(
        "value") == "40"

    # save three options, one with ':' in its name (a second pass makes new versions and says so)
    for name in (COLON_NAME, "Plan B", "Plan C"):
        exp = page.get_by_text("Save this answer as an option for the steering group")
        if page.get_by_label("Option name").count() == 0 or not page.get_by_label("Option name").is_visible():
            exp.click()
        page.get_by_label("Option name").fill(name)
        page.get_by_label("Your name (kept with the option)").fill("Test walker")
        page.get_by_label("Your name (kept with the option)").press("Tab")
        page.get_by_role("button", name="Save option").click()
        page.locator("[data-testid='stAlert']", has_text=f"'{name}'").first.wait_for(timeout=120_000)
        msg = page.locator("[data-testid='stAlert']", has_text=f"'{name}'").first.inner_text()
        # the first walk saves version 1; the second, over the same names, makes version 2 and says so
        assert "(version 1)" in msg or "already in the library: saved as version 2" in msg, msg
    page.screenshot(path=str(SHOTS / f"workshop_saved_{size}.png"), full_page=False)

    # Compare: six options side by side, no column cut, PDF and Excel
    page.goto(f"{app_url}/compare")
    page.get_by_text("Options appraisal").first.wait_for(timeout=300_000)
    _wait_idle(page)
    box = page.locator("[data-testid='stMultiSelect'] input").first
    for name in (COLON_NAME, "Plan B", "Plan C"):
        box.click()
        box.fill(name)
        box.press("Enter")
        _wait_idle(page)
    page.keyboard.press("Escape")
    tables = page.locator(".st-key-side_by_side table")
    tables.nth(1).wait_for(timeout=300_000)
    _wait_idle(page)
    assert tables.count() == 2                                   # six options: four, then two
    headers = " ".join(tables.nth(i).locator("thead").inner_text() for i in range(2))
    for name in (COLON_NAME, "Plan B", "Plan C", "Status quo", "West Leicestershire proposal", "Workshop answer"):
        assert name in headers, name
    overflow = page.evaluate("""() => [...document.querySelectorAll('.st-key-side_by_side table, .st-key-side_by_side_scores table')]
        .map(t => t.getBoundingClientRect().right - t.closest('[data-testid="stMainBlockContainer"]').getBoundingClientRect().right)""")
    assert max(overflow) <= 1, overflow                          # no table runs past the page
    assert page.get_by_text("breaks 16 rules").count() >= 1     # the status quo's rule breaks, shown as such
    page.screenshot(path=str(SHOTS / f"compare_{size}.png"))
    _shoot_full(page, f"compare_full_{size}", width)
    for label, head, name in (("Comparison for printing (PDF)", b"%PDF", f"comparison_{size}.pdf"),
                              ("Comparison workbook (Excel)", b"PK", f"comparison_{size}.xlsx")):
        with page.expect_download(timeout=300_000) as info:
            page.get_by_role("button", name=label).click()
        data = Path(info.value.path()).read_bytes()
        assert data.startswith(head), label
        (SHOTS / name).write_bytes(data)
    import io

    import pandas as pd

    sheets = pd.read_excel(io.BytesIO((SHOTS / f"comparison_{size}.xlsx").read_bytes()), sheet_name=None)
    comparison = sheets["Comparison"].set_index("Measure")
    assert COLON_NAME in comparison.columns and isinstance(comparison.loc["Annual cost", COLON_NAME], float)
    assert {"About", "Weights", "Settings"} <= set(sheets)

    # Maps and the district pack
    page.goto(f"{app_url}/maps")
    page.get_by_text("What an option means for one district").first.wait_for(timeout=300_000)
    page.locator("[data-testid='stMain'] .js-plotly-plot").nth(2).wait_for(timeout=300_000)
    _wait_idle(page)
    assert page.locator("[data-testid='stException']").count() == 0
    page.screenshot(path=str(SHOTS / f"maps_{size}.png"))
    for k in range(3):                       # the map, then the district before and after
        count, clashes = _map_label_clashes(page, page.locator("[data-testid='stMain'] .js-plotly-plot").nth(k))
        assert count >= (17 if k == 0 else 2) and clashes == [], (k, clashes)
    labels = [b.inner_text().strip() for b in page.locator("[data-testid='stDownloadButton'] button").all()]
    assert len(labels) == len(set(labels)), labels              # no two buttons read the same
    with page.expect_download(timeout=600_000) as info:
        page.get_by_role("button", name="District pack (PDF)").click()
    pack = Path(info.value.path()).read_bytes()
    assert pack.startswith(b"%PDF") and pack.count(b"/Type /Page\n") + pack.count(b"/Type /Page ") >= 9
    (SHOTS / f"district_pack_{size}.pdf").write_bytes(pack)
    _shoot_full(page, f"maps_full_{size}", width)
    page.close()


def _map_label_clashes(page, plot) -> tuple[int, list]:
    """The map's labels as Chromium draws them: how many, and every pair of label boxes that
    overlap and every label that covers a hospital marker (by more than 2 square pixels, for
    anti-aliasing), each with the overlap in square pixels."""
    return page.evaluate("""(plot) => {
        const labels = [...plot.querySelectorAll('g.annotation')].map(g => {
            const r = (g.querySelector('rect.bg') || g).getBoundingClientRect();
            return {t: g.textContent, x0: r.left, y0: r.top, x1: r.right, y1: r.bottom}; })
            .filter(b => !b.t.startsWith('Data:'));
        const markers = [...plot.querySelectorAll('.scatterlayer .trace .points path')].map(e => {
            const r = e.getBoundingClientRect(); return {x0: r.left, y0: r.top, x1: r.right, y1: r.bottom}; })
            .filter(b => b.x1 - b.x0 > 9);       // hospitals (the areas' hover points are smaller and invisible)
        const ov = (a, b) => Math.max(0, Math.min(a.x1, b.x1) - Math.max(a.x0, b.x0))
                           * Math.max(0, Math.min(a.y1, b.y1) - Math.max(a.y0, b.y0));
        const out = [];
        labels.forEach((a, i) => {
            labels.slice(i + 1).forEach(b => { if (ov(a, b) > 2) out.push([a.t, b.t, ov(a, b)]); });
            markers.forEach(m => { if (ov(a, m) > 2) out.push([a.t, 'a hospital marker', ov(a, m)]); });
        });
        return [labels.length, out];
    }""", plot.element_handle())


def _shoot_full(page, name: str, width: int) -> None:
    height = page.evaluate("""() => Math.max(...['[data-testid="stMain"]', '[data-testid="stAppViewContainer"]',
        '[data-testid="stMainBlockContainer"]'].map(s => document.querySelector(s)?.scrollHeight || 0))""")
    old = page.viewport_size
    page.set_viewport_size({"width": width, "height": min(max(int(height) + 80, old["height"]), 12_000)})
    page.wait_for_timeout(2000)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)
    page.set_viewport_size(old)
def test_how_sure_are_we_page(page, app_url):
    """The uncertainty page in the browser: 20 futures of the status quo on the app's Dask
    cluster, shown in plain words with interval charts and the waterfall."""
    page.goto(f"{app_url}/uncertainty")
    page.get_by_role("heading", name="How sure are we?").first.wait_for(timeout=120_000)
    run = page.get_by_role("button", name="Measure it in these futures")
    run.wait_for(timeout=300_000)          # after the current answer is worked out
    box = page.get_by_label("Futures", exact=True)
    box.fill("20")
    box.press("Enter")
    page.wait_for_timeout(3000)
    run.wait_for(timeout=300_000)
    run.click(timeout=120_000)
    page.get_by_text("In 8 out of 10 futures").first.wait_for(timeout=600_000)
    page.get_by_text("From today's beds to the recommendation").first.wait_for(timeout=300_000)
    page.locator(".js-plotly-plot").nth(2).wait_for(timeout=120_000)
    assert page.locator("[data-testid='stException']").count() == 0
    assert page.get_by_text("Every hospital keeps the chance").count() >= 1
    assert _shoot(page, "how_sure_are_we").stat().st_size > 100_000
