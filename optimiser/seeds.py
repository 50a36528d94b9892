"""The evidence base: figures taken from the LLR review papers, kept in ``seeds/*.yaml``.

Each YAML file describes one paper (its file name in ``../shared/seeds/``, title, author,
date) and lists figures with the section or table they come from. Other modules cite a
figure as ``seeds/<file>.yaml#<key>`` and read its value through :func:`figure`, so that the
default dataset and scenario carry their sources with them.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

from optimiser.errors import InputError

SEEDS_DIR = Path(__file__).resolve().parents[1] / "seeds"


@dataclass(frozen=True)
class Figure:
    key: str
    value: float | int | str
    unit: str
    where: str
    what: str
    paper: str
    title: str
    citation: str

    def source(self) -> str:
        return f"{self.title} ({self.paper}), {self.where}"


@dataclass(frozen=True)
class SeedFile:
    path: Path
    paper: str
    title: str
    author: str
    date: str
    figures: dict[str, Figure]


@lru_cache(maxsize=4)
def load_seeds(directory: str | Path = SEEDS_DIR) -> dict[str, SeedFile]:
    """All seed files, keyed by the paper's number prefix (``"001"``) and by file stem."""
    directory = Path(directory)
    out: dict[str, SeedFile] = {}
    for path in sorted(directory.glob("*.yaml")):
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            raise InputError(f"is not valid YAML ({exc})", file=path) from exc
        for key in ("paper", "title", "figures"):
            if key not in raw:
                raise InputError(f"missing top-level key '{key}'", file=path, column=key)
        figures = {}
        for key, spec in raw["figures"].items():
            for field in ("value", "unit", "where", "what"):
                if field not in spec:
                    raise InputError(f"figure '{key}' has no '{field}'", file=path, column=field)
            figures[key] = Figure(
                key=key, value=spec["value"], unit=str(spec["unit"]), where=str(spec["where"]),
                what=str(spec["what"]), paper=raw["paper"], title=raw["title"],
                citation=f"seeds/{path.name}#{key}",
            )
        seed = SeedFile(path, raw["paper"], raw["title"], str(raw.get("author", "")),
                        str(raw.get("date", "")), figures)
        out[raw["paper"][:3]] = seed
        out[path.stem] = seed
    return out


def figure(paper: str, key: str) -> Figure:
    """A figure by paper number (``"001"``) or file stem, and key."""
    seeds = load_seeds()
    if paper not in seeds:
        raise InputError(f"no seed file for paper '{paper}'", file=SEEDS_DIR)
    seed = seeds[paper]
    if key not in seed.figures:
        raise InputError(f"no figure '{key}'", file=seed.path, column=key)
    return seed.figures[key]


def resolve(citation: str) -> Figure:
    """Resolve ``seeds/<file>.yaml#<key>`` to its figure."""
    try:
        file_part, key = citation.split("#", 1)
    except ValueError:
        raise InputError(f"citation '{citation}' is not of the form seeds/<file>.yaml#<key>") from None
    return figure(Path(file_part).stem, key)
