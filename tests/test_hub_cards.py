"""Dataset and model cards: they render, parse back, carry valid metadata, and the dataset card
restores ``MSAMetadata`` through a Parquet + README round trip with ``load_dataset``."""

import json
import math
import re
from pathlib import Path

import numpy as np
import pytest
import yaml
from datasets import DatasetDict, load_dataset
from huggingface_hub import DatasetCard, ModelCard
from huggingface_hub.repocard_data import model_index_to_eval_results
from transformers import TrainerControl, TrainerState, TrainingArguments

from data_processing.schema import MSAMetadata, attach_metadata, read_metadata
from data_processing.synthetic import SyntheticConfig, generate_default_dataset
from hub_cards.dataset_card import build_dataset_card, size_category
from hub_cards.provenance import strip_machine_paths
from modeling_msmix.configuration_tfn import TFNConfig
from trainer.model_card import build_model_card, metric_summaries
from trainer.model_card_callback import ModelCardCallback


@pytest.fixture(scope="module")
def tiny_dataset():
    config = SyntheticConfig(train_size=8, validation_size=4, test_size=4, text_dim=16,
                             max_text_length=10, max_audio_length=60, max_vision_length=60)
    return generate_default_dataset(config)


def tiny_config(kind: str = "mosi") -> TFNConfig:
    config = TFNConfig(text_dim=16, audio_dim=5, vision_dim=20, text_hidden_dim=8, text_out_dim=8)
    low = -1.0 if kind == "sims" else -3.0
    config.apply_dataset_metadata(
        {"dataset_kind": kind, "label_min": low, "label_max": -low, "text_dim": 16, "audio_dim": 5,
         "vision_dim": 20, "extractors": {"text": "bert-base-uncased@main", "audio": "librosa 0.11 mfcc"}}
    )
    return config


def front_matter(card_text: str) -> dict:
    return yaml.safe_load(card_text.split("---")[1])


def test_dataset_card_carries_metadata_split_sizes_and_dims(tiny_dataset):
    card = build_dataset_card(tiny_dataset, repo_id="someone/msa-tiny", license="cc-by-4.0")
    parsed = DatasetCard(str(card))
    meta = front_matter(str(card))
    assert meta["license"] == "cc-by-4.0"
    assert meta["size_categories"] == "n<1K"
    assert "multimodal-sentiment-analysis" in meta["tags"]
    stored = json.loads(parsed.data.dataset_info["description"])["msmix_metadata"]
    assert MSAMetadata.from_dict(stored) == read_metadata(tiny_dataset)
    train_labels = np.asarray(tiny_dataset["train"]["label"], dtype=np.float64)
    assert f"| train | 8 | {max(tiny_dataset['train']['text_length'])} /" in card.text
    assert f"{train_labels.mean():+.3f} | {train_labels.std():.3f} |" in card.text
    assert "| `text_features` | [L, 16] float32 |" in card.text
    assert "| `vision_features` | [L, 20] float32 |" in card.text
    assert 'load_dataset("someone/msa-tiny")' in card.text


def test_dataset_card_asks_for_a_licence_when_none_is_given(tiny_dataset):
    card = build_dataset_card(tiny_dataset)
    assert "license" not in front_matter(str(card))
    assert "Licence: not stated: fill in the licence of the source data" in card.text


def test_size_categories_follow_the_hub_bins():
    assert [size_category(n) for n in (999, 1000, 9_999, 22_856, 2_000_000)] == [
        "n<1K", "1K<n<10K", "1K<n<10K", "10K<n<100K", "n>1M"]


