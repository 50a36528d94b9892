"""Streams: pathways that share a ward type, host sites and travel limit are assigned
together (one catchment, one variable per zone-site pair), which keeps the model small."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from optimiser.instance import Instance


@dataclass(frozen=True)
class Streams:
    """The streams of an instance (see the module's docstring)."""

    members: tuple[tuple[int, ...], ...]
    of_pathway: np.ndarray
    ward: np.ndarray
    admissions: np.ndarray     # (Z, streams) hospital admissions per year
    load: np.ndarray           # (Z, streams) erlangs
    site_allowed: np.ndarray   # (streams, S)
    max_travel: np.ndarray
    names: tuple[str, ...]


def make_streams(inst: Instance) -> Streams:
    pw = inst.pathways
    groups: dict[tuple, list[int]] = {}
    for p in range(len(pw.ids)):
        key = (int(pw.ward[p]), pw.site_allowed[p].tobytes(), float(pw.max_travel[p]))
        groups.setdefault(key, []).append(p)
    members = tuple(tuple(g) for g in groups.values())
    of_pathway = np.zeros(len(pw.ids), int)
    for k, g in enumerate(members):
        of_pathway[list(g)] = k
    adm = np.column_stack([inst.hospital_admissions[:, list(g)].sum(axis=1) for g in members])
    load = np.column_stack([inst.hospital_load[:, list(g)].sum(axis=1) for g in members])
    return Streams(members, of_pathway, np.array([pw.ward[g[0]] for g in members]), adm, load,
                   np.array([pw.site_allowed[g[0]] for g in members]),
                   np.array([pw.max_travel[g[0]] for g in members]),
                   tuple("_".join(pw.ids[p] for p in g) for g in members))


def allowed_pairs(inst: Instance, streams: Streams) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(zone, site, stream) assignments the model may use: the site hosts the stream, is not
    closed, and is within the stream's travel limit of the zone."""
    zs, ss, ks = [], [], []
    open_ok = inst.sites.status >= 0
    for k in range(len(streams.members)):
        ok = (inst.travel <= streams.max_travel[k] + 1e-9) & (streams.site_allowed[k] & open_ok)[None, :]
        ok &= (streams.admissions[:, k] > 0)[:, None]
        z, s = np.nonzero(ok)
        zs.append(z)
        ss.append(s)
        ks.append(np.full(len(z), k))
    return np.concatenate(zs), np.concatenate(ss), np.concatenate(ks)
