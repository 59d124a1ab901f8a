"""Per-sample problems found during extraction, the JSON report file and the printed summary.

Two severities:

* ``error``: the sample is left out of the dataset. Codes: ``missing_file``, ``empty_file``,
  ``unreadable_video`` (no decodable frame), ``unreadable_audio`` (a separate audio file or an
  audio track that cannot be decoded), ``missing_label`` (a labelled manifest with a row
  without label), ``label_out_of_range``, ``extraction_failed`` (anything unexpected; such
  results are not cached, so the next run retries them).
* ``warning``: the sample is kept, the modality is handled by a fallback and recorded. Codes:
  ``no_audio_track`` and ``audio_too_short`` (audio missing: ``audio_length`` 0),
  ``empty_transcript`` (``text_length`` 0), ``no_face`` (no frame of the clip shows a face;
  the ``face_fallback`` was applied), ``text_truncated``.

``--strict`` turns any record, error or warning, into a failure. Frames without a face in a
clip that has faces elsewhere are statistics (per-sample counts), not records.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from modeling_msmix.clip_warnings import MIN_FACE_HIT_RATE, face_hits, has_low_face_hit_rate
from modeling_msmix.feature_schema import ERROR, WARNING, Issue

FALLBACK_CODES: tuple[str, ...] = ("no_audio_track", "audio_too_short", "empty_transcript", "no_face")
"""Warnings where a modality was filled by a fallback (empty audio or text, whole frames or zeros)."""


@dataclass
class ExtractionReport:
    """Everything a run found: issues, per-sample statistics, split sizes."""

    issues: list[Issue] = field(default_factory=list)
    sample_stats: dict[str, dict[str, Any]] = field(default_factory=dict)
    split_sizes: dict[str, int] = field(default_factory=dict)
    total: int = 0
    from_cache: int = 0

    @property
    def errors(self) -> list[Issue]:
        """Issues that left a sample out."""
        return [issue for issue in self.issues if issue.severity == ERROR]

    @property
    def warnings(self) -> list[Issue]:
        """Issues handled by a fallback."""
        return [issue for issue in self.issues if issue.severity == WARNING]

    def to_dict(self) -> dict[str, Any]:
        """The JSON content of the report file."""
        return {
            "summary": {
                "samples": self.total,
                "extracted": sum(self.split_sizes.values()),
                "from_cache": self.from_cache,
                "errors": len(self.errors),
                "warnings": len(self.warnings),
                "split_sizes": self.split_sizes,
                "issue_codes": dict(Counter(issue.code for issue in self.issues)),
                "frames_without_face": sum(s.get("frames_without_face", 0) for s in self.sample_stats.values()),
            },
            "issues": [asdict(issue) for issue in self.issues],
            "samples": self.sample_stats,
        }

    def save(self, path: str | Path) -> Path:
        """Write the report as JSON to ``path``."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_dict(), indent=2, sort_keys=True), encoding="utf-8")
        return path

    def summary(self, min_face_hit_rate: float = MIN_FACE_HIT_RATE) -> str:
        """Printable lines: counts and split sizes; what needs a look, each with its count (clips whose
        face-hit rate is under ``min_face_hit_rate``, truncated transcripts with the tokens cut,
        fallbacks by kind); then one line per issue (errors first)."""
        sizes = ", ".join(f"{name} {size}" for name, size in self.split_sizes.items()) or "nothing"
        lines = [
            f"extracted {sum(self.split_sizes.values())} of {self.total} samples ({sizes}); "
            f"{self.from_cache} from cache; {len(self.errors)} error(s), {len(self.warnings)} warning(s)"
        ]
        low_faces = {
            sample_id: s for sample_id, s in self.sample_stats.items() if has_low_face_hit_rate(s, min_face_hit_rate)
        }
        if low_faces:
            clips = ", ".join(f"{sample_id} {face_hits(s)}" for sample_id, s in low_faces.items())
            lines.append(f"  face-hit rate under {min_face_hit_rate:.0%}: {len(low_faces)} clip(s): {clips}")
        truncated = {i: s["text_tokens_cut"] for i, s in self.sample_stats.items() if s.get("text_tokens_cut")}
        if truncated:
            clips = ", ".join(f"{sample_id} ({cut} tokens cut)" for sample_id, cut in truncated.items())
            lines.append(f"  truncated transcripts: {len(truncated)} clip(s): {clips}")
        fallbacks = Counter(issue.code for issue in self.warnings if issue.code in FALLBACK_CODES)
        faceless = [s["frames_without_face"] for s in self.sample_stats.values() if s.get("frames_without_face")]
        if faceless:
            fallbacks["frames without a face (face_fallback)"] = sum(faceless)
        if fallbacks:
            lines.append("  fallbacks: " + ", ".join(f"{code} {count}" for code, count in fallbacks.items()))
        lines += [f"  {i.severity.upper():<7} {i.id}: [{i.code}] {i.message}" for i in self.errors + self.warnings]
        return "\n".join(lines)
