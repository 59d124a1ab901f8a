"""The ``multimodal-sentiment`` pipeline: a video (+ transcript) in, a sentiment score out.

Importing this module registers the task with ``transformers``, so that::

    import trainer.sentiment_pipeline  # registers "multimodal-sentiment"
    from transformers import pipeline

    analyse = pipeline("multimodal-sentiment", model="user/tfn-msmix-mosi", trust_remote_code=True)
    analyse({"video": "clip.mp4", "transcript": "I loved it"})
    # {"video": "clip.mp4", "score": 1.83, "label": "positive",
    #  "intensities": {"text": 1.2, "audio": 0.4, "vision": 0.9}, "warnings": []}

Each video goes through the same extractors, with the same settings, as the dataset the model
was trained on: they are read from ``model.config.dataset_metadata["extraction"]`` (the
dataset's ``MSAMetadata.extraction``) and run by :mod:`data_processing.sample_extractor`; the
rows are padded by the training collator. The model needs the msmix package for this (the
extractors are not part of the Hub repo's remote code); the model itself may come from the Hub.

It lives in ``trainer/`` because it is the inference side of a trained model and reuses the
training collator, and it imports ``data_processing``, which the self-contained
``modeling_msmix`` files (shipped as remote code) must not.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from transformers import AutoModel, Pipeline, pipeline
from transformers.pipelines import PIPELINE_REGISTRY

from data_processing.error_report import ERROR
from data_processing.extraction_config import ExtractionConfig
from data_processing.media import MediaError, read_audio
from data_processing.sample_extractor import load_sample_extractor

from .collator import MSMixDataCollator

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
MODALITIES = ("text", "audio", "vision")
ASR_SAMPLING_RATE = 16_000


class MissingTranscriptError(ValueError):
    """A video came without a transcript and no ASR model was named."""


def sentiment_label(score: float, label_scale: float = 3.0) -> str:
    """The 7-class label of ``score``: rescale to [-3, 3] (``* 3 / label_scale``), clip, round.

    MOSI/MOSEI (``label_scale`` 3) use the score as it is, as ``Mult_acc_7`` does; CH-SIMS
    (``label_scale`` 1) is stretched from [-1, 1]. Rounding is half-to-even like the metrics.
    """
    scaled = float(np.clip(score * 3.0 / label_scale, -3.0, 3.0))
    return SENTIMENT_LABELS[int(np.round(scaled)) + 3]


def model_extraction_config(config: Any) -> ExtractionConfig:
    """The extraction settings stored with a trained model, checked against its feature dims.

    Raises:
        ValueError: the model carries no extraction settings (it was trained on features that
            were imported or generated, not extracted by msmix), so a video cannot be featurised alike.
    """
    metadata = dict(getattr(config, "dataset_metadata", None) or {})
    extraction = metadata.get("extraction") or {}
    if not extraction:
        raise ValueError(
            "this model's config has no dataset_metadata['extraction']: it was trained on features "
            f"that msmix did not extract (source: {metadata.get('source') or 'unknown'}), so a raw video "
            "cannot be turned into the same features. Pass extraction=<the settings> to override."
        )
    return ExtractionConfig.from_dict(extraction)


def _as_request(item: Any, transcript: str | None, audio: str | None) -> dict[str, Any]:
    if isinstance(item, Mapping):
        request = dict(item)
    else:
        request = {"video": str(item)}
    if "video" not in request:
        raise ValueError(f"an input needs a 'video' path, got keys {sorted(request)}")
    request.setdefault("transcript", transcript)
    request.setdefault("audio", audio)
    request.setdefault("id", str(request["video"]))
    return request


class MultimodalSentimentPipeline(Pipeline):
    """Video file(s) -> sentiment score, 7-class label and per-modality MS-Mix intensities.

    Inputs: a video path, a dict ``{"video", "transcript", "audio" (optional separate audio
    file), "id"}``, or a list or generator of those (answered in order, one video at a time:
    feature extraction, not the model, is the cost). Call arguments:

    - ``transcript``: what is said, for a single path input.
    - ``asr_model``: a speech recognition model (Hub id or folder) that transcribes videos given
      without a transcript; without it, such a video is an error that says so.
    - ``extraction``: override the extraction settings stored in the model config.
    - ``on_error``: ``"raise"`` (default) or ``"report"``: a file that cannot be used gives a
      result with ``score`` None and an ``error`` message, and the others go on.

    Output per video: ``{"id", "video", "score", "label", "intensities", "warnings"}``;
    ``intensities`` is ``None`` for models trained without MS-Mix.
    """

    _load_tokenizer = False
    _load_feature_extractor = False
    _load_image_processor = False
    _load_processor = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._asr_pipelines: dict[str, Pipeline] = {}
        self._collator = MSMixDataCollator(return_mix_seed=False)

    def _sanitize_parameters(self, transcript=None, audio=None, asr_model=None, extraction=None, on_error=None,
                             **kwargs):
        if kwargs:
            raise TypeError(f"{TASK} pipeline got unknown arguments {sorted(kwargs)}")
        if on_error not in (None, "raise", "report"):
            raise ValueError(f"on_error must be 'raise' or 'report', got {on_error!r}")
        preprocess = {"transcript": transcript, "audio": audio, "asr_model": asr_model, "extraction": extraction,
                      "on_error": on_error or "raise"}
        return preprocess, {}, {}

    def extraction_config(self, extraction: ExtractionConfig | Mapping[str, Any] | None = None) -> ExtractionConfig:
        """The settings videos are featurised with (the model's, unless overridden)."""
        if extraction is None:
            return model_extraction_config(self.model.config)
        return extraction if isinstance(extraction, ExtractionConfig) else ExtractionConfig.from_dict(extraction)

    def transcribe(self, media_path: str, asr_model: str) -> str:
        """The transcript of ``media_path``'s speech by the ASR pipeline ``asr_model``."""
        if asr_model not in self._asr_pipelines:
            self._asr_pipelines[asr_model] = pipeline("automatic-speech-recognition", model=asr_model,
                                                      device=self.device)
        waveform = read_audio(media_path, ASR_SAMPLING_RATE)
        return self._asr_pipelines[asr_model]({"raw": waveform, "sampling_rate": ASR_SAMPLING_RATE})["text"]

    def preprocess(self, inputs, transcript=None, audio=None, asr_model=None, extraction=None, on_error="raise"):
        request = _as_request(inputs, transcript, audio)
        meta = {"id": request["id"], "video": str(request["video"]), "warnings": []}
        try:
            text = request["transcript"]
            if text is None:
                if asr_model is None:
                    raise MissingTranscriptError(
                        f"{request['video']}: no transcript. Pass transcript=... (or a 'transcript' key, or a "
                        ".txt file beside the video in the CLI), or name a speech recognition model with asr_model=..."
                    )
                text = self.transcribe(request["audio"] or request["video"], asr_model)
                meta["warnings"].append(f"transcript from {asr_model}: {text!r}")
            config = self.extraction_config(extraction)
            extractor = load_sample_extractor(config, self.device)
            self._check_dims(extractor.dims)
            outcome = extractor.extract(meta["id"], str(request["video"]), text, request["audio"])
            meta["warnings"] += [f"[{i.code}] {i.message}" for i in outcome.issues if i.severity != ERROR]
            if outcome.columns is None:
                raise ValueError("; ".join(f"[{i.code}] {i.message}" for i in outcome.issues if i.severity == ERROR))
        except (ValueError, OSError, MediaError) as error:
            if on_error == "raise":
                raise
            message = f"[{error.code}] {error}" if isinstance(error, MediaError) else str(error)
            return {"meta": {**meta, "error": message}}
        batch = self._collator([{**outcome.columns, "label": 0.0}])
        batch.pop("labels")
        batch.pop("host_lengths")  # models saved by earlier msmix versions (Hub remote code) do not take it
        return {"meta": meta, **batch}

    def _check_dims(self, extractor_dims: Mapping[str, int]) -> None:
        expected = {m: int(getattr(self.model.config, f"{m}_dim")) for m in MODALITIES}
        if dict(extractor_dims) != expected:
            raise ValueError(
                f"the extractors give feature dims {dict(extractor_dims)} but the model expects {expected}"
            )

    def _forward(self, model_inputs: dict[str, Any]) -> dict[str, Any]:
        meta = model_inputs.pop("meta")
        if "error" in meta:
            return {"meta": meta}
        output = self.model(**model_inputs)
        return {"meta": meta, "logits": output.logits, "intensities": output.intensities}

    def postprocess(self, model_outputs: dict[str, Any]) -> dict[str, Any]:
        meta = model_outputs["meta"]
        result = {"id": meta["id"], "video": meta["video"], "warnings": meta["warnings"]}
        if "error" in meta:
            return {**result, "score": None, "label": None, "intensities": None, "error": meta["error"]}
        score = float(model_outputs["logits"].reshape(-1)[0])
        label_scale = float(max(abs(float(self.model.config.label_min)), abs(float(self.model.config.label_max))))
        intensities = model_outputs["intensities"]
        if intensities is not None:
            intensities = dict(zip(MODALITIES, (float(v) for v in intensities.reshape(-1).tolist())))
        return {**result, "score": score, "label": sentiment_label(score, label_scale), "intensities": intensities}


PIPELINE_REGISTRY.register_pipeline(TASK, pipeline_class=MultimodalSentimentPipeline, pt_model=AutoModel,
                                    type="multimodal")


def load_sentiment_pipeline(model: str, *, device: str | int | torch.device | None = None,
                            trust_remote_code: bool = True) -> MultimodalSentimentPipeline:
    """``pipeline("multimodal-sentiment", model=model)``: a Hub id or a ``save_pretrained`` folder."""
    return pipeline(TASK, model=model, device=device, trust_remote_code=trust_remote_code)
