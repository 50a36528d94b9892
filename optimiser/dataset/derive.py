"""Derive the compact LLR figure tables the embedded default is built from.

Run once, by a developer, against the official files kept beside the repo::

    python -m optimiser.dataset.derive ../shared/data/llr-reference

It writes, into ``optimiser/dataset/``:

* ``llr_lsoa_figures.csv``: for each of the 611 LLR LSOAs (2011), the population by the age
  bands the model uses (total, 65-74, 75-84, 85+) from the ONS mid-2020 small area
  population estimates, and the IMD 2019 rank and decile (English Indices of Deprivation
  2019, File 1);
* ``llr_projections.csv``: the ONS 2022-based subnational population projections for the
  nine districts, every year the file holds (2022-2047), bands all ages, 65+, 75+ and 85+.

Both are official statistics published under the Open Government Licence v3.0; the files
carry their attribution in a header. The product never reads the reference folder: ``data
build-default`` reads these tables from the package. A test re-derives them and checks they
are unchanged.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

from optimiser.errors import InputError

HERE = Path(__file__).resolve().parent
LSOA_FIGURES_PATH = HERE / "llr_lsoa_figures.csv"
PROJECTIONS_PATH = HERE / "llr_projections.csv"

POPULATION_FILE = Path("population") / "llr_population20_lsoa11_mid2020_syoa.csv"
IMD_FILE = Path("deprivation") / "llr_imd2019_lsoa11_file1.csv"
PROJECTIONS_FILE = Path("population") / "llr_snpp2022_migcat23_bands.csv"

POPULATION_SOURCE = ("ONS small area population estimates (SAPE), mid-2020, LSOA 2011, single "
                     "year of age")
POPULATION_ATTRIBUTION = ("Source: Office for National Statistics licensed under the Open "
                          "Government Licence v3.0")
IMD_SOURCE = ("English Indices of Deprivation 2019, File 1: Index of Multiple Deprivation rank "
              "and decile (LSOA 2011); MHCLG, September 2019")
IMD_ATTRIBUTION = "Ministry of Housing, Communities and Local Government; Open Government Licence v3.0"
PROJECTIONS_SOURCE = ("ONS 2022-based subnational population projections for England, "
                      "migration-category variant (published June 2025)")

LSOA_HEADER = f"""\
# Population and deprivation of the 611 Leicester, Leicestershire and Rutland LSOAs (2011).
# Population by age band: {POPULATION_SOURCE}.
#   {POPULATION_ATTRIBUTION}.
# IMD 2019 rank (1 = most deprived of 32,844 English LSOAs) and decile (1 = most deprived 10%):
#   {IMD_SOURCE}. {IMD_ATTRIBUTION}.
# Derived with: python -m optimiser.dataset.derive <llr-reference folder>
"""
PROJECTIONS_HEADER = f"""\
# Projected population of the nine LLR districts by year and age band.
# {PROJECTIONS_SOURCE}.
#   {POPULATION_ATTRIBUTION}.
# Derived with: python -m optimiser.dataset.derive <llr-reference folder>
"""
LSOA_COLUMNS = ["lsoa11_code", "lad_code", "pop_total", "pop_65_74", "pop_75_84", "pop_85_plus",
                "imd_rank", "imd_decile"]
IMD_COLUMNS = {"LSOA code (2011)": "lsoa11_code",
               "Index of Multiple Deprivation (IMD) Rank": "imd_rank",
               "Index of Multiple Deprivation (IMD) Decile": "imd_decile"}


def _read(reference: Path, relative: Path, **kwargs) -> pd.DataFrame:
    path = reference / relative
    if not path.is_file():
        raise InputError("reference file not found", file=path)
    return pd.read_csv(path, **kwargs)


def lsoa_figures(reference: str | Path) -> pd.DataFrame:
    """Population by model age band and IMD 2019 rank/decile for each LLR LSOA."""
    reference = Path(reference)
    pop = _read(reference, POPULATION_FILE, dtype={"lad_code": str, "lsoa11_code": str})
    ages = [str(a) for a in range(65, 90)] + ["90+"]
    missing = [c for c in ["total_population", *ages] if c not in pop.columns]
    if missing:
        raise InputError(f"missing column(s) {missing}", file=reference / POPULATION_FILE)
    out = pd.DataFrame({
        "lsoa11_code": pop["lsoa11_code"],
        "lad_code": pop["lad_code"],
        "pop_total": pop["total_population"],
        "pop_65_74": pop[[str(a) for a in range(65, 75)]].sum(axis=1),
        "pop_75_84": pop[[str(a) for a in range(75, 85)]].sum(axis=1),
        "pop_85_plus": pop[[*(str(a) for a in range(85, 90)), "90+"]].sum(axis=1),
    })
    # the file's own cumulative columns must agree with the single years
    for band, cumulative in (("pop_85_plus", "age_85_plus"),):
        if not (out[band] == pop[cumulative]).all():
            raise InputError(f"single years do not add up to {cumulative}", file=reference / POPULATION_FILE)
    if not (out[["pop_65_74", "pop_75_84", "pop_85_plus"]].sum(axis=1) == pop["age_65_plus"]).all():
        raise InputError("single years do not add up to age_65_plus", file=reference / POPULATION_FILE)
    imd = _read(reference, IMD_FILE, dtype=str, encoding="utf-8-sig").rename(columns=IMD_COLUMNS)
    imd = imd[list(IMD_COLUMNS.values())]
    imd["imd_rank"] = imd["imd_rank"].str.replace(",", "", regex=False).astype(int)
    imd["imd_decile"] = imd["imd_decile"].astype(int)
    out = out.merge(imd, on="lsoa11_code", how="left", validate="one_to_one")
    if out["imd_rank"].isna().any():
        code = out.loc[out["imd_rank"].isna(), "lsoa11_code"].iloc[0]
        raise InputError(f"LSOA {code} has no IMD 2019 row", file=reference / IMD_FILE)
    for col in LSOA_COLUMNS[2:]:
        out[col] = out[col].round().astype(int)
    return out[LSOA_COLUMNS].sort_values("lsoa11_code").reset_index(drop=True)


def projection_figures(reference: str | Path) -> pd.DataFrame:
    """district_code, band, year, population for every year of the projections file."""
    raw = _read(Path(reference), PROJECTIONS_FILE, dtype={"area_code": str})
    years = [c for c in raw.columns if c.isdigit()]
    long = raw.melt(id_vars=["area_code", "band"], value_vars=years, var_name="year",
                    value_name="population")
    long = long.rename(columns={"area_code": "district_code"})
    long["year"] = long["year"].astype(int)
    return long.sort_values(["district_code", "band", "year"]).reset_index(drop=True)


def lsoa_csv(table: pd.DataFrame) -> str:
    return LSOA_HEADER + table.to_csv(index=False, lineterminator="\n")


def projections_csv(table: pd.DataFrame) -> str:
    return PROJECTIONS_HEADER + table.to_csv(index=False, lineterminator="\n", float_format="%.1f")


def read_lsoa_figures(path: str | Path = LSOA_FIGURES_PATH) -> pd.DataFrame:
    """The shipped LSOA table, indexed by LSOA code."""
    return pd.read_csv(path, comment="#", dtype={"lsoa11_code": str, "lad_code": str}).set_index("lsoa11_code")


def read_projections(path: str | Path = PROJECTIONS_PATH) -> pd.DataFrame:
    return pd.read_csv(path, comment="#", dtype={"district_code": str, "band": str})


def main(argv: list[str] | None = None) -> int:
    from optimiser.dataset.store import atomic_write_text

    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m optimiser.dataset.derive <llr-reference folder>", file=sys.stderr)
        return 2
    reference = Path(args[0])
    lsoa = lsoa_figures(reference)
    atomic_write_text(LSOA_FIGURES_PATH, lsoa_csv(lsoa))
    proj = projection_figures(reference)
    atomic_write_text(PROJECTIONS_PATH, projections_csv(proj))
    print(f"wrote {LSOA_FIGURES_PATH.name} ({len(lsoa)} LSOAs, population {lsoa['pop_total'].sum():,}) "
          f"and {PROJECTIONS_PATH.name} ({proj['district_code'].nunique()} districts, "
          f"{proj['year'].min()}-{proj['year'].max()})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
