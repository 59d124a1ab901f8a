"""The ``multimodal-sentiment`` pipeline: a video and its transcript in, a sentiment out.

::

    from transformers import pipeline

    analyse = pipeline(model="user/tfn-msmix", trust_remote_code=True)
    analyse("clip.mp4", transcript="I loved it")
    # {"sentiment": 1.83, "label": "positive",
    #  "intensities": {"text": 1.2, "audio": 0.4, "vision": 0.9}, "warnings": []}

A published msmix repository carries this file, the processor and the modeling code, and its
``config.json`` names this class under ``custom_pipelines``, so the lines above need
transformers, torch, opencv, librosa and imageio-ffmpeg but not msmix. Where msmix is installed,
``import modeling_msmix`` registers the task and the local classes, and
``pipeline("multimodal-sentiment", model=folder)`` runs without remote code.

Each clip goes through the model's :class:`~.processing_msmix.MSMixProcessor` (the extraction
the training data went through); rows are padded like the training collator pads them, so
``batch_size`` works.
"""

from __future__ import annotations

import collections.abc
import math
from typing import Any, Mapping

import numpy as np
import torch
from torch.utils.data import DataLoader
from transformers import Pipeline, pipeline
from transformers.pipelines.pt_utils import PipelineDataset, PipelineIterator

from .clip_warnings import clip_warnings
from .feature_schema import ERROR, MODALITIES
from .media import MediaError, read_audio
from .processing_msmix import ClipError, MSMixProcessor

TASK = "multimodal-sentiment"
SENTIMENT_LABELS: tuple[str, ...] = (
    "strongly negative",
    "negative",
    "weakly negative",
    "neutral",
    "weakly positive",
    "positive",
    "strongly positive",
)
ASR_SAMPLING_RATE = 16_000


class MissingTranscriptError(ValueError):
    """A video came without a transcript and no ASR model was named."""


def sentiment_label(sentiment: float, label_scale: float = 3.0) -> str:
    """The 7-class label of ``sentiment``: rescale to [-3, 3] (``* 3 / label_scale``), clip, round.

    MOSI/MOSEI (``label_scale`` 3) use the value as it is, as ``Mult_acc_7`` does; CH-SIMS
    (``label_scale`` 1) is stretched from [-1, 1]. Rounding is half-to-even like the metrics.
    """
    scaled = float(np.clip(sentiment * 3.0 / label_scale, -3.0, 3.0))
    return SENTIMENT_LABELS[int(np.round(scaled)) + 3]


def _as_request(item: Any, transcript: str | None, audio: str | None) -> dict[str, Any]:
    request = dict(item) if isinstance(item, Mapping) else {"video": str(item)}
    if "video" not in request:
        raise ValueError(f"an input needs a 'video' path, got keys {sorted(request)}")
    request.setdefault("transcript", transcript)
    request.setdefault("audio", audio)
    request.setdefault("id", str(request["video"]))
    return request


def _concatenate(items: list[dict[str, list]]) -> dict[str, list]:
    """Collate preprocessed clips: their ``rows`` and ``meta`` lists end to end (padding is in ``_forward``)."""
    return {key: [value for item in items for value in item[key]] for key in items[0]}