def test_parquet_and_card_round_trip_through_load_dataset(tiny_dataset, tmp_path):
    (tmp_path / "data").mkdir()
    for name, split in tiny_dataset.items():
        split.to_parquet(str(tmp_path / "data" / f"{name}-00000-of-00001.parquet"))
    build_dataset_card(tiny_dataset, repo_id=str(tmp_path)).save(tmp_path / "README.md")
    loaded = load_dataset(str(tmp_path))
    assert read_metadata(loaded) == read_metadata(tiny_dataset)
    assert loaded["train"].features == tiny_dataset["train"].features
    np.testing.assert_array_equal(np.asarray(loaded["test"][3]["audio_features"]),
                                  np.asarray(tiny_dataset["test"][3]["audio_features"]))


def test_metric_summaries_accept_means_lists_and_single_runs():
    results = {"test": {"MAE": {"mean": 0.71, "std": 0.02, "runs": 5}, "test_Corr": [0.70, 0.72, 0.69],
                        "Has0_acc_2": 0.8, "test_loss": 1.3, "Mult_acc_3": 0.5}}
    summaries = metric_summaries(results, "mosi")
    assert list(summaries) == ["Has0_acc_2", "MAE", "Corr"]
    assert summaries["MAE"].display() == "0.7100 ± 0.0200"
    assert summaries["Corr"].mean == pytest.approx(0.703333, abs=1e-6)
    assert summaries["Corr"].std == pytest.approx(0.0152753, abs=1e-6)
    assert (summaries["Has0_acc_2"].std, summaries["Has0_acc_2"].runs) == (None, 1)
    assert list(metric_summaries(results, "sims")) == ["Mult_acc_3", "MAE", "Corr"]


def test_model_card_round_trips_with_model_index_and_citations():
    results = {"test": {"MAE": {"mean": 0.71, "std": 0.02, "n": 5}, "Corr": {"mean": 0.7, "std": 0.01, "n": 5},
                        "Non0_acc_2": {"mean": float("nan"), "std": 0.0, "n": 5}},
               "train_mean_baseline": {"MAE": {"mean": 1.19, "std": None, "n": 1}},
               "seeds": [1111, 1112, 1113, 1114, 1115], "metric_for_best_model": "MAE", "best_seed": {"seed": 1113}}
    card = build_model_card(tiny_config(), repo_id="someone/tfn-msmix", dataset_id="someone/msa",
                            results=results, training_args={"learning_rate": 1e-4, "seed": 1111, "max_steps": -1})
    reloaded = ModelCard(str(card))
    meta = front_matter(str(card))
    assert meta["library_name"] == "transformers"
    assert {"custom_code", "tfn", "msmix"} <= set(meta["tags"])
    assert meta["datasets"] == ["someone/msa"]
    model_name, parsed = model_index_to_eval_results(meta["model-index"])
    assert model_name == "TFN + MS-Mix (someone/msa)"
    assert [(r.metric_name, r.metric_value, r.dataset_split) for r in parsed] == [
        ("MAE (mean ± 0.0200 over 5 seeds)", 0.71, "test"), ("Corr (mean ± 0.0100 over 5 seeds)", 0.7, "test")]
    assert reloaded.data.eval_results == parsed
    assert "| MAE | 0.7100 ± 0.0200 | 1.1900 |" in card.text and "| Corr | 0.7000 ± 0.0100 | - |" in card.text
    assert "mean ± std over 5 seeds (1111, 1112, 1113, 1114, 1115)" in card.text
    assert "best checkpoint by the validation MAE" in card.text and "those of seed 1113" in card.text
    assert 'AutoModel.from_pretrained("someone/tfn-msmix", trust_remote_code=True)' in card.text
    assert "| `learning_rate` | `0.0001` |" in card.text
    assert "| `seed` | `1113` |" in card.text and "`1111`" not in card.text  # the seed of these weights
    assert "eprint        = {2510.11579}" in card.text and "Tensor Fusion Network" in card.text
    assert "bert-base-uncased@main" in card.text and "torch.randn(1, 20, 16)" in card.text
    assert "processor for raw video" in card.text and "pipeline(" not in card.text


