"""The app under attack and under load (issue 11): uploads with crafted file names, the app's
server settings, sign-in when served to a network, the solve queue, and no internet."""

from __future__ import annotations

import tempfile
import threading
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = ROOT.parent / "shared" / "data" / "llr-reference"
TIMEOUT = 300


def page_app(module: str) -> AppTest:
    return AppTest.from_string(f"from optimiser.ui import {module}\n{module}.page()\n", default_timeout=TIMEOUT)


@pytest.fixture(autouse=True)
def option_library(tmp_path, monkeypatch):
    folder = tmp_path / "options"
    monkeypatch.setenv("LLR_OPTIONS_DIR", str(folder))
    return folder


@pytest.fixture
def private_tmp(tmp_path, monkeypatch):
    """The process's temporary folder, for this test alone (to see what is left behind)."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def _upload(at: AppTest, key: str, name: str, path: Path) -> None:
    at.file_uploader(key=key).set_value((name, path.read_bytes(), "application/octet-stream"))


# ---- item 1: uploads are stored under names the server chooses, in a private folder -------------

def test_crafted_upload_names_cannot_write_outside_a_private_folder(tmp_path, private_tmp):
    import_reference_with_crafted_names(tmp_path, private_tmp)


def import_reference_with_crafted_names(tmp_path, private_tmp) -> Path:
    canary = tmp_path / "canary"
    canary.mkdir()
    target = canary / "llr_default.gpkg"          # stands in for data/llr_default.gpkg
    target.write_bytes(b"the real dataset")
    absolute = str(target)
    traversal = "../" * 30 + str(canary / "x.csv").lstrip("/")
    at = page_app("data_page")
    at.session_state["imp_year"] = 2020       # the CSV does not state its year; the page asks for it
    at.run()
    _upload(at, "imp_pop", traversal, REFERENCE / "population" / "llr_population20_lsoa11_mid2020_syoa.csv")
    _upload(at, "imp_bnd", absolute.replace(".gpkg", ".geojson"), REFERENCE / "boundaries" / "llr_lsoa11.geojson")
    # two uploads with the same name must not overwrite each other
    _upload(at, "imp_sites", "data.csv", REFERENCE / "sites" / "llr_hospital_sites.csv")
    _upload(at, "imp_proj", "data.csv", REFERENCE / "population" / "llr_snpp2022_migcat23_bands.csv")
    at.button[0].click().run()      # the form's submit button
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    assert "Imported and checked" in " ".join(s.value for s in at.success)
    assert target.read_bytes() == b"the real dataset"
    assert sorted(p.name for p in canary.iterdir()) == ["llr_default.gpkg"]
    left = sorted(p.name for p in private_tmp.iterdir())
    assert [n for n in left if not n.startswith("llr-datasets-")] == [], left
    path = Path(at.session_state["dataset_path"])
    assert path.parent.name.startswith("llr-datasets-") and path.suffix == ".gpkg"
    from optimiser import api

    ds = api.load_dataset(path)
    assert len(ds.zones) == 611 and len(ds.sites) == 8
    # the provenance names the files as the person gave them (their last part), not the server's names
    sources = set(ds.provenance["source"])
    assert "x.csv" in sources and "data.csv" not in {ds.metadata["source_population"]}
    assert ds.metadata["source_sites"] == "data.csv" and ds.metadata["source_projections"] == "data.csv"
    return path


def test_a_failed_import_names_the_person_s_file_and_leaves_nothing_behind(private_tmp):
    at = page_app("data_page").run()
    _upload(at, "imp_pop", "C:\\Users\\me\\my population.csv", REFERENCE / "sites" / "llr_hospital_sites.csv")
    _upload(at, "imp_bnd", "zones.geojson", REFERENCE / "boundaries" / "llr_lsoa11.geojson")
    _upload(at, "imp_sites", "sites.csv", REFERENCE / "sites" / "llr_hospital_sites.csv")
    at.button[0].click().run()
    assert not at.exception
    errors = " ".join(e.value for e in at.error)
    assert "Import failed" in errors and "my population.csv" in errors and "upload-" not in errors
    assert list(private_tmp.iterdir()) == []
    assert "dataset_path" not in at.session_state


def test_workshop_works_after_importing_the_reference_files(tmp_path, private_tmp):
    """Item 5: a successful import of the real reference files must not break the Workshop
    page (it failed with StreamlitDefaultNotInOptionsError: 'st_lukes')."""
    path = import_reference_with_crafted_names(tmp_path, private_tmp)
    at = page_app("workshop")
    at.session_state["dataset_path"] = str(path)
    at.run()
    assert not at.exception, at.exception
    stroke = at.sidebar.multiselect(key="stroke_sites").value
    assert sorted(stroke) == ["evington_centre_leicester_general_site", "loughborough_hospital",
                              "st_lukes_hospital_market_harborough"]
    notes = [e for e in at.expander if e.label.startswith("The settings' hospitals, matched")]
    assert notes and "St Luke's Hospital, Market Harborough (st_lukes)" in " ".join(m.value for m in at.markdown)
    assert any(m.label.startswith("Community hospital beds") for m in at.metric)


# ---- item 4: solves queue, one per core, and the page shows the place in the queue ------------

def test_the_solve_queue_admits_at_most_its_slots_in_arrival_order():
    from optimiser.solve_queue import SolveQueue

    queue = SolveQueue(2)
    inside, most, order, places = [0], [0], [], {}
    lock = threading.Lock()
    release = threading.Event()

    def work(k: int) -> None:
        with queue.turn(on_wait=lambda place: places.setdefault(k, []).append(place), poll_seconds=0.01):
            with lock:
                inside[0] += 1
                most[0] = max(most[0], inside[0])
                order.append(k)
            release.wait(5) if k < 2 else time.sleep(0.01)
            with lock:
                inside[0] -= 1

    threads = []
    for k in range(6):
        threads.append(threading.Thread(target=work, args=(k,)))
        threads[-1].start()
        while k >= 2 and queue.waiting < k - 1:        # each waits before the next arrives
            time.sleep(0.001)
    assert queue.running == 2 and queue.waiting == 4
    release.set()
    for t in threads:
        t.join()
    assert most[0] == 2 and order[:2] == sorted(order[:2]) and order[2:] == [2, 3, 4, 5]
    assert places[2][0] == 1 and places[5][0] == 4, places      # told their place in the queue


def test_the_workshop_shows_its_place_in_the_queue_while_others_solve():
    from optimiser.solve_queue import solve_queue

    queue = solve_queue()
    holders, started = [], threading.Event()
    stop = threading.Event()

    def hold():
        with queue.turn():
            started.set()
            stop.wait(3)

    for _ in range(queue.slots):          # every solver busy for 3 s
        holders.append(threading.Thread(target=hold))
        holders[-1].start()
    started.wait(5)
    while queue.running < queue.slots:
        time.sleep(0.01)
    from optimiser.ui.state import base_scenario

    at = page_app("workshop")
    # settings of its own, so that no earlier test's answer is shared with it
    at.session_state["scenario_yaml"] = base_scenario().with_changes(name=f"queue test {time.time()}").to_yaml()
    at.run()
    stop.set()
    for t in holders:
        t.join()
    assert not at.exception
    waited = [c.value for c in at.caption if "waited" in c.value]
    assert waited and "for a free solver" in waited[0], [c.value for c in at.caption]
    assert any(m.label.startswith("Community hospital beds") for m in at.metric)


# ---- item 2: 127.0.0.1 by default, host names checked, sign-in on a network, no tracebacks -----

def _listening_addresses(port: int) -> set[str]:
    """Local addresses with a listening TCP socket on ``port`` (from /proc/net/tcp and tcp6)."""
    import ipaddress

    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.split(":")
            if int(hex_port, 16) == port and state == "0A":          # 0A: LISTEN
                raw = bytes.fromhex(address)
                words = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))   # little-endian words
                found.add(str(ipaddress.ip_address(words)))
    return found


def _websocket_status(port: int, host: str) -> bytes:
    import base64
    import os
    import socket

    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        key = base64.b64encode(os.urandom(16)).decode()
        s.sendall((f"GET /_stcore/stream HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                   f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\nOrigin: http://{host}\r\n"
                   "Sec-WebSocket-Protocol: streamlit\r\n\r\n").encode())
        return s.recv(4096).split(b"\r\n")[0]


@pytest.fixture(scope="module")
def running_app(tmp_path_factory):
    """The app as `make run` starts it (python -m optimiser app)."""
    import os
    import sys

    from tests.served_app import free_port, served

    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LLR_APP_PASSWORD")}
    env["LLR_OPTIONS_DIR"] = str(tmp_path_factory.mktemp("options"))
    elsewhere = tmp_path_factory.mktemp("elsewhere")     # started from another folder: the settings still hold
    with served([sys.executable, "-m", "optimiser", "app", "--port", str(port)], port, env=env, cwd=elsewhere):
        yield port


def test_make_run_starts_the_app_on_127_0_0_1_only(running_app):
    import subprocess

    assert _listening_addresses(running_app) == {"127.0.0.1"}
    dry = subprocess.run(["make", "-n", "run"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert "-m optimiser app --port" in dry.stdout and "0.0.0.0" not in dry.stdout


def test_a_websocket_with_a_foreign_host_name_is_refused(running_app):
    """DNS rebinding: a page at evil.example that resolves to 127.0.0.1 cannot drive the app."""
    assert _websocket_status(running_app, f"evil.example:{running_app}") == b"HTTP/1.1 403 Forbidden"
    assert _websocket_status(running_app, f"127.0.0.1:{running_app}") == b"HTTP/1.1 101 Switching Protocols"
    assert _websocket_status(running_app, f"localhost:{running_app}") == b"HTTP/1.1 101 Switching Protocols"


def test_serving_a_network_needs_a_password_and_the_host_names(monkeypatch, capsys):
    from optimiser.cli import main

    monkeypatch.delenv("LLR_APP_PASSWORD", raising=False)
    monkeypatch.delenv("LLR_APP_PASSWORD_SHA256", raising=False)
    assert main(["app", "--network", "--host", "10.1.2.3", "--print-command"]) == 2
    assert "needs a password" in capsys.readouterr().err
    assert main(["app", "--address", "0.0.0.0", "--print-command"]) == 2
    assert "add --network" in capsys.readouterr().err
    monkeypatch.setenv("LLR_APP_PASSWORD", "workshop-2026")
    assert main(["app", "--network", "--print-command"]) == 2
    assert "--host" in capsys.readouterr().err
    assert main(["app", "--network", "--host", "10.1.2.3", "--host", "beds.local", "--print-command"]) == 0
    command = capsys.readouterr().out.split()
    assert command[command.index("--server.address") + 1] == "0.0.0.0"
    hosts = [command[i + 1] for i, word in enumerate(command) if word == "--server.allowedHosts"]
    assert hosts == ["localhost", "127.0.0.1", "::1", "10.1.2.3", "beds.local"]
    assert "workshop-2026" not in " ".join(command), "the password never goes on a command line"


def test_the_server_settings_hide_errors_and_developer_tools_and_cap_uploads():
    import tomllib

    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["client"]["showErrorDetails"] == "none"
    assert config["client"]["toolbarMode"] == "viewer"
    assert config["server"]["address"] == "127.0.0.1"
    assert 10 <= config["server"]["maxUploadSize"] <= 100
    assert set(config["server"]["allowedHosts"]) == {"localhost", "127.0.0.1", "::1"}
    assert config["server"]["enableXsrfProtection"] and config["server"]["enableCORS"]


def test_an_error_on_a_page_shows_no_traceback_or_server_detail():
    at = AppTest.from_string("raise ValueError('secret detail: /srv/llr/data/llr_default.gpkg')").run()
    shown = at.exception[0]
    assert "secret detail" not in shown.message and "/srv/llr" not in shown.message
    assert list(shown.stack_trace) == []


@pytest.fixture
def password(monkeypatch):
    monkeypatch.setenv("LLR_APP_PASSWORD", "workshop-2026")
    monkeypatch.delenv("LLR_APP_PASSWORD_SHA256", raising=False)
    monkeypatch.setattr("optimiser.ui.access.FAILED_SIGN_IN_DELAY_SECONDS", 0.1)
    return "workshop-2026"


def test_with_a_password_every_session_signs_in_first(password):
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT).run()
    assert not at.exception
    assert [t.value for t in at.title] == ["LLR community bed optimiser"] and not at.metric
    at.text_input(key="sign_in_password").set_value("guess")
    at.button[0].click().run()
    assert [e.value for e in at.error] == ["That password is not right."] and not at.metric
    at.text_input(key="sign_in_password").set_value(password)
    at.button[0].click().run()
    assert not at.exception
    assert at.title[0].value.startswith("Workshop") and at.metric
    assert "sign_in_password" not in at.session_state


def test_served_to_a_network_without_a_password_the_app_opens_nothing(monkeypatch):
    import streamlit as st

    monkeypatch.delenv("LLR_APP_PASSWORD", raising=False)
    monkeypatch.delenv("LLR_APP_PASSWORD_SHA256", raising=False)
    before = st.get_option("server.address")
    st.config.set_option("server.address", "0.0.0.0")
    try:
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT).run()
    finally:
        st.config.set_option("server.address", before)
    assert not at.exception and not at.metric and not at.title
    assert "served to a network without a password" in at.error[0].value


def test_going_back_to_the_default_keeps_the_workshop_s_hospitals(tmp_path, private_tmp):
    import yaml

    path = import_reference_with_crafted_names(tmp_path, private_tmp)
    from optimiser import api
    from optimiser.scenario import default_scenario
    from optimiser.site_match import match_scenario_sites

    on_import, _ = match_scenario_sites(default_scenario().with_changes(sites={"melton": {"status": "close"}}),
                                        api.load_dataset(path), api.load_dataset())
    at = page_app("data_page")
    at.session_state["dataset_path"] = str(path)
    at.session_state["scenario_yaml"] = on_import.to_yaml()
    at.run()
    next(b for b in at.button if b.label == "Go back to the embedded LLR default").click().run()
    assert not at.exception
    assert "dataset_path" not in at.session_state
    back = yaml.safe_load(at.session_state["scenario_yaml"])
    assert back["sites"] == {"melton": {"status": "close", "fixed_cost_per_year": None, "cost_per_bed_per_year": None,
                                        "new_ward_cost": None, "max_beds": None}}
    assert back["pathways"]["stroke"]["sites"] == ["st_lukes", "loughborough", "evington"]


# ---- issue 16: sign-in through a reverse proxy (the browser test drives it: test_browser_proxy.py) --

@pytest.fixture
def no_sign_in_settings(monkeypatch):
    for name in ("LLR_APP_PASSWORD", "LLR_APP_PASSWORD_SHA256", "LLR_APP_TRUSTED_USER_HEADER",
                 "LLR_APP_PROXY_SECRET", "LLR_APP_PROXY_SECRET_HEADER"):
        monkeypatch.delenv(name, raising=False)


def test_the_proxy_sign_in_settings_must_be_whole(no_sign_in_settings, monkeypatch):
    from optimiser.errors import InputError
    from optimiser.ui.access import proxy_settings

    assert proxy_settings() is None
    monkeypatch.setenv("LLR_APP_TRUSTED_USER_HEADER", "X-Forwarded-User")
    with pytest.raises(InputError, match="LLR_APP_PROXY_SECRET is not set"):
        proxy_settings()
    monkeypatch.setenv("LLR_APP_PROXY_SECRET", "short")
    with pytest.raises(InputError, match="too short"):
        proxy_settings()
    monkeypatch.setenv("LLR_APP_PROXY_SECRET", "a" * 32)
    assert proxy_settings() == ("X-Forwarded-User", "X-LLR-Proxy-Secret", "a" * 32)
    monkeypatch.setenv("LLR_APP_PROXY_SECRET_HEADER", "x-forwarded-user")
    with pytest.raises(InputError, match="must differ"):
        proxy_settings()
    monkeypatch.delenv("LLR_APP_PROXY_SECRET_HEADER")
    monkeypatch.delenv("LLR_APP_TRUSTED_USER_HEADER")
    with pytest.raises(InputError, match="LLR_APP_TRUSTED_USER_HEADER is not set"):
        proxy_settings()


def test_serving_a_network_behind_a_signing_in_proxy_needs_no_password(no_sign_in_settings, monkeypatch, capsys):
    from optimiser.cli import main

    assert main(["app", "--network", "--host", "beds.example.org", "--print-command"]) == 2
    assert "needs a password or a sign-in" in capsys.readouterr().err
    monkeypatch.setenv("LLR_APP_TRUSTED_USER_HEADER", "X-Forwarded-Email")
    assert main(["app", "--network", "--host", "beds.example.org", "--print-command"]) == 2
    assert "LLR_APP_PROXY_SECRET is not set" in capsys.readouterr().err
    monkeypatch.setenv("LLR_APP_PROXY_SECRET", "0123456789abcdef0123")
    assert main(["app", "--network", "--host", "beds.example.org", "--print-command"]) == 0
    command = capsys.readouterr().out.split()
    assert "0123456789abcdef0123" not in " ".join(command), "the secret never goes on a command line"
    # a proxy on this computer passing its own host name: allowed on 127.0.0.1 without --network
    assert main(["app", "--host", "beds.example.org", "--print-command"]) == 0
    command = capsys.readouterr().out.split()
    assert command[command.index("--server.address") + 1] == "127.0.0.1"
    assert "beds.example.org" in [command[i + 1] for i, w in enumerate(command) if w == "--server.allowedHosts"]


def test_half_set_proxy_settings_open_nothing(no_sign_in_settings, monkeypatch):
    monkeypatch.setenv("LLR_APP_PROXY_SECRET", "0123456789abcdef0123")
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT).run()
    assert not at.exception and not at.metric and not at.title
    assert "sign-in settings are wrong" in at.error[0].value and "LLR_APP_TRUSTED_USER_HEADER" in at.error[0].value


def test_behind_the_proxy_a_session_without_its_headers_is_refused(no_sign_in_settings, monkeypatch):
    """AppTest sends no headers, as a browser reaching Streamlit directly sends no secret."""
    monkeypatch.setenv("LLR_APP_TRUSTED_USER_HEADER", "X-Forwarded-Email")
    monkeypatch.setenv("LLR_APP_PROXY_SECRET", "0123456789abcdef0123")
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT).run()
    assert not at.exception and not at.metric and not at.title
    assert [e.value for e in at.error] == ["This app opens only through the workshop's sign-in page. Ask the "
                                           "person running the workshop for the right address."]
