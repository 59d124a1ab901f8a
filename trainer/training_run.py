"""The steps of a training run, shared by ``trainer/run.py`` and ``trainer/experiment.py``.

``preflight_checks``, ``load_training_data`` and ``build_config`` check every argument against the
data (and the Hub, for ``--push_to_hub``) before any training starts; a bad one raises
``RunArgumentError`` naming the argument. Unlabeled data, labels outside the range of
``--dataset_kind`` and a local path that does not exist are refused there. ``train_one_seed``
trains, keeps the best checkpoint by the validation metric, and evaluates on validation and test.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from datasets import Dataset, DatasetDict
from safetensors import SafetensorError, safe_open
from transformers import EarlyStoppingCallback, set_seed
from transformers.trainer import TRAINER_STATE_NAME, TRAINING_ARGS_NAME
from transformers.trainer_utils import get_last_checkpoint

from data_processing.loading import load_msa_dataset
from data_processing.model_sources import looks_like_local_path
from data_processing.schema import DATASET_KINDS, LABEL_RANGES, MSAMetadata, read_metadata
from modeling_msmix import (
    BACKBONES,
    MSAConfig,
    MSAPreTrainedModel,
    MSMixProcessor,
    augmentation_names,
    resolve_augmentation,
    unread_options,
)

from .arguments import DataArguments, ModelArguments, MSMixTrainingArguments
from .collator import MSMixDataCollator
from .in_memory import InMemoryMSADataset, in_memory_splits
from .model_card_callback import ModelCardCallback
from .msmix_health import health_summary, load_health_summary, ratio_weights_of
from .msmix_trainer import MSMixTrainer
from .provenance import read_provenance, run_provenance, utc_now, write_provenance
from .push_model import save_model_files

DIM_FIELDS: tuple[str, ...] = ("text_dim", "audio_dim", "vision_dim")
EVALUATION_EXTRAS: tuple[str, ...] = ("runtime", "samples_per_second", "steps_per_second", "epoch")
RESUME_LAST = ("true", "last")


class RunArgumentError(ValueError):
    """A command-line argument that cannot work with the data; the message starts with its flag."""


@dataclass
class TrainingData:
    """The three splits (torch-formatted), the dataset's metadata (with any ``--dataset_kind``) and
    the splits prepared in memory (``--in_memory_max_gb``)."""

    dataset: DatasetDict
    metadata: MSAMetadata
    in_memory: dict[str, InMemoryMSADataset] = field(default_factory=dict)

    def model_input(self, split: str) -> InMemoryMSADataset | Dataset:
        """What the Trainer reads for ``split``: the in-memory tensors when prepared, else the Arrow rows."""
        return self.in_memory.get(split, self.dataset[split])

    def labels(self, split: str) -> np.ndarray:
        """The labels of ``split`` as a float array."""
        return np.asarray(self.dataset[split].with_format("numpy")["label"], dtype=np.float64)


def check_model_arguments(model_args: ModelArguments) -> None:
    """Fail on an unknown backbone or augmentation."""
    if model_args.backbone not in BACKBONES:
        raise RunArgumentError(f"--backbone {model_args.backbone!r} is not one of {sorted(BACKBONES)}")
    if model_args.augmentation not in augmentation_names():
        raise RunArgumentError(f"--augmentation {model_args.augmentation!r} is not one of {augmentation_names()}")


def check_seeds(training_args: MSMixTrainingArguments) -> None:
    """Refuse a seed given twice: its runs would be identical and report a spread of 0 over seeds."""
    seeds = training_args.run_seeds
    repeated = sorted({seed for seed in seeds if seeds.count(seed) > 1})
    if repeated:
        raise RunArgumentError(f"--seeds {' '.join(map(str, seeds))}: {', '.join(map(str, repeated))} given more "
                               "than once (identical runs would report a std of 0); give distinct seeds")


def check_local_path(flag: str, value: str | None) -> None:
    """Refuse at once a local path that does not exist (the Hub would be retried for it instead)."""
    if value and looks_like_local_path(value) and not Path(value).expanduser().exists():
        raise RunArgumentError(f"{flag} {value!r}: no such file or folder (a local path; Hub ids are 'user/name')")


def preflight_checks(data_args: DataArguments, model_args: ModelArguments,
                     training_args: MSMixTrainingArguments) -> None:
    """What can be checked before any data is loaded: names, the model path, and Hub access for ``--push_to_hub``."""
    check_model_arguments(model_args)
    check_seeds(training_args)
    resume_checkpoint(training_args)
    check_local_path("--model_name_or_path", model_args.model_name_or_path)
    if training_args.push_to_hub:
        from .push_model import HubAccessError, check_hub_access

        try:
            check_hub_access(training_args.hub_token)
        except HubAccessError as error:
            raise RunArgumentError(f"--push_to_hub: {error} (nothing was trained)") from error


def check_labels(data: TrainingData) -> None:
    """Refuse unlabeled data and labels outside the range of the dataset kind, naming the split."""
    metadata = data.metadata
    if metadata.notes.get("unlabeled"):
        raise RunArgumentError(
            f"--dataset: this dataset is unlabeled (its metadata says: {metadata.notes.get('label_note', 'unlabeled')}); "
            "extract it from a manifest with a 'label' column to train on it"
        )
    for split in data.dataset:
        labels = data.labels(split)
        low, high = float(labels.min()), float(labels.max())
        if low < metadata.label_min or high > metadata.label_max:
            raise RunArgumentError(
                f"--dataset_kind {metadata.dataset_kind!r} expects labels in [{metadata.label_min:g}, "
                f"{metadata.label_max:g}], but split {split!r} has labels in [{low:g}, {high:g}]"
            )
    if np.unique(data.labels("train")).size == 1:
        raise RunArgumentError(
            f"--dataset: every label of split 'train' is {data.labels('train')[0]:g}; nothing can be learned from it"
        )


def load_training_data(data_args: DataArguments) -> TrainingData:
    """Load, validate and trim the dataset; every problem names the flag that caused it."""
    check_local_path("--dataset", data_args.dataset)
    for flag in ("max_train_samples", "max_eval_samples", "max_predict_samples"):
        value = getattr(data_args, flag)
        if value is not None and value < 1:
            raise RunArgumentError(f"--{flag} must be at least 1, got {value} (it would leave a split empty)")
    if data_args.dataset_kind is not None and data_args.dataset_kind not in DATASET_KINDS:
        raise RunArgumentError(f"--dataset_kind {data_args.dataset_kind!r} is not one of {list(DATASET_KINDS)}")
    try:
        dataset = load_msa_dataset(data_args.dataset, data_args.dataset_config_name)
        metadata = read_metadata(dataset)
    except Exception as error:  # any failure to load names the flag: missing folder, bad schema, unreadable files
        raise RunArgumentError(f"--dataset {data_args.dataset!r}: {type(error).__name__}: {error}") from error
    if data_args.dataset_kind is not None and data_args.dataset_kind != metadata.dataset_kind:
        low, high = LABEL_RANGES[data_args.dataset_kind]
        metadata = dataclasses.replace(metadata, dataset_kind=data_args.dataset_kind, label_min=low, label_max=high)
    limits = {"train": data_args.max_train_samples, "validation": data_args.max_eval_samples,
              "test": data_args.max_predict_samples}
    splits = {}
    for split, limit in limits.items():
        rows = dataset[split]
        if limit is not None and limit < rows.num_rows:
            rows = rows.select(range(limit))
        splits[split] = rows.with_format("torch")
    data = TrainingData(DatasetDict(splits), metadata)
    check_labels(data)
    max_lengths = {"text": data_args.max_text_length, "audio": data_args.max_audio_length,
                   "vision": data_args.max_vision_length}
    data.in_memory = in_memory_splits(splits, max_lengths, data_args.in_memory_max_gb)
    return data


def parse_config_overrides(overrides: str | None, config: MSAConfig) -> dict[str, Any]:
    """``'alpha=1.0,polarity_aware=true'`` -> ``{"alpha": 1.0, "polarity_aware": True}`` (JSON values, else strings)."""
    if not overrides:
        return {}
    values = {}
    for item in overrides.split(","):
        key, separator, raw = item.partition("=")
        key = key.strip()
        if not separator or not key:
            raise RunArgumentError(f"--config_overrides: {item!r} is not key=value")
        if not hasattr(config, key):
            raise RunArgumentError(f"--config_overrides: {type(config).__name__} has no setting {key!r}")
        try:
            values[key] = json.loads(raw)
        except json.JSONDecodeError:
            values[key] = raw
    return values


def refuse_unread_options(augmentations: list[str], overrides: dict[str, Any]) -> None:
    """Fail on an override of an augmentation option that none of ``augmentations`` reads (naming it)."""
    unread = [unread_options(name, overrides) for name in augmentations]
    ignored = {key: readers for key, readers in unread[0].items() if all(key in other for other in unread)}
    if ignored:
        details = "; ".join(f"{key!r} is read only by {readers}" for key, readers in ignored.items())
        raise RunArgumentError(f"--config_overrides: --augmentation {' '.join(augmentations)} does not read "
                               f"{sorted(ignored)} ({details})")


def build_config(model_args: ModelArguments, metadata: MSAMetadata, check_unread_options: bool = True) -> MSAConfig:
    """The backbone's config filled from the dataset metadata, the augmentation and the overrides.

    With ``--model_name_or_path`` the saved config is the starting point and its feature dims
    must equal the data's. A variant name (``msmix:no_sal``) sets its augmentation and settings;
    an override that contradicts them, or (with ``check_unread_options``) an option the chosen
    augmentation does not read, is refused.
    """
    check_model_arguments(model_args)
    config_class, _ = BACKBONES[model_args.backbone]
    data_dims = {f"{modality}_dim": dim for modality, dim in metadata.feature_dims.items()}
    if model_args.model_name_or_path:
        try:
            saved_type = config_class.get_config_dict(model_args.model_name_or_path)[0].get("model_type")
            if saved_type != config_class.model_type:
                raise ValueError(f"its config.json describes a {saved_type!r} model, not --backbone "
                                 f"{model_args.backbone!r} ({config_class.model_type!r})")
            config = config_class.from_pretrained(model_args.model_name_or_path)
        except (OSError, ValueError) as error:
            raise RunArgumentError(f"--model_name_or_path {model_args.model_name_or_path!r}: {error}") from error
        saved_dims = {name: getattr(config, name) for name in DIM_FIELDS}
        if saved_dims != data_dims:
            raise RunArgumentError(
                f"--model_name_or_path {model_args.model_name_or_path!r} expects feature dims {saved_dims}, "
                f"but the dataset has {data_dims}"
            )
    else:
        config = config_class()
    config.apply_dataset_metadata(metadata.to_dict())
    augmentation, variant_settings = resolve_augmentation(model_args.augmentation)
    config.augmentation = augmentation.name
    overrides = parse_config_overrides(model_args.config_overrides, config)
    if check_unread_options:
        refuse_unread_options([model_args.augmentation], overrides)
    clashes = {key: overrides[key] for key, value in variant_settings.items()
               if key in overrides and overrides[key] != value}
    if clashes:
        raise RunArgumentError(f"--config_overrides sets {clashes}, but --augmentation {model_args.augmentation} "
                               f"fixes {variant_settings}")
    overrides = {**overrides, **variant_settings}
    changed_dims = {name: overrides[name] for name in DIM_FIELDS if name in overrides and overrides[name] != data_dims[name]}
    if changed_dims:
        raise RunArgumentError(f"--config_overrides sets {changed_dims}, but the dataset has feature dims {data_dims}")
    for key, value in overrides.items():
        setattr(config, key, value)
    try:
        config.check_msa_settings()
    except ValueError as error:
        raise RunArgumentError(f"--config_overrides / --augmentation: {error}") from error
    return config


def build_model(model_args: ModelArguments, config: MSAConfig) -> MSAPreTrainedModel:
    """A fresh model of the backbone, or the saved one of ``--model_name_or_path`` with ``config``."""
    _, model_class = BACKBONES[model_args.backbone]
    if model_args.model_name_or_path:
        try:
            return model_class.from_pretrained(model_args.model_name_or_path, config=config)
        except (OSError, ValueError) as error:
            raise RunArgumentError(f"--model_name_or_path {model_args.model_name_or_path!r}: {error}") from error
    return model_class(config)


def build_collator(data_args: DataArguments, seed: int) -> MSMixDataCollator:
    """The collator with the data arguments' length limits and ``seed`` as the base of its mix seeds."""
    try:
        return MSMixDataCollator(
            max_text_length=data_args.max_text_length,
            max_audio_length=data_args.max_audio_length,
            max_vision_length=data_args.max_vision_length,
            pad_to_max_length=data_args.pad_to_max_length,
            seed=seed,
        )
    except ValueError as error:
        raise RunArgumentError(f"--max_*_length / --pad_to_max_length: {error}") from error


