"""Publish an MSA dataset on the Hugging Face Hub with its card.

``push_dataset`` uses ``datasets``' own ``DatasetDict.push_to_hub`` and ``huggingface_hub``'s
public API (``HfApi.repo_info``, ``upload_file``).
"""

from __future__ import annotations

from datasets import DatasetDict
from huggingface_hub import CommitInfo, DatasetCard, HfApi

from .dataset_card import build_dataset_card


class DatasetCardNotPushed(RuntimeError):
    """The Parquet files reached the Hub but the msmix card did not; the message says what is there."""


def push_dataset(
    dataset: DatasetDict,
    repo_id: str,
    *,
    license: str | None = None,
    pretty_name: str | None = None,
    private: bool | None = None,
    token: str | None = None,
) -> CommitInfo:
    """Publish an msmix ``DatasetDict`` with its card, so that ``load_dataset(repo_id)`` restores its metadata.

    ``DatasetDict.push_to_hub`` uploads the Parquet shards and a card whose YAML lists the
    features (``Array2D`` included) and splits, but not ``DatasetInfo.description``, where the
    ``MSAMetadata`` lives. A second commit therefore replaces ``README.md`` with the msmix card
    (see :mod:`hub_cards.dataset_card`), which keeps that YAML and adds the metadata JSON as
    ``dataset_info.description``; ``load_dataset`` reads it back into ``DatasetInfo.description``.

    Args:
        dataset: an msmix ``DatasetDict`` (it must carry ``MSAMetadata``).
        repo_id: ``"user/name"`` of the dataset repo.
        license: the Hub licence id of the source data (the card asks for it when ``None``).
        pretty_name: display name for the card.
        private, token: passed to ``push_to_hub``/``HfApi``. The endpoint is ``HF_ENDPOINT``
            (``datasets`` reads no other), for both commits.

    Returns:
        The ``CommitInfo`` of the card commit.

    Raises:
        DatasetCardNotPushed: the Parquet commit landed but the card did not; the message names the
            repo and that commit. Running ``push_dataset`` again replaces both and completes it.
    """
    pushed_data = dataset.push_to_hub(repo_id, private=private, token=token)
    api = HfApi(token=token)
    try:
        repo_id = api.repo_info(repo_id, repo_type="dataset").id
        pushed = DatasetCard.load(repo_id, repo_type="dataset", token=token)
        card = build_dataset_card(
            dataset, repo_id=repo_id, license=license, pretty_name=pretty_name, hub_yaml=pushed.data.to_dict()
        )
        return api.upload_file(
            path_or_fileobj=str(card).encode(),
            path_in_repo="README.md",
            repo_id=repo_id,
            repo_type="dataset",
            commit_message="Add the msmix dataset card",
        )
    except Exception as error:
        raise DatasetCardNotPushed(
            f"dataset {repo_id}: the Parquet files are on the Hub (commit {getattr(pushed_data, 'oid', 'unknown')}) but the msmix card "
            f"is not ({type(error).__name__}: {error}); load_dataset({repo_id!r}) lacks the msmix metadata "
            "until push_dataset is run again (it replaces both)"
        ) from error
