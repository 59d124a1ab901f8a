"""benchmarks.collect_experiment: one table from finished runs with different seeds per setting."""

import json

import pytest

from benchmarks.collect_experiment import main


def finished(folder, mae: float, corr: float) -> None:
    folder.mkdir(parents=True)
    (folder / "train_results.json").write_text(json.dumps({"train_runtime": 1.0}))
    (folder / "validation_results.json").write_text(json.dumps({"MAE": mae, "Corr": corr}))
    (folder / "test_results.json").write_text(json.dumps({"MAE": mae, "Corr": corr}))
    (folder / "trainer_state.json").write_text(json.dumps({"epoch": 3, "global_step": 9}))


def test_means_seeds_and_differences_from_none(tmp_path):
    finished(tmp_path / "lmf-none" / "seed-1", 0.9, 0.6)
    finished(tmp_path / "lmf-none" / "seed-2", 1.0, 0.7)
    finished(tmp_path / "lmf-msmix-no_sal" / "seed-1", 1.1, 0.5)
    record = {"started": "2026-12-06T23:00:00+00:00", "finished": "2026-12-06T23:01:00+00:00", "commit": "abc",
              "dirty": False, "command": ["trainer/run.py"]}
    (tmp_path / "lmf-none" / "seed-2" / "provenance.json").write_text(json.dumps(record))
    (tmp_path / "lmf-msmix-no_sal" / "seed-2").mkdir()  # unfinished: left out
    results = main(["--experiment_dir", str(tmp_path), "--output_dir", str(tmp_path / "out")])
    assert results["test"]["lmf + none"]["MAE"]["mean"] == pytest.approx(0.95)
    assert results["test"]["lmf + none"]["MAE"]["std"] == pytest.approx(0.0707107, rel=1e-5)
    assert [run["seed"] for run in results["runs"]["lmf + msmix:no_sal"]] == [1]
    assert [run["provenance"] for run in results["runs"]["lmf + none"]] == [None, record]  # kept in results.json
    gain = results["difference_from_none"]["lmf + msmix:no_sal - none"]
    assert gain["MAE"]["mean"] == pytest.approx(0.15) and gain["Corr"]["mean"] == pytest.approx(-0.15)
    assert "| lmf + msmix:no_sal (seeds 1) | 1.100 |" in (tmp_path / "out" / "results.md").read_text()
    with pytest.raises(SystemExit, match="no finished runs"):
        main(["--experiment_dir", str(tmp_path / "out"), "--output_dir", str(tmp_path / "x")])


