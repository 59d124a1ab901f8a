"""One table from the finished runs of experiment folders, whatever seeds each setting finished.

``python -m benchmarks.collect_experiment --experiment_dir outputs/experiment --output_dir results/study``

With one ``--experiment_dir`` each run is paired with the ``none`` run of the same seed
(``trainer.paired_comparison``: mean difference, 95 % t-interval over training seeds, which speaks
for that one draw of the data only). With several (one per data seed, e.g. the same
``trainer.experiment`` on five draws of the built-in data) the folder is the data set and the unit
(``trainer.study_statistics``): each comparison's difference per data set (training seeds averaged
first), a t-interval over data sets and a verdict (better, worse, equivalent within
``--margins``, inconclusive). ``--primary`` declares the protocol's family of primary comparisons
(Holm-corrected at ``--alpha``); every setting against ``none`` on its backbone and the direct
``--contrasts`` (e.g. ``"msmix - msmix:no_sal"``) are tabled uncorrected, as secondary.
With ``--prefix_parent`` and folders laid out ``<size>/<data seed>`` (one ``trainer.experiment`` per
training size and data seed), each setting is named after its size too (``n128/lmf + msmix``), so that
``--primary "msmix - none"`` is one Holm family over every size (``results/msmix_study``).
With ``--datasets`` (one per folder, as ``trainer/run.py``'s ``--dataset``) every MS-Mix run also
gets its SIG diagnostics (``benchmarks.sig_diagnostics``: |I|-|y| correlation and share at the
tanh bound per modality on the test split, the SASS pass share and the label distance of the mixed
pairs against all pairs of the batch, logged during training).

``trainer.experiment`` writes its table when every setting has run on every seed. When a study
is split over several invocations, or stopped at a deadline, this reads every finished run under
``<experiment_dir>/<backbone>-<augmentation>/seed-<seed>`` (as ``--reuse_finished_runs`` does),
and writes ``results.json`` and ``results.md``: test mean ± std per setting with its seeds, and
each augmentation's difference of mean MAE and Corr from ``none`` on the same backbone next to
the seed spread (the larger of the two settings' standard deviations).
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

from modeling_msmix import BACKBONES, augmentation_names
from trainer.paired_comparison import paired_against_none, paired_markdown
from trainer.report import markdown_table, summarize_seeds, write_results
from trainer.study_statistics import ALPHA, Comparison, compare_settings, comparisons_markdown, parse_comparisons
from trainer.training_run import load_finished_run

from .sig_diagnostics import SIGDiagnosticsArguments, logged_statistics, sig_diagnostics

TABLE_METRICS: tuple[str, ...] = ("MAE", "Corr", "Has0_acc_2", "Non0_acc_2", "Non0_F1_score", "Mult_acc_7")
SIMS_TABLE_METRICS: tuple[str, ...] = ("MAE", "Corr", "Mult_acc_2", "F1_score", "Mult_acc_3", "Mult_acc_5")
GAIN_METRICS: tuple[str, ...] = ("MAE", "Corr")
HEALTH_FLAGS: tuple[str, ...] = ("not_learning", "task_starved", "at_bound")
"""``trainer.msmix_health`` problems counted per run in the diagnostics: the logs flagged (``at_bound`` summed
over modalities; ``not_learning`` 0 or 1)."""


def finished_runs(experiment_dir: Path, data: str = "") -> dict[str, list[dict[str, Any]]]:
    """``"lmf + msmix" -> [run, ...]`` for every setting folder holding finished seeds (each run tagged with ``data``)."""
    runs = {}
    for backbone in BACKBONES:
        for augmentation in augmentation_names():
            folder = experiment_dir / f"{backbone}-{augmentation.replace(':', '-')}"
            seeds = sorted(folder.glob("seed-*"))
            found = []
            for seed_dir in seeds:
                run = load_finished_run(seed_dir)
                if run is not None:
                    found.append({**run, "seed": int(seed_dir.name.removeprefix("seed-")), "data": data})
            if found:
                runs[f"{backbone} + {augmentation}"] = found
    return runs


def differences(summaries: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Mean of each setting minus ``none`` on its backbone, with the larger seed std of the two."""
    rows = {}
    for name, summary in summaries.items():
        backbone, augmentation = name.split(" + ")
        base = summaries.get(f"{backbone} + none")
        if base is None or augmentation == "none":
            continue
        row = {}
        for metric in GAIN_METRICS:
            spreads = [s for s in (summary[metric]["std"], base[metric]["std"]) if s is not None]
            row[metric] = {"mean": summary[metric]["mean"] - base[metric]["mean"],
                           "std": max(spreads) if spreads else None}
        rows[f"{name} - none"] = row
    return rows


