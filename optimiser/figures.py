"""Figure notes: where each number in a scenario or option file comes from.

Any numeric setting may be written as a plain number or, inline, as a mapping::

    length_of_stay_days:
      value: 25
      assumption: "a typical community rehabilitation stay; the papers give none"
      low: 20            # optional: an 80% interval, in the same unit as value
      high: 30
      variants: {short_stay: 18}   # optional: named alternatives, same unit
    virtual_length_of_stay_days:
      value: 21
      source: "seeds/llr_community_services_progress_2020.yaml#home_first_intensive_support_weeks"
      assumption: "the mean is taken as half the 6-week maximum"

A note needs a ``source`` (a ``seeds/<file>.yaml#<key>`` reference, or a publication with its
table or page) or an ``assumption`` (why this value), or both. Every ``seeds/...#key`` in a
source must name a real figure in ``seeds/``. :func:`strip_notes` is the pre-parse pass the
scenario and option loaders call: it replaces each note by its value and returns the notes
keyed by the setting's dotted path (``pathways.rehab.length_of_stay_days``);
:func:`insert_notes` writes them back inline. :func:`unnoted_figures` lists numbers that
carry no note (the shipped files have none).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

NOTE_KEYS = frozenset({"value", "source", "assumption", "low", "high", "variants"})
SEED_REFERENCE = re.compile(r"seeds/[A-Za-z0-9_.\-]+\.yaml#[A-Za-z0-9_]+")

Number = int | float


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _is_numeric_list(value: Any) -> bool:
    return isinstance(value, (list, tuple)) and bool(value) and all(_is_number(v) for v in value)


@dataclass(frozen=True)
class FigureNote:
    """Where one figure comes from. ``path`` is the setting's dotted key."""

    path: str
    value: Number | tuple[Number, ...]
    source: str = ""
    assumption: str = ""
    low: Number | None = None
    high: Number | None = None
    variants: tuple[tuple[str, Number], ...] = ()

    @property
    def is_assumption(self) -> bool:
        return bool(self.assumption)

    @property
    def seed_references(self) -> tuple[str, ...]:
        return tuple(SEED_REFERENCE.findall(self.source))

    def source_text(self) -> str:
        """The source with each seeds reference spelt out (paper title and section)."""
        from optimiser import seeds

        text = self.source
        for ref in self.seed_references:
            fig = seeds.resolve(ref)
            text = text.replace(ref, f"{ref} ({fig.value} {fig.unit}: {fig.source()})", 1)
        return text

    def describe(self) -> str:
        """One line: 'source: ...; assumption: ...; 80% range 20 to 30'."""
        parts = []
        if self.source:
            parts.append(f"source: {self.source}")
        if self.assumption:
            parts.append(f"assumption: {self.assumption}")
        if self.low is not None and self.high is not None:
            parts.append(f"80% range {self.low:g} to {self.high:g}")
        if self.variants:
            parts.append("variants: " + ", ".join(f"{k} {v:g}" for k, v in self.variants))
        return "; ".join(parts)

    def matches(self, value: Any) -> bool:
        """Whether ``value`` (as a setting holds it now) is still this note's figure."""
        mine = self.value if isinstance(self.value, tuple) else (self.value,)
        theirs = tuple(value) if isinstance(value, (list, tuple)) else (value,)
        return len(mine) == len(theirs) and all(
            _is_number(b) and math.isclose(float(a), float(b), rel_tol=1e-12, abs_tol=1e-12)
            for a, b in zip(mine, theirs, strict=True))

    def to_mapping(self, value: Any | None = None) -> dict:
        """The inline YAML form (``value`` replaces the note's own, e.g. 25 -> 25.0)."""
        shown = value if value is not None else (list(self.value) if isinstance(self.value, tuple)
                                                 else self.value)
        out: dict[str, Any] = {"value": shown}
        if self.source:
            out["source"] = self.source
        if self.assumption:
            out["assumption"] = self.assumption
        if self.low is not None:
            out["low"] = self.low
        if self.high is not None:
            out["high"] = self.high
        if self.variants:
            out["variants"] = dict(self.variants)
        return out


class FigureNoteError(ValueError):
    """A malformed note; ``path`` is the setting's dotted key."""

    def __init__(self, problem: str, path: str) -> None:
        self.problem = problem
        self.path = path
        super().__init__(f"{path}: {problem}")


def is_note(value: Any) -> bool:
    """A mapping with a ``value`` and only note keys."""
    return isinstance(value, Mapping) and "value" in value and set(value) <= NOTE_KEYS


def _text(raw: Mapping, key: str, path: str) -> str:
    value = raw.get(key)
    if value is None:
        return ""
    if not isinstance(value, str) or not value.strip():
        raise FigureNoteError(f"'{key}' of a figure note must be text", path)
    return " ".join(value.split())


def _bound(raw: Mapping, key: str, path: str) -> Number | None:
    value = raw.get(key)
    if value is None:
        return None
    if not _is_number(value):
        raise FigureNoteError(f"'{key}' must be a number in the same unit as the value, "
                              f"got {value!r}", path)
    return value


