"""``MSMixProcessor``: raw clips (video, audio track, transcript) -> the batch an msmix model takes.

It is the one home of "raw clip -> model inputs": ``data_processing.extract`` runs it over a
manifest to build a dataset, the ``multimodal-sentiment`` pipeline runs it on new videos, and
``save_pretrained`` writes its settings next to the model (``processor_config.json``), so
``AutoProcessor.from_pretrained(model_dir_or_repo)`` gives back exactly the extraction a model
was trained on::

    processor = AutoProcessor.from_pretrained("user/tfn-msmix")
    batch = processor(["a.mp4", "b.mp4"], ["what a is saying", "what b is saying"])
    model(**batch).logits

Why ``ProcessorMixin``: it is the class ``AutoProcessor`` and the pipeline factory
(``_load_processor``) load for multimodal models, its ``save_pretrained``/``from_pretrained``
round-trip the ``__init__`` arguments through ``processor_config.json``, and
``register_for_auto_class("AutoProcessor")`` ships this file as remote code. It has no
sub-processors: the extractors' tokenizer, feature extractor and image processor are loaded with
their models from the ids (and pinned revisions) in ``extraction``, so a repository stays small
and a new clip goes through bit for bit the same models as the training data.
``FeatureExtractionMixin`` would fit a single-modality, array-in feature extractor instead.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import torch
from transformers import BatchFeature, ProcessorMixin

from .batching import pad_rows
from .clip_warnings import clip_warnings
from .extraction_config import ExtractionConfig
from .feature_schema import ERROR, MODALITIES, length_column
from .sample_extractor import SampleOutcome, load_sample_extractor, resolve_device

PROCESSOR_CONFIG_FILE = "processor_config.json"
PUBLISH_HINT = (
    "name the extractors by their Hub ids with revisions when extracting (e.g. --text_model "
    "bert-base-uncased --text_revision <commit>, likewise --audio_model/--vision_model), or pass "
    "allow_local_extractors=True to publish anyway (users will not be able to featurise new videos)"
)


def check_processor_settings(**settings: Any) -> None:
    """Refuse, naming the field, a length limit that is not a positive int or ``None``, a non-bool
    ``pad_to_max_length`` and a negative or non-int ``pad_token_id`` (each would silently change the batch)."""
    for name, value in settings.items():
        if name.startswith("max_"):
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise ValueError(f"{name} must be a positive number of steps or null (no limit), got {value!r}")
        elif name == "pad_to_max_length":
            if not isinstance(value, bool):
                raise ValueError(f"pad_to_max_length must be true or false, got {value!r}")
        elif isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"{name} must be a token id (an int >= 0), got {value!r}")


class ClipError(ValueError):
    """A clip cannot be turned into model inputs; ``code`` names the problem, the message the file."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"[{code}] {message}")
        self.code = code


class LocalExtractorError(ValueError):
    """A model whose extractors are local folders was about to be published."""