def build_processor(data_args: DataArguments, metadata: MSAMetadata) -> MSMixProcessor | None:
    """The processor saved next to the model: the dataset's extraction settings and the collator's
    length limits; ``None`` when msmix did not extract the features (no raw clip can be featurised alike)."""
    if not metadata.extraction:
        return None
    return MSMixProcessor(
        extraction=metadata.extraction,
        max_text_length=data_args.max_text_length,
        max_audio_length=data_args.max_audio_length,
        max_vision_length=data_args.max_vision_length,
        pad_to_max_length=data_args.pad_to_max_length,
    )


def resume_checkpoint(training_args: MSMixTrainingArguments, seed_dir: str | Path | None = None) -> str | bool | None:
    """``--resume_from_checkpoint``: a checkpoint folder, or ``True`` for the last one of each seed (``last``/``true``).

    With ``seed_dir`` (a seed's ``output_dir``), ``last`` is refused when that folder holds no checkpoint.
    """
    value = training_args.resume_from_checkpoint
    if value is None:
        return None
    if str(value).lower() in RESUME_LAST:
        if seed_dir is not None and (not Path(seed_dir).is_dir() or get_last_checkpoint(str(seed_dir)) is None):
            raise RunArgumentError(f"--resume_from_checkpoint {value}: {seed_dir} holds no checkpoint-* folder to "
                                   "resume from (leave the flag out to train from the start)")
        return True
    if len(training_args.run_seeds) > 1:
        raise RunArgumentError("--resume_from_checkpoint with several --seeds must be 'last' (each seed resumes its own)")
    if not Path(value).is_dir():
        raise RunArgumentError(f"--resume_from_checkpoint {value!r} is not a folder")
    weights = Path(value) / "model.safetensors"
    if weights.is_file():
        try:
            with safe_open(str(weights), framework="pt"):
                pass
        except SafetensorError as error:
            raise RunArgumentError(f"--resume_from_checkpoint: {weights} is unreadable, truncated or empty: {error}") from None
    if not (Path(value) / TRAINER_STATE_NAME).is_file():
        raise RunArgumentError(f"--resume_from_checkpoint {value!r} is not a checkpoint: it has no "
                               f"{TRAINER_STATE_NAME} (checkpoints are the checkpoint-<step> folders in a seed's "
                               "output_dir)")
    return value


