"""Command line: ``python -m optimiser <command>``.

  data build-default            rebuild data/llr_default.gpkg from the shipped sources
  data import ...               build a dataset from official files
  data check [DATASET]          validate a dataset and print what it holds
  solve [SCENARIO] --out DIR    optimise; writes summary.json, beds.csv, ...
                                (--quick: the workshop's quick answer, with its proven gap)
  evaluate [SCENARIO] --option OPTION.yaml --out DIR
  compare DIR [DIR ...]         side-by-side table of result folders
  params                        every scenario parameter with its default and meaning
  options                       the shipped options of the LLR review

Errors are printed as one plain message (exit status 2); never a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path

from optimiser.errors import DataWarning, OptimiserError

DEFAULT_SCENARIO = Path(__file__).resolve().parent.parent / "data" / "scenarios" / "llr_default.yaml"


def _scenario(path: str | None):
    from optimiser.scenario import load_scenario

    return load_scenario(path or DEFAULT_SCENARIO)


def _print_solution(sol, out: Path | None) -> None:
    from optimiser.compare import format_value, metric_label

    gap = f", within {sol.optimality_gap:.2%} of the best possible" if sol.optimality_gap is not None else ""
    print(f"{sol.name}: {sol.status_message} ({sol.solver}, {sol.solve_seconds:.1f} s{gap})")
    if sol.mode == "p_median":
        _print_p_median(sol, out)
        return
    for key in ("annual_cost_gbp", "physical_beds", "virtual_beds", "open_sites",
                "share_within_30_minutes_65_plus", "mean_travel_minutes_65_plus",
                "worst_district_mean_travel_minutes", "patients_finding_no_free_bed_per_year",
                "unmet_admissions_per_year"):
        print(f"  {metric_label(key):<60} {format_value(key, sol.metrics[key])}")
    sites = sol.sites
    print("  beds per site: " + ", ".join(f"{r.site_name} {r.beds}" for r in sites.itertuples()))
    v = sol.virtual_beds
    print("  virtual beds per district: " + ", ".join(f"{r.district_name} {r.beds}" for r in v.itertuples()))
    for k, alt in enumerate(sol.alternatives, 1):
        shut = ", ".join(alt.sites.loc[~alt.sites["open"], "site_name"].str.split(",").str[0]) or "none"
        print(f"  alternative {k}: £{alt.metrics['annual_cost_gbp']:,.0f} a year, objective "
              f"{alt.objective / sol.objective - 1:+.2%} vs the best; sites without beds: {shut}"
              + (f" (in {out}/alternative_{k}/)" if out else ""))
    for b in sol.breaks:
        print(f"  rule not met: {b}")
    for n in sol.notes:
        print(f"  note: {n}")
    if out:
        print(f"  results written to {out}/")


def _print_p_median(sol, out: Path | None) -> None:
    """What a p-median user reads: the objective, mean and longest travel, the sites opened."""
    m = sol.metrics
    print(f"  objective (demand x travel)                                  {sol.objective:,.2f}")
    print(f"  mean travel to the assigned site (demand-weighted, minutes)  {m['mean_travel_minutes']:,.2f}")
    print(f"  longest travel to the assigned site (minutes)                {m['max_travel_minutes']:,.2f}")
    print(f"  sites opened                                                 {m['open_sites']:,.0f} of "
          f"{m['candidate_sites']:,.0f}")
    opened = sol.tables.units["site_id"].astype(str).tolist()
    shown = ", ".join(opened[:30]) + (f", ... ({len(opened) - 30} more)" if len(opened) > 30 else "")
    print(f"  open sites: {shown}")
    for n in sol.notes:
        print(f"  note: {n}")
    if out:
        print(f"  results written to {out}/")


def cmd_solve(args) -> int:
    from optimiser import api
    from optimiser.outputs import write_results

    if args.quick and args.alternatives:
        raise OptimiserError("--quick gives one answer: drop --alternatives, or solve without --quick")
    sc = _scenario(args.scenario)
    changes = {}
    if args.backend:
        changes["solver.backend"] = args.backend
    if args.time_limit:
        changes["solver.time_limit_seconds"] = args.time_limit
    if args.alternatives:
        changes["solver.alternatives"] = args.alternatives
    if changes:
        sc = sc.with_changes(**changes)
    ds = api.dataset_for(sc) if not (sc.inputs.zones_file or sc.inputs.travel_file) else None
    sol = api.quick_solve(sc, ds) if args.quick else api.solve(sc, ds)
    out = Path(args.out) if args.out else None
    if out and ds is not None:
        write_results(sol, ds, out)
        for k, alt in enumerate(sol.alternatives, 1):
            write_results(alt, ds, out / f"alternative_{k}")
    elif out:
        from optimiser.dataset.store import atomic_write_text
        from optimiser.outputs import summary_dict

        out.mkdir(parents=True, exist_ok=True)
        atomic_write_text(out / "summary.json", json.dumps(summary_dict(sol), indent=2))
        if sol.mode == "p_median":
            sites = sol.tables.units[["site_id"]]
            atomic_write_text(out / "open_sites.csv", sites.to_csv(index=False))
            a = sol.assignment[["zone_code", "site_id", "travel_minutes", "admissions_per_year"]]
            atomic_write_text(out / "assignment.csv", a.rename(columns={"admissions_per_year": "demand"})
                              .to_csv(index=False))
    _print_solution(sol, out)
    return 0


def cmd_evaluate(args) -> int:
    from optimiser import api
    from optimiser.options import load_option
    from optimiser.outputs import write_results

    sc = _scenario(args.scenario)
    ds = api.dataset_for(sc)
    sol = api.evaluate(sc, load_option(args.option), ds)
    out = Path(args.out) if args.out else None
    if out:
        write_results(sol, ds, out)
    _print_solution(sol, out)
    return 0


def cmd_compare(args) -> int:
    from optimiser.compare import compare_table, labelled, read_summary

    items = [read_summary(d) for d in args.dirs]
    table = labelled(compare_table(items))
    import pandas as pd

    with pd.option_context("display.max_colwidth", 40, "display.width", 200):
        print(table.to_string())
    if args.csv:
        from optimiser.dataset.store import atomic_write_text

        atomic_write_text(args.csv, compare_table(items).to_csv())
    return 0


def parameters_markdown() -> str:
    """The scenario data dictionary as a Markdown table (docs/scenario-parameters.md)."""
    from optimiser.scenario import parameter_table

    lines = ["# Scenario parameters", "",
             "Every setting of a scenario file, its default and meaning. Generated by "
             "`python -m optimiser params --markdown`; settings marked *assumption* are "
             "placeholders for the steering group to set.", "",
             "| Setting | Default | Unit | Meaning | Assumption? |", "|---|---|---|---|---|"]
    for r in parameter_table():
        text = str(r["description"]).replace("|", "/")
        lines.append(f"| `{r['key']}` | {str(r['default']).replace('|', '/')} | {r['unit']} | {text} | "
                     f"{r['assumption']} |")
    return "\n".join(lines) + "\n"


def cmd_params(args) -> int:
    from optimiser.scenario import parameter_table

    if args.markdown:
        print(parameters_markdown(), end="")
        return 0
    rows = parameter_table()
    width = max(len(r["key"]) for r in rows)
    for r in rows:
        unit = f" [{r['unit']}]" if r.get("unit") else ""
        print(f"{r['key']:<{width}}  {r['default']!s:<14} {r['description']}{unit}")
    return 0


def cmd_options(args) -> int:
    from optimiser.options import shipped_options

    for name, o in shipped_options().items():
        v = o.total_virtual_beds
        print(f"{name}: {o.physical_beds} hospital beds, "
              f"{'current' if v is None else v} virtual beds  ({o.source})")
    return 0


def cmd_data_build_default(args) -> int:
    from optimiser.dataset.default import DEFAULT_DATASET_PATH, build_default

    path = build_default(args.out or DEFAULT_DATASET_PATH)
    print(f"wrote {path} ({path.stat().st_size:,} bytes)")
    return cmd_data_check(argparse.Namespace(dataset=str(path)))


def cmd_data_import(args) -> int:
    from optimiser.dataset.importers import import_dataset

    ds = import_dataset(population=args.population, boundaries=args.boundaries, sites=args.sites,
                        travel=args.travel, projections=args.projections, name=args.name, out=args.out)
    print(f"imported {len(ds.zones)} zones, {len(ds.districts)} districts, {len(ds.sites)} sites -> {args.out}")
    return 0


def cmd_data_check(args) -> int:
    from optimiser.dataset.core import validate
    from optimiser.dataset.default import DEFAULT_DATASET_PATH
    from optimiser.dataset.store import load_dataset

    path = args.dataset or DEFAULT_DATASET_PATH
    ds = load_dataset(path)
    validate(ds, str(path))
    s = ds.summary()
    print(f"dataset {path}: valid")
    print(f"  name: {s['name']}")
    print(f"  zones: {s['zones']}  districts: {s['districts']}  sites: {s['sites']}")
    print(f"  population: {s['population_total']:,} (65+: {s['population_65_plus']:,}; 85+: {s['population_85_plus']:,})")
    print(f"  current beds: {s['current_physical_beds']} physical, {s['current_virtual_beds']} virtual")
    print(f"  travel: {s['travel_pairs']:,} zone-site pairs; method: {s['travel_method']}")
    md = ds.metadata
    if "travel_fit_mae_minutes" in md:
        print(f"  travel fit error: mean absolute error {float(md['travel_fit_mae_minutes']):.2f} minutes"
              + (f" ({float(md['travel_fit_mape']):.1%})" if "travel_fit_mape" in md else "")
              + (f"; cross-validated {float(md['travel_fit_cv_mae_minutes']):.2f} minutes"
                 if "travel_fit_cv_mae_minutes" in md else ""))
    a = ds.assumptions
    print(f"  assumptions ({len(a)} figures a user should check or replace):")
    for r in a.itertuples():
        print(f"    - {r.key}: {r.value} {r.unit} — {r.description}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m optimiser",
                                description="LLR community and virtual bed configuration optimiser")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("solve", help="optimise a scenario")
    s.add_argument("scenario", nargs="?", help="scenario YAML (default: data/scenarios/llr_default.yaml)")
    s.add_argument("--out", help="folder for the result files")
    s.add_argument("--backend", choices=["ortools", "pulp"])
    s.add_argument("--time-limit", type=float, dest="time_limit")
    s.add_argument("--alternatives", type=int, default=0, help="also find this many next-best configurations")
    s.add_argument("--quick", action="store_true",
                   help="the quick answer (grouped areas or the rounded relaxation, every area routed "
                        "exactly, gap proven by the relaxation): about a second for LLR, under 60 s for "
                        "33,000 areas; no alternatives. For a p-median (mode: p_median): greedy and fast "
                        "interchange with the Lagrangian bound's gap, no solver run")
    s.set_defaults(func=cmd_solve)

    e = sub.add_parser("evaluate", help="measure a fixed option on the scenario's yardstick")
    e.add_argument("scenario", nargs="?")
    e.add_argument("--option", required=True, help="option YAML (see data/options/)")
    e.add_argument("--out")
    e.set_defaults(func=cmd_evaluate)

    c = sub.add_parser("compare", help="side-by-side table of result folders")
    c.add_argument("dirs", nargs="+")
    c.add_argument("--csv", help="also write the table as CSV")
    c.set_defaults(func=cmd_compare)

    pp = sub.add_parser("params", help="list every scenario parameter")
    pp.add_argument("--markdown", action="store_true", help="as the Markdown data dictionary")
    pp.set_defaults(func=cmd_params)
    sub.add_parser("options", help="list the shipped options").set_defaults(func=cmd_options)

    d = sub.add_parser("data", help="build, import or check a dataset")
    dsub = d.add_subparsers(dest="data_command", required=True)
    b = dsub.add_parser("build-default", help="rebuild the embedded LLR default dataset")
    b.add_argument("--out")
    b.set_defaults(func=cmd_data_build_default)
    i = dsub.add_parser("import", help="build a dataset from official files")
    i.add_argument("--population", required=True, help="ONS small-area population (CSV or XLSX)")
    i.add_argument("--boundaries", required=True, help="zone boundaries (GeoJSON, GeoPackage, shapefile)")
    i.add_argument("--sites", required=True, help="sites CSV")
    i.add_argument("--travel", help="travel-time matrix CSV (long or wide); default: estimated")
    i.add_argument("--projections", help="population projections CSV")
    i.add_argument("--name")
    i.add_argument("--out", required=True, help="GeoPackage to write")
    i.set_defaults(func=cmd_data_import)
    k = dsub.add_parser("check", help="validate a dataset and print what it holds")
    k.add_argument("dataset", nargs="?")
    k.set_defaults(func=cmd_data_check)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", DataWarning)
            code = args.func(args)
        for w in caught:
            if issubclass(w.category, DataWarning):
                print(f"warning: {w.message}", file=sys.stderr)
        return code
    except OptimiserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("stopped", file=sys.stderr)
        return 130
