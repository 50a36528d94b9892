"""Named bed configurations ("options"): drafted by hand, shipped in ``data/options/``, or
saved from an optimiser run, and appraised with :func:`optimiser.api.evaluate`.

An option file is small YAML::

    name: Status quo (2020)
    description: ...
    citations: [seeds/elr_community_model_2015.yaml#elr_inpatient_beds_total]
    beds:                       # per site: per ward type, or per pathway (summed into wards)
      st_lukes: {stroke: 20, rehab: 15, palliative: 1}
      melton: {general: 17}
    virtual_beds: current       # or {district_code: beds, ...}

Files are written atomically (temporary file, then rename); a damaged file raises an
:class:`~optimiser.errors.InputError` naming the file and the key, and never touches other
files in the library.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType

import pandas as pd
import yaml

from optimiser.dataset.store import atomic_path
from optimiser.errors import InputError
from optimiser.figures import (
    FigureNote,
    FigureNoteError,
    carried_notes,
    frozen,
    insert_notes,
    strip_notes,
)

__all__ = ["Option", "OptionLibrary", "load_option", "option_from_dict", "option_from_solution",
           "save_option", "shipped_options", "SHIPPED_OPTIONS_DIR"]

SHIPPED_OPTIONS_DIR = Path(__file__).resolve().parent.parent / "data" / "options"
_KNOWN_KEYS = {"name", "description", "citations", "beds", "virtual_beds", "assumptions", "assignment",
               "overflow", "virtual_unmet", "onward"}
_ONWARD_COLUMNS = ["from_site_id", "from_ward", "from_district_code", "from_pathway", "to_site_id", "to_ward",
                   "erlangs"]
_OVERFLOW_COLUMNS = ["district_code", "site_id", "pathway", "admissions_per_year"]
_VIRTUAL_UNMET_COLUMNS = ["district_code", "pathway", "admissions_per_year"]
_ASSIGNMENT_COLUMNS = ["zone_code", "site_id", "pathway", "share"]


@dataclass(frozen=True)
class Option:
    """A fixed bed configuration. ``beds`` has columns site_id, key, beds where key is a ward
    type or a pathway id (resolved against a scenario when evaluated); ``virtual_beds`` has
    district_code, beds, or is ``None`` for "the dataset's current virtual beds"."""

    name: str
    beds: pd.DataFrame
    virtual_beds: pd.DataFrame | None = None
    description: str = ""
    citations: tuple[str, ...] = ()
    assumptions: tuple[str, ...] = ()
    assignment: pd.DataFrame | None = None   # optional: zone_code, site_id, pathway, share
    overflow: pd.DataFrame | None = None     # optional, with assignment: virtual-suitable
    virtual_unmet: pd.DataFrame | None = None  # patients sent to hospital / not served
    onward: pd.DataFrame | None = None       # optional, with assignment: the plan's onward flows
    source: str = field(default="", compare=False)
    # Where each figure comes from (inline notes in the file; see optimiser.figures), keyed
    # by dotted path, e.g. "beds.loughborough.rehab" or "virtual_beds.E07000130".
    figures: Mapping[str, FigureNote] = field(default_factory=lambda: MappingProxyType({}),
                                              compare=False)

    def to_dict(self) -> dict:
        """The option as a YAML-ready mapping, with each figure's note written back inline."""
        plain = self._plain_dict()
        return insert_notes(plain, self.figures) if self.figures else plain

    def _plain_dict(self) -> dict:
        beds: dict[str, dict[str, int]] = {}
        for row in self.beds.itertuples(index=False):
            beds.setdefault(str(row.site_id), {})[str(row.key)] = int(row.beds)
        out: dict = {"name": self.name}
        if self.description:
            out["description"] = self.description
        if self.citations:
            out["citations"] = list(self.citations)
        if self.assumptions:
            out["assumptions"] = list(self.assumptions)
        out["beds"] = beds
        out["virtual_beds"] = ("current" if self.virtual_beds is None else
                               {str(r.district_code): int(r.beds) for r in self.virtual_beds.itertuples(index=False)})
        if self.assignment is not None:
            out["assignment"] = [[str(r.zone_code), str(r.site_id), str(r.pathway), float(r.share)]
                                 for r in self.assignment.itertuples(index=False)]
        for key, table in (("overflow", self.overflow), ("virtual_unmet", self.virtual_unmet),
                           ("onward", self.onward)):
            if table is not None and len(table):
                out[key] = [[str(v) if isinstance(v, str) else float(v) for v in row]
                            for row in table.itertuples(index=False)]
        return out

    @property
    def physical_beds(self) -> int:
        return int(self.beds["beds"].sum())

    @property
    def total_virtual_beds(self) -> int | None:
        return None if self.virtual_beds is None else int(self.virtual_beds["beds"].sum())