def _strip_prefix(metrics: dict[str, float], prefix: str) -> dict[str, float]:
    stripped = {key.removeprefix(f"{prefix}_"): value for key, value in metrics.items()}
    return {key: value for key, value in stripped.items() if key not in EVALUATION_EXTRAS}


def train_one_seed(
    data: TrainingData,
    config: MSAConfig,
    model_args: ModelArguments,
    data_args: DataArguments,
    training_args: MSMixTrainingArguments,
    seed: int,
    output_dir: str | Path,
) -> dict[str, Any]:
    """Train one model with ``seed`` into ``output_dir``; return its validation and test metrics.

    The best checkpoint (``metric_for_best_model`` on validation) is reloaded at the end when
    ``load_best_model_at_end``, saved to ``output_dir`` with its processor and pipeline code (when the dataset was
    extracted by msmix) and its model card (``README.md``, rewritten after the test evaluation),
    and evaluated on both splits. Its ``provenance`` (start and end time, commit, command; see
    ``trainer.provenance``) is returned and written to ``provenance.json``; MS-Mix runs also return their
    health over training (``msmix_health``: :func:`trainer.msmix_health.health_summary`, gradient shares
    included).
    """
    started = utc_now()
    resume = resume_checkpoint(training_args, output_dir)
    args = dataclasses.replace(training_args, seed=seed, output_dir=str(output_dir), push_to_hub=False)
    set_seed(seed)
    model = build_model(model_args, config)
    callbacks = [ModelCardCallback(repo_id=args.hub_model_id or "<user>/<model>", dataset_id=data_args.dataset)]
    if args.early_stopping_patience and args.eval_strategy != "no":
        callbacks.append(EarlyStoppingCallback(args.early_stopping_patience, args.early_stopping_threshold))
    trainer = MSMixTrainer(
        model=model,
        args=args,
        data_collator=build_collator(data_args, seed),
        train_dataset=data.model_input("train"),
        eval_dataset=data.model_input("validation"),
        callbacks=callbacks,
    )
    train_output = trainer.train(resume_from_checkpoint=resume)
    trainer.remove_callback(EarlyStoppingCallback)
    processor = build_processor(data_args, data.metadata)
    if processor is None:
        trainer.save_model()
    elif trainer.is_world_process_zero():  # the pipeline writes the weights once, with its custom_pipelines entry
        save_model_files(trainer.model, output_dir, processor)
        torch.save(trainer.args, Path(output_dir) / TRAINING_ARGS_NAME)
    validation = _strip_prefix(trainer.evaluate(metric_key_prefix="validation"), "validation")
    test = _strip_prefix(trainer.evaluate(data.model_input("test"), metric_key_prefix="test"), "test")
    trainer.save_metrics("train", train_output.metrics)
    trainer.save_metrics("validation", validation)
    trainer.save_metrics("test", test)
    trainer.save_state()
    health = health_summary(trainer.state.log_history, ratio_weights_of(config),
                            args.get_warmup_steps(trainer.state.max_steps))
    provenance = run_provenance(started)
    if trainer.is_world_process_zero():
        write_provenance(output_dir, provenance)
    return {
        "seed": seed,
        "output_dir": str(output_dir),
        "best_checkpoint": trainer.state.best_model_checkpoint,
        "epochs": trainer.state.epoch,
        "steps": trainer.state.global_step,
        "train_runtime": train_output.metrics.get("train_runtime"),
        "validation": validation,
        "test": test,
        "provenance": provenance,
        **({"msmix_health": health} if health is not None else {}),
    }


