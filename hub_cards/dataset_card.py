"""The dataset card of an msmix ``DatasetDict``, generated from its :class:`MSAMetadata`.

The card's YAML keeps the ``dataset_info``/``configs`` blocks that ``DatasetDict.push_to_hub``
writes and adds ``dataset_info.description`` holding the ``MSAMetadata`` JSON: ``load_dataset``
restores that field into ``DatasetInfo.description``, so ``read_metadata`` works on a dataset
loaded from the Hub exactly as on one loaded from disk.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping

import numpy as np
from datasets import DatasetDict
from huggingface_hub import DatasetCard, DatasetCardData

from data_processing.schema import (
    MODALITIES,
    TOKEN_COLUMNS,
    UNIMODAL_LABEL_COLUMNS,
    MSAMetadata,
    feature_column,
    length_column,
    read_metadata,
)

from .provenance import describe_provenance, strip_machine_paths

DATASET_TEMPLATE = Path(__file__).with_name("dataset_card_template.md")
_SIZE_CATEGORIES = ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M"))
_KIND_SENTENCES = {
    "mosi": "Its layout follows CMU-MOSI.",
    "mosei": "Its layout follows CMU-MOSEI.",
    "sims": "Its layout follows CH-SIMS (with unimodal labels when present).",
    "custom": "It is a custom MSA dataset.",
}


def label_meaning(metadata: MSAMetadata) -> str:
    """One paragraph that says what the label values mean for this dataset kind."""
    low, high = metadata.label_min, metadata.label_max
    if metadata.dataset_kind in ("mosi", "mosei"):
        return (
            f"`label` is the sentiment intensity in [{low:g}, {high:g}], the mean of the annotators' ratings on "
            "the 7-point scale -3 strongly negative, -2 negative, -1 weakly negative, 0 neutral, +1 weakly "
            "positive, +2 positive, +3 strongly positive."
        )
    if metadata.dataset_kind == "sims":
        return (
            f"`label` is the sentiment score in [{low:g}, {high:g}] (-1 negative, 0 neutral, +1 positive), the "
            "mean of the annotators' ratings; `label_text`/`label_audio`/`label_vision`, when present, rate each "
            "modality alone."
        )
    return f"`label` is a sentiment score in [{low:g}, {high:g}]; higher is more positive."


def size_category(num_rows: int) -> str:
    """The Hub's ``size_categories`` value for ``num_rows`` samples."""
    for bound, name in _SIZE_CATEGORIES:
        if num_rows < bound:
            return name
    return "n>1M"


def _split_rows(dataset: DatasetDict) -> list[dict[str, Any]]:
    rows = []
    for name, split in dataset.items():
        row: dict[str, Any] = {"name": name, "rows": split.num_rows}
        for modality in MODALITIES:
            lengths = np.asarray(split[length_column(modality)])
            row[f"{modality}_max"] = int(lengths.max())
            row[f"{modality}_mean"] = f"{lengths.mean():.1f}"
        labels = np.asarray(split["label"], dtype=np.float64)
        row["label_mean"], row["label_std"] = f"{labels.mean():+.3f}", f"{labels.std():.3f}"
        rows.append(row)
    return rows


def _hub_config_info(card_yaml: Mapping[str, Any]) -> dict[str, Any]:
    """The ``dataset_info`` entry of the default config in YAML written by ``push_to_hub``."""
    info = card_yaml.get("dataset_info") or {}
    if isinstance(info, list):
        info = next((entry for entry in info if entry.get("config_name", "default") == "default"), info[0])
    return dict(info)


def dataset_card_data(
    dataset: DatasetDict,
    *,
    license: str | None = None,
    pretty_name: str | None = None,
    hub_yaml: Mapping[str, Any] | None = None,
) -> DatasetCardData:
    """The card's YAML metadata.

    Args:
        dataset: an msmix dataset (it must carry :class:`MSAMetadata`).
        license: the licence of the source data (a Hub licence id); ``None`` leaves it unset.
        pretty_name: display name; defaults to what the data is (see :mod:`hub_cards.provenance`).
        hub_yaml: the YAML that ``DatasetDict.push_to_hub`` wrote (``dataset_info``, ``configs``);
            it is kept, and the metadata JSON is added as ``dataset_info.description``.
    """
    metadata = read_metadata(dataset)
    hub_yaml = dict(hub_yaml or {})
    info = _hub_config_info(hub_yaml)
    info["description"] = next(iter(dataset.values())).info.description
    extra = {key: value for key, value in hub_yaml.items() if key not in ("dataset_info", "pretty_name", "license")}
    return DatasetCardData(
        license=license,
        pretty_name=pretty_name or f"{describe_provenance(metadata.to_dict()).name} (msmix schema)",
        size_categories=size_category(sum(split.num_rows for split in dataset.values())),
        tags=["multimodal-sentiment-analysis", "msmix", metadata.dataset_kind],
        dataset_info=info,
        **extra,
    )


def build_dataset_card(
    dataset: DatasetDict,
    *,
    repo_id: str = "<user>/<dataset>",
    license: str | None = None,
    pretty_name: str | None = None,
    hub_yaml: Mapping[str, Any] | None = None,
) -> DatasetCard:
    """Render the dataset card of ``dataset`` (see :func:`dataset_card_data` for the arguments).

    Absolute paths of this machine (in the source, the extraction settings, the metadata JSON) are
    reduced to their last component: the card is public.
    """
    metadata = read_metadata(dataset)
    provenance = describe_provenance(metadata.to_dict())
    card_data = dataset_card_data(dataset, license=license, pretty_name=pretty_name, hub_yaml=hub_yaml)
    columns = set(next(iter(dataset.values())).column_names)
    features = [
        {
            "column": feature_column(m),
            "dim": metadata.feature_dims[m],
            "extractor": metadata.extractors.get(m, "not recorded"),
            "normalization": metadata.normalization.get(m, "not recorded"),
        }
        for m in MODALITIES
    ]
    card = DatasetCard.from_template(
        card_data,
        template_path=str(DATASET_TEMPLATE),
        repo_id=repo_id,
        kind_sentence=_KIND_SENTENCES[metadata.dataset_kind],
        splits=_split_rows(dataset),
        features=features,
        unimodal=set(UNIMODAL_LABEL_COLUMNS) <= columns,
        token_ids=set(TOKEN_COLUMNS) <= columns,
        label_meaning=label_meaning(metadata),
        extraction_json=json.dumps(metadata.extraction or {"note": "not recorded"}, indent=2, sort_keys=True),
        source=provenance.description,
        citation=provenance.citation,
        license_line=license or "not stated: fill in the licence of the source data before publishing",
        notes_json=json.dumps(metadata.notes, indent=2, sort_keys=True) if metadata.notes else "",
    )
    return DatasetCard(strip_machine_paths(str(card)))
