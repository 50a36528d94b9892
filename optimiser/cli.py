"""Command line: ``python -m optimiser <command>``.

  data build-default            rebuild data/llr_default.gpkg from the shipped sources
  data import ...               build a dataset from official files
  data check [DATASET]          validate a dataset and print what it holds
  data add-travel --matrix CSV --out GPKG   add a second travel matrix (e.g. public transport)
  solve [SCENARIO] --out DIR    optimise; writes summary.json, beds.csv, ...
                                (--quick: the workshop's quick answer, with its proven gap;
                                 --robust: beds meeting --samples futures, validated on fresh
                                 ones until they hold in --reliability of futures)
  evaluate [SCENARIO] --option OPTION.yaml --out DIR
  uncertainty [SCENARIO] --option OPTION.yaml [--samples N] [--seed S] --out DIR
                                how sure are we: the option in many futures drawn from the ranges
  sensitivity [SCENARIO] --out DIR   tornado, waterfall, per-site robustness over futures
  compare DIR [DIR ...]         side-by-side table of result folders
  impact [SCENARIO] --option OPTION.yaml|best|quick [--baseline ...] [--no-pack] --out DIR
                                who is affected, by area, district and deprivation; council packs
  params [--scenario FILE]      every setting's value, default, meaning and source or assumption
  options                       the shipped options of the LLR review
  app [--network --host NAME]   open the app (127.0.0.1 only unless --network, with a password)

Errors are printed as one plain message (exit status 2); never a traceback.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from contextlib import nullcontext
from pathlib import Path

from optimiser.errors import DataWarning, OptimiserError

DEFAULT_SCENARIO = Path(__file__).resolve().parent.parent / "data" / "scenarios" / "llr_default.yaml"


def _scenario(path: str | None):
    from optimiser.scenario import load_scenario

    return load_scenario(path or DEFAULT_SCENARIO)


def _dataset(args, scenario):
    """The dataset given with --dataset, else the scenario's."""
    from optimiser import api

    return api.load_dataset(args.dataset) if getattr(args, "dataset", None) else api.dataset_for(scenario)


def _print_solution(sol, out: Path | None) -> None:
    from optimiser.compare import format_value, metric_label

    gap = f", within {sol.optimality_gap:.2%} of the best possible" if sol.optimality_gap is not None else ""
    print(f"{sol.name}: {sol.status_message} ({sol.solver}, {sol.solve_seconds:.1f} s{gap})")
    if sol.mode == "p_median":
        _print_p_median(sol, out)
        return
    if sol.stopped_by_time_limit:
        print("  WARNING: the time limit, not the proof, ended this search: the answer is not proven the "
              "best and may change with the machine's speed. Raise solver.time_limit_seconds.")
    if sol.near_ties:
        print(f"  NOT A SINGLE BEST: {len(sol.near_ties)} materially different configuration(s) are within "
              "the margin; the model cannot tell them apart:")
        for t in sol.near_ties:
            print(f"    - {t.description}")
    if sol.near_tie_note:
        print(f"  near-tie search: {sol.near_tie_note}")
    for key in ("annual_cost_gbp", "physical_beds", "virtual_beds", "open_sites",
                "share_within_30_minutes_65_plus", "mean_travel_minutes_65_plus",
                "worst_district_mean_travel_minutes", "deprivation_gap_minutes", "patients_finding_no_free_bed_per_year",
                "unmet_admissions_per_year"):
        print(f"  {metric_label(key):<60} {format_value(key, sol.metrics[key])}")
    for key in ("mean_travel_minutes_65_plus_second_matrix", "share_within_30_minutes_65_plus_second_matrix",
                "share_no_route_65_plus_second_matrix"):
        if key in sol.metrics:   # the dataset has a second travel matrix (e.g. public transport)
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
    p = sol.provenance
    if p:
        print(f"  data: {p['data']} (dataset '{p['dataset']}', SHA-256 {p['dataset_sha256'][:12]}); "
              f"scenario SHA-256 {p['scenario_sha256'][:12]}; {p['assumption_figures']} assumption-flagged "
              f"figures used")
    if out:
        print(f"  results written to {out}/ (summary.json records where the result came from)")


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
    from optimiser.outputs import ResultFolder

    if args.quick and args.alternatives:
        raise OptimiserError("--quick gives one answer: drop --alternatives, or solve without --quick")
    sc = _scenario(args.scenario)
    changes = {}
    if args.backend:
        changes["solver.backend"] = args.backend
    if args.time_limit is not None:
        if args.time_limit <= 0:
            raise OptimiserError("--time-limit must be more than 0 seconds (it is a safety net: a solve "
                                 "normally ends when its answer is proven within solver.mip_gap)")
        changes["solver.time_limit_seconds"] = args.time_limit
    if args.alternatives:
        changes["solver.alternatives"] = args.alternatives
    if changes:
        sc = sc.with_changes(**changes)
    if args.robust:
        return _solve_robust(args, sc, _dataset(args, sc) if not (sc.inputs.zones_file or sc.inputs.travel_file)
                             else None)
    out = Path(args.out) if args.out else None
    with ResultFolder(out) if out else nullcontext() as folder:   # checked and locked before solving
        ds = _dataset(args, sc) if not (sc.inputs.zones_file or sc.inputs.travel_file) else None
        sol = api.quick_solve(sc, ds) if args.quick else api.solve(sc, ds)
        if folder is not None:
            folder.write(sol, ds, sol.alternatives if ds is not None else ())
    _print_solution(sol, out)
    return 0


