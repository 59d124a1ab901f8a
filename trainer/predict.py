"""``python -m trainer.predict``: sentiment of video files with a trained msmix model.

::

    python -m trainer.predict --model user/tfn-msmix-mosi --videos a.mp4 b.mp4 --output results.jsonl

A video's transcript is, in order of preference: the matching file of ``--transcripts`` (one
per video, same order), ``<video without extension>.txt`` beside it, or what ``--asr_model``
hears. Without any of them the command stops before loading a model and lists those videos.
Results are JSON lines (stdout or ``--output``): ``id``, ``video``, ``score``, ``label`` (7
classes), ``intensities`` (text/audio/vision, MS-Mix models only), ``warnings`` and, for a file
that failed, ``error``. The exit status is 1 when any file failed.
"""

from __future__ import annotations

import json
import sys
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path

from tqdm.auto import tqdm
from transformers import HfArgumentParser

from data_processing.cli import parse_cli

from .sentiment_pipeline import load_sentiment_pipeline


@dataclass
class PredictArguments:
    """Command-line arguments of ``python -m trainer.predict``."""

    model: str = field(metadata={"help": "Hub id or save_pretrained folder of a trained msmix model"})
    videos: list[str] = field(metadata={"help": "video files to score", "nargs": "+"})
    transcripts: list[str] | None = field(
        default=None, metadata={"help": "transcript .txt files, one per video in the same order", "nargs": "+"}
    )
    asr_model: str | None = field(
        default=None, metadata={"help": "speech recognition model (Hub id or folder) for videos without transcript"}
    )
    device: str | None = field(default=None, metadata={"help": "cpu, cuda, cuda:1 ... (default: the CPU)"})
    output: str | None = field(default=None, metadata={"help": "write JSON lines here instead of stdout"})
    trust_remote_code: bool = field(default=True, metadata={"help": "load the model's modeling code from its repo"})


def find_transcripts(videos: list[str], transcripts: list[str] | None) -> list[str | None]:
    """The transcript text of each video (``None`` where there is none); see the module docstring."""
    if transcripts is not None:
        if len(transcripts) != len(videos):
            raise SystemExit(f"--transcripts gives {len(transcripts)} files for {len(videos)} videos; "
                             "give one per video")
        return [Path(path).read_text().strip() for path in transcripts]
    found = []
    for video in videos:
        sidecar = Path(video).with_suffix(".txt")
        found.append(sidecar.read_text().strip() if sidecar.is_file() else None)
    return found


def main(argv: list[str] | None = None) -> int:
    (args,) = parse_cli(HfArgumentParser(PredictArguments), argv)
    texts = find_transcripts(args.videos, args.transcripts)
    missing = [video for video, text in zip(args.videos, texts) if text is None]
    if missing and args.asr_model is None:
        raise SystemExit(
            "no transcript for: " + ", ".join(missing) + ". Put a .txt file beside each video, pass --transcripts, "
            "or name a speech recognition model with --asr_model"
        )
    analyse = load_sentiment_pipeline(args.model, device=args.device, trust_remote_code=args.trust_remote_code)
    requests = ({"video": video, "transcript": text} for video, text in zip(args.videos, texts))
    results = analyse(requests, asr_model=args.asr_model, on_error="report")
    failed = 0
    with open(args.output, "w") if args.output else nullcontext(sys.stdout) as sink:
        for result in tqdm(results, total=len(args.videos), desc="videos", unit="video"):
            failed += "error" in result
            sink.write(json.dumps(result) + "\n")
    if failed:
        print(f"{failed} of {len(args.videos)} videos failed; see their 'error' field", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
