"""Bed capacity under a utilisation rule.

Two rules size beds against demand expressed as *offered load* ``a`` (in erlangs: arrivals
per day times mean length of stay in days, i.e. the average number of beds that would be
busy if there were always one free):

* **Erlang loss (Erlang-B).** With ``c`` beds, the chance an arriving patient finds every bed
  full is ``B(c, a)``, from the stable recursion ``B(0) = 1``,
  ``B(k) = a B(k-1) / (k + a B(k-1))``. The model is insensitive to the distribution of stay
  lengths, and a ward shared by several pathways sees the sum of their loads. Pooling raises
  the occupancy reachable at the same blocking: 10 beds carry 6.2 erlangs at 5% blocking
  (62% occupancy), 20 beds carry 15.2 (76%).
* **Flat occupancy.** ``c`` beds carry ``target x c`` erlangs.

For each bed option the integer programme uses the largest load the option can carry at the
target (:func:`capacity_steps`); the bisection is done once, before the model is built.
"""

from __future__ import annotations

import functools

import numpy as np
from scipy.special import gammaln, pdtr


def erlang_b(servers: int, load: float) -> float:
    """Blocking probability B(c, a) of an Erlang loss system."""
    if servers < 0 or load < 0:
        raise ValueError("servers and load must be non-negative")
    b = 1.0
    for k in range(1, int(servers) + 1):
        b = load * b / (k + load * b)
    return b


def erlang_b_array(servers: np.ndarray, loads: np.ndarray) -> np.ndarray:
    """Vectorised B(c, a) for arrays of bed counts and loads (broadcast together), from the
    Poisson form B = P(N = c) / P(N <= c) with N ~ Poisson(a) (what the recursion computes),
    evaluated with the log-gamma function and the Poisson distribution function. Entries where
    that form under- or overflows (loads far above the beds) fall back to the recursion."""
    servers, loads = np.broadcast_arrays(np.asarray(servers, int), np.asarray(loads, float))
    c = servers.astype(float)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore", under="ignore"):
        pmf = np.exp(c * np.log(np.where(loads > 0, loads, 1.0)) - loads - gammaln(c + 1.0))
        b = pmf / pdtr(c, loads)
    b = np.where(loads > 0, b, np.where(servers > 0, 0.0, 1.0))
    bad = ~np.isfinite(b) | (b > 1.0)
    if bad.any():
        b = np.array(b, float)
        b[bad] = [erlang_b(int(s), float(a)) for s, a in zip(servers[bad], loads[bad], strict=True)]
    return b


class ErlangBForBeds:
    """B(c, a) for a fixed vector of bed counts ``c`` and any loads: the arithmetic of
    :func:`erlang_b_array` (so the same numbers), with what depends on ``c`` alone (its
    log-factorials) worked out once. The patient-flow model's fixed point asks for the same
    beds a hundred times or more."""

    def __init__(self, servers) -> None:
        self.servers = np.asarray(servers, int)
        self.c = self.servers.astype(float)
        self.log_factorial = gammaln(self.c + 1.0)
        self.empty = np.where(self.servers > 0, 0.0, 1.0)

    def __call__(self, loads) -> np.ndarray:
        loads = np.asarray(loads, float)
        if loads.shape != self.c.shape:
            return erlang_b_array(self.servers, loads)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore", under="ignore"):
            pmf = np.exp(self.c * np.log(np.where(loads > 0, loads, 1.0)) - loads - self.log_factorial)
            b = pmf / pdtr(self.c, loads)
        b = np.where(loads > 0, b, self.empty)
        if (~np.isfinite(b) | (b > 1.0)).any():
            return erlang_b_array(self.servers, loads)   # its recursion where the form fails
        return b


@functools.lru_cache(maxsize=4096)
def max_load(servers: int, blocking_target: float, tol: float = 1e-10) -> float:
    """Largest offered load ``a`` with ``B(servers, a) <= blocking_target`` (bisection;
    B is increasing in ``a``). Cached: a workshop re-solve asks for the same steps again."""
    if not 0 < blocking_target < 1:
        raise ValueError("blocking target must be strictly between 0 and 1")
    if servers <= 0:
        return 0.0
    lo, hi = 0.0, float(servers)
    while erlang_b(servers, hi) <= blocking_target:
        hi *= 2.0
    while hi - lo > tol * max(1.0, hi):
        mid = 0.5 * (lo + hi)
        if erlang_b(servers, mid) <= blocking_target:
            lo = mid
        else:
            hi = mid
    return lo


def capacity_steps(bed_options, rule: str, target: float) -> np.ndarray:
    """Load (erlangs) each bed option can carry under ``rule`` ('erlang' with ``target`` the
    blocking probability, or 'occupancy' with ``target`` the occupancy ceiling)."""
    beds = np.asarray(list(bed_options), int)
    if rule == "occupancy":
        return beds * float(target)
    if rule == "erlang":
        return np.array([max_load(c, float(target)) for c in beds.tolist()])
    raise ValueError(f"unknown utilisation rule {rule!r}")


def occupancy(servers, load) -> np.ndarray:
    """Mean occupancy a(1 - B)/c of an Erlang loss system (0 where there are no beds)."""
    servers = np.asarray(servers, float)
    load = np.asarray(load, float)
    blocked = erlang_b_array(servers.astype(int), load)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(servers > 0, load * (1 - blocked) / servers, 0.0)


def turned_away_per_year(servers, load, admissions_per_year) -> np.ndarray:
    """Expected patients per year who arrive to find no free bed: B(c, a) x arrivals."""
    blocked = erlang_b_array(np.asarray(servers, int), np.asarray(load, float))
    return blocked * np.asarray(admissions_per_year, float)


def beds_needed(load: float, blocking_target: float) -> int:
    """Smallest bed count whose blocking at ``load`` is at most the target."""
    c = 0
    while erlang_b(c, load) > blocking_target:
        c += 1
    return c
