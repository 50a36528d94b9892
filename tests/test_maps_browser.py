"""The interactive map in a real browser (Debian's Chromium): pointing at a small area shows
its name, its hospital and the travel time (the hover points are an invisible line, not markers)."""

from __future__ import annotations

import pytest

from optimiser import api, maps
from optimiser.scenario import default_scenario

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def status_quo_map(llr_dataset):
    sol = api.evaluate(default_scenario(), api.shipped_options()["Status quo"], llr_dataset)
    return maps.plotly_map(maps.map_layers(llr_dataset, sol), height=640)


def test_pointing_at_a_small_area_shows_its_name_hospital_and_minutes(browser, status_quo_map, tmp_path):
    fig = status_quo_map
    areas = next(t for t in fig.data if t.name == "areas")
    assert areas.mode == "lines" and areas.line.width == 0        # one invisible path, no markers
    path = tmp_path / "map.html"
    path.write_bytes(maps.html_bytes(fig))
    page = browser.new_page(viewport={"width": 1440, "height": 900})
    try:
        page.goto(path.as_uri())
        page.wait_for_selector(".js-plotly-plot .scatterlayer")
        # no marker drawn for the 611 hover points
        assert page.locator(".scatterlayer .trace .points path").count() <= len(fig.data)
        for i in (0, 100, 400):     # a few areas, city and county
            x, y = page.evaluate("""(i) => {
                const gd = document.querySelector('.js-plotly-plot');
                const xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis;
                const t = gd._fullData.find(d => d.name === 'areas');
                const box = gd.querySelector('.nsewdrag').getBoundingClientRect();
                return [box.left + xa.l2p(t.x[i]), box.top + ya.l2p(t.y[i])];
            }""", i)
            page.mouse.move(x, y)
            page.wait_for_selector(".hovertext", timeout=5000)
            shown = page.locator(".hovertext").first.text_content()
            name = areas.text[i].split("<b>")[1].split("</b>")[0]
            assert name in shown and "minutes" in shown, (name, shown)
            page.mouse.move(1, 1)
            page.wait_for_timeout(100)
    finally:
        page.close()