def _solve_robust(args, sc, ds) -> int:
    from optimiser import api
    from optimiser.parallel import text_progress
    from optimiser.robust import write_robust

    if ds is None:
        raise OptimiserError("--robust needs a dataset (custom zone and travel files are not supported)")
    if not 0 < args.reliability <= 1:
        raise OptimiserError(f"--reliability must be more than 0 and at most 1, got {args.reliability}")
    for name in ("validation_samples", "validation_rounds", "check_samples"):
        if getattr(args, name) is not None and getattr(args, name) < 1:
            raise OptimiserError(f"--{name.replace('_', '-')} must be at least 1, got {getattr(args, name)}")
    samples = args.samples or 50
    if args.out:
        from optimiser.outputs import check_output_folder

        check_output_folder(args.out)     # before minutes of work, not after
    point = api.quick_solve(sc, ds) if args.quick else api.solve(sc, ds)
    result = api.robust(sc, ds, samples=samples, reliability=args.reliability, seed=args.seed,
                        check_samples=args.check_samples, validation_samples=args.validation_samples,
                        validation_rounds=args.validation_rounds, resolution=args.resolution, point=point,
                        progress=text_progress("checking futures"), **_sweep_settings(args, samples))
    out = Path(args.out) if args.out else None
    if out:
        write_robust(result, ds, out)
    r = result.summary
    gap = f"proven within {r['proven_gap']:.2%}" if r["proven_gap"] is not None else "gap unknown"
    print(f"Robust configuration for {sc.name}: {samples} futures planned for (seed {args.seed}), {gap}"
          + (" - STOPPED BY THE TIME LIMIT" if r["stopped_by_time_limit"] else "")
          + f", {r['solve_seconds']:.0f} s to solve, {r['seconds']:.0f} s in all")
    for line in r["in_plain_words"]:
        print(f"  {line}")
    print("  beds per site (point -> robust): " + ", ".join(
        f"{s} {r['point']['beds_by_site'].get(s, 0)} -> {b}" for s, b in r["robust"]["beds_by_site"].items()))
    if out:
        print(f"  results written to {out}/ (the robust configuration; the point answer in {out}/point/; "
              "robust.json compares them; out_of_sample.csv has every independent future)")
    return 0


def cmd_sensitivity(args) -> int:
    from optimiser import api
    from optimiser.parallel import text_progress
    from optimiser.sensitivity import site_robustness, tornado, waterfall, write_sensitivity

    sc = _scenario(args.scenario)
    ds = _dataset(args, sc)
    settings = _sweep_settings(args, args.samples)
    t = tornado(sc, ds, best=args.best, progress=text_progress("tornado solves"), **settings)
    point = api.solve(sc, ds) if args.best else api.quick_solve(sc, ds)
    w = waterfall(sc, ds, point)
    rb = None
    if args.samples:
        rb = site_robustness(sc, ds, samples=args.samples, seed=args.seed,
                             progress=text_progress(f"{args.samples} futures optimised"), **settings)
    summary = write_sensitivity(args.out, t, w, rb, {"scenario": sc.name, "seed": args.seed,
                                                      "samples": args.samples})
    print(f"What drives the answer for {sc.name} ({summary['tornado']['mode']}; central answer "
          f"{t.central['total_beds']:.0f} beds, £{t.central['annual_cost_gbp'] / 1e6:,.1f}m a year):")
    for r in summary["tornado"]["largest_swings"]:
        print(f"  {r['label']}: moves total beds by up to {r['swing_total_beds']:.0f}")
    print("  from today's beds to the recommendation: " + "; ".join(
        f"{r.label} {r.change_beds:+.0f}" if r.step != "today" else f"{r.label} {r.beds_after:.0f}"
        for r in w.steps.itertuples()) + f"; recommendation {w.recommendation:.0f}")
    if rb is not None:
        for line in rb.words:
            print(f"  {line}")
    print(f"  results written to {args.out}/")
    return 0


