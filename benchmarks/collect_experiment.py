"""One table from the finished runs of an experiment folder, whatever seeds each setting finished.

``python -m benchmarks.collect_experiment --experiment_dir outputs/experiment --output_dir results/study``

``trainer.experiment`` writes its table when every setting has run on every seed. When a study
is split over several invocations, or stopped at a deadline, this reads every finished run under
``<experiment_dir>/<backbone>-<augmentation>/seed-<seed>`` (as ``--reuse_finished_runs`` does),
and writes ``results.json`` and ``results.md``: test mean ± std per setting with its seeds, and
each augmentation's difference of mean MAE and Corr from ``none`` on the same backbone next to
the seed spread (the larger of the two settings' standard deviations).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from modeling_msmix import BACKBONES, augmentation_names
from trainer.report import markdown_table, summarize_seeds, write_results
from trainer.training_run import load_finished_run

TABLE_METRICS: tuple[str, ...] = ("MAE", "Corr", "Has0_acc_2", "Non0_acc_2", "Non0_F1_score", "Mult_acc_7")
GAIN_METRICS: tuple[str, ...] = ("MAE", "Corr")


def finished_runs(experiment_dir: Path) -> dict[str, list[dict[str, Any]]]:
    """``"lmf + msmix" -> [run, ...]`` for every setting folder holding finished seeds."""
    runs = {}
    for backbone in BACKBONES:
        for augmentation in augmentation_names():
            folder = experiment_dir / f"{backbone}-{augmentation.replace(':', '-')}"
            seeds = sorted(folder.glob("seed-*"))
            found = []
            for seed_dir in seeds:
                run = load_finished_run(seed_dir)
                if run is not None:
                    found.append({**run, "seed": int(seed_dir.name.removeprefix("seed-"))})
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


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--experiment_dir", required=True)
    parser.add_argument("--output_dir", required=True)
    args = parser.parse_args(argv)
    runs = finished_runs(Path(args.experiment_dir))
    if not runs:
        raise SystemExit(f"no finished runs under {args.experiment_dir}")
    summaries = {name: summarize_seeds([run["test"] for run in setting]) for name, setting in runs.items()}
    labelled = {f"{name} (seeds {', '.join(str(r['seed']) for r in runs[name])})": summary
                for name, summary in summaries.items()}
    gains = differences(summaries)
    markdown = "\n\n".join([
        "Test split, mean ± std over the seeds named in each row.",
        markdown_table(labelled, TABLE_METRICS),
        "Difference from no augmentation on the same backbone (lower MAE is better, higher Corr is better); "
        "the ± is the larger seed std of the two settings, the spread to compare the difference with:",
        markdown_table(gains, GAIN_METRICS),
    ])
    results = {"test": summaries, "difference_from_none": gains, "runs": runs}
    write_results(args.output_dir, results, markdown)
    print(markdown)
    return results


if __name__ == "__main__":
    main()