def test_several_data_folders_are_the_unit_of_the_comparisons(tmp_path):
    # per data set, msmix - none: (-0.02 - 0.03) / 2 = -0.025, -0.025 + 0.01 = -0.015, -0.025 - 0.01 = -0.035
    # (mean -0.025, std 0.01); msmix - msmix:no_sal: -0.02 on every data set (std 0)
    folders = []
    for data, offset in (("data-0", 0.0), ("data-1", 0.01), ("data-2", -0.01)):
        folders.append(str(tmp_path / data))
        finished(tmp_path / data / "lmf-none" / "seed-1", 0.9, 0.6)
        finished(tmp_path / data / "lmf-none" / "seed-2", 1.0, 0.7)
        finished(tmp_path / data / "lmf-msmix" / "seed-1", 0.88 + offset, 0.61)
        finished(tmp_path / data / "lmf-msmix" / "seed-2", 0.97 + offset, 0.72)
        finished(tmp_path / data / "lmf-msmix-no_sal" / "seed-1", 0.90 + offset, 0.6)
        finished(tmp_path / data / "lmf-msmix-no_sal" / "seed-2", 0.99 + offset, 0.7)
    results = main(["--experiment_dir", *folders, "--output_dir", str(tmp_path / "out"), "--primary", "msmix - none",
                    "msmix - msmix:no_sal", "--contrasts", "msmix - msmix:no_sal", "--margins", "MAE=0.05"])
    assert results["test"]["lmf + none"]["MAE"]["n"] == 6 and "paired_vs_none" not in results
    level = results["dataset_level"]
    against_none = level["primary"]["lmf + msmix - lmf + none"]
    assert [v["difference"] for v in against_none["per_dataset"].values()] == pytest.approx([-0.025, -0.015, -0.035])
    assert (against_none["n"], against_none["mean"], against_none["std"]) == pytest.approx((3, -0.025, 0.01))
    contrast = level["primary"]["lmf + msmix - lmf + msmix:no_sal"]
    assert (contrast["step"], contrast["rejected"]) == (1, True) and contrast["p_value"] < 1e-9  # std ~0, mean -0.02
    assert (contrast["low"], contrast["high"]) == pytest.approx((-0.02, -0.02))
    assert contrast["verdict"] == "equivalent"
    # step 2 at level 0.05: t = 0.025 / (0.01 / sqrt 3) = 4.33 > 4.30, p 0.0494 < 0.05; the interval
    # [-0.0498, -0.0002] lies inside (-0.05, 0.05): equivalent, though it excludes 0
    assert (against_none["step"], against_none["level"], against_none["rejected"]) == (2, 0.05, True)
    assert against_none["high"] == pytest.approx(-0.025 + 4.302652729911275 * 0.01 / 3 ** 0.5)
    assert against_none["verdict"] == "equivalent"
    secondary = level["secondary"]["Corr"]
    assert list(secondary) == ["lmf + msmix - lmf + none", "lmf + msmix:no_sal - lmf + none",
                               "lmf + msmix - lmf + msmix:no_sal"]
    assert secondary["lmf + msmix - lmf + none"]["mean"] == pytest.approx(0.015)
    assert level["margins"] == {"MAE": 0.05, "Corr": 0.0}
    text = (tmp_path / "out" / "results.md").read_text()
    assert "| lmf + msmix (6 runs) | 0.925 ± 0.050 |" in text
    assert "| lmf + msmix - lmf + none | MAE | -0.025 [-0.050, -0.000] (95 %, n=3 data sets, adj. p 0.0494) " \
           "equivalent |" in text
    assert "| lmf + msmix - lmf + none | Corr | +0.015 [" in text.split("Secondary")[1]
    with pytest.raises(SystemExit, match="distinct names"):
        main(["--experiment_dir", folders[0], str(tmp_path / "out" / ".." / "data-0"),
              "--output_dir", str(tmp_path / "x")])
    with pytest.raises(SystemExit, match="names settings with no runs"):
        main(["--experiment_dir", *folders, "--output_dir", str(tmp_path / "x"), "--primary", "mixup - none"])
    with pytest.raises(SystemExit, match="--margins entries must be METRIC=VALUE"):
        main(["--experiment_dir", *folders, "--output_dir", str(tmp_path / "x"), "--margins", "MAE=small"])
    with pytest.raises(SystemExit, match="need several --experiment_dir"):
        main(["--experiment_dir", folders[0], "--output_dir", str(tmp_path / "x"), "--primary", "msmix - none"])


def test_sims_runs_are_tabled_with_the_sims_metrics(tmp_path):
    sims = {"MAE": 0.43, "Corr": 0.6, "Mult_acc_2": 0.7, "F1_score": 0.69, "Mult_acc_3": 0.6, "Mult_acc_5": 0.3}
    for seed in (1, 2):
        folder = tmp_path / "lmf-none" / f"seed-{seed}"
        finished(folder, 0.43, 0.6)
        (folder / "test_results.json").write_text(json.dumps(sims))
    main(["--experiment_dir", str(tmp_path), "--output_dir", str(tmp_path / "out")])
    table = (tmp_path / "out" / "results.md").read_text()
    assert "Mult_acc_2" in table and "| lmf + none (seeds 1, 2) | 0.430 ± 0.000 | 0.600 ± 0.000 | 70.00 ± 0.00 |" in table
    assert "Has0_acc_2" not in table