def cmd_evaluate(args) -> int:
    from optimiser import api
    from optimiser.options import load_option
    from optimiser.outputs import ResultFolder

    sc = _scenario(args.scenario)
    option = load_option(args.option)
    out = Path(args.out) if args.out else None
    with ResultFolder(out) if out else nullcontext() as folder:
        ds = _dataset(args, sc)
        sol = api.evaluate(sc, option, ds)
        if folder is not None:
            folder.write(sol, ds)
    _print_solution(sol, out)
    return 0


def _answer(spec: str, scenario, dataset):
    """An option file, or 'best' / 'quick' for the optimiser's answer to the scenario."""
    from optimiser import api
    from optimiser.options import load_option

    if spec == "best":
        return api.solve(scenario, dataset)
    if spec == "quick":
        return api.quick_solve(scenario, dataset)
    return load_option(spec)


def cmd_impact(args) -> int:
    from optimiser import api
    from optimiser.impact_pack import write_impact

    sc = _scenario(args.scenario)
    ds = _dataset(args, sc)
    option = _answer(args.option, sc, ds)
    baseline = _answer(args.baseline, sc, ds) if args.baseline else None
    result = api.impact(sc, option, baseline, ds)
    out = Path(args.out)
    written = write_impact(result, ds, out, pack=args.pack)
    print(f"Impact of '{result.option.name}' against '{result.baseline.name}' (patient-flow model; journeys of the "
          f"{result.reference_pathway} pathway)")
    for caveat in result.caveats:
        print(f"  CAVEAT: {caveat}")
    for r in result.overall.to_dict("records"):
        print(f"  {r['travel_times']}: {r['people_longer_65_plus']:,} people aged 65+ with a longer journey (a minute "
              f"or more), {r['people_shorter_65_plus']:,} shorter, mean change {r['mean_change_minutes_65_plus']:+.1f} "
              f"minutes; {r['people_pushed_over_30_minutes_65_plus']:,} pushed over 30 minutes, "
              f"{r['people_pushed_over_45_minutes_65_plus']:,} over 45; {r['admissions_changing_hospital_per_year']:,.0f} "
              "admissions a year change hospital")
    for r in result.site_changes.drop_duplicates("site_id").itertuples():
        print(f"  {r.site_name}: {r.beds_before} -> {r.beds_after} beds (where its patients go: impact_sites.csv)")
    m0, m1 = result.baseline.metrics, result.option.metrics
    print(f"  deprivation gap (most minus least deprived mean travel): {m0['deprivation_gap_minutes']:+.1f} -> "
          f"{m1['deprivation_gap_minutes']:+.1f} minutes")
    packs = [p for p in written if p.suffix == ".pdf"]
    print(f"  {len(written)} files written to {out}/" + (f", including {len(packs)} district packs in {out}/packs/"
                                                           if packs else ""))
    return 0


def _sweep_settings(args, samples: int | None = None) -> dict:
    samples = args.samples if samples is None else samples
    if samples is not None and samples < 1:
        raise OptimiserError(f"--samples must be at least 1, got {samples}")
    if args.workers is not None and args.workers < 1:
        raise OptimiserError(f"--workers must be at least 1, got {args.workers}")
    return {"scheduler": args.scheduler, "workers": args.workers}


def cmd_uncertainty(args) -> int:
    from optimiser import api
    from optimiser.options import load_option
    from optimiser.parallel import text_progress

    sc = _scenario(args.scenario)
    ds = _dataset(args, sc)
    option = load_option(args.option)
    result = api.uncertainty(sc, option, ds, samples=args.samples, seed=args.seed, method=args.method,
                             progress=text_progress(f"{args.samples} futures"), **_sweep_settings(args))
    out = result.write(args.out)
    s = result.summary
    print(f"{option.name} in {s['samples']} futures ({s['sampling']}, seed {s['seed']}, {s['workers']} Dask "
          f"worker(s), {s['seconds']:.1f} s):")
    for line in s["in_plain_words"]:
        print(f"  {line}")
    print(f"  results written to {out}/ (futures.csv, quantiles.csv, summary.json)")
    return 0


def cmd_compare(args) -> int:
    from optimiser.compare import compare_table, labelled, read_summary

    items = [read_summary(d) for d in args.dirs]
    table = labelled(compare_table(items))
    import pandas as pd

    with pd.option_context("display.max_colwidth", 40, "display.width", 200):
        print(table.to_string())
    if args.csv:
        if Path(args.csv).is_dir():
            raise OptimiserError(f"--csv '{args.csv}' is a folder: give a file name, e.g. {Path(args.csv) / 'comparison.csv'}")
        from optimiser.dataset.store import atomic_write_text
        from optimiser.spreadsheets import safe_csv

        atomic_write_text(args.csv, safe_csv(compare_table(items)))
    return 0


