"""How fast the Workshop feels in a browser (headless Chromium against the running app).

Prints, in seconds: server start (``python -m optimiser app``, what ``make run`` runs) to the
first map, over ``--starts`` server starts (the browser is open before each start, as a
presenter's is), with the time the server says its default answer was ready; a changed
control (a slider moved with the keyboard, then Find) until its new figures and map show; the
same settings again (a cached answer) until they show; and a reload of the page (a new
session, the answer cached). Not a test: figures depend on the machine (its load is printed).

    .venv/bin/python benchmarks/browser_timings.py [--changes 5] [--starts 3]
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _settled(page, shows: str | None, timeout: float = 600) -> float:
    """Seconds until the app is idle with figures and the map drawn and, if given, the main
    area shows the text ``shows`` (the "What changed" line of the new settings: a new answer
    can have the same figures as the last one, so the figures cannot tell it has arrived)."""
    start = time.perf_counter()
    page.wait_for_function("""(shows) => {
        const running = document.querySelector('[data-testid="stStatusWidget"] [data-testid="stStatusWidgetRunningIcon"]')
                        || document.querySelector('[data-testid="stMain"] [data-testid="stSpinner"]')
                        || document.querySelector('[data-testid="stMain"] [data-stale="true"]');
        const v = document.querySelector('[data-testid="stMetricValue"]');
        const map = document.querySelector('[data-testid="stMain"] .js-plotly-plot .main-svg .scatterlayer');
        const main = document.querySelector('[data-testid="stMain"]');
        return !running && v && map && (shows === null || main.innerText.includes(shows));
    }""", arg=shows, timeout=timeout * 1000, polling=50)
    return time.perf_counter() - start


def _share(page) -> int:
    slider = page.locator("[data-testid='stSidebar'] [data-testid='stSlider'] input[type=range]").nth(1)
    return int(float(slider.get_attribute("value")))


def _start(port: int, env: dict):
    """The app as ``make run`` starts it, its output (the server's ready line) in a file."""
    log = tempfile.NamedTemporaryFile("w+", prefix="llr-bench-server-", suffix=".log", delete=False)
    proc = subprocess.Popen([sys.executable, "-m", "optimiser", "app", "--port", str(port)], cwd=ROOT, env=env,
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    return proc, log


def _stop(proc) -> None:
    os.killpg(proc.pid, 15)
    proc.wait(timeout=30)


def _ready_seconds(log) -> float | None:
    """When the server said the default answer was ready (seconds after it started)."""
    from optimiser.ui.serve import READY_LINE

    text = Path(log.name).read_text(errors="replace")
    for line in text.splitlines():
        if line.startswith(READY_LINE):
            return float(line.split("(")[1].split(" s")[0])
    return None


def _first_map(browser, env: dict):
    """(seconds from server start to the first map, the server's ready time, page, process)."""
    port = _free_port()
    page = browser.new_page(viewport={"width": 1440, "height": 900})
    started = time.perf_counter()
    proc, log = _start(port, env)
    url = f"http://127.0.0.1:{port}"
    while True:
        try:
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read() == b"ok":
                break
        except OSError:
            time.sleep(0.05)
    page.goto(url)
    _settled(page, None)
    return time.perf_counter() - started, log, page, proc


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--changes", type=int, default=5)
    ap.add_argument("--starts", type=int, default=3, help="server starts timed to the first map")
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    env = dict(os.environ, LLR_OPTIONS_DIR=tempfile.mkdtemp(prefix="llr-bench-"))
    first, ready = [], []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        for k in range(args.starts):
            seconds, log, page, proc = _first_map(browser, env)
            first.append(seconds)
            ready.append(_ready_seconds(log))
            if k < args.starts - 1:
                page.close()
                _stop(proc)
        try:
            slider = page.locator("[data-testid='stSidebar'] [data-testid='stSlider'] input[type=range]").nth(1)
            find = page.get_by_role("button", name="Find the best configuration")
            changed, cached, redraw = [], [], []
            for _k in range(args.changes):
                old = _share(page)
                slider.focus()
                slider.press("ArrowLeft")          # 95% -> 94% ... a new setting each time
                page.wait_for_timeout(300)         # the slider's own rerun
                _settled(page, None)
                t0 = time.perf_counter()
                find.click()
                _settled(page, f"{old}% → {old - 1}%")
                changed.append(time.perf_counter() - t0)
            # back to settings already solved: cached answers
            for _k in range(min(3, args.changes)):
                old = _share(page)
                slider.focus()
                slider.press("ArrowRight")
                page.wait_for_timeout(300)
                _settled(page, None)
                t0 = time.perf_counter()
                find.click()
                _settled(page, f"{old}% → {old + 1}%")
                cached.append(time.perf_counter() - t0)
            for _ in range(3):                     # the same link opened again: a new session, a cached answer
                t0 = time.perf_counter()
                page.reload()
                page.wait_for_timeout(200)
                _settled(page, None)
                redraw.append(time.perf_counter() - t0)
            browser.close()
        finally:
            _stop(proc)
    said = [r for r in ready if r is not None]
    print(f"server start to first map ({len(first)} starts): median {statistics.median(first):.1f} s, "
          f"min {min(first):.1f}, max {max(first):.1f}"
          + (f" (the server had the default answer ready at a median {statistics.median(said):.1f} s)"
             if said else " (the server printed no ready line)"))
    print(f"changed control to new figures and map (quick answer, {len(changed)} changes): median "
          f"{statistics.median(changed):.1f} s, min {min(changed):.1f}, max {max(changed):.1f}")
    print(f"cached answer (settings solved before, {len(cached)}): median {statistics.median(cached):.2f} s, "
          f"max {max(cached):.2f}")
    print(f"page reloaded (a new session, the answer cached on the server, {len(redraw)}): median "
          f"{statistics.median(redraw):.2f} s, max {max(redraw):.2f}")
    os.system("uptime")


if __name__ == "__main__":
    main()