def test_prefix_parent_makes_one_holm_family_over_sizes(tmp_path):
    # msmix - none per data set: size n10 -0.04, -0.05, -0.06 (mean -0.05, std 0.01); size n100 +0.01 on all three
    folders = []
    for size, gain in (("n10", [-0.04, -0.05, -0.06]), ("n100", [0.01, 0.01, 0.01])):
        for index, difference in enumerate(gain):
            folder = tmp_path / size / f"data-{index}"
            folders.append(str(folder))
            finished(folder / "lmf-none" / "seed-1", 1.0, 0.6)
            finished(folder / "lmf-msmix" / "seed-1", 1.0 + difference, 0.6)
    results = main(["--experiment_dir", *folders, "--output_dir", str(tmp_path / "out"), "--prefix_parent",
                    "--primary", "msmix - none", "--margins", "MAE=0.005"])
    primary = results["dataset_level"]["primary"]
    assert sorted(primary) == ["n10/lmf + msmix - n10/lmf + none", "n100/lmf + msmix - n100/lmf + none"]
    assert results["test"]["n10/lmf + none"]["MAE"]["n"] == 3
    small, large = primary["n10/lmf + msmix - n10/lmf + none"], primary["n100/lmf + msmix - n100/lmf + none"]
    assert (large["step"], large["level"], large["verdict"]) == (1, 0.025, "worse")  # std 0: p 0, Holm's first step
    # step 2 at 0.05: t = 0.05 / (0.01 / sqrt 3) = 8.66, p 0.013; interval -0.05 -+ 4.303 * 0.01 / sqrt 3
    assert (small["step"], small["level"], small["rejected"]) == (2, 0.05, True)
    assert small["high"] == pytest.approx(-0.05 + 4.302652729911275 * 0.01 / 3 ** 0.5)
    assert small["verdict"] == "better"
    with pytest.raises(SystemExit, match="distinct parent and name"):
        main(["--experiment_dir", folders[0], folders[0], "--output_dir", str(tmp_path / "x"), "--prefix_parent"])


def test_tables_of_one_set_of_folders_share_one_runs_file(tmp_path):
    finished(tmp_path / "data-0" / "lmf-none" / "seed-1", 1.0, 0.6)
    finished(tmp_path / "data-0" / "lmf-mixup" / "seed-1", 0.9, 0.6)
    finished(tmp_path / "data-1" / "lmf-none" / "seed-1", 1.2, 0.6)
    finished(tmp_path / "data-1" / "lmf-mixup" / "seed-1", 1.0, 0.6)
    folders = [str(tmp_path / "data-0"), str(tmp_path / "data-1")]
    runs_file = tmp_path / "tables" / "runs.json"
    inline = main(["--experiment_dir", *folders, "--output_dir", str(tmp_path / "inline")])
    for family in ("gate", "other"):
        shared = main(["--experiment_dir", *folders, "--output_dir", str(tmp_path / "tables" / family),
                       "--runs_file", str(runs_file)])
        written = json.loads((tmp_path / "tables" / family / "results.json").read_text())
        assert "runs" not in written and written["runs_file"] == "../runs.json"
        assert shared["dataset_level"] == inline["dataset_level"]
    assert json.loads(runs_file.read_text()) == inline["runs"]
    assert [run["test"]["MAE"] for run in inline["runs"]["lmf + mixup"]] == [0.9, 1.0]


def test_diagnostics_count_the_health_problems_of_a_run(monkeypatch):
    import benchmarks.collect_experiment as collect

    monkeypatch.setattr(collect, "sig_diagnostics", lambda args: {"text": {"pearson_abs_y": 0.2, "saturated_share": 0.5}})
    monkeypatch.setattr(collect, "logged_statistics", lambda output_dir: {"msmix_sass_above_threshold": 0.1})
    run = {"output_dir": "x", "msmix_health": {"flagged": {"at_bound:text": 3, "at_bound:audio": 2, "not_learning": 1}}}
    row = collect.diagnostics_row(run, "data")
    assert (row["r_text"], row["at_bound_text"], row["sass_pass"]) == (0.2, 0.5, 0.1)
    assert (row["flagged_not_learning"], row["flagged_task_starved"], row["flagged_at_bound"]) == (1.0, 0.0, 5.0)
    assert collect.diagnostics_row({"output_dir": "x"}, "data")["flagged_at_bound"] == 0.0  # a run without health