def parameters_markdown() -> str:
    """The scenario data dictionary as a Markdown table (docs/scenario-parameters.md)."""
    from optimiser.scenario import parameter_table

    lines = ["# Scenario parameters", "",
             "Every setting of a scenario file, its default and meaning. Generated by "
             "`python -m optimiser params --markdown`; settings marked *assumption* have "
             "defaults that are placeholders for the steering group to set.", "",
             "## Where each figure comes from", "",
             "Any number in a scenario (or option) file may be written plainly or with a note "
             "saying where it comes from:", "",
             "```yaml",
             "length_of_stay_days:",
             "  value: 25",
             "  source: \"seeds/<file>.yaml#<key>\"     # or a publication with its table or page",
             "  assumption: \"why this value\"          # a source, an assumption, or both",
             "  low: 20                                # optional: an 80% interval (same unit)",
             "  high: 30",
             "  variants: {short_stays: 18}            # optional: named alternatives (same unit)",
             "```", "",
             "A note needs `source` or `assumption`; every `seeds/...#key` in a source must name "
             "a figure in `seeds/`, and `low <= value <= high`. The shipped scenario and options "
             "give every figure a note (a test checks). "
             "`python -m optimiser params --scenario FILE [--format csv]` lists a scenario's "
             "values with their notes.", "",
             "## Settings", "",
             "| Setting | Default | Unit | Meaning | Assumption? |", "|---|---|---|---|---|"]
    for r in parameter_table():
        text = str(r["description"]).replace("|", "/")
        lines.append(f"| `{r['key']}` | {str(r['default']).replace('|', '/')} | {r['unit']} | {text} | "
                     f"{r['assumption']} |")
    return "\n".join(lines) + "\n"


PARAM_COLUMNS = ("key", "value", "default", "unit", "meaning", "status", "source", "assumption",
                 "low", "high", "variants")


