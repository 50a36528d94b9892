"""Reading YAML that people send (scenario and option files), safely.

``yaml.safe_load`` refuses Python tags but still expands anchors and aliases: 436 bytes of
nested aliases expand to gigabytes (the "billion laughs"). People never need them in a
scenario or an option, so :func:`load_yaml` refuses any anchor (``&name``) or alias
(``*name``), refuses files above a size cap, nesting deeper than :data:`MAX_DEPTH`, and
anything that is not UTF-8 text. It checks the event stream first (libyaml's C parser when
installed: fast), and only then builds the document. Its messages give the line, never
the input.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import yaml

from optimiser.errors import OptimiserError, shorten

__all__ = ["MAX_DEPTH", "MAX_OPTION_BYTES", "MAX_OPTION_FILE_BYTES", "MAX_SCENARIO_BYTES", "YamlRefused", "load_yaml", "read_capped"]

MAX_SCENARIO_BYTES = 1_000_000      # the LLR default scenario is 6 kB
MAX_OPTION_BYTES = 1_000_000        # the app's library and uploads: an LLR option with its
                                    # routing is about 150 kB (YAML parses at 0.3-0.5 MB/s)
MAX_OPTION_FILE_BYTES = 50_000_000  # an option file named on the command line (national routing)
MAX_DEPTH = 32                      # a scenario nests 5 levels deep

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class YamlRefused(OptimiserError):
    """Internal: why a YAML text was refused, and on which line (1-based), if known."""

    def __init__(self, problem: str, line: int | None = None):
        self.problem, self.line = problem, line
        super().__init__(problem + (f" (line {line})" if line else ""))


def _line(mark) -> int | None:
    return mark.line + 1 if mark is not None else None


def _check_events(text: str) -> None:
    depth = 0
    for event in yaml.parse(text, Loader=_Loader):
        if isinstance(event, yaml.AliasEvent):
            raise YamlRefused("uses an alias (*name): anchors and aliases are not allowed in this "
                              "file; write each value out in full", _line(event.start_mark))
        if getattr(event, "anchor", None) is not None:
            raise YamlRefused("defines an anchor (&name): anchors and aliases are not allowed in "
                              "this file; write each value out in full", _line(event.start_mark))
        if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
            depth += 1
            if depth > MAX_DEPTH:
                raise YamlRefused(f"nests more than {MAX_DEPTH} levels deep", _line(event.start_mark))
        elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            depth -= 1


def read_capped(path: Path, max_bytes: int) -> bytes:
    """The bytes of a regular file no larger than ``max_bytes`` (never reads more)."""
    if not path.is_file():
        raise YamlRefused("is not a file" if path.exists() else "not found")
    size = path.stat().st_size
    if size > max_bytes:
        raise YamlRefused(f"is {size:,} bytes; the most accepted is {max_bytes:,}")
    with open(path, "rb") as handle:
        data = handle.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise YamlRefused(f"is more than {max_bytes:,} bytes")
    return data


def _text(data: bytes) -> str:
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        raise YamlRefused("is UTF-16 text: save it as UTF-8")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise YamlRefused(f"is not UTF-8 text (byte {exc.start + 1} cannot be read)", line) from None


def load_yaml(source: bytes | str | Path, *, max_bytes: int,
              error: Callable[[str, int | None], Exception]):
    """Parse one YAML document from a file path, bytes or text, refusing anchors, aliases,
    deep nesting, files above ``max_bytes`` and text that is not UTF-8. Problems are raised
    as ``error(problem, line)`` (an InputError or ScenarioError naming the file)."""
    try:
        if isinstance(source, Path):
            source = read_capped(source, max_bytes)
        if isinstance(source, bytes):
            if len(source) > max_bytes:
                raise YamlRefused(f"is {len(source):,} bytes; the most accepted is {max_bytes:,}")
            source = _text(source)
        elif len(source.encode("utf-8", "surrogatepass")) > max_bytes:
            raise YamlRefused(f"is more than {max_bytes:,} bytes; the most accepted is {max_bytes:,}")
        _check_events(source)
        return yaml.load(source, Loader=_Loader)  # noqa: S506 (a safe loader, checked above)
    except YamlRefused as exc:
        raise error(exc.problem, exc.line) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = shorten(getattr(exc, "problem", None) or type(exc).__name__, 120)
        raise error(f"is not valid YAML ({problem})", _line(mark)) from None
    except (RecursionError, MemoryError, OverflowError, ValueError) as exc:
        raise error(f"cannot be read as YAML ({type(exc).__name__})", None) from None