def _whole(value, file: str, key: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != int(value) or value < 0:
        raise InputError(f"expected a whole number of beds (0 or more), got {value!r}", file=file,
                         column=key, expected="a whole number >= 0")
    return int(value)


def option_from_dict(data, file: str = "<option>") -> Option:
    """Validate a parsed option document; errors name the file and the key. Inline figure
    notes (``{value: 41, source: ..., assumption: ...}``) are taken out first and kept on the
    option's ``figures``."""
    if not isinstance(data, Mapping):
        raise InputError("an option file must be a mapping with name, beds and virtual_beds", file=file)
    try:
        data, notes = strip_notes(data)
    except FigureNoteError as exc:
        raise InputError(exc.problem, file=file, column=exc.path) from None
    unknown = sorted(set(data) - _KNOWN_KEYS)
    if unknown:
        raise InputError(f"unknown key(s) {', '.join(map(repr, unknown))}", file=file, column=unknown[0],
                         expected=", ".join(sorted(_KNOWN_KEYS)))
    name = data.get("name")
    if not isinstance(name, str) or not name.strip():
        raise InputError("the option needs a name", file=file, column="name", expected="text")
    beds = data.get("beds")
    if not isinstance(beds, Mapping) or not beds:
        raise InputError("'beds' must map each site to its beds", file=file, column="beds",
                         expected="{site_id: {ward or pathway: beds}}")
    rows = []
    for site, spec in beds.items():
        if isinstance(spec, (int, float)) and not isinstance(spec, bool):
            spec = {"general": spec}
        if not isinstance(spec, Mapping):
            raise InputError(f"beds for site '{site}' must be a number or a mapping of ward/pathway to "
                             "beds", file=file, column=f"beds.{site}")
        for key, value in spec.items():
            rows.append((str(site), str(key), _whole(value, file, f"beds.{site}.{key}")))
    virtual = data.get("virtual_beds", "current")
    if virtual == "current" or virtual is None:
        vtable = None
    elif isinstance(virtual, Mapping):
        vtable = pd.DataFrame([(str(d), _whole(v, file, f"virtual_beds.{d}")) for d, v in virtual.items()],
                              columns=["district_code", "beds"])
    else:
        raise InputError("'virtual_beds' must be 'current' or a mapping of district code to beds",
                         file=file, column="virtual_beds")
    cites = data.get("citations") or []
    if not isinstance(cites, list) or not all(isinstance(c, str) for c in cites):
        raise InputError("'citations' must be a list of seeds references", file=file, column="citations")
    assumptions = data.get("assumptions") or []
    if not isinstance(assumptions, list):
        raise InputError("'assumptions' must be a list of text", file=file, column="assumptions")
    assignment = None
    if data.get("assignment") is not None:
        raw = data["assignment"]
        if not isinstance(raw, list):
            raise InputError("'assignment' must be a list of [zone_code, site_id, pathway, share]", file=file,
                             column="assignment")
        for n, item in enumerate(raw, 1):
            if (not isinstance(item, list) or len(item) != 4 or isinstance(item[3], bool)
                    or not isinstance(item[3], (int, float)) or not 0 <= item[3] <= 1):
                raise InputError(f"assignment entry {n} must be [zone_code, site_id, pathway, share 0..1], "
                                 f"got {item!r}", file=file, row=n, column="assignment")
        assignment = pd.DataFrame([[str(a), str(b), str(c), float(d)] for a, b, c, d in raw],
                                  columns=_ASSIGNMENT_COLUMNS)
    extra = {}
    for key, columns in (("overflow", _OVERFLOW_COLUMNS), ("virtual_unmet", _VIRTUAL_UNMET_COLUMNS),
                         ("onward", _ONWARD_COLUMNS)):
        raw = data.get(key)
        if raw is None:
            continue
        if assignment is None:
            raise InputError(f"'{key}' is only meaningful with 'assignment'", file=file, column=key)
        if not isinstance(raw, list) or not all(isinstance(r, list) and len(r) == len(columns) for r in raw):
            raise InputError(f"'{key}' must be a list of [{', '.join(columns)}]", file=file, column=key)
        extra[key] = pd.DataFrame(raw, columns=columns)
    option = Option(name=name.strip(), beds=pd.DataFrame(rows, columns=["site_id", "key", "beds"]),
                    virtual_beds=vtable, description=str(data.get("description") or "").strip(),
                    citations=tuple(cites), assumptions=tuple(str(n) for n in assumptions),
                    assignment=assignment, source=file, **extra)
    if notes:
        kept = carried_notes(option._plain_dict(), notes)
        stray = next((p for p in notes if p not in kept), None)
        if stray is not None:
            raise InputError("a figure note is only allowed on a number of beds the option keeps",
                             file=file, column=stray)
        option = replace(option, figures=frozen(notes))
    return option


def load_option(path: str | Path) -> Option:
    path = Path(path)
    if not path.exists():
        raise InputError("option file not found", file=str(path))
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise InputError(f"not valid YAML ({getattr(exc, 'problem', exc)})", file=str(path),
                         row=mark.line + 1 if mark else None) from None
    except UnicodeDecodeError:
        raise InputError("not a text file (expected UTF-8 YAML)", file=str(path)) from None
    return option_from_dict(data, str(path))


def save_option(option: Option, path: str | Path) -> Path:
    """Write atomically; an existing file is replaced only once the new one is complete."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        Path(tmp).write_text(yaml.safe_dump(option.to_dict(), sort_keys=False, allow_unicode=True),
                             encoding="utf-8")
    return path


def option_from_solution(solution, name: str, description: str = "", *,
                         with_assignment: bool = False) -> Option:
    """The configuration a solve chose, as an option (beds per site and ward, virtual beds;
    with ``with_assignment`` also the zone-to-site routing, so evaluating it reproduces the
    solve's metrics exactly)."""
    units = solution.units
    beds = pd.DataFrame({"site_id": units["site_id"].astype(str), "key": units["ward"].astype(str),
                         "beds": units["beds"].astype(int)})
    beds = beds[beds["beds"] > 0].reset_index(drop=True)
    v = solution.virtual_beds
    vt = pd.DataFrame({"district_code": v["district_code"].astype(str), "beds": v["beds"].astype(int)})
    desc = description or f"Chosen by the optimiser ({solution.name})"
    t = solution.tables
    routing = {}
    if with_assignment:
        routing = {"assignment": t.assignment[_ASSIGNMENT_COLUMNS].copy(),
                   "overflow": t.overflow[_OVERFLOW_COLUMNS].copy(),
                   "virtual_unmet": t.virtual_unmet[_VIRTUAL_UNMET_COLUMNS].copy(),
                   "onward": t.onward[_ONWARD_COLUMNS].copy()}
    return Option(name=name, beds=beds, virtual_beds=vt, description=desc, **routing)


def slug(name: str) -> str:
    s = re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")
    return s or "option"


def shipped_options() -> dict[str, Option]:
    """The named options of the LLR review shipped in ``data/options/``."""
    return {o.name: o for o in (load_option(p) for p in sorted(SHIPPED_OPTIONS_DIR.glob("*.yaml")))}


class OptionLibrary:
    """A folder of saved options, one YAML file each. Damaged files are reported, not
    deleted, and never stop the other options loading."""

    def __init__(self, folder: str | Path | None = None) -> None:
        folder = folder or os.environ.get("LLR_OPTIONS_DIR") or Path.home() / ".llr-optimiser" / "options"
        self.folder = Path(folder)

    def path_for(self, name: str) -> Path:
        return self.folder / f"{slug(name)}.yaml"

    def load_all(self) -> tuple[dict[str, Option], list[InputError]]:
        good: dict[str, Option] = {}
        bad: list[InputError] = []
        if self.folder.exists():
            for p in sorted(self.folder.glob("*.yaml")):
                try:
                    o = load_option(p)
                    good[o.name] = o
                except InputError as exc:
                    bad.append(exc)
        return good, bad

    def names(self) -> list[str]:
        return list(self.load_all()[0])

    def load(self, name: str) -> Option:
        good, _ = self.load_all()
        if name not in good:
            raise InputError(f"no saved option called '{name}'", file=str(self.folder))
        return good[name]

    def save(self, option: Option) -> Path:
        return save_option(option, self.path_for(option.name))

    def delete(self, name: str) -> None:
        p = self.path_for(name)
        if p.exists():
            p.unlink()

    def import_file(self, content: bytes, filename: str = "<upload>") -> Option:
        """Validate an uploaded option file, then store it (nothing is written if invalid)."""
        try:
            data = yaml.safe_load(content.decode("utf-8"))
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            raise InputError(f"not a valid option file ({type(exc).__name__})", file=filename) from None
        option = option_from_dict(data, filename)
        self.save(option)
        return option