def parse_margins(texts: list[str]) -> dict[str, float]:
    """``["MAE=0.02", "Corr=0.01"]`` -> ``{"MAE": 0.02, "Corr": 0.01}``; a bad entry stops with its text."""
    margins = {}
    for text in texts:
        metric, _, value = text.partition("=")
        try:
            margins[metric] = float(value)
        except ValueError:
            raise SystemExit(f"--margins entries must be METRIC=VALUE (e.g. MAE=0.02), got {text!r}") from None
        if metric not in GAIN_METRICS or margins[metric] < 0:
            raise SystemExit(f"--margins {text!r}: the metric must be one of {GAIN_METRICS} and the margin >= 0")
    return margins


def dataset_level(runs: dict[str, list[dict[str, Any]]], args: argparse.Namespace) -> dict[str, Any]:
    """The primary family (Holm) on ``GAIN_METRICS[0]`` and the secondary comparisons on every gain metric."""
    margins = parse_margins(args.margins)
    try:
        primary = parse_comparisons(args.primary, list(runs))
        contrasts = parse_comparisons(args.contrasts, list(runs))
    except ValueError as error:
        raise SystemExit(f"collect_experiment: {error}") from None
    against_none = [Comparison(name, f"{name.split(' + ')[0]} + none") for name in runs
                    if not name.endswith(" + none") and f"{name.split(' + ')[0]} + none" in runs]
    secondary = list(dict.fromkeys(against_none + contrasts))
    return {
        "alpha": args.alpha,
        "margins": {metric: margins.get(metric, 0.0) for metric in GAIN_METRICS},
        "primary": compare_settings(runs, primary, GAIN_METRICS[0], margins.get(GAIN_METRICS[0], 0.0), args.alpha,
                                    family=True),
        "secondary": {metric: compare_settings(runs, secondary, metric, margins.get(metric, 0.0), args.alpha)
                      for metric in GAIN_METRICS},
    }


def dataset_level_parts(level: dict[str, Any]) -> list[str]:
    """The Markdown captions and tables of ``dataset_level``."""
    margins = ", ".join(f"{metric} {margin:g}" for metric, margin in level["margins"].items())
    parts = []
    if level["primary"]:
        parts += [f"Primary comparisons, data set as the unit: mean over data sets of each data set's difference "
                  f"(training seeds averaged first), t-interval at the Holm-adjusted level over the "
                  f"{len(level['primary'])} comparisons (family alpha {level['alpha']:g}), equivalence margin "
                  f"({margins}); trainer.study_statistics:", comparisons_markdown(level["primary"].values())]
    secondary = [row for rows in level["secondary"].values() for row in rows.values()]
    if secondary:
        parts += [f"Secondary (exploratory, not corrected for multiplicity): the same per data set, "
                  f"{100 * (1 - level['alpha']):g} % t-intervals, margins {margins}:", comparisons_markdown(secondary)]
    return parts


def diagnostics_row(run: dict[str, Any], dataset: str) -> dict[str, float]:
    """The SIG and SASS figures of one MS-Mix run (see the module docstring)."""
    figures = sig_diagnostics(SIGDiagnosticsArguments(model=run["output_dir"], dataset=dataset))
    logged = logged_statistics(run["output_dir"]) or {}
    row = {}
    for modality, values in figures.items():
        row[f"r_{modality}"] = values["pearson_abs_y"]
        if "pearson_abs_y_own" in values:
            row[f"r_own_{modality}"] = values["pearson_abs_y_own"]
        row[f"at_bound_{modality}"] = values["saturated_share"]
    row["sass_pass"] = logged.get("msmix_sass_above_threshold", float("nan"))
    for name in ("pair_label_distance", "batch_label_distance"):
        row[name] = logged.get(f"msmix_{name}", float("nan"))
    flagged = (run.get("msmix_health") or {}).get("flagged", {})
    for problem in HEALTH_FLAGS:
        row[f"flagged_{problem}"] = float(sum(count for key, count in flagged.items()
                                              if key.split(":")[0] == problem))
    return row


def diagnostics_markdown(rows: dict[str, dict[str, float]]) -> str:
    """One row per run: r(|I_m|, |y|) and the share at the bound per modality, the SASS pass share."""
    columns = list(next(iter(rows.values())))
    lines = ["| run | " + " | ".join(columns) + " |", "|---|" + "---|" * len(columns)]
    lines += [f"| {name} | " + " | ".join(f"{row[c]:.3f}" for c in columns) + " |" for name, row in rows.items()]
    return "\n".join(lines)