def test_model_card_without_results_says_so():
    card = build_model_card(tiny_config("sims"))
    assert "model-index" not in front_matter(str(card))
    assert "No test results were recorded" in card.text
    assert "[-1.0, 1.0]" in card.text


def test_callback_writes_the_card_from_training_arguments_and_test_metrics(tmp_path):
    args = TrainingArguments(output_dir=str(tmp_path), learning_rate=3e-4, seed=1112, report_to="none")
    state, control = TrainerState(), TrainerControl()

    class Model:
        config = tiny_config()

    callback = ModelCardCallback(repo_id="someone/tfn", dataset_id="someone/msa")
    callback.on_train_begin(args, state, control)
    callback.on_evaluate(args, state, control, metrics={"eval_MAE": 0.9, "eval_loss": 1.0}, model=Model())
    assert not (tmp_path / "README.md").exists()
    callback.on_evaluate(args, state, control, metrics={"test_MAE": 0.812, "test_Corr": 0.5}, model=Model())
    card = ModelCard.load(tmp_path / "README.md")
    assert [(r.metric_name, r.metric_value) for r in card.data.eval_results] == [("MAE", 0.812), ("Corr", 0.5)]
    assert "| `learning_rate` | `0.0003` |" in card.text and "| `seed` | `1112` |" in card.text
    assert math.isclose(card.data.eval_results[0].metric_value, 0.812)


ABSOLUTE_PATH = re.compile(r"(?<![\w./~-])(?:~?/(?!/)[\w.-]|[A-Za-z]:\\)")


def extracted_metadata(root: Path, kind: str = "custom") -> dict:
    """What ``data_processing.extract`` records for clips listed in ``root/clips.csv`` and local extractors."""
    folders = {m: str(root / "models" / f"tiny-{m}") for m in ("text", "audio", "vision")}
    return {"dataset_kind": kind, "label_min": -3.0, "label_max": 3.0, "text_dim": 16, "audio_dim": 5,
            "vision_dim": 20, "source": str(root / "clips.csv"),
            "extractors": {m: f"{path}@local:{path}" for m, path in folders.items()},
            "extraction": {"text_model": folders["text"], "audio_model": folders["audio"],
                           "vision_model": folders["vision"], "vision_fps": 5.0}}


def test_strip_machine_paths_keeps_names_urls_and_relative_paths():
    text = 'Source: /home/ana/data/clips.csv, "model": "/tmp/x/tiny-text@local:/tmp/x/tiny-text" ~/a/b.pkl ' \
           "C:\\Users\\ana\\m.pkl https://huggingface.co/someone/msa trainer/run.py a / b"
    assert strip_machine_paths(text) == ('Source: clips.csv, "model": "tiny-text@local:tiny-text" b.pkl m.pkl '
                                         "https://huggingface.co/someone/msa trainer/run.py a / b")


