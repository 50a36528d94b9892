"""A bounded, first-come-first-served queue for solves shared by a whole process.

At a workshop many people press "Find" at once on one laptop. Run together, solves share
the cores and each gets slower (five at once on two cores left "best" answers 14-43% from
optimal at their time limits). So the app runs at most :data:`SLOTS` solves at a time (one
per core, or ``LLR_SOLVER_SLOTS``); the others wait their turn in arrival order, and each
waiter is told its place in the queue while it waits.
"""

from __future__ import annotations

import itertools
import os
import threading
import time
from collections import deque
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass

__all__ = ["SLOTS", "SolveQueue", "Turn", "solve_queue"]


def _slots() -> int:
    try:
        return max(1, int(os.environ.get("LLR_SOLVER_SLOTS", "")))
    except ValueError:
        return max(1, os.cpu_count() or 1)


SLOTS = _slots()


@dataclass
class Turn:
    """What a solve's wait was: seconds waited, and how many solves were ahead at first."""

    waited_seconds: float = 0.0
    ahead_at_start: int = 0


class SolveQueue:
    """At most ``slots`` holders at once; the others wait in arrival order."""

    def __init__(self, slots: int) -> None:
        self.slots = max(1, int(slots))
        self._cond = threading.Condition()
        self._waiting: deque[int] = deque()
        self._running = 0
        self._tickets = itertools.count()

    @property
    def running(self) -> int:
        return self._running

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    def _ahead(self, ticket: int) -> int:
        """Solves before this one: those running and those queued earlier (when no slot is free)."""
        return self._waiting.index(ticket) + (self._running if self._running >= self.slots else 0)

    @contextmanager
    def turn(self, on_wait: Callable[[int], None] | None = None, poll_seconds: float = 0.5):
        """Wait for a free slot (FIFO), then hold it for the ``with`` block. While waiting,
        ``on_wait(place)`` is called about every ``poll_seconds`` with this solve's place in
        the queue (1 = next). If ``on_wait`` raises (the person left the page), the place
        is given up."""
        ticket = next(self._tickets)
        started = time.monotonic()
        with self._cond:
            self._waiting.append(ticket)
            first_ahead = self._ahead(ticket)
        try:
            while True:
                with self._cond:
                    if self._waiting[0] == ticket and self._running < self.slots:
                        self._waiting.popleft()
                        self._running += 1
                        self._cond.notify_all()
                        break
                    place = self._waiting.index(ticket) + 1
                if on_wait is not None:
                    on_wait(place)
                with self._cond:
                    if not (self._waiting[0] == ticket and self._running < self.slots):
                        self._cond.wait(poll_seconds)
        except BaseException:
            with self._cond:
                if ticket in self._waiting:
                    self._waiting.remove(ticket)
                self._cond.notify_all()
            raise
        try:
            yield Turn(time.monotonic() - started, first_ahead)
        finally:
            with self._cond:
                self._running -= 1
                self._cond.notify_all()


_QUEUE = SolveQueue(SLOTS)


def solve_queue() -> SolveQueue:
    """The process's queue (one per server)."""
    return _QUEUE