def write_runs(path: Path, runs: dict[str, list[dict[str, Any]]]) -> None:
    """Write ``runs`` (setting -> its finished runs) as JSON to ``path``, making its folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(runs, indent=2, allow_nan=True) + "\n")


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--experiment_dir", required=True, nargs="+", help="one folder per data seed")
    parser.add_argument("--output_dir", required=True)
    parser.add_argument("--datasets", nargs="+", help="each folder's --dataset, for the SIG diagnostics")
    parser.add_argument("--primary", nargs="+", default=[],
                        help="the protocol's primary comparisons, Holm-corrected: 'msmix - none' (every backbone) "
                             "or 'lmf + msmix - lmf + none'")
    parser.add_argument("--contrasts", nargs="+", default=[],
                        help="direct contrasts besides each setting against none, e.g. 'msmix - msmix:no_sal'")
    parser.add_argument("--margins", nargs="+", default=[],
                        help="equivalence margins, the smallest effect of interest per metric: MAE=0.02 Corr=0.02 "
                             "(default 0: nothing reads equivalent)")
    parser.add_argument("--prefix_parent", action="store_true",
                        help="name each setting after its folder's parent too ('n128/lmf + msmix'), for folders laid "
                             "out <size>/<data seed>: one family and one table then span the sizes")
    parser.add_argument("--alpha", type=float, default=ALPHA, help="family-wise error rate of the primary "
                        "comparisons, and the level of the secondary intervals")
    parser.add_argument("--runs_file", help="write the runs to this JSON file instead of into results.json, which "
                        "then names it: the tables of several families of the same folders share one copy")
    args = parser.parse_args(argv)
    names = [(Path(folder).parent.name if args.prefix_parent else "", Path(folder).name)
             for folder in args.experiment_dir]
    if len(set(names)) != len(names):
        raise SystemExit("--experiment_dir folders must have distinct names (they label the data seeds; with "
                         f"--prefix_parent, distinct parent and name): {args.experiment_dir}")
    if (args.primary or args.contrasts or args.margins) and len(args.experiment_dir) < 2:
        raise SystemExit("--primary, --contrasts and --margins compare over data sets: they need several "
                         "--experiment_dir (one per data seed)")
    if args.datasets and len(args.datasets) != len(args.experiment_dir):
        raise SystemExit(f"--datasets names {len(args.datasets)} datasets for {len(args.experiment_dir)} folders")
    runs: dict[str, list[dict[str, Any]]] = {}
    for folder in args.experiment_dir:
        prefix = f"{Path(folder).parent.name}/" if args.prefix_parent else ""
        for name, found in finished_runs(Path(folder), data=Path(folder).name).items():
            runs.setdefault(prefix + name, []).extend(found)
    if not runs:
        raise SystemExit(f"no finished runs under {' '.join(args.experiment_dir)}")
    summaries = {name: summarize_seeds([run["test"] for run in setting]) for name, setting in runs.items()}
    sims = "Mult_acc_2" in next(iter(runs.values()))[0]["test"]
    several = len({data for _, data in names}) > 1
    labelled = {(f"{name} ({len(runs[name])} runs)" if several else
                 f"{name} (seeds {', '.join(str(r['seed']) for r in runs[name])})"): summary
                for name, summary in summaries.items()}
    gains = differences(summaries)
    parts = [
        "Test split, mean ± std over the " + ("runs (data seeds x seeds)" if several else "seeds named in each row") + ".",
        markdown_table(labelled, SIMS_TABLE_METRICS if sims else TABLE_METRICS),
        "Difference from no augmentation on the same backbone (lower MAE is better, higher Corr is better); "
        "the ± is the larger seed std of the two settings, the spread to compare the difference with:",
        markdown_table(gains, GAIN_METRICS),
    ]
    results = {"test": summaries, "difference_from_none": gains}
    if args.runs_file:
        write_runs(Path(args.runs_file), runs)
        results["runs_file"] = os.path.relpath(args.runs_file, args.output_dir)
    else:
        results["runs"] = runs
    if several:
        results["dataset_level"] = dataset_level(runs, args)
        parts += dataset_level_parts(results["dataset_level"])
    else:
        results["paired_vs_none"] = paired_against_none(runs, GAIN_METRICS)
        parts += ["Paired with the none run of the same seed on this one data set, mean difference [95 % t-interval "
                  "over training seeds] (n pairs); it speaks for this draw of the data only:",
                  paired_markdown(results["paired_vs_none"], GAIN_METRICS)]
    if args.datasets:
        datasets = {Path(folder).name: dataset for folder, dataset in zip(args.experiment_dir, args.datasets)}
        diagnostics = {f"{name}, {run['data']} seed {run['seed']}": diagnostics_row(run, datasets[run["data"]])
                       for name, setting in runs.items() if name.split(" + ")[1].startswith("msmix")
                       for run in setting}
        if diagnostics:
            results["sig_diagnostics"] = diagnostics
            parts += ["SIG and SASS per MS-Mix run (test split): Pearson r of |I_m| with |y| (r_own: with the "
                      "modality's unimodal |y_m|, where the data has them), share of samples at the tanh bound, "
                      "share of pairs SASS passed during training, mean |y_i - y_j| of the mixed pairs and of all "
                      "pairs of the batch during training (pair_ and batch_label_distance), and how many training logs "
                      "trainer.msmix_health flagged for each problem (flagged_*):",
                      diagnostics_markdown(diagnostics)]
    markdown = "\n\n".join(parts)
    write_results(args.output_dir, results, markdown)
    print(markdown)
    return results


if __name__ == "__main__":
    main()
