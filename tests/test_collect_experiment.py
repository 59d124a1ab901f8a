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
    (tmp_path / "lmf-msmix-no_sal" / "seed-2").mkdir()  # unfinished: left out
    results = main(["--experiment_dir", str(tmp_path), "--output_dir", str(tmp_path / "out")])
    assert results["test"]["lmf + none"]["MAE"]["mean"] == pytest.approx(0.95)
    assert results["test"]["lmf + none"]["MAE"]["std"] == pytest.approx(0.0707107, rel=1e-5)
    assert [run["seed"] for run in results["runs"]["lmf + msmix:no_sal"]] == [1]
    gain = results["difference_from_none"]["lmf + msmix:no_sal - none"]
    assert gain["MAE"]["mean"] == pytest.approx(0.15) and gain["Corr"]["mean"] == pytest.approx(-0.15)
    assert "| lmf + msmix:no_sal (seeds 1) | 1.100 |" in (tmp_path / "out" / "results.md").read_text()
    with pytest.raises(SystemExit, match="no finished runs"):
        main(["--experiment_dir", str(tmp_path / "out"), "--output_dir", str(tmp_path / "x")])


def test_several_data_folders_pool_and_pair_by_data_and_seed(tmp_path):
    for data, offset in (("data-0", 0.0), ("data-1", 0.1)):
        finished(tmp_path / data / "lmf-none" / "seed-1", 0.9 + offset, 0.6)
        finished(tmp_path / data / "lmf-none" / "seed-2", 1.0 + offset, 0.7)
        finished(tmp_path / data / "lmf-msmix" / "seed-1", 0.88 + offset, 0.61)
        finished(tmp_path / data / "lmf-msmix" / "seed-2", 0.97 + offset, 0.72)
    results = main(["--experiment_dir", str(tmp_path / "data-0"), str(tmp_path / "data-1"),
                    "--output_dir", str(tmp_path / "out")])
    assert results["test"]["lmf + none"]["MAE"]["n"] == 4
    paired = results["paired_vs_none"]["lmf + msmix - none"]["MAE"]
    # differences -0.02, -0.03 on both data draws: the pooled means differ by the same -0.025
    assert paired["n"] == 4 and paired["mean"] == pytest.approx(-0.025)
    assert paired["verdict"] == "helps"  # std 0.00577 over 4 pairs: the interval [-0.034, -0.016] excludes 0
    text = (tmp_path / "out" / "results.md").read_text()
    assert "| lmf + msmix (4 runs) | 0.975 ± 0.078 |" in text and "| lmf + msmix | -0.025 [" in text
    with pytest.raises(SystemExit, match="distinct names"):
        main(["--experiment_dir", str(tmp_path / "data-0"), str(tmp_path / "out" / ".." / "data-0"),
              "--output_dir", str(tmp_path / "x")])


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