class MSMixProcessor(ProcessorMixin):
    """Extraction settings and padding of an msmix model (see the module docstring).

    Args:
        extraction: every setting of the feature extractor (an ``ExtractionConfig`` or its dict):
            text/audio/vision model ids with the revisions actually loaded (local folders as
            absolute paths), rates, face-crop settings and fallbacks.
        max_text_length, max_audio_length, max_vision_length: truncation used in training.
        pad_to_max_length: pad to those maxima instead of the batch maximum (as in training).
        pad_token_id: padding value of ``input_ids`` (as in training).
    """

    model_input_names = [
        "text_features",
        "text_mask",
        "audio_features",
        "audio_mask",
        "vision_features",
        "vision_mask",
        "input_ids",
        "attention_mask",
    ]

    def __init__(
        self,
        extraction: ExtractionConfig | Mapping[str, Any] | None = None,
        max_text_length: int | None = None,
        max_audio_length: int | None = None,
        max_vision_length: int | None = None,
        pad_to_max_length: bool = False,
        pad_token_id: int = 0,
    ) -> None:
        super().__init__()
        check_processor_settings(max_text_length=max_text_length, max_audio_length=max_audio_length,
                                 max_vision_length=max_vision_length, pad_to_max_length=pad_to_max_length,
                                 pad_token_id=pad_token_id)
        if not extraction:
            raise ValueError(
                "MSMixProcessor needs the extraction settings (extraction=ExtractionConfig(...) or its dict): "
                "without them a raw clip cannot be featurised like the training data"
            )
        config = extraction if isinstance(extraction, ExtractionConfig) else ExtractionConfig.from_dict(extraction)
        self.extraction = config.to_dict()
        self.max_text_length = max_text_length
        self.max_audio_length = max_audio_length
        self.max_vision_length = max_vision_length
        self.pad_to_max_length = pad_to_max_length
        self.pad_token_id = pad_token_id
        if pad_to_max_length and None in self.max_lengths.values():
            raise ValueError("pad_to_max_length needs max_text_length, max_audio_length and max_vision_length")

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path: str, *args: Any, **kwargs: Any) -> "MSMixProcessor":
        """``ProcessorMixin.from_pretrained``; a bad setting in ``processor_config.json`` is refused naming the file."""
        try:
            return super().from_pretrained(pretrained_model_name_or_path, *args, **kwargs)
        except ValueError as error:
            raise ValueError(f"{pretrained_model_name_or_path}/{PROCESSOR_CONFIG_FILE}: {error}") from error

    @property
    def extraction_config(self) -> ExtractionConfig:
        """The extraction settings as an :class:`ExtractionConfig`."""
        return ExtractionConfig.from_dict(self.extraction)

    @property
    def max_lengths(self) -> dict[str, int | None]:
        """Per modality, the most steps a clip keeps."""
        return {modality: getattr(self, f"max_{modality}_length") for modality in MODALITIES}

    def feature_dims(self, device: str | torch.device | None = None) -> dict[str, int]:
        """Feature dimension per modality (loads the extractors once per process)."""
        return load_sample_extractor(self.extraction_config, _device(device)).dims

    def extract_clip(
        self,
        video: str,
        transcript: str | None,
        audio: str | None = None,
        *,
        sample_id: str = "sample",
        return_details: bool = False,
        device: str | torch.device | None = None,
        models_key: str = "",
    ) -> SampleOutcome:
        """The schema columns, issues and statistics of one clip; problems are issues, never raised.

        A ``None`` transcript is an empty one (the text modality is missing, with a warning);
        ``models_key`` tells apart local model folders whose files changed since they were loaded.
        """
        extractor = load_sample_extractor(self.extraction_config, _device(device), models_key)
        return extractor.extract(sample_id, str(video), transcript or "", audio, keep_details=return_details)

    def pad(self, rows: Sequence[Mapping[str, Any]]) -> BatchFeature:
        """Schema rows padded like the training collator pads them."""
        return BatchFeature(pad_rows(rows, self.max_lengths, self.pad_to_max_length, self.pad_token_id))

    def __call__(
        self,
        videos: str | Sequence[str],
        transcripts: str | Sequence[str | None] | None = None,
        return_details: bool = False,
        audios: str | Sequence[str | None] | None = None,
        device: str | torch.device | None = None,
    ) -> BatchFeature:
        """Featurise and pad clips: the result goes straight into ``model(**batch)``.

        Args:
            videos: a video file or a list of them.
            transcripts: what is said in each (``None``: no transcript, the text modality is missing).
            return_details: add ``details``, one dict per clip: ``warnings``, ``face_crops`` (per
                sampled frame its face crop, or the whole frame when ``face_found`` is False),
                ``face_found``, ``frame_times`` (seconds), ``waveform`` (mono float32) and
                ``sampling_rate``. Remove it before calling the model.
            audios: separate audio files (default: each video's audio track).
            device: where the extractors run (default: a GPU when there is one).

        Raises:
            ClipError: a file is missing, empty or cannot be decoded; the message names it.
        """
        videos = [videos] if isinstance(videos, str) else list(videos)
        transcripts = _per_clip(transcripts, len(videos), "transcripts")
        audios = _per_clip(audios, len(videos), "audios")
        rows, details = [], []
        for video, transcript, audio in zip(videos, transcripts, audios):
            outcome = self.extract_clip(video, transcript, audio, return_details=return_details, device=device)
            errors = [issue for issue in outcome.issues if issue.severity == ERROR]
            if outcome.columns is None:
                raise ClipError(errors[0].code, "; ".join(issue.message for issue in errors))
            rows.append(outcome.columns)
            if return_details:
                details.append({"warnings": clip_warnings(outcome.issues, outcome.stats), **outcome.details})
        batch = self.pad(rows)
        if return_details:
            batch["details"] = details
        return batch

    def check_publishable(self, allow_local_extractors: bool = False) -> None:
        """Refuse to publish settings whose extractors are local folders (nobody else has them).

        Raises:
            LocalExtractorError: some extractor is a local folder and ``allow_local_extractors`` is False.
        """
        local = self.extraction_config.local_models()
        if local and not allow_local_extractors:
            named = ", ".join(f"{modality} ({path})" for modality, path in local.items())
            raise LocalExtractorError(f"the {named} extractor(s) are local folders: {PUBLISH_HINT}")

    def save_pretrained(self, save_directory: str, push_to_hub: bool = False, **kwargs: Any) -> Any:
        """``ProcessorMixin.save_pretrained``; with ``push_to_hub`` the extractors must be Hub ids.

        Pass ``allow_local_extractors=True`` to push settings that name local folders anyway.
        """
        allow_local_extractors = kwargs.pop("allow_local_extractors", False)
        if push_to_hub:
            self.check_publishable(allow_local_extractors)
        return super().save_pretrained(save_directory, push_to_hub=push_to_hub, **kwargs)

    @staticmethod
    def missing_modalities(row: Mapping[str, Any]) -> list[str]:
        """The modalities a schema row has no step of (length 0)."""
        return [modality for modality in MODALITIES if int(row[length_column(modality)]) == 0]


def _device(device: str | torch.device | None) -> torch.device:
    if isinstance(device, torch.device):
        return device
    return resolve_device(device or "auto")


def _per_clip(values: str | Sequence[str | None] | None, count: int, name: str) -> list[str | None]:
    if values is None:
        return [None] * count
    values = [values] if isinstance(values, str) else list(values)
    if len(values) != count:
        raise ValueError(f"{name}: {len(values)} given for {count} videos; give one per video")
    return values
