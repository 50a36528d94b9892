"""Who may use the app, and the app's own page icon (drawn here: nothing is fetched).

By default the app listens on 127.0.0.1 only: just the person at the laptop can reach it,
and no sign-in is asked. Served to a network (``python -m optimiser app --network --host
NAME``) every session must be signed in, in one of three ways (README, "Security"):

* **behind a reverse proxy that signs people in** (oauth2-proxy, Caddy ``forward_auth``,
  nginx ``auth_request``): the proxy puts the signed-in person's name in a header
  (``LLR_APP_TRUSTED_USER_HEADER``, e.g. ``X-Forwarded-Email``) and a shared secret in
  another (``X-LLR-Proxy-Secret``, whose value is ``LLR_APP_PROXY_SECRET``). The app trusts
  the name only when the secret matches (compared in constant time), so a browser that
  reaches Streamlit directly cannot claim to be someone. The name becomes the author of the
  options that person saves.
* **Streamlit's own OIDC sign-in** (``st.login``) when ``.streamlit/secrets.toml`` has an
  ``[auth]`` section (needs Authlib and an identity provider; not tested here).
* **a password** the operator sets (``LLR_APP_PASSWORD``, or its SHA-256 as
  ``LLR_APP_PASSWORD_SHA256``).

If the app finds itself on a non-loopback address with none of these, it shows nothing but a
message saying so.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import threading
import time


class _Streamlit:
    """``streamlit``, imported when first used: ``python -m optimiser app`` reads this
    module's settings to build the server's command, and importing Streamlit there took
    about a second of every start."""

    def __getattr__(self, name: str):
        import streamlit

        return getattr(streamlit, name)


st = _Streamlit()

PASSWORD_ENV = "LLR_APP_PASSWORD"
PASSWORD_HASH_ENV = "LLR_APP_PASSWORD_SHA256"
USER_HEADER_ENV = "LLR_APP_TRUSTED_USER_HEADER"
PROXY_SECRET_ENV = "LLR_APP_PROXY_SECRET"
PROXY_SECRET_HEADER_ENV = "LLR_APP_PROXY_SECRET_HEADER"
DEFAULT_PROXY_SECRET_HEADER = "X-LLR-Proxy-Secret"
MIN_PROXY_SECRET_LENGTH = 16
LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}
FAILED_SIGN_IN_DELAY_SECONDS = 1.0
SIGNED_IN = "signed_in"
SIGNED_IN_USER = "signed_in_user"

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


def proxy_settings() -> tuple[str, str, str] | None:
    """(user header, secret header, secret) when the app is configured to sit behind a signing-in
    reverse proxy, else None. Half a configuration, or a secret shorter than 16 characters, is
    refused (an :class:`~optimiser.errors.InputError` naming the setting)."""
    from optimiser.errors import InputError

    user_header = os.environ.get(USER_HEADER_ENV, "").strip()
    secret = os.environ.get(PROXY_SECRET_ENV, "")
    secret_header = os.environ.get(PROXY_SECRET_HEADER_ENV, "").strip() or DEFAULT_PROXY_SECRET_HEADER
    if not user_header and not secret:
        return None
    if not user_header or not secret:
        missing = USER_HEADER_ENV if not user_header else PROXY_SECRET_ENV
        raise InputError(f"the reverse-proxy sign-in needs both {USER_HEADER_ENV} and {PROXY_SECRET_ENV}: "
                         f"{missing} is not set")
    if len(secret) < MIN_PROXY_SECRET_LENGTH:
        raise InputError(f"{PROXY_SECRET_ENV} is too short to be a secret: use at least "
                         f"{MIN_PROXY_SECRET_LENGTH} random characters (e.g. from `openssl rand -hex 32`)")
    if user_header.lower() == secret_header.lower():
        raise InputError(f"{USER_HEADER_ENV} and the secret's header are both {secret_header!r}: they must differ")
    return user_header, secret_header, secret


def oidc_configured() -> bool:
    """True when ``.streamlit/secrets.toml`` has an ``[auth]`` section (Streamlit's ``st.login``)."""
    try:
        return bool(st.secrets.load_if_toml_exists()) and "auth" in st.secrets
    except (FileNotFoundError, KeyError):
        return False


def signed_in_user() -> str | None:
    """The signed-in person's name (from the reverse proxy or the identity provider), if any:
    the options they save carry it as their author."""
    user = st.session_state.get(SIGNED_IN_USER)
    return str(user) if user else None


def author_field(label: str, key: str) -> str:
    """A "your name" box, or the signed-in person's name when a sign-in gives one."""
    user = signed_in_user()
    if user:
        st.text(f"Saved as {user} (signed in).")      # plain text: a name is never read as markdown
        return user
    return st.text_input(label, key=key, max_chars=100)


def _refuse(message: str) -> None:
    st.error(message)
    st.stop()


def _proxy_sign_in(settings: tuple[str, str, str]) -> None:
    user_header, secret_header, secret = settings
    headers = st.context.headers
    given = headers.get(secret_header) or ""
    # constant time: how much of the secret a guess got right does not show in the reply's timing
    if not hmac.compare_digest(given.encode("utf-8", "replace"), secret.encode()):
        log.warning("refused a session without the reverse proxy's secret (header %s)", secret_header)
        _refuse("This app opens only through the workshop's sign-in page. Ask the person running the "
                "workshop for the right address.")
    user = " ".join((headers.get(user_header) or "").split())[:100]
    if not user:
        log.warning("the reverse proxy sent no %s header", user_header)
        _refuse("The sign-in did not say who you are, so the app will not open. Ask the person running "
                "the workshop.")
    st.session_state[SIGNED_IN_USER] = user
    st.sidebar.text(f"Signed in as {user}")


def _oidc_sign_in() -> None:
    if not st.user.is_logged_in:
        st.title("LLR community bed optimiser")
        st.button("Sign in", type="primary", on_click=st.login)
        st.stop()
    user = st.user.get("name") or st.user.get("email") or ""
    st.session_state[SIGNED_IN_USER] = str(user)[:100]
    with st.sidebar:
        st.text(f"Signed in as {user}")
        st.button("Sign out", key="sign_out", on_click=st.logout)


def require_sign_in() -> None:
    """Stop the page unless this session may use the app (see the module docstring)."""
    from optimiser.errors import InputError

    try:
        proxy = proxy_settings()
    except InputError as exc:
        log.error("sign-in settings: %s", exc)
        _refuse(f"The app's sign-in settings are wrong, so it will not open: {exc}. The person running it "
                "must fix them (see the README, 'Security') and start it again.")
        return
    if proxy is not None:
        _proxy_sign_in(proxy)
        return
    if oidc_configured():
        _oidc_sign_in()
        return
    configured = _password_hash() is not None
    if not configured:
        if served_to_network():
            _refuse("This app is being served to a network without a password or a sign-in, so it will not "
                    f"open. The person running it must set {PASSWORD_ENV}, or put a signing-in reverse proxy "
                    f"in front and set {USER_HEADER_ENV} and {PROXY_SECRET_ENV} (see the README, 'Security'), "
                    "and start it again.")
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
