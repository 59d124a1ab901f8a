"""Recipes and config files: SPEC section 6 in every recipe, one recipe trains, YAML/JSON + flags for the CLIs."""

import json
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import torch
import yaml
from transformers import HfArgumentParser

import trainer_helpers as helpers
from data_processing.cli import parse_cli
from modeling_msmix import BACKBONES as REGISTERED_BACKBONES
from trainer.arguments import DataArguments, ModelArguments, MSMixTrainingArguments
from trainer.experiment import main as experiment_main
from trainer.run import main as run_main
from trainer.run import parse_arguments

RECIPES = Path(__file__).resolve().parents[1] / "trainer" / "recipes"
BACKBONES = tuple(REGISTERED_BACKBONES)
OWN_PAPERS_RECIPES = ("dashfusion",)
"""Backbones whose recipes hold their own paper's optimisation, not SPEC section 6 (tested beside the model)."""
QUICK = ["--num_train_epochs", "1", "--max_train_samples", "32", "--use_cpu", "true", "--disable_tqdm", "true",
         "--dataloader_pin_memory", "false", "--seeds", "1111"]


@pytest.fixture(scope="module")
def dataset_dir(tmp_path_factory):
    return helpers.save_tiny_dataset(tmp_path_factory.mktemp("data") / "tiny")


@pytest.mark.parametrize("dataset", ["mosi", "mosei", "sims"])
@pytest.mark.parametrize("backbone", [name for name in BACKBONES if name not in OWN_PAPERS_RECIPES])
def test_every_recipe_holds_the_papers_training_recipe(dataset, backbone):
    data_args, model_args, training_args = parse_arguments([str(RECIPES / dataset / f"{backbone}.yaml")])
    assert (model_args.backbone, model_args.augmentation, data_args.dataset_kind) == (backbone, "msmix", dataset)
    assert training_args.learning_rate == 1e-4 and training_args.weight_decay == 1e-4
    assert training_args.per_device_train_batch_size == 64 and training_args.num_train_epochs == 200
    assert training_args.lr_scheduler_type == "cosine" and training_args.warmup_steps == 0.1
    assert training_args.early_stopping_patience == 32
    assert training_args.run_seeds == [1111, 1112, 1113, 1114, 1115]
    assert training_args.metric_for_best_model == "MAE" and training_args.greater_is_better is False
    bert = "bert-base-chinese" if dataset == "sims" else "bert-base-uncased"
    fine_tunes_bert = f'text_encoder_name_or_path="{bert}"' in (model_args.config_overrides or "")
    assert fine_tunes_bert == (backbone in ("misa", "almt", "lnln"))


def test_flags_override_the_recipe():
    _, model_args, training_args = parse_arguments(
        [str(RECIPES / "mosi" / "lmf.yaml"), "--learning_rate", "3e-4", "--seeds", "7", "--augmentation", "none"])
    assert training_args.learning_rate == 3e-4 and training_args.run_seeds == [7]
    assert model_args.augmentation == "none" and training_args.weight_decay == 1e-4


def test_a_recipe_trains_one_epoch(dataset_dir, tmp_path):
    results = run_main([str(RECIPES / "mosi" / "lmf.yaml"), "--dataset", str(dataset_dir),
                        "--output_dir", str(tmp_path / "run"), *QUICK])
    assert results["seeds"] == [1111] and results["runs"][0]["epochs"] == 1.0
    assert results["runs"][0]["steps"] == 1  # 32 rows at the recipe's batch of 64
    saved = torch.load(tmp_path / "run" / "seed-1111" / "training_args.bin", weights_only=False)
    assert saved.learning_rate == 1e-4 and saved.early_stopping_patience == 32
    assert json.loads((tmp_path / "run" / "seed-1111" / "config.json").read_text())["rank"] == 3


def test_experiment_runs_a_recipe_folder(dataset_dir, tmp_path):
    folder = tmp_path / "recipes"
    folder.mkdir()
    recipe = yaml.safe_load((RECIPES / "mosi" / "lmf.yaml").read_text())
    recipe["config_overrides"] = helpers.TINY_LMF + ",rank=2"
    (folder / "lmf.yaml").write_text(yaml.safe_dump(recipe))
    results = experiment_main(["--recipe", str(folder), "--augmentations", "none", "msmix", "--dataset",
                               str(dataset_dir), "--output_dir", str(tmp_path / "experiment"), *QUICK])
    assert set(results["test"]) == {"lmf + none", "lmf + msmix"}
    run = results["runs"]["lmf + msmix"][0]
    assert json.loads((Path(run["output_dir"]) / "config.json").read_text())["rank"] == 2
    saved = torch.load(Path(run["output_dir"]) / "training_args.bin", weights_only=False)
    assert saved.learning_rate == 1e-4 and saved.num_train_epochs == 1


def test_experiment_names_a_backbone_without_recipe(tmp_path):
    with pytest.raises(SystemExit, match="no recipe for \\['bert'\\]"):
        experiment_main(["--recipe", str(RECIPES / "mosi"), "--backbones", "bert", "--output_dir", str(tmp_path)])


@dataclass
class _Arguments:
    path: str = field(metadata={"help": "a required argument"})
    size: int = 1
    names: list[str] = field(default_factory=list)


@pytest.mark.parametrize("suffix", [".yaml", ".json"])
def test_config_files_and_flags_for_any_cli(tmp_path, suffix):
    values = {"path": "a.pkl", "size": 3, "names": ["x", "y"]}
    config = tmp_path / f"args{suffix}"
    config.write_text(json.dumps(values) if suffix == ".json" else yaml.safe_dump(values))
    (parsed,) = parse_cli(HfArgumentParser(_Arguments), [str(config)])
    assert (parsed.path, parsed.size, parsed.names) == ("a.pkl", 3, ["x", "y"])
    (parsed,) = parse_cli(HfArgumentParser(_Arguments), [str(config), "--size", "5"])
    assert (parsed.path, parsed.size) == ("a.pkl", 5)


def test_a_config_key_no_argument_takes_is_named(tmp_path):
    config = tmp_path / "args.yaml"
    config.write_text("path: a.pkl\nsise: 3\n")
    with pytest.raises(SystemExit, match="args.yaml: no argument of this command is called 'sise'"):
        parse_cli(HfArgumentParser(_Arguments), [str(config)])


def test_run_parser_reads_every_dataclass_from_one_file(tmp_path):
    config = tmp_path / "args.json"
    config.write_text(json.dumps({"backbone": "tfn", "max_text_length": 7, "learning_rate": 0.5}))
    data_args, model_args, training_args = parse_arguments([str(config)])
    assert isinstance(data_args, DataArguments) and isinstance(model_args, ModelArguments)
    assert isinstance(training_args, MSMixTrainingArguments)
    assert (model_args.backbone, data_args.max_text_length, training_args.learning_rate) == ("tfn", 7, 0.5)