def make_note(path: str, raw: Mapping) -> FigureNote:
    """Validate one inline note (see the module docstring)."""
    value = raw["value"]
    if _is_numeric_list(value):
        value = tuple(value)
    elif not _is_number(value):
        raise FigureNoteError(f"the 'value' of a figure note must be a number, got {value!r}", path)
    source, assumption = _text(raw, "source", path), _text(raw, "assumption", path)
    if not source and not assumption:
        raise FigureNoteError("a figure note needs a 'source' (a seeds/<file>.yaml#<key> "
                              "reference, or a publication with its table or page) or an "
                              "'assumption' (why this value)", path)
    if source.startswith("seeds/") and not SEED_REFERENCE.match(source):
        raise FigureNoteError(f"source '{source}' is not of the form seeds/<file>.yaml#<key>", path)
    from optimiser import seeds
    from optimiser.errors import InputError

    for ref in SEED_REFERENCE.findall(source):
        try:
            seeds.resolve(ref)
        except InputError as exc:
            raise FigureNoteError(f"source '{ref}' is not a figure in seeds/ ({exc})", path) from None
    low, high = _bound(raw, "low", path), _bound(raw, "high", path)
    if (low is None) != (high is None):
        raise FigureNoteError("give both 'low' and 'high' (an 80% interval), or neither", path)
    if low is not None:
        if isinstance(value, tuple):
            raise FigureNoteError("'low' and 'high' need a single number as the value", path)
        if not low <= value <= high:
            raise FigureNoteError(f"the 80% interval must hold the value: low ({low:g}) <= value "
                                  f"({value:g}) <= high ({high:g})", path)
    variants = raw.get("variants") or {}
    if not isinstance(variants, Mapping):
        raise FigureNoteError("'variants' must map a name to a number", path)
    for name, v in variants.items():
        if not isinstance(name, str) or not name.strip() or not _is_number(v):
            raise FigureNoteError(f"variant {name!r}: expected a name and a number in the same "
                                  f"unit as the value, got {v!r}", path)
    return FigureNote(path, value, source, assumption, low, high,
                      tuple((str(k), v) for k, v in variants.items()))


def _join(prefix: str, key: Any) -> str:
    return f"{prefix}.{key}" if prefix else str(key)


def strip_notes(data: Any, prefix: str = "") -> tuple[Any, dict[str, FigureNote]]:
    """``data`` with every inline note replaced by its value, and the notes by dotted path.
    Raises :class:`FigureNoteError` for a malformed note."""
    notes: dict[str, FigureNote] = {}

    def walk(node: Any, path: str) -> Any:
        if is_note(node):
            note = make_note(path, node)
            notes[path] = note
            return list(note.value) if isinstance(note.value, tuple) else note.value
        if isinstance(node, Mapping):
            if "value" in node and ({"source", "assumption"} & set(node)):
                unknown = sorted(set(node) - NOTE_KEYS)
                raise FigureNoteError(f"unknown key(s) {', '.join(map(repr, unknown))} in a figure "
                                      f"note (allowed: {', '.join(sorted(NOTE_KEYS))})", path)
            return {k: walk(v, _join(path, k)) for k, v in node.items()}
        return node

    return walk(data, prefix), notes


def _get(data: Any, path: str) -> tuple[bool, Any]:
    node = data
    for part in path.split("."):
        if isinstance(node, Mapping) and part in node:
            node = node[part]
        else:
            return False, None
    return True, node


def _set(data: dict, path: str, value: Any) -> None:
    parts = path.split(".")
    node = data
    for part in parts[:-1]:
        node = node[part]
    node[parts[-1]] = value


def insert_notes(data: Any, notes: Mapping[str, FigureNote]) -> Any:
    """A copy of ``data`` with each note written inline where its setting still holds the
    note's figure (a note whose setting has since changed is left out)."""
    import copy

    out = copy.deepcopy(data)
    for path, note in notes.items():
        found, value = _get(out, path)
        if found and note.matches(value):
            _set(out, path, note.to_mapping(value))
    return out


def carried_notes(data: Any, notes: Mapping[str, FigureNote]) -> dict[str, FigureNote]:
    """The notes whose setting in ``data`` still holds the note's figure."""
    out = {}
    for path, note in notes.items():
        found, value = _get(data, path)
        if found and note.matches(value):
            out[path] = note
    return out


def numeric_figures(data: Any, prefix: str = "") -> list[str]:
    """Dotted paths of the numbers in ``data`` (a list of numbers counts once; booleans are
    not figures)."""
    out: list[str] = []

    def walk(node: Any, path: str) -> None:
        if _is_number(node) or _is_numeric_list(node):
            out.append(path)
        elif isinstance(node, Mapping):
            for k, v in node.items():
                walk(v, _join(path, k))

    walk(data, prefix)
    return out


def unnoted_figures(data: Any, notes: Mapping[str, FigureNote],
                    skip: Callable[[str], bool] = lambda path: False) -> list[str]:
    """Numbers in (note-stripped) ``data`` with no note on themselves or a setting above."""
    def noted(path: str) -> bool:
        parts = path.split(".")
        return any(".".join(parts[:k]) in notes for k in range(1, len(parts) + 1))

    return [p for p in numeric_figures(data) if not noted(p) and not skip(p)]


def frozen(notes: Mapping[str, FigureNote]) -> Mapping[str, FigureNote]:
    return MappingProxyType(dict(notes))
