"""The running app in a real browser (Debian's Chromium, driven by Playwright): it solves the
default scenario, draws the map, shows the comparison table; screenshots are kept in
artifacts/screenshots/ for people to look at."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHOTS = ROOT / "artifacts" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]

pytestmark = pytest.mark.browser


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def app_url(tmp_path_factory):
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (.ci/run does: apt-get install chromium)")
    port = _free_port()
    env = dict(os.environ, LLR_OPTIONS_DIR=str(tmp_path_factory.mktemp("options")))
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"), "--server.port", str(port),
                             "--server.headless", "true", "--browser.gatherUsageStats", "false"],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read() == b"ok":
                    break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail("the app did not start within 60 s")
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=20)


@pytest.fixture(scope="module")
def page(app_url):
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        pg = browser.new_page(viewport={"width": 1500, "height": 1200})
        yield pg
        browser.close()


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


def test_comparison_table_is_on_the_page(page, app_url):
    page.goto(f"{app_url}/compare")
    page.get_by_text("Options appraisal").first.wait_for(timeout=240_000)
    page.locator("[data-testid='stDataFrame']").first.wait_for(timeout=60_000)
    assert page.locator("[data-testid='stException']").count() == 0
    body = page.locator("[data-testid='stMain']").inner_text()
    assert "Compare options" in body
    # the comparison table: one column per option, one row per measure (the grid is drawn on a
    # canvas; its accessible copy holds the text)
    table = page.locator("[data-testid='stDataFrame']").first
    table.locator("th[role=columnheader]", has_text="Best configuration").wait_for(state="attached", timeout=60_000)
    headers = table.locator("th[role=columnheader]").all_text_contents()
    assert headers == ["Measure", "Best configuration", "Status quo", "West Leicestershire proposal"]
    cells = table.locator("td[role=gridcell]").all_text_contents()
    assert "Annual cost (£ a year)" in cells and any(c.startswith("£") for c in cells)
    assert page.locator(".js-plotly-plot").count() >= 3, "charts: beds per site, cost, travel"
    assert _shoot(page, "compare").stat().st_size > 100_000


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
                               ("District sheet (HTML, opens offline)", b"<!DOCTYPE html>", 3_000_000)):
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
