"""The msmix web demo: upload (or record) a clip, give its transcript, see its sentiment and why.

    python -m demo.app --model <model folder or Hub id>     # http://127.0.0.1:7860

It runs the same ``multimodal-sentiment`` pipeline and processor as ``from_pretrained`` users
(see :func:`analyse_clip`, the one place the model is called) on CPU, and shows the sentiment on
the dataset's scale with its 7-class label, MS-Mix's per-modality intensities, the face crops
the vision encoder saw (frames without a face marked), the audio waveform and the extraction
warnings. Several clips at once give a table. A file that cannot be used (no video stream, a
corrupt file, too long) is answered with a message in the page. The same file is the ``app.py``
of a Hugging Face Space (see :mod:`hub_cards.space`).
"""

from __future__ import annotations

import html
import importlib.util
import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import gradio as gr
from transformers import HfArgumentParser, Pipeline, pipeline

from demo import views

TASK = "multimodal-sentiment"
SOURCE_NOTE = "[msmix](https://arxiv.org/abs/2510.11579): MS-Mix, emotion-aware Mixup for multimodal sentiment analysis"


@dataclass
class DemoArguments:
    """Options of ``python -m demo.app`` (also readable from a JSON or YAML file)."""

    model: str = field(metadata={"help": "model folder or Hub id the page starts with (it can be changed there)"})
    trust_remote_code: bool = field(
        default=False,
        metadata={"help": "run the model repo's own code (needed only where msmix is not installed, e.g. a Space)"},
    )
    asr_model: str | None = field(
        default=None, metadata={"help": "speech recognition model that transcribes clips given without a transcript"}
    )
    max_seconds: float = field(default=60.0, metadata={"help": "longer clips are refused (CPU time per visitor)"})
    device: str = field(default="cpu", metadata={"help": "device the pipeline runs on"})
    host: str = field(default="127.0.0.1", metadata={"help": "address to serve on (0.0.0.0 inside a Space)"})
    port: int | None = field(default=None, metadata={"help": "port (default: Gradio's, 7860 or the next free one)"})


class ClipError(ValueError):
    """A clip the demo refuses before extraction (too long)."""


class SentimentModels:
    """The pipelines the page has loaded, one per model id, and the one function that calls them."""

    def __init__(self, trust_remote_code: bool = False, device: str = "cpu") -> None:
        self.trust_remote_code = trust_remote_code
        self.device = device
        self._pipelines: dict[str, Pipeline] = {}

    def pipeline(self, model: str) -> Pipeline:
        """The ``multimodal-sentiment`` pipeline of ``model`` (loaded on first use).

        Where msmix is installed and remote code is not trusted, msmix's own pipeline class runs, also
        for a repository that names its copy under ``custom_pipelines`` (as ``trainer.predict`` does);
        in a Space the model repository's copy runs (``trust_remote_code``).
        """
        if model not in self._pipelines:
            pipeline_class = None
            if not self.trust_remote_code and importlib.util.find_spec("modeling_msmix") is not None:
                from modeling_msmix import MultimodalSentimentPipeline as pipeline_class  # registers the task
            self._pipelines[model] = pipeline(TASK, model=model, device=self.device, pipeline_class=pipeline_class,
                                              trust_remote_code=self.trust_remote_code)
        return self._pipelines[model]

    def label_range(self, model: str) -> tuple[float, float]:
        """The dataset's label range that ``model`` predicts on."""
        config = self.pipeline(model).model.config
        return float(config.label_min), float(config.label_max)

    def analyse_clip(self, model: str, video: str, transcript: str | None,
                     asr_model: str | None = None) -> dict[str, Any]:
        """The pipeline's result for one clip, with the processor's ``details`` (the model call of the page).

        A blank transcript is left to ``asr_model`` when one is named.
        """
        text = transcript if transcript and transcript.strip() else None
        extra = {"asr_model": asr_model} if text is None and asr_model else {}
        return self.pipeline(model)({"video": video, "transcript": text}, return_details=True, **extra)


