"""The number of sites that keep inpatient beds: exactly, at least or at most so many.

Row: :math:`\\ell \\le \\sum_j o_j \\le u`. The nearest setting that works is the range of
counts the other limits allow."""

from __future__ import annotations

import numpy as np

from optimiser.model.lp import INF
from optimiser.rules.base import RawSolution, Rule, Suggestion, Violation


def add_open_site_counts(f) -> None:
    inst, lp = f.instance, f.lp
    r = inst.rules
    cols = lp.variables("site_open")
    n = len(cols)
    for label, lo, hi in (("exactly", r.open_exactly, r.open_exactly),
                          ("at_least", r.open_at_least, None), ("at_most", None, r.open_at_most)):
        if lo is None and hi is None:
            continue
        value = lo if lo is not None else hi
        lp.add_constraints(f"open_sites_{label}", [f"open_sites_{label}_{value}"], np.zeros(n, int), cols,
                           1.0, -INF if lo is None else float(lo), INF if hi is None else float(hi))


class OpenSiteCounts(Rule):
    name = "open_sites"
    label = "the number of open sites"
    relaxable = True

    def active(self, inst) -> bool:
        r = inst.rules
        return any(v is not None for v in (r.open_exactly, r.open_at_least, r.open_at_most))

    def add_rows(self, f) -> None:
        add_open_site_counts(f)

    def violations(self, inst, raw: RawSolution) -> list[Violation]:
        r = inst.rules
        n = int(raw.open_sites.sum())
        out = []
        if r.open_exactly is not None and n != r.open_exactly:
            out.append(Violation("open_sites_exactly", "all", n - r.open_exactly, f"{n} sites open, not exactly "
                                                                                  f"{r.open_exactly}"))
        if r.open_at_least is not None and n < r.open_at_least:
            out.append(Violation("open_sites_at_least", "all", r.open_at_least - n, f"{n} sites open, fewer than "
                                                                                    f"{r.open_at_least}"))
        if r.open_at_most is not None and n > r.open_at_most:
            out.append(Violation("open_sites_at_most", "all", n - r.open_at_most, f"{n} sites open, more than "
                                                                                  f"{r.open_at_most}"))
        return out

    def describe(self, inst) -> list[str]:
        r = inst.rules
        return ([f"exactly {r.open_exactly} open sites"] if r.open_exactly is not None else []) + \
            ([f"at least {r.open_at_least} open sites"] if r.open_at_least is not None else []) + \
            ([f"at most {r.open_at_most} open sites"] if r.open_at_most is not None else [])

    def relax(self, inst):
        return inst.with_rules(open_exactly=None, open_at_least=None, open_at_most=None)

    def nearest(self, inst, probe) -> Suggestion | None:
        feasible = probe.feasible
        base = self.relax(inst)
        ok = [n for n in range(0, inst.n_sites + 1) if feasible(base.with_rules(open_exactly=n))]
        if not ok:
            return None
        span = (f"{ok[0]}" if len(ok) == 1 else f"{ok[0]} to {ok[-1]}" if ok == list(range(ok[0], ok[-1] + 1))
                else ", ".join(map(str, ok)))
        return Suggestion("open_sites", f"keep {span} sites open (the number of open sites that can meet the other "
                                        "limits)", float(ok[0]))
