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

import math
import os
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType

import pandas as pd
import yaml

from optimiser.dataset.store import atomic_path
from optimiser.errors import InputError, short_repr, shorten
from optimiser.figures import (
    FigureNote,
    FigureNoteError,
    carried_notes,
    frozen,
    insert_notes,
    strip_notes,
)
from optimiser.safe_yaml import MAX_OPTION_BYTES, MAX_OPTION_FILE_BYTES, load_yaml

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
_Dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
MAX_BEDS = 100_000          # per ward or district: far above any real hospital


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

    def to_yaml(self) -> str:
        return yaml.dump(self.to_dict(), Dumper=_Dumper, sort_keys=False, allow_unicode=True)

    def fingerprint(self) -> str:
        """A hash of everything the option says (fast even with a routing table: no YAML)."""
        import hashlib

        h = hashlib.sha256("\x00".join([self.name, self.description, *self.citations, *self.assumptions]).encode())
        for table in (self.beds, self.virtual_beds, self.assignment, self.overflow, self.virtual_unmet):
            if table is None:
                h.update(b"\x01none")
            else:
                h.update(("\x01" + ",".join(map(str, table.columns))).encode())
                h.update(pd.util.hash_pandas_object(table, index=False).to_numpy().tobytes())
        return h.hexdigest()

    @property
    def physical_beds(self) -> int:
        return int(self.beds["beds"].sum())

    @property
    def total_virtual_beds(self) -> int | None:
        return None if self.virtual_beds is None else int(self.virtual_beds["beds"].sum())


def _whole(value, file: str, key: str) -> int:
    if (isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value)
            or value != int(value) or value < 0 or value > MAX_BEDS):
        raise InputError(f"expected a whole number of beds (0 or more), got {short_repr(value)}", file=file,
                         column=key, expected=f"a whole number from 0 to {MAX_BEDS:,}")
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
        raise InputError(f"unknown key(s) {shorten(', '.join(map(short_repr, unknown[:5])), 200)}",
                         file=file, column=shorten(unknown[0]),
                         expected=", ".join(sorted(_KNOWN_KEYS)))
    name = data.get("name")
    if not isinstance(name, str) or not name.strip():
        raise InputError("the option needs a name", file=file, column="name", expected="text")
    if len(name.strip()) > MAX_NAME_CHARACTERS:
        raise InputError(f"the name is {len(name.strip()):,} characters long", file=file, column="name",
                         expected=f"at most {MAX_NAME_CHARACTERS} characters")
    beds = data.get("beds")
    if not isinstance(beds, Mapping) or not beds:
        raise InputError("'beds' must map each site to its beds", file=file, column="beds",
                         expected="{site_id: {ward or pathway: beds}}")
    rows = []
    for site, spec in beds.items():
        if isinstance(spec, (int, float)) and not isinstance(spec, bool):
            spec = {"general": spec}
        if not isinstance(spec, Mapping):
            raise InputError(f"beds for site '{shorten(site)}' must be a number or a mapping of ward/pathway to "
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
                                 f"got {short_repr(item)}", file=file, row=n, column="assignment")
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


def _option_error(file: str) -> Callable[[str, int | None], InputError]:
    return lambda problem, line: InputError(problem, file=file, row=line)


def parse_option(content: bytes | str | Path, file: str, max_bytes: int = MAX_OPTION_BYTES) -> Option:
    """Validate an option file's content (or the file at a path): YAML without anchors or
    aliases, at most ``max_bytes`` (the app's library and uploads:
    :data:`~optimiser.safe_yaml.MAX_OPTION_BYTES`)."""
    data = load_yaml(content, max_bytes=max_bytes, error=_option_error(file))
    return option_from_dict(data, file)


def load_option(path: str | Path, max_bytes: int = MAX_OPTION_FILE_BYTES) -> Option:
    """An option file named on the command line (larger, e.g. a national routing, is allowed
    than in the app's shared library)."""
    path = Path(path)
    if not path.exists():
        raise InputError("option file not found", file=str(path))
    return parse_option(path, str(path), max_bytes)