class MultimodalSentimentPipeline(Pipeline):
    """Video file(s) -> sentiment, 7-class label and per-modality MS-Mix intensities.

    Inputs: a video path (with ``transcript=...``), a dict ``{"video", "transcript", "audio"
    (optional separate audio file), "id"}``, or a list of those. Call arguments:

    - ``transcript``: what is said, for a single path input.
    - ``asr_model``: a speech recognition model (Hub id or folder) that transcribes videos given
      without a transcript; without it, such a video is an error that says so.
    - ``return_details``: add ``details``, the processor's dict for the clip (face crops, which
      frames show a face, frame times, waveform, sampling rate, warnings).
    - ``on_error``: ``"raise"`` (default) or ``"report"``: a file that cannot be used gives a
      result with ``sentiment`` None and an ``error`` message, and the others go on.
    - ``batch_size``: clips per model call (rows padded like the training collator pads them).

    Output per video: ``{"sentiment": float in the label range, "label": one of
    SENTIMENT_LABELS, "intensities": {"text", "audio", "vision": float, or None for a modality the
    clip lacks or a model trained without MS-Mix}, "warnings": [str]}``.
    """

    _load_processor = None
    _load_tokenizer = False
    _load_feature_extractor = False
    _load_image_processor = False
    _load_video_processor = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.processor is None:
            extraction = (getattr(self.model.config, "dataset_metadata", None) or {}).get("extraction")
            self.processor = MSMixProcessor(extraction=extraction) if extraction else None
        self._asr_pipelines: dict[str, Pipeline] = {}
        self._dims_checked = False

    def _sanitize_parameters(self, transcript=None, audio=None, asr_model=None, return_details=None, on_error=None,
                             **kwargs):
        if kwargs:
            raise TypeError(f"{TASK} pipeline got unknown arguments {sorted(kwargs)}")
        if on_error not in (None, "raise", "report"):
            raise ValueError(f"on_error must be 'raise' or 'report', got {on_error!r}")
        preprocess = {"transcript": transcript, "audio": audio, "asr_model": asr_model,
                      "return_details": bool(return_details), "on_error": on_error or "raise"}
        return preprocess, {}, {}

    def transcribe(self, media_path: str, asr_model: str) -> str:
        """The transcript of ``media_path``'s speech by the ASR pipeline ``asr_model``."""
        if asr_model not in self._asr_pipelines:
            self._asr_pipelines[asr_model] = pipeline("automatic-speech-recognition", model=asr_model,
                                                      device=self.device)
        try:
            waveform = read_audio(media_path, ASR_SAMPLING_RATE)
        except MediaError as error:
            raise ClipError(error.code, str(error)) from None
        return self._asr_pipelines[asr_model]({"raw": waveform, "sampling_rate": ASR_SAMPLING_RATE})["text"]

    def _check_processor(self) -> MSMixProcessor:
        if self.processor is None:
            source = (getattr(self.model.config, "dataset_metadata", None) or {}).get("source") or "unknown"
            raise ValueError(
                "this model has no processor (processor_config.json) and its config no dataset_metadata['extraction']: "
                f"it was trained on features that msmix did not extract (source: {source}), so a raw video cannot "
                "be turned into the same features. Pass processor=MSMixProcessor(extraction=...)."
            )
        if not self._dims_checked:
            expected = {m: int(getattr(self.model.config, f"{m}_dim")) for m in MODALITIES}
            found = self.processor.feature_dims(self.device)
            if found != expected:
                raise ValueError(f"the extractors give feature dims {found} but the model expects {expected}")
            self._dims_checked = True
        return self.processor

    def preprocess(self, inputs, transcript=None, audio=None, asr_model=None, return_details=False, on_error="raise"):
        request = _as_request(inputs, transcript, audio)
        meta: dict[str, Any] = {"warnings": []}
        try:
            processor = self._check_processor()
            text = request["transcript"]
            if text is None:
                if asr_model is None:
                    raise MissingTranscriptError(
                        f"{request['video']}: no transcript. Pass transcript=... (or a 'transcript' key), or name a "
                        "speech recognition model with asr_model=..."
                    )
                text = self.transcribe(request["audio"] or request["video"], asr_model)
                meta["warnings"].append(f"transcript from {asr_model}: {text!r}")
            outcome = processor.extract_clip(request["video"], text, request["audio"], sample_id=request["id"],
                                             return_details=return_details, device=self.device)
            errors = [issue for issue in outcome.issues if issue.severity == ERROR]
            if outcome.columns is None:
                raise ClipError(errors[0].code, "; ".join(issue.message for issue in errors))
        except (ValueError, OSError) as error:
            if on_error == "raise":
                raise
            return {"rows": [None], "meta": [{**meta, "error": str(error)}]}
        meta["warnings"] += clip_warnings(outcome.issues, outcome.stats)
        if return_details:
            meta["details"] = {"warnings": list(meta["warnings"]), **outcome.details}
        return {"rows": [outcome.columns], "meta": [meta]}

    def get_iterator(self, inputs, num_workers, batch_size, preprocess_params, forward_params, postprocess_params):
        """Transformers' iterator, with clips collated by :func:`_concatenate` and padded in ``_forward``."""
        if isinstance(inputs, collections.abc.Sized):
            dataset = PipelineDataset(inputs, self.preprocess, preprocess_params)
        else:
            dataset = PipelineIterator(inputs, self.preprocess, preprocess_params)
            num_workers = min(num_workers, 1)
        loader = DataLoader(dataset, num_workers=num_workers, batch_size=batch_size, collate_fn=_concatenate)
        model_iterator = PipelineIterator(loader, self.forward, forward_params, loader_batch_size=batch_size)
        return PipelineIterator(model_iterator, self.postprocess, postprocess_params)

    def _forward(self, model_inputs: dict[str, list]) -> dict[str, Any]:
        rows, metas = model_inputs["rows"], model_inputs["meta"]
        size = len(rows)
        logits = torch.full((size, 1), math.nan)
        intensities = torch.full((size, len(MODALITIES)), math.nan) if self._has_intensities() else None
        present = torch.zeros((size, len(MODALITIES)), dtype=torch.bool)
        usable = [index for index, row in enumerate(rows) if row is not None]
        if usable:
            batch = self.processor.pad([rows[index] for index in usable])
            output = self.model(**{key: value.to(self.device) for key, value in batch.items()})
            logits[usable] = output.logits.float().cpu()
            if intensities is not None:
                intensities[usable] = output.intensities.float().cpu()
            for index in usable:
                missing = MSMixProcessor.missing_modalities(rows[index])
                present[index] = torch.tensor([modality not in missing for modality in MODALITIES])
        return {"logits": logits, "intensities": intensities, "present": present, "meta": metas}

    def _has_intensities(self) -> bool:
        return getattr(self.model.config, "augmentation", None) == "msmix"

    def postprocess(self, model_outputs: dict[str, Any]) -> dict[str, Any]:
        meta = model_outputs["meta"]
        meta = meta[0] if isinstance(meta, list) else meta
        result: dict[str, Any] = {"sentiment": None, "label": None, "intensities": dict.fromkeys(MODALITIES),
                                  "warnings": meta["warnings"]}
        if "error" in meta:
            return {**result, "error": meta["error"]}
        low, high = float(self.model.config.label_min), float(self.model.config.label_max)
        sentiment = float(np.clip(float(model_outputs["logits"].reshape(-1)[0]), low, high))
        result.update(sentiment=sentiment, label=sentiment_label(sentiment, max(abs(low), abs(high))))
        if model_outputs["intensities"] is not None:
            values = model_outputs["intensities"].reshape(-1).tolist()
            present = model_outputs["present"].reshape(-1).tolist()
            result["intensities"] = {m: float(v) if p else None for m, v, p in zip(MODALITIES, values, present)}
        if "details" in meta:
            result["details"] = meta["details"]
        return result
