"""How fast the Workshop feels in a browser (headless Chromium against the running app).

Prints, in seconds: server start to the first map; a changed control (a slider moved with the
keyboard, then Find) until its new figures and map show; the same settings again (a cached
answer) until they show; and a plain page redraw. Not a test: figures depend on the machine.

    .venv/bin/python benchmarks/browser_timings.py [--changes 5]
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


def _settled(page, before: str | None, timeout: float = 600) -> float:
    """Seconds until the cost figure differs from ``before`` (if given) and the app is idle
    with the map drawn."""
    start = time.perf_counter()
    page.wait_for_function("""(before) => {
        const running = document.querySelector('[data-testid="stStatusWidget"] [data-testid="stStatusWidgetRunningIcon"]')
                        || document.querySelector('[data-testid="stMain"] [data-testid="stStatus"] svg[class*="spin"]');
        const v = document.querySelector('[data-testid="stMetricValue"]');
        const map = document.querySelector('[data-testid="stMain"] .js-plotly-plot .main-svg');
        return !running && v && map && (before === null || v.textContent !== before);
    }""", arg=before, timeout=timeout * 1000, polling=50)
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--changes", type=int, default=5)
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    port = _free_port()
    env = dict(os.environ, LLR_OPTIONS_DIR=tempfile.mkdtemp(prefix="llr-bench-"))
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "optimiser", "app", "--port", str(port)], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        while True:
            try:
                if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read() == b"ok":
                    break
            except OSError:
                time.sleep(0.2)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
            page = browser.new_page(viewport={"width": 1440, "height": 900})
            page.goto(url)
            _settled(page, None)
            first_map = time.perf_counter() - started
            slider = page.locator("[data-testid='stSidebar'] [data-testid='stSlider'] input[type=range]").nth(1)
            find = page.get_by_role("button", name="Find the best configuration")
            changed, cached, redraw = [], [], []
            for _k in range(args.changes):
                before = page.locator("[data-testid='stMetricValue']").first.inner_text()
                slider.focus()
                slider.press("ArrowLeft")          # 95% -> 94% ... a new setting each time
                t0 = time.perf_counter()
                find.click()
                _settled(page, before)
                changed.append(time.perf_counter() - t0)
            # back to settings already solved: cached answers
            for _k in range(min(3, args.changes)):
                before = page.locator("[data-testid='stMetricValue']").first.inner_text()
                slider.focus()
                slider.press("ArrowRight")
                t0 = time.perf_counter()
                find.click()
                _settled(page, before)
                cached.append(time.perf_counter() - t0)
            for _ in range(3):                     # a rerun with nothing changed (the answer-mode radio)
                t0 = time.perf_counter()
                page.get_by_text("Best (within 0.5%; about a minute)").click()
                page.wait_for_timeout(100)
                page.get_by_text("Quick (seconds)").click()
                _settled(page, None)
                redraw.append(time.perf_counter() - t0)
            browser.close()
    finally:
        os.killpg(proc.pid, 15)
        proc.wait(timeout=30)
    print(f"server start to first map: {first_map:.1f} s")
    print(f"changed control to new figures and map (quick answer, {len(changed)} changes): median "
          f"{statistics.median(changed):.1f} s, min {min(changed):.1f}, max {max(changed):.1f}")
    print(f"cached answer (settings solved before, {len(cached)}): median {statistics.median(cached):.2f} s, "
          f"max {max(cached):.2f}")
    print(f"answer mode switched and back (two reruns, second cached): median {statistics.median(redraw):.2f} s")


if __name__ == "__main__":
    main()