def cmd_params(args) -> int:
    import csv
    import textwrap

    from optimiser.scenario import setting_rows

    if args.markdown or args.format == "markdown":
        print(parameters_markdown(), end="")
        return 0
    path = Path(args.scenario) if args.scenario else DEFAULT_SCENARIO
    sc = _scenario(str(path))
    rows = setting_rows(sc)
    if args.format == "csv":
        writer = csv.DictWriter(sys.stdout, fieldnames=list(PARAM_COLUMNS), extrasaction="ignore",
                                lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        return 0
    figures = [r for r in rows if r["status"] not in ("", "default")]
    sourced = sum("source" in r["status"] for r in figures)
    flagged = sum("assumption" in r["status"] for r in figures)
    bare = [r["key"] for r in figures if r["status"] == "no note"]
    print(f"Scenario '{sc.name}' ({path})")
    print(f"{len(figures)} figures set in the file: {sourced} cite a source, {flagged} are flagged "
          f"as assumptions, {len(bare)} have neither" + (f" ({', '.join(bare)})" if bare else "") + ".")
    print("Each setting: value in this scenario [unit] (schema default) - meaning; then its note.")
    for r in rows:
        unit = f" {r['unit']}" if r["unit"] and r["value"] else ""
        default = f" (default {r['default'] or 'blank'})" if r["default"] != r["value"] else ""
        print(f"\n{r['key']} = {r['value'] or '(blank)'}{unit}{default}")
        wrap = textwrap.TextWrapper(width=100, initial_indent="    ", subsequent_indent="      ")
        print(wrap.fill(r["meaning"]))
        for label in ("source", "assumption"):
            if r[label]:
                print(wrap.fill(f"{label}: {r[label]}"))
        if r["low"]:
            print(wrap.fill(f"80% range: {r['low']} to {r['high']}"))
        if r["variants"]:
            print(wrap.fill(f"variants: {r['variants']}"))
        if r["status"] == "no note":
            print(wrap.fill("no source or assumption given for this figure"))
        elif r["status"] == "default" and r["default_is_assumption"]:
            print(wrap.fill("the schema's default, itself an assumption (see the data dictionary)"))
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
    from optimiser import api
    from optimiser.dataset.importers import import_dataset, scenario_site_references, today_warnings

    sc = _scenario(args.scenario)
    register = None
    try:
        register = api.dataset_for(sc).sites[["ods_code", "site_name"]]
    except OptimiserError as exc:
        print(f"note: the scenario's dataset cannot be read ({exc}); site ids are kept from the sites file",
              file=sys.stderr)
    copy_from = None
    if args.copy_from:
        copy_from = api.load_dataset() if args.copy_from == "default" else api.load_dataset(args.copy_from)
    ds = import_dataset(population=args.population, boundaries=args.boundaries, sites=args.sites,
                        travel=args.travel, travel_destinations=args.travel_destinations,
                        projections=args.projections, deprivation=args.deprivation,
                        current_beds=args.current_beds, virtual_beds=args.virtual_beds,
                        beds_from=copy_from, site_register=register, name=args.name, out=args.out,
                        population_year=args.population_year)
    print(f"imported {len(ds.zones)} zones, {len(ds.districts)} districts, {len(ds.sites)} sites -> {args.out}")
    print(f"  what the data is: {ds.data_line()}")
    if ds.metadata.get("site_ids"):
        print(f"  site ids: {ds.metadata['site_ids']}")
    print(f"  beds today from: {ds.metadata.get('current_beds_from')}; home-based beds today from: "
          f"{ds.metadata.get('virtual_beds_from')}")
    for message in today_warnings(ds):
        print(f"warning: {message}", file=sys.stderr)
    missing = {sid: key for sid, key in scenario_site_references(sc).items() if sid not in ds.sites.index}
    if missing:
        print("warning: the scenario '" + sc.name + "' names site(s) that are not in the imported dataset: "
              + ", ".join(f"'{sid}' ({key})" for sid, key in missing.items())
              + "; solving it with this dataset fails until they match (add them to the sites file, or "
                "change the scenario)", file=sys.stderr)
    else:
        print(f"  every site the scenario '{sc.name}' names is in the dataset")
    return 0


def cmd_data_add_travel(args) -> int:
    from optimiser import api
    from optimiser.dataset.importers.second_travel import add_second_travel

    ds = api.load_dataset(args.dataset) if args.dataset else api.load_dataset()
    out = add_second_travel(ds, args.matrix, args.label, source=args.source or "", out=args.out)
    m = out.second_travel["minutes"]
    print(f"added '{out.second_travel_label}' minutes for {len(out.zones)} zones x {len(out.sites)} sites "
          f"({int(m.notna().sum()):,} pairs with a route, median {m.median():.1f} min) -> {args.out}")
    print("  scenarios may now set travel.standard.travel_matrix: second; every answer reports access by it too")
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
    if s["population_method"]:
        print(f"  population from: {s['population_method']}")
    deciles = s["imd_deciles"]
    if deciles:
        span = f"{deciles[0]}-{deciles[-1]}" if deciles == list(range(deciles[0], deciles[-1] + 1)) else \
            ", ".join(map(str, deciles))
        missing = f"; {s['zones_without_imd']} zones unknown" if s["zones_without_imd"] else ""
        print(f"  deprivation: IMD 2019 deciles {span} present{missing}")
    else:
        print("  deprivation: none (import with --deprivation to add IMD 2019 deciles)")
    years = s["projection_years"]
    print(f"  projections: {years[0]}-{years[-1]} ({len(years)} years)" if years else
          "  projections: none (demand is held at the base-year population unless a scenario sets growth)")
    print(f"  current beds: {s['current_physical_beds']} physical, {s['current_virtual_beds']} virtual")
    print(f"  travel: {s['travel_pairs']:,} zone-site pairs; method: {s['travel_method']}")
    if s["second_travel"]:
        m = ds.second_travel["minutes"]
        print(f"  second travel matrix: {s['second_travel']} ({int(m.notna().sum()):,} pairs with a route, "
              f"{int(m.isna().sum()):,} without; from {ds.metadata.get('second_travel_source', 'not recorded')})")
    md = ds.metadata
    if "travel_fit_mae_minutes" in md:
        print(f"  travel fit error: mean absolute error {float(md['travel_fit_mae_minutes']):.2f} minutes"
              + (f" ({float(md['travel_fit_mape']):.1%})" if "travel_fit_mape" in md else "")
              + (f"; cross-validated {float(md['travel_fit_cv_mae_minutes']):.2f} minutes"
                 if "travel_fit_cv_mae_minutes" in md else ""))
    print(f"  what the data is: {ds.data_line()}")
    a = ds.assumptions
    print(f"  assumptions ({len(a)} figures a user should check or replace):")
    for r in a.itertuples():
        print(f"    - {r.key}: {r.value} {r.unit} — {r.description}")
    u = ds.user_supplied
    if len(u):
        print(f"  user-supplied ({len(u)} figures given in the import, not checked against a published source):")
        for r in u.itertuples():
            print(f"    - {r.key}: {r.value} {r.unit} — {r.description} ({r.source})")
    return 0


def cmd_calibration(args) -> int:
    from optimiser import api

    sc = _scenario(args.scenario)
    table = api.calibration(sc, api.dataset_for(sc))
    inst_note = "per site" if sc.calibration.scope == "site" else "one rate per pathway for the area"
    print(f"Demand calibrated {inst_note}: today's beds at the base year, in the patient-flow model")
    for r in table.itertuples():
        print(f"  {r.site_name} ({r.ward.replace('_', ' ')}): {r.beds_today} beds ({r.beds_today_source}); "
              f"occupancy assumed {r.calibration_occupancy:.1%}, in the model {r.model_occupancy:.1%}; "
              f"{r.chance_no_free_bed:.0%} of arrivals find no free bed there; {r.admissions_per_year:,.0f} "
              f"admitted a year; catchment rate {r.catchment_rate_vs_area:.2f} x the area's")
    if args.csv:
        from optimiser.dataset.store import atomic_write_text

        atomic_write_text(args.csv, table.to_csv(index=False))
    return 0


LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")


def app_command(args) -> list[str]:
    """The ``streamlit run`` command for ``python -m optimiser app`` (see README, Security)."""
    import os

    from optimiser.ui.access import (
        PASSWORD_ENV,
        PASSWORD_HASH_ENV,
        PROXY_SECRET_ENV,
        USER_HEADER_ENV,
        proxy_settings,
    )

    app = Path(__file__).resolve().parent.parent / "app.py"
    hosts = list(LOOPBACK_HOSTS)
    proxy = proxy_settings()          # an InputError if half set
    if args.network:
        password = os.environ.get(PASSWORD_ENV) or os.environ.get(PASSWORD_HASH_ENV)
        if not (password or proxy or _oidc_in_secrets(app.parent)):
            raise OptimiserError(f"serving the app to a network needs a password or a sign-in: set {PASSWORD_ENV} "
                                 "in the environment first (everyone then signs in with it), or put a signing-in "
                                 f"reverse proxy in front and set {USER_HEADER_ENV} and {PROXY_SECRET_ENV} "
                                 "(README, 'Security')")
        if not args.host:
            raise OptimiserError("say which names people will type to reach the app, e.g. --host "
                                 "192.168.1.20 --host bedplanner.local (other names are refused, which "
                                 "stops DNS-rebinding attacks)")
    # names a reverse proxy on this computer passes on as the Host header are allowed without --network
    hosts += [h for h in (args.host or []) if h not in hosts]
    address = args.address or ("0.0.0.0" if args.network else "127.0.0.1")
    if address not in ("127.0.0.1", "::1", "localhost") and not args.network:
        raise OptimiserError(f"--address {address} serves a network: add --network (and a password)")
    # the settings that matter for safety are given here too, not only in .streamlit/config.toml
    # (which Streamlit reads from the folder it is started in)
    # Streamlit's `streamlit run`, in a process that prepares the default answer as it starts
    command = [sys.executable, "-m", "optimiser.ui.serve", "run", str(app), "--server.address", address,
               "--server.port", str(args.port), "--server.headless", "true",
               "--browser.gatherUsageStats", "false", "--client.showErrorDetails", "none",
               "--client.toolbarMode", "viewer", "--server.maxUploadSize", "50",
               "--server.enableXsrfProtection", "true", "--server.enableCORS", "true"]
    for host in hosts:
        command += ["--server.allowedHosts", host]
    return command


def _oidc_in_secrets(folder: Path) -> bool:
    """True when the app's ``.streamlit/secrets.toml`` configures Streamlit's OIDC sign-in."""
    import tomllib

    path = folder / ".streamlit" / "secrets.toml"
    try:
        return "auth" in tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return False
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise OptimiserError(f"{path}: not a readable TOML file ({exc})") from exc


def cmd_app(args) -> int:
    import subprocess

    command = app_command(args)
    if args.print_command:
        print(" ".join(command))
        return 0
    where = "this computer only" if not args.network else "the network, with sign-in"
    print(f"opening the app on {where}: http://{'localhost' if not args.network else args.host[0]}:{args.port}",
          file=sys.stderr)
    try:
        return subprocess.call(command, cwd=Path(__file__).resolve().parent.parent)
    except KeyboardInterrupt:
        return 0


def _dask_arguments(parser) -> None:
    parser.add_argument("--scheduler", help="an existing Dask cluster's scheduler, tcp://HOST:PORT (or set "
                                            "LLR_DASK_SCHEDULER); default: a local cluster sized to this machine")
    parser.add_argument("--workers", type=int, help="workers of the local cluster (default: one per core)")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m optimiser",
                                description="LLR community and virtual bed configuration optimiser")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("solve", help="optimise a scenario")
    s.add_argument("scenario", nargs="?", help="scenario YAML (default: data/scenarios/llr_default.yaml)")
    s.add_argument("--out", help="folder for the result files")
    s.add_argument("--dataset", help="dataset .gpkg to use instead of the scenario's (e.g. one made by "
                                     "'data import')")
    s.add_argument("--backend", choices=["ortools", "pulp"])
    s.add_argument("--time-limit", type=float, dest="time_limit")
    s.add_argument("--alternatives", type=int, default=0, help="also find this many next-best configurations")
    s.add_argument("--quick", action="store_true",
                   help="the quick answer (grouped areas or the rounded relaxation, every area routed "
                        "exactly, gap proven by the relaxation): about a second for LLR, under 60 s for "
                        "33,000 areas; no alternatives. For a p-median (mode: p_median): greedy and fast "
                        "interchange with the Lagrangian bound's gap, no solver run")
    s.add_argument("--robust", action="store_true",
                   help="a robust configuration: beds that keep the blocking target in every one of --samples "
                        "futures drawn from the scenario's 80%% ranges that any configuration can meet, at the lowest "
                        "expected cost, validated on fresh futures until it holds in --reliability of them; "
                        "reported beside the point answer with its reliability on independent futures")
    s.add_argument("--samples", type=int, help="with --robust: futures planned for (default 50)")
    s.add_argument("--reliability", type=float, default=0.9,
                   help="with --robust: share of futures the configuration must be shown (95%% lower bound, on "
                        "fresh futures) to meet the target in (default 0.9)")
    s.add_argument("--seed", type=int, default=1, help="with --robust: seed of the futures (default 1); the "
                                                       "out-of-sample check uses seed + 1")
    s.add_argument("--check-samples", type=int, dest="check_samples",
                   help="with --robust: independent futures to check on (default 4 x samples, at least 100)")
    s.add_argument("--validation-samples", type=int, dest="validation_samples",
                   help="with --robust: fresh futures each plan is validated on (default 2 x samples, at least 100); "
                        "a plan whose 95%% lower bound on reliability falls short is re-planned with its failures")
    s.add_argument("--validation-rounds", type=int, dest="validation_rounds",
                   help="with --robust: plans validated at most (default 4)")
    s.add_argument("--resolution", choices=["grouped", "full"], default="grouped",
                   help="with --robust: plan on groups of small areas (default) or every area")
    _dask_arguments(s)
    s.set_defaults(func=cmd_solve)

    e = sub.add_parser("evaluate", help="measure a fixed option on the scenario's yardstick")
    e.add_argument("scenario", nargs="?")
    e.add_argument("--option", required=True, help="option YAML (see data/options/)")
    e.add_argument("--dataset", help="dataset .gpkg to use instead of the scenario's")
    e.add_argument("--out")
    e.set_defaults(func=cmd_evaluate)

    im = sub.add_parser("impact", help="who is affected by an option against a baseline (default: the status quo)")
    im.add_argument("scenario", nargs="?")
    im.add_argument("--option", required=True, help="option YAML, or 'best' / 'quick' for the optimiser's answer")
    im.add_argument("--baseline", help="option YAML, or 'best' / 'quick' (default: the status quo)")
    im.add_argument("--dataset", help="dataset .gpkg to use instead of the scenario's")
    im.add_argument("--pack", action=argparse.BooleanOptionalAction, default=True,
                    help="write a printable A4 pack (PDF and HTML) for every district, and one zip of them all "
                         "(the default; --no-pack writes the tables and summary.json only)")
    im.add_argument("--out", required=True, help="folder for the impact files")
    im.set_defaults(func=cmd_impact)
    u = sub.add_parser("uncertainty", help="how sure are we? an option measured in many futures drawn from "
                                           "the scenario's 80%% ranges")
    u.add_argument("scenario", nargs="?")
    u.add_argument("--option", required=True, help="option YAML (see data/options/)")
    u.add_argument("--samples", type=int, default=200, help="how many futures (default 200)")
    u.add_argument("--seed", type=int, default=1, help="seed of the draws (default 1): the same seed gives the "
                                                       "same futures whatever the number of workers")
    u.add_argument("--method", choices=["lhs", "monte_carlo"], default="lhs",
                   help="Latin hypercube (default) or plain Monte Carlo")
    _dask_arguments(u)
    u.add_argument("--dataset", help="dataset .gpkg to use instead of the scenario's")
    u.add_argument("--out", required=True, help="folder for futures.csv, quantiles.csv and summary.json")
    u.set_defaults(func=cmd_uncertainty)

    se = sub.add_parser("sensitivity", help="what drives the answer: tornado, waterfall from today's beds, and "
                                            "per-site robustness over futures")
    se.add_argument("scenario", nargs="?")
    se.add_argument("--samples", type=int, default=50,
                    help="futures optimised for per-site robustness (default 50; 0 skips it)")
    se.add_argument("--seed", type=int, default=1)
    se.add_argument("--best", action="store_true", help="full solves instead of quick answers (much slower)")
    _dask_arguments(se)
    se.add_argument("--dataset", help="dataset .gpkg to use instead of the scenario's")
    se.add_argument("--out", required=True, help="folder for tornado, waterfall and robustness files")
    se.set_defaults(func=cmd_sensitivity)

    c = sub.add_parser("compare", help="side-by-side table of result folders")
    c.add_argument("dirs", nargs="+")
    c.add_argument("--csv", help="also write the table as CSV")
    c.set_defaults(func=cmd_compare)

    cal = sub.add_parser("calibration", help="how demand is matched to today's beds (per site)")
    cal.add_argument("scenario", nargs="?")
    cal.add_argument("--csv", help="also write the table as CSV")
    cal.set_defaults(func=cmd_calibration)

    pp = sub.add_parser("params", help="every setting of a scenario: value, default, unit, meaning, "
                                       "and where the figure comes from")
    pp.add_argument("--scenario", help="scenario YAML (default: data/scenarios/llr_default.yaml)")
    pp.add_argument("--format", choices=["text", "csv", "markdown"], default="text",
                    help="text (default), csv (one row per setting), or markdown (the data "
                         "dictionary of every setting's default, as in docs/scenario-parameters.md)")
    pp.add_argument("--markdown", action="store_true", help="same as --format markdown")
    pp.set_defaults(func=cmd_params)
    sub.add_parser("options", help="list the shipped options").set_defaults(func=cmd_options)

    a = sub.add_parser("app", help="open the app (on this computer only, unless --network)")
    a.add_argument("--port", type=int, default=8501)
    a.add_argument("--network", action="store_true",
                   help="serve the app to the network (needs --host and LLR_APP_PASSWORD, or a signing-in "
                        "reverse proxy: LLR_APP_TRUSTED_USER_HEADER and LLR_APP_PROXY_SECRET)")
    a.add_argument("--host", action="append", default=[],
                   help="a name or address people use to reach the app (repeat for each)")
    a.add_argument("--address", help="the address to listen on (default 127.0.0.1; with --network 0.0.0.0)")
    a.add_argument("--print-command", action="store_true", dest="print_command",
                   help="print the streamlit command instead of running it")
    a.set_defaults(func=cmd_app)

    d = sub.add_parser("data", help="build, import or check a dataset")
    dsub = d.add_subparsers(dest="data_command", required=True)
    b = dsub.add_parser("build-default", help="rebuild the embedded LLR default dataset")
    b.add_argument("--out")
    b.set_defaults(func=cmd_data_build_default)
    i = dsub.add_parser("import", help="build a dataset from official files")
    i.add_argument("--population", required=True, help="ONS small-area population (CSV or XLSX)")
    i.add_argument("--boundaries", required=True, help="zone boundaries (GeoJSON, GeoPackage, shapefile)")
    i.add_argument("--sites", required=True, help="sites CSV")
    i.add_argument("--travel", help="travel-time matrix CSV (long or wide); destinations that are not sites "
                                    "are ignored, sites it lacks are estimated; default: estimated")
    i.add_argument("--travel-destinations", dest="travel_destinations",
                   help="CSV of the travel matrix's destinations with their location (lat/lon or "
                        "easting/northing), to calibrate estimates for sites the matrix lacks")
    i.add_argument("--projections", help="population projections CSV")
    i.add_argument("--deprivation", help="English Indices of Deprivation 2019, File 1 (.csv or .csv.gz)")
    i.add_argument("--current-beds", dest="current_beds",
                   help="today's beds per site: a CSV (site_id/ods_code/site_name, beds_<pathway>, "
                        "optional max_beds, can_add_beds, source) or 'site.pathway=N,...'")
    i.add_argument("--virtual-beds", dest="virtual_beds",
                   help="today's home-based beds per district: a CSV (district code or name, beds, "
                        "optional source) or 'E07000130=20,...'")
    i.add_argument("--copy-from", dest="copy_from",
                   help="'default' or a dataset .gpkg: copy today's beds, estate limits, home-based beds, "
                        "stroke admissions and projections from it where the codes match")
    i.add_argument("--scenario", help="scenario whose site ids the imported sites take (matched by ODS "
                                      "code, name or id) and whose site names are checked (default: "
                                      "data/scenarios/llr_default.yaml)")
    i.add_argument("--population-year", type=int, dest="population_year",
                   help="year of the population estimates (mid-year), if the file does not say it "
                        "in a sheet name, title or header; needed with projections")
    i.add_argument("--name")
    i.add_argument("--out", required=True, help="GeoPackage to write")
    i.set_defaults(func=cmd_data_import)
    at = dsub.add_parser("add-travel", help="add a second travel matrix (e.g. public transport minutes) to a dataset")
    at.add_argument("--matrix", required=True, help="CSV of zone to site minutes, long (zone, site, minutes) or wide "
                                                    "(a zone column, one column per site); blank = no route")
    at.add_argument("--dataset", help="dataset .gpkg to add it to (default: the embedded LLR default)")
    at.add_argument("--label", default="public transport", help="what the minutes measure (default: public transport)")
    at.add_argument("--source", help="where the times come from (default: the file's name)")
    at.add_argument("--out", required=True, help="GeoPackage to write (the dataset with the second matrix)")
    at.set_defaults(func=cmd_data_add_travel)
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
    except OSError as exc:   # a file that cannot be read or written: say which, and why
        where = f" '{exc.filename}'" if exc.filename else ""
        print(f"error: cannot use{where}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("stopped", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into e.g. head, which stopped reading
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
