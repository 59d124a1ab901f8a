"""The warnings of one extracted clip: one rule for extraction and inference.

A clip's warnings are its issues (``no_face``, ``empty_transcript``, ...) and, from its
statistics, a face-hit rate under :data:`MIN_FACE_HIT_RATE`. ``data_processing.extract`` lists
such clips in its summary with the same rule and threshold, and the ``multimodal-sentiment``
pipeline (so ``trainer.predict`` and the demo) and ``MSMixProcessor(..., return_details=True)``
give :func:`clip_warnings` for each clip.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Mapping

from .feature_schema import Issue

MIN_FACE_HIT_RATE = 0.8
"""A clip whose share of sampled frames with a face is under this is flagged (the rest used ``face_fallback``)."""
LOW_FACE_HIT_RATE = "low_face_hit_rate"


def has_low_face_hit_rate(stats: Mapping[str, Any], min_face_hit_rate: float = MIN_FACE_HIT_RATE) -> bool:
    """Whether the clip of ``stats`` (``SampleOutcome.stats``) had a face in under ``min_face_hit_rate`` of its frames."""
    sampled = stats.get("frames_sampled") or 0
    return bool(sampled) and 1 - stats.get("frames_without_face", 0) / sampled < min_face_hit_rate


def face_hits(stats: Mapping[str, Any]) -> str:
    """``"52% (12 of 25 frames without a face)"``: the clip's face-hit rate and what it is made of."""
    sampled, without = stats["frames_sampled"], stats["frames_without_face"]
    return f"{1 - without / sampled:.0%} ({without} of {sampled} frames without a face)"


def low_face_hit_rate_warning(stats: Mapping[str, Any], min_face_hit_rate: float = MIN_FACE_HIT_RATE) -> str | None:
    """The warning of a clip with faces in some frames but under ``min_face_hit_rate`` of them, else ``None``
    (a clip without any face already has the ``no_face`` issue)."""
    if not has_low_face_hit_rate(stats, min_face_hit_rate) or stats["frames_without_face"] == stats["frames_sampled"]:
        return None
    return (f"[{LOW_FACE_HIT_RATE}] face-hit rate {face_hits(stats)}, under {min_face_hit_rate:.0%}; "
            "those frames used the face_fallback")


def clip_warnings(issues: Iterable[Issue], stats: Mapping[str, Any]) -> list[str]:
    """``"[code] message"`` of each issue, then the low face-hit rate warning (if any) of ``stats``."""
    warnings = [f"[{issue.code}] {issue.message}" for issue in issues]
    face_warning = low_face_hit_rate_warning(stats)
    return warnings if face_warning is None else [*warnings, face_warning]
