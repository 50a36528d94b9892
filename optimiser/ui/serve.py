"""The app's server: Streamlit, started in this process after the default answer has begun.

``python -m optimiser app`` runs ``python -m optimiser.ui.serve run app.py ...`` (the
arguments of ``streamlit run``). While the server starts and the first browser loads the
page, a thread finds the Workshop's default answer and makes its map and tables, into the
same shared answers every session reads (:mod:`optimiser.ui.state`): the first person to
open the app sees the map without waiting for a solve. A browser that asks before it is
ready waits for that answer instead of solving again. Nothing of a person's is involved:
only the default settings, on the embedded dataset."""

from __future__ import annotations

import logging
import sys
import threading
import time

READY_LINE = "The default answer is ready"


def prepare() -> None:
    """Find the default answer and draw its figures (a failure is logged, never raised: the
    page then finds the answer itself, as it would without this)."""
    started = time.perf_counter()
    # Streamlit's caches say, once, that they are used outside a page: expected here.
    for name in ("streamlit.runtime.scriptrunner_utils.script_run_context",
                 "streamlit.runtime.caching.cache_data_api"):
        logging.getLogger(name).setLevel(logging.ERROR)
    try:
        from optimiser.ui import workshop

        ready = workshop.prepare_default_answer()
    except Exception:          # noqa: BLE001 - the server must start whatever happens here
        logging.getLogger(__name__).exception("preparing the default answer failed; pages will find it")
        return
    if ready:
        print(f"{READY_LINE} ({time.perf_counter() - started:.1f} s after the server started).",
              file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    threading.Thread(target=prepare, name="prepare-default-answer", daemon=True).start()
    from streamlit.web import cli

    sys.argv = ["streamlit", *(sys.argv[1:] if argv is None else argv)]
    return cli.main(prog_name="streamlit")


if __name__ == "__main__":
    sys.exit(main())