def load_finished_run(output_dir: str | Path) -> dict[str, Any] | None:
    """What ``train_one_seed`` returned for ``output_dir``, read back from its files; ``None`` if it did not finish.

    An MS-Mix run's ``msmix_health`` is recomputed from its ``trainer_state.json`` (the warm-up taken from the
    logged learning rates) with the ratio weights of its ``config.json``.
    """
    output_dir = Path(output_dir)
    files = {name: output_dir / f"{name}.json" for name in ("train_results", "validation_results", "test_results",
                                                             "trainer_state")}
    if not all(path.is_file() for path in files.values()):
        return None
    loaded = {name: json.loads(path.read_text()) for name, path in files.items()}
    state = loaded["trainer_state"]
    config_file = output_dir / "config.json"
    config = json.loads(config_file.read_text()) if config_file.is_file() else {}
    health = load_health_summary(output_dir, str(config.get("sig_ratio_weights", "batch_minmax")))
    return {
        "seed": None,
        "output_dir": str(output_dir),
        "best_checkpoint": state.get("best_model_checkpoint"),
        "epochs": state.get("epoch"),
        "steps": state.get("global_step"),
        "train_runtime": loaded["train_results"].get("train_runtime"),
        "validation": loaded["validation_results"],
        "test": loaded["test_results"],
        "provenance": read_provenance(output_dir),
        **({"msmix_health": health} if health is not None else {}),
    }