def clip_seconds(path: str) -> float | None:
    """The clip's length from its container header (None when unknown: the pipeline then says why)."""
    capture = cv2.VideoCapture(path)
    try:
        fps, frames = capture.get(cv2.CAP_PROP_FPS), capture.get(cv2.CAP_PROP_FRAME_COUNT)
    finally:
        capture.release()
    if not (fps > 0 and frames > 0 and math.isfinite(fps) and math.isfinite(frames)):
        return None
    return frames / fps


def readable(message: str, clips: Sequence[str]) -> str:
    """``message`` with upload folders cut from the clips' paths (the file name is what the visitor knows)."""
    for clip in clips:
        message = message.replace(clip, Path(clip).name)
    return message


class DemoApp:
    """The page's handlers over :class:`SentimentModels`."""

    def __init__(self, models: SentimentModels, max_seconds: float) -> None:
        self.models = models
        self.max_seconds = max_seconds

    def _checked(self, video: str) -> str:
        seconds = clip_seconds(video)
        if seconds is not None and seconds > self.max_seconds:
            raise ClipError(f"{Path(video).name} is {seconds:.0f} s long; this demo takes clips of at most "
                            f"{self.max_seconds:g} s")
        return video

    def _run(self, model: str, clips: list[tuple[str, str | None]], asr_model: str | None,
             progress: gr.Progress) -> list[tuple[str, dict[str, Any] | None, str | None]]:
        model = (model or "").strip()
        if not model:
            raise gr.Error("Name a model (a folder or a Hub id).")
        progress(0.0, desc=f"Loading {model}")
        try:
            self.models.pipeline(model)
        except (OSError, ValueError, KeyError) as error:
            raise gr.Error(html.escape(f"Cannot load model {model}: {error}")) from None
        outcomes = []
        for index, (video, transcript) in enumerate(clips):
            name = Path(video).name
            progress((index, len(clips)), desc=f"Extracting features of {name}")
            if not (transcript or "").strip() and not asr_model:
                outcomes.append((name, None, f"{name}: no transcript; type what is said, or name a speech "
                                             "recognition model"))
                continue
            try:
                result = self.models.analyse_clip(model, self._checked(video), transcript, asr_model)
            except (ValueError, OSError, RuntimeError) as error:
                outcomes.append((name, None, readable(str(error) or type(error).__name__, [video])))
                continue
            outcomes.append((name, {**result, "warnings": [readable(w, [video]) for w in result["warnings"]]}, None))
        progress(1.0, desc="Done")
        return outcomes

    def _details(self, model: str, result: dict[str, Any]) -> tuple[Any, ...]:
        label_range = self.models.label_range(model)
        details = result.get("details") or {}
        for warning in result["warnings"]:
            gr.Warning(html.escape(warning))
        return (
            views.sentiment_markdown(result, label_range),
            views.intensity_figure(result["intensities"], label_range),
            views.face_gallery(details) if details else [],
            views.waveform_figure(details["waveform"], details["sampling_rate"]) if details else None,
            views.warnings_markdown(result["warnings"]),
        )

    def analyse_one(self, model: str, video: str | None, transcript: str, asr_model: str,
                    progress: gr.Progress = gr.Progress()) -> tuple[Any, ...]:
        """Handler of "Analyse": one clip, its details; a clip that cannot be used is a message."""
        if not video:
            raise gr.Error("Upload or record a clip first.")
        (name, result, error), = self._run(model, [(video, transcript)], asr_model or None, progress)
        if result is None:
            raise gr.Error(html.escape(error), title="This clip cannot be analysed")
        return (*self._details(model, result), gr.Dataframe(visible=False))

    def analyse_many(self, model: str, files: list[str] | None, transcripts: str, asr_model: str,
                     progress: gr.Progress = gr.Progress()) -> tuple[Any, ...]:
        """Handler of "Analyse all": a table row per clip, details of the first clip that worked."""
        if not files:
            raise gr.Error("Upload one or more clips first.")
        lines = (transcripts or "").splitlines()
        clips = [(path, lines[i] if i < len(lines) else None) for i, path in enumerate(files)]
        outcomes = self._run(model, clips, asr_model or None, progress)
        table = gr.Dataframe(value=[views.table_row(*o) for o in outcomes], visible=True)
        done = [result for _, result, _ in outcomes if result is not None]
        if not done:
            raise gr.Error(html.escape("; ".join(error for _, _, error in outcomes)), title="No clip could be analysed")
        return (*self._details(model, done[0]), table)


