"""``python -m trainer.predict``: sentiment of video files with a trained msmix model.

::

    python -m trainer.predict --model user/tfn-msmix-mosi --videos a.mp4 b.mp4 --output results.jsonl

A thin command line over the ``multimodal-sentiment`` pipeline (:mod:`modeling_msmix.pipeline_msmix`),
run with this package's classes: ``--trust_remote_code`` (off by default) would instead run the
code stored in the model's repository. A video's transcript is, in order of preference: the
matching file of ``--transcripts`` (one per video, same order), ``<video without extension>.txt``
beside it (both read as UTF-8, a BOM accepted), or what ``--asr_model`` hears. Without any of
them the command stops before loading a model and lists those videos. Results are JSON lines
(stdout or ``--output``): ``video``, ``sentiment``, ``label`` (7 classes), ``intensities``
(text/audio/vision; None for a missing modality or a model without MS-Mix), ``warnings`` and, for
a file that failed, ``error``. The exit status is 1 when any file failed. A ``--model`` or
``--asr_model`` that is a missing folder or a Hub id neither cached nor reachable, and a ``--model``
that is not an msmix model, stop the command at once with one line naming the flag.
"""

from __future__ import annotations

import json
import sys
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path

import torch
from transformers import HfArgumentParser, Pipeline, pipeline

from data_processing.cli import one_line_errors, parse_cli
from data_processing.model_sources import ModelSourceError, check_model_source, check_msmix_model
from modeling_msmix import TASK, MultimodalSentimentPipeline
from modeling_msmix.text_io import read_text


@dataclass
class PredictArguments:
    """Command-line arguments of ``python -m trainer.predict``."""

    model: str = field(metadata={"help": "Hub id or save_pretrained folder of a trained msmix model"})
    videos: list[str] = field(metadata={"help": "video files to analyse", "nargs": "+"})
    transcripts: list[str] | None = field(
        default=None, metadata={"help": "transcript .txt files (UTF-8), one per video in the same order", "nargs": "+"}
    )
    asr_model: str | None = field(
        default=None, metadata={"help": "speech recognition model (Hub id or folder) for videos without transcript"}
    )
    batch_size: int = field(default=1, metadata={"help": "videos per model call"})
    device: str | None = field(default=None, metadata={"help": "cpu, cuda, cuda:1 ... (default: the CPU)"})
    output: str | None = field(default=None, metadata={"help": "write JSON lines here instead of stdout"})
    trust_remote_code: bool = field(
        default=False, metadata={"help": "run the modeling/processing/pipeline code stored in the model's repository"}
    )


def load_sentiment_pipeline(
    model: str, *, device: str | int | torch.device | None = None, trust_remote_code: bool = False
) -> Pipeline:
    """The ``multimodal-sentiment`` pipeline of ``model`` (a Hub id or a ``save_pretrained`` folder).

    Without ``trust_remote_code`` this package's pipeline class is used, also for a repository
    whose config names its own copy under ``custom_pipelines``.
    """
    pipeline_class = None if trust_remote_code else MultimodalSentimentPipeline
    return pipeline(TASK, model=model, device=device, trust_remote_code=trust_remote_code,
                    pipeline_class=pipeline_class)


def find_transcripts(videos: list[str], transcripts: list[str] | None) -> list[str | None]:
    """The transcript text of each video (``None`` where there is none); see the module docstring."""
    if transcripts is not None:
        if len(transcripts) != len(videos):
            raise SystemExit(f"--transcripts gives {len(transcripts)} files for {len(videos)} videos; "
                             "give one per video")
        return [read_text(path).strip() for path in transcripts]
    found = []
    for video in videos:
        sidecar = Path(video).with_suffix(".txt")
        found.append(read_text(sidecar).strip() if sidecar.is_file() else None)
    return found


def check_models(args: PredictArguments) -> None:
    """Refuse at once, naming the flag, a ``--model`` that is missing, unreachable or not an msmix model,
    and an ``--asr_model`` that is missing or unreachable (see :mod:`data_processing.model_sources`)."""
    check_msmix_model("--model", args.model, args.trust_remote_code)
    if args.asr_model is not None:
        check_model_source("--asr_model", args.asr_model)


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit status (1 when a video failed); bad arguments end in one line naming them."""
    (args,) = parse_cli(HfArgumentParser(PredictArguments), argv)
    with one_line_errors("trainer.predict", ModelSourceError):
        check_models(args)
    texts = find_transcripts(args.videos, args.transcripts)
    missing = [video for video, text in zip(args.videos, texts) if text is None]
    if missing and args.asr_model is None:
        raise SystemExit(
            "no transcript for: " + ", ".join(missing) + ". Put a .txt file beside each video, pass --transcripts, "
            "or name a speech recognition model with --asr_model"
        )
    analyse = load_sentiment_pipeline(args.model, device=args.device, trust_remote_code=args.trust_remote_code)
    requests = [{"video": video, "transcript": text} for video, text in zip(args.videos, texts)]
    results = analyse(requests, asr_model=args.asr_model, on_error="report", batch_size=args.batch_size)
    failed = 0
    with open(args.output, "w", encoding="utf-8") if args.output else nullcontext(sys.stdout) as sink:
        for video, result in zip(args.videos, results):
            failed += "error" in result
            sink.write(json.dumps({"video": video, **result}, ensure_ascii=False) + "\n")
    if failed:
        print(f"{failed} of {len(args.videos)} videos failed; see their 'error' field", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
