"""Who may use the app, and the app's own page icon (drawn here: nothing is fetched).

By default the app listens on 127.0.0.1 only: just the person at the laptop can reach it,
and no sign-in is asked. To serve it to a network (a workshop's Wi-Fi) the operator sets a
password in the server's environment (``LLR_APP_PASSWORD``, or its SHA-256 as
``LLR_APP_PASSWORD_SHA256``) and starts it with ``python -m optimiser app --network --host
NAME``; every session then signs in first. If the app finds itself on a non-loopback address
with no password set, it shows nothing but a message saying so.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import threading
import time

import streamlit as st

PASSWORD_ENV = "LLR_APP_PASSWORD"
PASSWORD_HASH_ENV = "LLR_APP_PASSWORD_SHA256"
LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}
FAILED_SIGN_IN_DELAY_SECONDS = 1.0
SIGNED_IN = "signed_in"

_failures = threading.Lock()     # one failed attempt at a time, for the whole server
log = logging.getLogger("optimiser.app")


def _password_hash() -> str | None:
    digest = os.environ.get(PASSWORD_HASH_ENV, "").strip().lower()
    if digest:
        return digest
    password = os.environ.get(PASSWORD_ENV, "")
    return hashlib.sha256(password.encode()).hexdigest() if password else None


def served_to_network() -> bool:
    """True unless the server listens on a loopback address only."""
    address = str(st.get_option("server.address") or "").strip()
    return address not in LOOPBACK


def password_matches(attempt: str) -> bool:
    expected = _password_hash()
    if expected is None:
        return False
    return hmac.compare_digest(hashlib.sha256(attempt.encode()).hexdigest(), expected)


def require_sign_in() -> None:
    """Stop the page unless this session may use the app (see the module docstring)."""
    configured = _password_hash() is not None
    if not configured:
        if served_to_network():
            st.error("This app is being served to a network without a password, so it will not open. "
                     f"The person running it must set {PASSWORD_ENV} (see the README, 'Security') "
                     "and start it again.")
            st.stop()
        return
    if st.session_state.get(SIGNED_IN):
        with st.sidebar:
            if st.button("Sign out", key="sign_out"):
                st.session_state.clear()
                st.rerun()
        return
    st.title("LLR community bed optimiser")
    with st.form("sign_in"):
        attempt = st.text_input("Password (ask the person running the workshop)", type="password",
                                key="sign_in_password", max_chars=200)
        go = st.form_submit_button("Sign in", type="primary")
    if go:
        if password_matches(attempt or ""):
            st.session_state[SIGNED_IN] = True
            st.session_state.pop("sign_in_password", None)
            st.rerun()
        with _failures:                       # slows guessing to one attempt a second in all
            time.sleep(FAILED_SIGN_IN_DELAY_SECONDS)
        log.warning("failed sign-in attempt")
        st.error("That password is not right.")
    st.stop()


def page_icon():
    """The favicon, drawn locally (a Material or emoji icon makes the browser fetch it from a
    font CDN on every page)."""
    from PIL import Image, ImageDraw

    size = 64
    image = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    draw.rounded_rectangle((0, 0, size - 1, size - 1), radius=12, fill=(0, 94, 184, 255))   # NHS Blue
    bar, arm = 12, 40
    c = size // 2
    draw.rectangle((c - bar // 2, c - arm // 2, c + bar // 2, c + arm // 2), fill="white")
    draw.rectangle((c - arm // 2, c - bar // 2, c + arm // 2, c + bar // 2), fill="white")
    return image