def build_demo(args: DemoArguments, models: SentimentModels | None = None) -> gr.Blocks:
    """The Gradio page (not launched)."""
    app = DemoApp(models or SentimentModels(args.trust_remote_code, args.device), args.max_seconds)
    with gr.Blocks(title="msmix: multimodal sentiment", analytics_enabled=False) as demo:
        gr.Markdown(f"# Multimodal sentiment of a clip\n{SOURCE_NOTE}. Text, voice and face are read together; "
                    f"clips up to {args.max_seconds:g} s, on CPU.")
        with gr.Row():
            with gr.Column(scale=1):
                model = gr.Textbox(value=args.model, label="Model (folder or Hub id)", elem_id="model")
                asr_model = gr.Textbox(value=args.asr_model or "", label="Speech recognition model (optional)",
                                       placeholder="transcribes clips given without a transcript")
                with gr.Tab("One clip"):
                    video = gr.Video(sources=["upload", "webcam"], label="Clip", elem_id="clip")
                    transcript = gr.Textbox(label="Transcript", lines=2, elem_id="transcript",
                                            placeholder="what is said in the clip")
                    analyse = gr.Button("Analyse", variant="primary", elem_id="analyse")
                with gr.Tab("Several clips"):
                    files = gr.File(file_count="multiple", file_types=["video"], label="Clips", elem_id="clips")
                    transcripts = gr.Textbox(label="Transcripts, one line per clip, in order", lines=4)
                    analyse_all = gr.Button("Analyse all", variant="primary", elem_id="analyse-all")
            with gr.Column(scale=2):
                sentiment = gr.Markdown("Upload a clip and press Analyse.", elem_id="sentiment")
                with gr.Row():
                    intensities = gr.Plot(label="MS-Mix intensity per modality", show_label=False, format="png")
                    warnings = gr.Markdown(elem_id="warnings")
                faces = gr.Gallery(label="Face crops the vision encoder saw (red border: no face found)",
                                   columns=8, height=170, allow_preview=True, elem_id="faces")
                waveform = gr.Plot(label="Audio waveform", show_label=False, format="png")
                table = gr.Dataframe(headers=views.TABLE_HEADERS, visible=False, label="Clips", elem_id="table")
        outputs = [sentiment, intensities, faces, waveform, warnings, table]
        analyse.click(app.analyse_one, [model, video, transcript, asr_model], outputs)
        analyse_all.click(app.analyse_many, [model, files, transcripts, asr_model], outputs)
    return demo


def parse_args(argv: Sequence[str] | None = None) -> DemoArguments:
    """``DemoArguments`` from the command line, or from one ``.json`` / ``.yaml`` file."""
    parser = HfArgumentParser(DemoArguments)
    argv = list(sys.argv[1:] if argv is None else argv)
    if len(argv) == 1 and argv[0].endswith((".json", ".yaml", ".yml")):
        loader = parser.parse_json_file if argv[0].endswith(".json") else parser.parse_yaml_file
        (args,) = loader(argv[0])
    else:
        (args,) = parser.parse_args_into_dataclasses(argv)
    return args


def launch_options(args: DemoArguments) -> dict[str, Any]:
    """``Blocks.launch`` options: where to serve, errors shown as messages, uploads capped."""
    return {"server_name": args.host, "server_port": args.port, "show_error": True, "ssr_mode": False,
            "max_file_size": "500mb"}


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m demo.app --model <dir|hub id>``: serve the page until interrupted."""
    args = parse_args(argv)
    build_demo(args).launch(**launch_options(args))


if __name__ == "__main__":
    main()
