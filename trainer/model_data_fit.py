"""Whether a trained model fits a dataset: the check every command that evaluates a model on data runs first.

A model trained on one kind of data (dataset kind, label range, feature dims in its config) gives
meaningless numbers on another: MOSI metrics on CH-SIMS's [-1, 1] labels, or a forward pass that
fails deep inside torch on other feature dims. ``check_model_fits_dataset`` refuses both with one
message naming the model and the dataset.
"""

from __future__ import annotations

from transformers import PretrainedConfig

from data_processing.schema import MSAMetadata

DIM_FIELDS: tuple[str, ...] = ("text_dim", "audio_dim", "vision_dim")


def model_data_mismatches(config: PretrainedConfig, metadata: MSAMetadata, check_kind: bool = True) -> list[str]:
    """What differs between what the model's ``config`` was trained on and the dataset's ``metadata``."""
    mismatches = []
    if check_kind and config.dataset_kind != metadata.dataset_kind:
        mismatches.append(f"dataset kind: the model's is {config.dataset_kind!r}, the dataset's {metadata.dataset_kind!r}")
    model_range = (float(config.label_min), float(config.label_max))
    data_range = (float(metadata.label_min), float(metadata.label_max))
    if model_range != data_range:
        mismatches.append(f"label range: the model's is [{model_range[0]:g}, {model_range[1]:g}], "
                          f"the dataset's [{data_range[0]:g}, {data_range[1]:g}]")
    model_dims = {name: int(getattr(config, name)) for name in DIM_FIELDS}
    data_dims = {f"{modality}_dim": int(dim) for modality, dim in metadata.feature_dims.items()}
    if model_dims != data_dims:
        mismatches.append(f"feature dims: the model's are {model_dims}, the dataset's {data_dims}")
    return mismatches


def check_model_fits_dataset(config: PretrainedConfig, metadata: MSAMetadata, model: str, dataset: str,
                             check_kind: bool = True) -> None:
    """Raise ``ValueError`` naming ``--model`` and ``--dataset`` when the model was trained on other data.

    ``check_kind=False`` accepts another dataset kind with the same label range (the caller named the
    metric set itself, e.g. a MOSI model evaluated on MOSEI with ``--dataset_kind``).
    """
    mismatches = model_data_mismatches(config, metadata, check_kind)
    if mismatches:
        raise ValueError(f"--model {model!r} does not fit --dataset {dataset!r}: {'; '.join(mismatches)} "
                         "(evaluate a model on data of the kind, label range and feature dims it was trained on)")
