"""Entry point of ``accelerate launch trainer/run.py``: summarises the MSA dataset it would train on."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field

import numpy as np
from transformers import HfArgumentParser

from data_processing.loading import DEFAULT_DATASET, load_msa_dataset
from data_processing.schema import MODALITIES, feature_column, length_column, read_metadata


@dataclass
class DataArguments:
    """Which dataset to use."""

    dataset: str = field(
        default=DEFAULT_DATASET,
        metadata={"help": "'default' (built-in generated data), a save_to_disk folder, or a Hub dataset id"},
    )


def summarize(dataset_name: str) -> str:
    """A printable summary of splits, shapes and label statistics."""
    dataset = load_msa_dataset(dataset_name)
    metadata = read_metadata(dataset)
    lines = [f"dataset {dataset_name!r} ({metadata.dataset_kind}), labels in [{metadata.label_min}, {metadata.label_max}]"]
    for split_name, split in dataset.items():
        labels = np.asarray(split["label"])
        lengths = ", ".join(
            f"{m} [<= {max(split[length_column(m)])}, {metadata.feature_dims[m]}]" for m in MODALITIES
        )
        lines.append(
            f"  {split_name:<10} {split.num_rows:>6} samples; {lengths}; "
            f"label mean {labels.mean():+.3f} std {labels.std():.3f}"
        )
    lines.append(f"  features: {', '.join(feature_column(m) for m in MODALITIES)}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    (data_args,) = HfArgumentParser(DataArguments).parse_args_into_dataclasses(args=argv)
    print(summarize(data_args.dataset))


if __name__ == "__main__":
    main(sys.argv[1:])
