"""Sign-in through a reverse proxy (issue 16, item 6), tested on the app as it is served to a
network: `python -m optimiser app --network` with LLR_APP_TRUSTED_USER_HEADER and
LLR_APP_PROXY_SECRET, driven by Chromium. The browser context adds the headers a signing-in
proxy (oauth2-proxy, Caddy forward_auth) would add; Chromium sends them on the WebSocket's
handshake too, which is where Streamlit reads ``st.context.headers`` (checked below: the
signed-in name shown comes from that header)."""

from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path

import pytest

from tests.served_app import SHOTS, free_port, require_chromium, served

USER_HEADER = "X-Forwarded-Email"
SECRET_HEADER = "X-LLR-Proxy-Secret"
USER = "ada.lovelace@nhs.net"
REFUSAL = "opens only through the workshop's sign-in page"

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def proxied_app(tmp_path_factory):
    """The app served to the network (0.0.0.0) behind a proxy: (url, secret, options folder)."""
    require_chromium()
    port = free_port()
    secret = secrets.token_hex(24)
    options = tmp_path_factory.mktemp("options")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LLR_APP_", "OPTIONS_DATABASE_URL"))}
    env.update(LLR_OPTIONS_DIR=str(options), LLR_APP_TRUSTED_USER_HEADER=USER_HEADER, LLR_APP_PROXY_SECRET=secret)
    with served([sys.executable, "-m", "optimiser", "app", "--network", "--host", "127.0.0.1", "--port", str(port)],
                port, env=env) as url:
        yield url, secret, options


def _page(browser, headers: dict[str, str]):
    context = browser.new_context(viewport={"width": 1440, "height": 900}, extra_http_headers=headers)
    return context, context.new_page()


def test_the_app_listens_on_the_network(proxied_app):
    port = int(proxied_app[0].rsplit(":", 1)[1])
    listening = [line.split()[1] for line in Path("/proc/net/tcp").read_text().splitlines()[1:]
                 if line.split()[3] == "0A"]                                # 0A: LISTEN
    assert f"00000000:{port:04X}" in listening, "served to the network (0.0.0.0), not only 127.0.0.1"


@pytest.mark.parametrize("case", ["no headers", "wrong secret", "secret of another length", "no secret"])
def test_without_the_proxy_s_secret_only_a_refusal_shows(browser, proxied_app, case):
    url, secret, _ = proxied_app
    headers = {"no headers": {},
               "wrong secret": {USER_HEADER: USER, SECRET_HEADER: secret[:-1] + ("0" if secret[-1] != "0" else "1")},
               "secret of another length": {USER_HEADER: USER, SECRET_HEADER: secret + "x"},
               "no secret": {USER_HEADER: USER}}[case]
    context, page = _page(browser, headers)
    try:
        page.goto(url)
        page.get_by_text(REFUSAL).wait_for(timeout=120_000)
        page.wait_for_timeout(1500)
        body = page.locator("[data-testid='stMain']").inner_text()
        assert REFUSAL in body
        assert USER not in page.content()                   # the claimed name is not taken
        assert page.locator("[data-testid='stMetric']").count() == 0
        assert page.get_by_text("Annual cost").count() == 0
        assert page.locator("[data-testid='stSidebarNav']").count() == 0     # no pages to go to
        assert page.locator("[data-testid='stException']").count() == 0
        # another page's address is refused alike
        page.goto(f"{url}/compare")
        page.get_by_text(REFUSAL).wait_for(timeout=120_000)
        assert page.get_by_text("Options appraisal").count() == 0
        if case == "wrong secret":
            page.screenshot(path=str(SHOTS / "proxy_refused.png"))
    finally:
        context.close()


def test_the_right_secret_without_a_name_is_refused(browser, proxied_app):
    url, secret, _ = proxied_app
    context, page = _page(browser, {SECRET_HEADER: secret, USER_HEADER: "   "})
    try:
        page.goto(url)
        page.get_by_text("did not say who you are").wait_for(timeout=120_000)
        assert page.locator("[data-testid='stMetric']").count() == 0
    finally:
        context.close()


def test_signed_in_by_the_proxy_the_workshop_opens_and_saves_under_the_person_s_name(browser, proxied_app):
    url, secret, options = proxied_app
    context, page = _page(browser, {SECRET_HEADER: secret, USER_HEADER: USER})
    try:
        page.goto(url)
        page.get_by_text("Annual cost (£ a year)").first.wait_for(timeout=300_000)
        page.locator("[data-testid='stSidebar']").get_by_text(f"Signed in as {USER}").wait_for(timeout=60_000)
        assert page.get_by_text(REFUSAL).count() == 0
        assert page.locator("[data-testid='stException']").count() == 0
        page.get_by_text("Save this answer as an option for the steering group").click()
        page.get_by_text(f"Saved as {USER} (signed in).").wait_for(timeout=60_000)
        assert page.get_by_label("Your name (kept with the option)").count() == 0    # nothing to type or fake
        page.get_by_label("Option name").fill("Proxy plan")
        page.get_by_label("Option name").press("Tab")
        page.get_by_role("button", name="Save option").click()
        page.locator("[data-testid='stAlert']", has_text="'Proxy plan'").first.wait_for(timeout=120_000)
        page.screenshot(path=str(SHOTS / "proxy_signed_in.png"))
    finally:
        context.close()
    from optimiser.library import OptionStore, database_url

    saved = OptionStore(database_url(options)).record("Proxy plan")
    assert saved.author == USER and saved.version == 1
