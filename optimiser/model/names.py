"""Readable names for a programme's columns and rows (letters, digits and underscores)."""

from __future__ import annotations

import numpy as np


def clean(values) -> np.ndarray:
    """Names safe for every solver's file format: letters, digits and underscores."""
    out = np.asarray(values, dtype=object).astype(str)
    if out.size == 0:
        return out.astype(object)
    for ch in " -.,'&()/:":
        out = np.char.replace(out, ch, "_")
    return out.astype(object)


def join(*parts) -> np.ndarray:
    """Element-wise '_'.join of string arrays/scalars."""
    out = None
    for part in parts:
        arr = clean(np.atleast_1d(np.asarray(part, dtype=object)))
        out = arr if out is None else np.char.add(np.char.add(out.astype(str), "_"), arr.astype(str))
    return np.asarray(out, dtype=object)
