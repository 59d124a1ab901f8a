"""Publish a trained model on the Hugging Face Hub with its model card.

``push_trained_model`` uses only ``huggingface_hub``'s public API (``HfApi.create_repo``,
``upload_folder``). The Hub endpoint is ``HF_ENDPOINT`` (read by ``huggingface_hub`` at import)
unless ``endpoint`` is given.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from huggingface_hub import CommitInfo, HfApi, constants, get_token
from transformers import PreTrainedModel, TrainingArguments

from modeling_msmix import TASK, MSMixProcessor, MultimodalSentimentPipeline

from .model_card import build_model_card
from .msmix_health import load_health_summary, ratio_weights_of
from .robustness_card import add_robustness_from_folder


class HubAccessError(RuntimeError):
    """The Hub cannot be reached or does not accept the token; the message says which."""


def check_hub_access(token: str | None = None, endpoint: str | None = None) -> str:
    """The Hub user that ``token`` (or the saved login) pushes as; fails at once offline or without a login.

    Raises:
        HubAccessError: ``HF_HUB_OFFLINE`` is set, there is no token, or the Hub refuses it or cannot be reached.
    """
    if constants.HF_HUB_OFFLINE:
        raise HubAccessError("HF_HUB_OFFLINE is set, so the Hub cannot be reached")
    token = token or get_token()
    if not token:
        raise HubAccessError("not logged in to the Hugging Face Hub: run `hf auth login` or pass --hub_token")
    try:
        return HfApi(endpoint=endpoint, token=token).whoami()["name"]
    except Exception as error:  # connection, HTTP and offline errors all mean the same here
        raise HubAccessError(
            f"the Hub at {endpoint or constants.ENDPOINT} refused the token or cannot be reached "
            f"({type(error).__name__}: {error})"
        ) from error


def model_processor(model: PreTrainedModel, processor: MSMixProcessor | None = None) -> MSMixProcessor | None:
    """``processor``, else one built from the extraction settings in ``model.config.dataset_metadata`` (if any)."""
    if processor is not None:
        return processor
    extraction = (getattr(model.config, "dataset_metadata", None) or {}).get("extraction")
    return MSMixProcessor(extraction=extraction) if extraction else None


def save_model_files(model: PreTrainedModel, output_dir: str | Path, processor: MSMixProcessor | None) -> None:
    """Save ``model`` (weights, config, modeling code) and, with a ``processor``, the processor and the
    pipeline code, with the task under ``custom_pipelines`` in ``config.json``.

    ``pipeline(model=output_dir, trust_remote_code=True)`` reads its task from that entry, so the call
    needs neither msmix nor the Hub (transformers asks the Hub for the task of a model without one,
    which fails offline).
    """
    if processor is None:
        model.save_pretrained(output_dir)
        return
    saving = MultimodalSentimentPipeline(model=model, processor=processor, task=TASK, device=model.device)
    saving.save_pretrained(output_dir)
    processor.save_pretrained(output_dir)


def save_model_for_hub(
    model: PreTrainedModel,
    output_dir: str | Path,
    *,
    processor: MSMixProcessor | None = None,
    repo_id: str = "<user>/<model>",
    dataset_id: str | None = None,
    results: Mapping[str, Any] | None = None,
    training_args: TrainingArguments | Mapping[str, Any] | None = None,
    license: str | None = "apache-2.0",
) -> Path:
    """Write what a Hub model repo holds into ``output_dir`` and return it.

    That is ``model.safetensors``, ``config.json`` with ``auto_map``, the modeling files
    (copied by ``save_pretrained`` because the classes are registered for the Auto classes) and
    ``README.md`` (the model card, see :func:`trainer.model_card.build_model_card`). When the
    model has a processor (``processor``, or extraction settings in its config), also
    ``processor_config.json`` with the processing code, and the pipeline code with
    ``custom_pipelines`` in ``config.json`` (``Pipeline.save_pretrained``), so that
    ``pipeline(model=repo_id, trust_remote_code=True)`` runs on videos without msmix.
    When the model was loaded from a run's folder, the card shows MS-Mix's health over the training
    logs of its ``trainer_state.json``. When the model was loaded from a folder holding ``robustness.json`` (``python -m trainer.robustness``),
    the card gets a Robustness section and the robustness files are copied alongside.
    """
    output_dir = Path(output_dir)
    type(model.config).register_for_auto_class()
    type(model).register_for_auto_class("AutoModel")
    save_model_files(model, output_dir, model_processor(model, processor))
    card = build_model_card(
        model.config,
        repo_id=repo_id,
        dataset_id=dataset_id,
        results=results,
        training_args=training_args,
        license=license,
        mixing_health=load_health_summary(getattr(model, "name_or_path", None), ratio_weights_of(model.config)),
    )
    card = add_robustness_from_folder(card, getattr(model, "name_or_path", None), output_dir, dataset_id,
                                      model.config.dataset_kind)
    card.save(output_dir / "README.md")
    return output_dir


def push_trained_model(
    model: PreTrainedModel,
    repo_id: str,
    *,
    dataset_id: str | None = None,
    results: Mapping[str, Any] | None = None,
    training_args: TrainingArguments | Mapping[str, Any] | None = None,
    license: str | None = "apache-2.0",
    private: bool | None = None,
    token: str | None = None,
    endpoint: str | None = None,
    commit_message: str = "Upload msmix model",
    processor: MSMixProcessor | None = None,
    allow_local_extractors: bool = False,
) -> CommitInfo:
    """Publish a trained model so that ``AutoModel.from_pretrained(repo_id, trust_remote_code=True)`` works.

    Creates the repo if needed (``exist_ok``) and uploads, in one commit, the folder that
    :func:`save_model_for_hub` writes: safetensors weights, config with ``auto_map``, the
    modeling code and the model card filled from the run.

    Args:
        model: the trained model (an msmix ``MSAPreTrainedModel``); its ``config.dataset_metadata``
            should hold the dataset's ``MSAMetadata`` dict (the trainer sets it).
        repo_id: ``"user/name"`` on the Hub.
        dataset_id: Hub id or name of the training dataset, shown in the card.
        results: the run's results, e.g. the experiment JSON with per-metric ``{"mean", "std"}``
            over seeds under ``"test"`` (see :func:`trainer.model_card.metric_summaries`).
        training_args: the run's ``TrainingArguments`` (or their ``to_dict()``).
        license: licence id of the weights for the card.
        private, token, endpoint: passed to ``HfApi``/``create_repo``.
        commit_message: the commit's title.
        processor: the model's ``MSMixProcessor`` (default: built from its config's extraction settings).
        allow_local_extractors: publish even though the extractors are local folders (nobody else
            can then featurise a video for this model).

    Returns:
        The ``CommitInfo`` of the upload (``.commit_url``, ``.oid``).

    Raises:
        LocalExtractorError: the extractors are local folders and ``allow_local_extractors`` is
            False (raised before anything is uploaded; the message says how to fix it).
    """
    processor = model_processor(model, processor)
    if processor is not None:
        processor.check_publishable(allow_local_extractors)
    api = HfApi(endpoint=endpoint, token=token)
    repo_url = api.create_repo(repo_id, private=private, exist_ok=True)
    with tempfile.TemporaryDirectory() as folder:
        save_model_for_hub(
            model,
            folder,
            processor=processor,
            repo_id=repo_url.repo_id,
            dataset_id=dataset_id,
            results=results,
            training_args=training_args,
            license=license,
        )
        return api.upload_folder(repo_id=repo_url.repo_id, folder_path=folder, commit_message=commit_message)
