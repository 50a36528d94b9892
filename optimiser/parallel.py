"""Many independent pieces of work (futures to evaluate, scenarios to solve) run on Dask.

By default a local Dask cluster sized to the machine (one single-threaded worker process per
core); or an existing Dask cluster, named by its scheduler's address (``--scheduler
tcp://HOST:PORT`` on the command line, or the ``LLR_DASK_SCHEDULER`` environment variable),
when a sweep outgrows one machine (its workers need this package installed). The work is cut
into chunks numbered in advance and the results are put back in that order, so the answer does
not depend on how many workers there are or which finishes first: every random draw is made
before any work is sent out.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from optimiser.errors import OptimiserError

SCHEDULER_ENV = "LLR_DASK_SCHEDULER"
Progress = Callable[[int, int], None]


def scheduler_address(scheduler: str | None = None) -> str | None:
    """The scheduler given, else the environment variable's, else None (a local cluster)."""
    return scheduler or os.environ.get(SCHEDULER_ENV) or None


def machine_workers() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not on Linux
        return max(1, os.cpu_count() or 1)


@contextmanager
def dask_client(scheduler: str | None = None, workers: int | None = None, client=None) -> Iterator[Any]:
    """A Dask client: ``client`` if given; else one connected to ``scheduler`` (or the
    environment variable's); else a local cluster of ``workers`` processes (default: one per
    core), shut down on exit."""
    if client is not None:
        yield client
        return
    from distributed import Client, LocalCluster

    address = scheduler_address(scheduler)
    if address:
        try:
            remote = Client(address, timeout="15s")
        except (OSError, TimeoutError) as exc:
            raise OptimiserError(f"cannot reach the Dask scheduler at '{address}' ({exc}); check the address "
                                 f"(--scheduler or {SCHEDULER_ENV}), or leave both unset to use this machine") from None
        try:
            yield remote
        finally:
            remote.close()
        return
    n = int(workers) if workers else machine_workers()
    if n < 1:
        raise OptimiserError(f"the number of workers must be at least 1, got {n}")
    cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None,
                           silence_logs=logging.ERROR)
    local = Client(cluster)
    try:
        yield local
    finally:
        local.close()
        cluster.close()


def _import_for_work() -> bool:
    import optimiser.futures  # noqa: F401  (the heavy imports a worker needs)
    import optimiser.model.formulation  # noqa: F401

    return True


def warm_up(client) -> list:
    """Start each worker importing the package now (it runs while this process prepares the
    work); returns the Dask futures to wait on, or to drop."""
    workers = list(client.scheduler_info().get("workers", {}))
    return [client.submit(_import_for_work, workers=[w], pure=False, allow_other_workers=True) for w in workers]


def worker_count(client) -> int:
    return max(1, len(client.scheduler_info().get("workers", {})))


def chunked(items: Sequence, parts: int) -> list[list]:
    """``items`` cut into at most ``parts`` consecutive chunks of near-equal size."""
    if not len(items):
        return []
    size = math.ceil(len(items) / max(1, parts))
    return [list(items[i:i + size]) for i in range(0, len(items), size)]


def map_chunks(function: Callable, shared: Any, chunks: Sequence, client, *,
               progress: Progress | None = None, weights: Sequence[int] | None = None) -> list:
    """``[function(shared, chunk) for chunk in chunks]`` on the Dask workers (``shared`` is
    sent to each worker once), in the order of ``chunks`` whatever order they finish in.
    ``progress(done, total)`` is called as chunks finish (``weights``: how many items each
    chunk counts for; default 1)."""
    from distributed import as_completed

    if not chunks:
        return []
    weights = list(weights) if weights is not None else [1] * len(chunks)
    total = int(sum(weights))
    # a fresh key each time (hash=False): scattering the same object again while the scheduler
    # forgets the last copy would leave the tasks without their data
    on_workers = client.scatter(shared, broadcast=True, hash=False)
    futures = [client.submit(function, on_workers, chunk, pure=False) for chunk in chunks]
    position = {f.key: i for i, f in enumerate(futures)}
    results: list = [None] * len(futures)
    done = 0
    if progress is not None:
        progress(0, total)
    for future, result in as_completed(futures, with_results=True):
        if isinstance(result, BaseException):
            raise OptimiserError(f"the Dask workers could not finish the work ({type(result).__name__}: {result})")
        i = position[future.key]
        results[i] = result
        done += weights[i]
        if progress is not None:
            progress(done, total)
    return results


def text_progress(label: str, stream=None) -> Progress:
    """A one-line progress bar for a terminal (written to stderr)."""
    import sys
    import time

    out = stream or sys.stderr
    started = time.perf_counter()

    def show(done: int, total: int) -> None:
        width = 30
        filled = int(width * done / total) if total else width
        elapsed = time.perf_counter() - started
        end = "\n" if done >= total else ""
        out.write(f"\r{label} [{'#' * filled}{'.' * (width - filled)}] {done}/{total} ({elapsed:.1f} s){end}")
        out.flush()

    return show