def test_no_card_carries_a_path_of_this_machine(tiny_dataset, tmp_path):
    metadata = extracted_metadata(tmp_path)
    config = tiny_config()
    config.apply_dataset_metadata(metadata)
    imported = TFNConfig(text_dim=16, audio_dim=5, vision_dim=20)
    imported.apply_dataset_metadata({**metadata, "dataset_kind": "mosi", "extraction": {},
                                     "source": f"MMSA pickle {tmp_path / 'aligned_50.pkl'}"})
    copies = DatasetDict({name: split.select(range(split.num_rows)) for name, split in tiny_dataset.items()})
    extracted = attach_metadata(copies, MSAMetadata.from_dict(metadata))
    mosi = attach_metadata(DatasetDict({name: split.select(range(split.num_rows)) for name, split in copies.items()}),
                           MSAMetadata.from_dict(imported.dataset_metadata))
    cards = {
        "dataset, imported": str(build_dataset_card(mosi)),
        "model, extracted": str(build_model_card(config, dataset_id=str(tmp_path / "data"),
                                                 training_args={"output_dir": str(tmp_path), "seed": 3})),
        "model, imported": str(build_model_card(imported, dataset_id=str(tmp_path / "mosi"))),
        "dataset, extracted": str(build_dataset_card(extracted)),
    }
    for name, text in cards.items():
        assert str(tmp_path) not in text, name
        assert not ABSOLUTE_PATH.search(text), (name, ABSOLUTE_PATH.search(text))
    assert "recordings listed in `clips.csv`" in cards["model, extracted"]
    assert "tiny-text@local:tiny-text" in cards["model, extracted"]
    assert "# TFN + MS-Mix (own recordings)" in cards["model, extracted"]
    assert 'pipeline(model="<user>/<model>", trust_remote_code=True)' in cards["model, extracted"]
    assert "pip install torch" in cards["model, extracted"] and "librosa" in cards["model, extracted"]
    assert "# TFN + MS-Mix (CMU-MOSI)" in cards["model, imported"]
    assert "imported from an MMSA feature pickle (`aligned_50.pkl`)" in cards["model, imported"]
    assert "Multimodal Sentiment Intensity Analysis in Videos" in cards["model, imported"]  # the MOSI citation
    assert "datasets" not in front_matter(cards["model, imported"])  # a local folder is not a Hub dataset
    assert "pretty_name: CMU-MOSI (msmix schema)" in cards["dataset, imported"]
    assert "Cite the corpus" in cards["dataset, imported"] and "zadeh2016mosi" in cards["dataset, imported"]
    dataset_card = DatasetCard(cards["dataset, extracted"])
    assert dataset_card.data.pretty_name == "own recordings (msmix schema)"
    stored = json.loads(dataset_card.data.dataset_info["description"])["msmix_metadata"]
    assert stored["source"] == "clips.csv" and stored["extraction"]["text_model"] == "tiny-text"


def test_cards_name_the_built_in_data_as_what_it_is(tiny_dataset):
    config = tiny_config()
    config.apply_dataset_metadata(read_metadata(tiny_dataset).to_dict())
    card = build_model_card(config, dataset_id="default")
    meta = front_matter(str(card))
    assert card.text.strip().splitlines()[0] == "# TFN + MS-Mix (built-in synthetic data)"
    assert "msmix's built-in synthetic data (generated by `data_processing.synthetic.generate_default_dataset(" \
        in card.text and "no real recordings" in card.text
    assert "datasets" not in meta and "MOSI)" not in card.text
    dataset_card = build_dataset_card(tiny_dataset)
    assert dataset_card.data.pretty_name == "built-in synthetic data (msmix schema)"
    assert "```bibtex" not in dataset_card.text


def test_run_writes_a_card_with_the_seed_of_its_weights_next_to_every_model(tmp_path):
    from trainer.run import main as train_main

    results = train_main(["--dataset", "default", "--backbone", "tfn", "--seeds", "7", "8", "--max_steps", "2",
                          "--max_train_samples", "16", "--max_eval_samples", "8", "--max_predict_samples", "8",
                          "--per_device_train_batch_size", "8", "--output_dir", str(tmp_path / "run"),
                          "--report_to", "none", "--eval_strategy", "no", "--save_strategy", "no",
                          "--load_best_model_at_end", "false", "--config_overrides",
                          "text_hidden_dim=8,text_out_dim=8,audio_hidden_dim=4,vision_hidden_dim=4,post_fusion_dim=8"])
    for run in results["runs"]:
        card = ModelCard.load(Path(run["output_dir"]) / "README.md")
        assert f"| `seed` | `{run['seed']}` |" in card.text
        assert card.text.strip().splitlines()[0] == "# TFN + MS-Mix (built-in synthetic data)"
        assert [r.metric_name for r in card.data.eval_results][:1] == ["Has0_acc_2"]
        assert not ABSOLUTE_PATH.search(str(card)) and str(tmp_path) not in str(card)
        assert not (Path(run["output_dir"]) / "processor_config.json").exists()  # no extraction: no processor