def save_option(option: Option, path: str | Path) -> Path:
    """Write atomically; an existing file is replaced only once the new one is complete."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        Path(tmp).write_text(option.to_yaml(), encoding="utf-8")
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
    s = re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")[:60].strip("_")
    return s or "option"


MAX_NAME_CHARACTERS = 200
MAX_LIBRARY_OPTIONS = 500

# Parsed option files, keyed by path and checked against the file's size, modification time
# and inode: a library (or the shipped options) is parsed once, not on every page load.
_parsed: dict[str, tuple[tuple[int, int, int], Option | InputError]] = {}
_parsed_lock = threading.Lock()


def _remember(path: Path, option: Option) -> Option:
    """Put an option just written to ``path`` in the cache (so it is not parsed back)."""
    import dataclasses

    st = path.stat()
    option = dataclasses.replace(option, source=str(path))
    with _parsed_lock:
        _parsed[str(path.resolve())] = ((st.st_size, st.st_mtime_ns, st.st_ino), option)
    return option


def _load_cached(path: Path) -> Option:
    st = path.stat()
    stamp = (st.st_size, st.st_mtime_ns, st.st_ino)
    key = str(path.resolve())
    with _parsed_lock:
        hit = _parsed.get(key)
    if hit is None or hit[0] != stamp:
        try:
            value: Option | InputError = load_option(path, MAX_OPTION_BYTES)
        except InputError as exc:
            value = exc
        with _parsed_lock:
            _parsed[key] = (stamp, value)
            if len(_parsed) > 4 * MAX_LIBRARY_OPTIONS:   # forget files of old folders
                _parsed.pop(next(iter(_parsed)))
    else:
        value = hit[1]
    if isinstance(value, InputError):
        raise value
    return value


def shipped_options() -> dict[str, Option]:
    """The named options of the LLR review shipped in ``data/options/``."""
    return {o.name: o for o in (_load_cached(p) for p in sorted(SHIPPED_OPTIONS_DIR.glob("*.yaml")))}


class OptionLibrary:
    """A folder of saved options, one YAML file each. Damaged files are reported, not
    deleted, and never stop the other options loading.

    Nothing is lost silently: an option's name is its identity; saving a name the library
    already holds is refused unless ``replace=True`` (and then replaces that option's own
    file); two different names never share a file (a readable file name from the name, with
    a number added when another option has taken it); saves hold the library's lock."""

    def __init__(self, folder: str | Path | None = None) -> None:
        folder = folder or os.environ.get("LLR_OPTIONS_DIR") or Path.home() / ".llr-optimiser" / "options"
        self.folder = Path(folder)

    def _files(self) -> list[Path]:
        if not self.folder.is_dir():
            return []
        return sorted(p for p in self.folder.glob("*.yaml") if p.is_file() and not p.name.startswith("."))

    def _scan(self) -> tuple[dict[str, tuple[Path, Option]], list[InputError]]:
        good: dict[str, tuple[Path, Option]] = {}
        bad: list[InputError] = []
        for p in self._files():
            try:
                o = _load_cached(p)
            except InputError as exc:
                bad.append(exc)
                continue
            if o.name in good:
                bad.append(InputError(f"holds an option called '{shorten(o.name)}', as does "
                                      f"'{good[o.name][0].name}': only the first is shown; rename one",
                                      file=str(p), column="name"))
                continue
            good[o.name] = (p, o)
        return good, bad

    def load_all(self) -> tuple[dict[str, Option], list[InputError]]:
        good, bad = self._scan()
        return {name: o for name, (_, o) in good.items()}, bad

    def names(self) -> list[str]:
        return list(self.load_all()[0])

    def path_of(self, name: str) -> Path | None:
        """The file that holds the option called ``name``, if any."""
        hit = self._scan()[0].get(name)
        return hit[0] if hit else None

    def load(self, name: str) -> Option:
        good, _ = self.load_all()
        if name not in good:
            raise InputError(f"no saved option called '{shorten(name)}'", file=str(self.folder))
        return good[name]

    def save(self, option: Option, *, replace: bool = False) -> Path:
        """Store ``option``; returns its file. An option with the same name is replaced only
        with ``replace=True`` (otherwise InputError says so); a new name gets a new file."""
        from optimiser.locking import exclusive_lock

        name = option.name
        if len(name) > MAX_NAME_CHARACTERS:
            raise InputError(f"the option's name is {len(name):,} characters long; the most is "
                             f"{MAX_NAME_CHARACTERS}", column="name")
        self.folder.mkdir(parents=True, exist_ok=True)
        with exclusive_lock(self.folder, "the options library", wait_seconds=10):
            good, _ = self._scan()
            if name in good:
                if not replace:
                    raise InputError(f"the library already has an option called '{shorten(name)}' "
                                     f"(file '{good[name][0].name}'): choose another name, or "
                                     "replace it", column="name")
                path = save_option(option, good[name][0])
            else:
                if len(good) >= MAX_LIBRARY_OPTIONS:
                    raise InputError(f"the library holds {len(good)} options, the most it keeps: "
                                     "delete some first", file=str(self.folder))
                path = _save_new(option, self.folder, slug(name))
            _remember(path, option)
            return path

    def delete(self, name: str) -> None:
        from optimiser.locking import exclusive_lock

        with exclusive_lock(self.folder, "the options library", wait_seconds=10):
            p = self.path_of(name)
            if p is not None:
                p.unlink()

    def import_file(self, content: bytes, filename: str = "<upload>", *, replace: bool = False) -> Option:
        """Validate an uploaded option file, then store it (nothing is written if invalid,
        and an option of the same name is kept unless ``replace``)."""
        option = parse_option(bytes(content), shorten(Path(filename).name or "<upload>", 100))
        self.save(option, replace=replace)
        return option


def _save_new(option: Option, folder: Path, stem: str) -> Path:
    """Write ``option`` to a new file ``stem.yaml`` (or ``stem_2.yaml``, ...): never over an
    existing file, even one another process has just made."""
    import tempfile

    text = option.to_yaml()
    fd, tmp = tempfile.mkstemp(prefix=f".{stem}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        for k in range(1, MAX_LIBRARY_OPTIONS + 2):
            target = folder / (f"{stem}.yaml" if k == 1 else f"{stem}_{k}.yaml")
            try:
                os.link(tmp, target)      # fails if the target exists: never overwrites
            except FileExistsError:
                continue
            return target
    finally:
        os.unlink(tmp)
    raise InputError("no free file name for the option", file=str(folder))
