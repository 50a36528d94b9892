"""Readable names for a programme's columns and rows (letters, digits and underscores)."""

from __future__ import annotations

import numpy as np

_UNSAFE = str.maketrans({ch: "_" for ch in " -.,'&()/:"})


def clean(values) -> np.ndarray:
    """Names safe for every solver's file format: letters, digits and underscores."""
    arr = np.asarray(values, dtype=object)
    out = np.empty(arr.shape, dtype=object)
    done: dict = {}     # names repeat (a site's id on every pair): each is cleaned once

    def cleaned(v) -> str:
        key = (type(v), v)     # 1 and 1.0 are equal keys but different names
        c = done.get(key)
        if c is None:
            c = done[key] = str(v).translate(_UNSAFE)
        return c

    out.flat[:] = [cleaned(v) for v in arr.flat] if arr.size else []
    return out


def join(*parts) -> np.ndarray:
    """Element-wise '_'.join of string arrays/scalars (broadcast against each other)."""
    cleaned = np.broadcast_arrays(*(clean(np.atleast_1d(np.asarray(part, dtype=object))) for part in parts))
    out = np.empty(cleaned[0].shape, dtype=object)
    out.flat[:] = ["_".join(t) for t in zip(*(c.flat for c in cleaned))] if out.size else []
    return out
