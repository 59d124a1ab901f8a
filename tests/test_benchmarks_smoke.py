"""Smoke test of the benchmark scripts: the training measurement on a tiny dataset, and the summaries."""

import datasets
import pytest
import transformers

from benchmarks.bench_training import measure_training, summarize
from benchmarks.bench_vs_mmsa import compare
from benchmarks.timing import STEP_PARTS
from data_processing.synthetic import SyntheticConfig, generate_default_dataset
from trainer.cpu_memory import unavailable_reason


@pytest.fixture
def restore_library_logging():
    """The measurement silences transformers and datasets (it normally runs in its own process)."""
    verbosity = transformers.utils.logging.get_verbosity()
    progress_bars = datasets.utils.logging.is_progress_bar_enabled()
    yield
    transformers.utils.logging.set_verbosity(verbosity)
    if progress_bars:
        datasets.enable_progress_bars()


def test_measure_training_splits_steps_through_the_real_trainer(tmp_path, restore_library_logging):
    config = SyntheticConfig(
        train_size=12,
        validation_size=2,
        test_size=2,
        text_dim=16,
        audio_dim=3,
        vision_dim=4,
        max_text_length=6,
        max_audio_length=10,
        max_vision_length=8,
        min_text_length=2,
        min_audio_length=2,
        min_vision_length=2,
    )
    path = tmp_path / "tiny"
    generate_default_dataset(config).save_to_disk(str(path))

    result = measure_training(str(path), "lmf", "msmix", batch_size=4, steps=2, warmup=1)
    assert result["data_path"] == "in_memory"

    assert result["steps"] == 2
    medians = result["median_ms"]
    assert all(medians[part] >= 0 for part in STEP_PARTS)
    assert medians["forward"] > 0 and medians["backward"] > 0
    assert 0 <= result["data_share"] < 1
    assert result["samples_per_second"] > 0
    assert result["train_flops_per_step"] > 0
    assert result["peak_mb"]["rss"] >= result["peak_mb"]["anon"] > 0
    assert result["median_usage"]["cpu_ms"] >= result["median_usage"]["system_ms"] >= 0
    assert result["median_usage"]["page_faults"] >= 0
    assert result["freed_memory_kept"] is (unavailable_reason() is None)


def test_summaries_compute_the_target_ratios():
    def run(backbone, augmentation, step_ms, data_share):
        return {
            "shape": "mosi",
            "backbone": backbone,
            "augmentation": augmentation,
            "data_path": "in_memory",
            "median_ms": {"step": step_ms},
            "data_share": data_share,
        }

    summary = summarize([run("tfn", "none", 100.0, 0.05), run("tfn", "msmix", 140.0, 0.12)])
    assert summary["mosi/tfn/in_memory"]["msmix_over_none"] == pytest.approx(1.4)
    assert summary["mosi/tfn/in_memory"]["msmix_target_met"] is False
    assert summary["mosi/tfn/in_memory"]["data_share_max"] == pytest.approx(0.12)
    assert summary["mosi/tfn/in_memory"]["data_target_met"] is False

    mmsa = {"train_epoch_seconds": [10.0, 8.0, 9.0], "test_metrics": {"MAE": 1.0, "Corr": 0.5}}
    msmix = {"train_epoch_seconds": [4.0, 5.0, 4.5], "test_metrics": {"MAE": 0.9, "Corr": 0.4}}
    comparison = compare(mmsa, msmix)
    assert comparison["epoch_ratio"] == pytest.approx(0.5)
    assert comparison["time_target_met"] is True
    assert comparison["msmix_metric_at_least_as_good"] == {"MAE": True, "Corr": False}
