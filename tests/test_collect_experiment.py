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
