"""Extraction speed, memory and face-hit rate on generated HD talking-face clips, before/after side by side.

    python benchmarks/bench_extraction.py [--clips 8] [--repeats 2] [--save after.json] \\
        [--compare benchmarks/results/extraction_before.json]
    python benchmarks/bench_extraction.py --show benchmarks/results/extraction_after.json \\
        --compare benchmarks/results/extraction_before.json   # the stored figures, side by side

Clips (built once into ``--work_dir``, see ``tests/extraction_fixtures.py``): ``--clips`` H.264
10-s 1280x720 25-fps videos of a real face (the astronaut photo) wandering over a textured wall,
with espeak-ng speech as 48 kHz stereo AAC; one 10-s and one 60-s 1920x1080 clip for memory.
Models: the tiny random BERT, wav2vec2 and ViT of the tests; frames sampled at 5 per second.

Measured, each extraction in a fresh process (``python -m data_processing.extract``, wall clock):

* OpenCV decode-only: grab every frame of a 720p clip, retrieve the 5-fps samples (per clip).
* One process: runs on 1 clip and on all clips; marginal seconds per extra clip
  ``(T_all - T_1) / (clips - 1)``, its ratio to OpenCV decode-only, and start-up ``T_1 - marginal``
  (imports, model loading, saving).
* Two processes (``torchrun --nproc_per_node 2``, or ``--num_proc 2`` with ``--two_process num_proc``):
  marginal clips/s ``(clips - 2) / (T_all - T_2)``; with torchrun also clips/s while extracting
  (clips / the slowest shard's seconds from its marker: start-up excluded, which on a loaded
  machine swamps the marginal figure); and whether the features equal the 1-process run's.
* Peak RSS of one worker extracting the 10-s and the 60-s 1080p clip.
* Face-hit rate (sampled frames where a face was found) over the 720p clips, mean and minimum.
* Per-clip breakdown on one 720p clip (models loaded): decode, detect, encode seconds.
* Start-up to the first clip (``--parts startup`` measures only this), in a fresh process:
  interpreter start, importing ``data_processing.extract`` (what the command imports), loading the
  models and initialising the face detector (``SampleExtractor``), and the first clip.

The machine is shared: every timing is repeated ``--repeats`` times and printed as ``median [min-max]``.
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.timing import run_isolated  # noqa: E402

TRANSCRIPT = "i really love this movie it was great fun but the ending felt slow and boring"
VISION_FPS = 5.0


def _fixtures():
    spec = importlib.util.spec_from_file_location("extraction_fixtures", ROOT / "tests" / "extraction_fixtures.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def build_media(work: Path, clips: int) -> dict:
    """Tiny models and clips in ``work`` (reused when already there)."""
    fixtures = _fixtures()
    work.mkdir(parents=True, exist_ok=True)
    models = {m: str(work / "models" / f"tiny-{m}") for m in ("text", "audio", "vision")}
    if not all(Path(path).is_dir() for path in models.values()):
        models = fixtures.build_tiny_models(work / "models")
    hd = []
    for index in range(clips):
        path = work / f"face720-{index}.mp4"
        if not path.exists():
            fixtures.write_hd_talking_clip(path, 10.0, (1280, 720), text=TRANSCRIPT, seed=index)
        hd.append(str(path))
    long = {}
    for seconds in (10, 60):
        path = work / f"face1080-{seconds}s.mp4"
        if not path.exists():
            fixtures.write_hd_talking_clip(path, float(seconds), (1920, 1080), text=TRANSCRIPT, seed=99)
        long[seconds] = str(path)
    return {"models": models, "hd": hd, "long": long}


def write_manifest(path: Path, clips: list[str]) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["id", "video", "text", "split"])
        writer.writeheader()
        writer.writerows({"id": Path(c).stem, "video": c, "text": TRANSCRIPT, "split": "train"} for c in clips)
    return path


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def run_cli(work: Path, name: str, clips: list[str], models: dict, processes: int, launcher: str) -> float:
    """Wall seconds of one extraction run over ``clips`` in fresh process(es); the dataset goes to ``work/name``."""
    output = work / "runs" / name
    subprocess.run(["rm", "-rf", str(output), f"{output}-extraction-cache"], check=True)
    output.parent.mkdir(parents=True, exist_ok=True)
    manifest = write_manifest(output.parent / f"{name}.csv", clips)
    arguments = [
        "--manifest", str(manifest), "--output", str(output), "--device", "cpu",
        "--text_model", models["text"], "--audio_model", models["audio"], "--vision_model", models["vision"],
        "--vision_fps", f"{VISION_FPS:g}",
    ]  # fmt: skip
    if processes == 1:
        command = [sys.executable, "-m", "data_processing.extract", *arguments]
    elif launcher == "torchrun":
        command = [
            sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", str(processes),
            "--master_port", str(29500 + os.getpid() % 1000), "-m", "data_processing.extract", *arguments,
        ]  # fmt: skip
    else:
        command = [sys.executable, "-m", "data_processing.extract", *arguments, "--num_proc", str(processes)]
    start = time.perf_counter()
    result = subprocess.run(command, cwd=ROOT, env=_env(), capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        raise RuntimeError(f"{name} failed:\n{result.stdout[-2000:]}\n{result.stderr[-3000:]}")
    return seconds


def opencv_decode_only(clip: str) -> float:
    """Seconds OpenCV needs to decode ``clip`` and hand over its 5-fps samples (RGB)."""
    import cv2

    start = time.perf_counter()
    capture = cv2.VideoCapture(clip)
    fps = capture.get(cv2.CAP_PROP_FPS)
    index, next_time = 0, 0.0
    while capture.grab():
        if index / fps + 1e-9 >= next_time:
            _, frame = capture.retrieve()
            cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
            next_time += 1 / VISION_FPS
        index += 1
    capture.release()
    return time.perf_counter() - start


def _extractor(models: dict):
    import torch

    from modeling_msmix.extraction_config import ExtractionConfig
    from modeling_msmix.sample_extractor import SampleExtractor

    config = ExtractionConfig(
        text_model=models["text"], audio_model=models["audio"], vision_model=models["vision"], vision_fps=VISION_FPS
    )
    return SampleExtractor(config, torch.device("cpu"))


def worker_peak_rss(models: dict, clip: str) -> float:
    """Peak RSS (MiB) of a fresh process that loads the models and extracts ``clip``."""
    outcome = _extractor(models).extract("clip", clip, TRANSCRIPT)
    assert outcome.columns is not None, outcome.issues
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def stage_seconds(models: dict, clip: str) -> dict[str, float]:
    """Decode / detect / encode seconds of one clip, models loaded (second of two passes).

    The extractor times its own stages (``stats["seconds"]``): decode is the time spent waiting for
    the next sampled frame, detect the face tracker and crop, encode the three models (with their
    processors); the audio track decodes in a background thread during the video's decode.
    """
    extractor = _extractor(models)
    for _ in range(2):
        outcome = extractor.extract("clip", clip, TRANSCRIPT)
    return outcome.stats["seconds"]


def face_hit_rates(output: Path) -> list[float]:
    report = json.loads((output / "extraction_report.json").read_text())
    return [1 - s["frames_without_face"] / s["frames_sampled"] for s in report["samples"].values()]


def same_features(first: Path, second: Path) -> bool:
    from datasets import load_from_disk

    a, b = load_from_disk(str(first))["train"], load_from_disk(str(second))["train"]
    if a["id"] != b["id"]:
        return False
    columns = [c for c in a.column_names if c.endswith("_features")]
    pairs = [(x, y) for c in columns for x, y in zip(a[c], b[c])]
    return all(np.array_equal(np.asarray(x, np.float32), np.asarray(y, np.float32)) for x, y in pairs)


def _spread(values: list[float]) -> dict:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def shard_rate(work: Path, name: str, clips: int) -> float:
    """Clips/s of a torchrun run while extracting: clips / the slowest shard's seconds (its marker; no start-up)."""
    shards = (work / "runs" / f"{name}-extraction-cache").glob("shards/*/done.json")
    return clips / max(json.loads(path.read_text())["seconds"] for path in shards)


STARTUP_PROBE = """
import json, sys, time
started = time.perf_counter()
import data_processing.extract
imported = time.perf_counter()
import torch
from modeling_msmix.extraction_config import ExtractionConfig
from modeling_msmix.sample_extractor import SampleExtractor
models, clip, transcript, fps = json.loads(sys.argv[1])
config = ExtractionConfig(text_model=models["text"], audio_model=models["audio"], vision_model=models["vision"],
                          vision_fps=fps)
extractor = SampleExtractor(config, torch.device("cpu"))
loaded = time.perf_counter()
outcome = extractor.extract("clip", clip, transcript)
assert outcome.columns is not None, outcome.issues
print(json.dumps({"imports": imported - started, "models_and_detector": loaded - imported,
                  "first_clip": time.perf_counter() - loaded}))
"""


def startup_breakdown(models: dict, clip: str) -> dict[str, float]:
    """Seconds from a fresh interpreter to the first extracted clip, in four parts (module docstring)."""
    begin = time.perf_counter()
    result = subprocess.run([sys.executable, "-c", STARTUP_PROBE, json.dumps([models, clip, TRANSCRIPT, VISION_FPS])],
                            cwd=ROOT, env=_env(), capture_output=True, text=True, check=True)
    total = time.perf_counter() - begin
    parts = json.loads(result.stdout.strip().splitlines()[-1])
    return {"interpreter": total - sum(parts.values()), **parts, "total": total}


def measure_startup(args: argparse.Namespace, media: dict) -> dict:
    """The start-up breakdown, each part the median over ``--repeats`` fresh processes."""
    runs = [startup_breakdown(media["models"], media["hd"][0]) for _ in range(args.repeats)]
    return {"startup_breakdown_s": {part: statistics.median(run[part] for run in runs) for part in runs[0]}}


def measure_two_processes(args: argparse.Namespace, work: Path, media: dict) -> dict:
    """Two processes on all clips: marginal clips/s, clips/s while extracting, features equal to one process."""
    models, hd, n = media["models"], media["hd"], args.clips
    marginal, extracting, same = [], [], []
    for _ in range(args.repeats):
        t_two = run_cli(work, "two-2", hd[:2], models, 2, args.two_process)
        t_two_all = run_cli(work, "two-all", hd, models, 2, args.two_process)
        marginal.append((n - 2) / (t_two_all - t_two))
        if args.two_process == "torchrun":
            extracting.append(shard_rate(work, "two-all", n))
        same.append(same_features(work / "runs" / "one-all", work / "runs" / "two-all"))
    results = {"two_proc_clips_per_s": _spread(marginal), "two_proc_same_features": all(same)}
    if extracting:
        results["two_proc_extracting_clips_per_s"] = _spread(extracting)
    return results


def measure(args: argparse.Namespace) -> dict:
    work = Path(args.work_dir)
    media = build_media(work, args.clips)
    models, hd, n = media["models"], media["hd"], args.clips
    results: dict = {"clips": n, "two_process_launcher": args.two_process}
    if args.parts == "two":
        return {**results, **measure_two_processes(args, work, media)}
    if args.parts == "startup":
        return {**results, **measure_startup(args, media)}
    decode = [statistics.mean(opencv_decode_only(c) for c in hd) for _ in range(args.repeats)]
    one, ratio, startup = [], [], []
    for repeat in range(args.repeats):
        t_first = run_cli(work, "one-1", hd[:1], models, 1, args.two_process)
        t_all = run_cli(work, "one-all", hd, models, 1, args.two_process)
        marginal = (t_all - t_first) / (n - 1)
        one.append(marginal)
        ratio.append(marginal / decode[repeat])
        startup.append(t_first - marginal)
    hits = face_hit_rates(work / "runs" / "one-all")
    results.update(
        {
            "opencv_decode_s": _spread(decode),
            "marginal_s_per_clip": _spread(one),
            "one_proc_clips_per_s": _spread([1 / value for value in one]),
            "ratio_to_decode": _spread(ratio),
            "startup_s": _spread(startup),
            **measure_two_processes(args, work, media),
            "rss_10s_1080p_mib": run_isolated(worker_peak_rss, models=models, clip=media["long"][10]),
            "rss_60s_1080p_mib": run_isolated(worker_peak_rss, models=models, clip=media["long"][60]),
            "face_hit_rate": {"mean": statistics.mean(hits), "min": min(hits)},
            "stages_s": run_isolated(stage_seconds, models=models, clip=hd[0]),
            **measure_startup(args, media),
        }
    )
    return results


def _fmt(value) -> str:
    if isinstance(value, dict) and "median" in value:
        return f"{value['median']:.3f} [{value['min']:.3f}-{value['max']:.3f}]"
    if isinstance(value, dict) and "mean" in value:
        return f"mean {value['mean']:.3f}, min {value['min']:.3f}"
    if isinstance(value, dict):
        return ", ".join(f"{k} {v:.3f}" for k, v in value.items())
    if isinstance(value, float):
        return f"{value:.0f}" if value > 50 else f"{value:.3f}"
    return str(value)


ROWS = (
    ("opencv_decode_s", "OpenCV decode-only s/clip (720p, 10 s)", ""),
    ("marginal_s_per_clip", "1 process: s per extra clip", ""),
    ("ratio_to_decode", "1 process: x OpenCV decode-only", "<= 2.5"),
    ("startup_s", "1 process: start-up s", "< 4 or overlapped"),
    ("one_proc_clips_per_s", "1 process: marginal clips/s", ""),
    ("two_process_launcher", "2 processes: launched with", ""),
    ("two_proc_clips_per_s", "2 processes: marginal clips/s", ">= 4"),
    ("two_proc_extracting_clips_per_s", "2 processes: clips/s while extracting", "(start-up excluded)"),
    ("two_proc_same_features", "2 processes: features equal 1 process", "True"),
    ("rss_10s_1080p_mib", "worker peak RSS MiB, 10 s 1080p", ""),
    ("rss_60s_1080p_mib", "worker peak RSS MiB, 60 s 1080p", "< 1024, within 10 % of 10 s"),
    ("face_hit_rate", "face-hit rate (720p clips)", "not lower than before"),
    ("stages_s", "one clip: decode / detect / encode s", ""),
    ("startup_breakdown_s", "start-up to the first clip, s by part", "< 5 to the first clip"),
)


def print_table(results: dict, before: dict | None) -> None:
    print(f"{results['clips']} clips of 10 s 1280x720 25 fps, 5 sampled frames/s, tiny encoders, CPU")
    print(f"{'measure':<42} {'before':<32} {'now':<32} target")
    for key, label, target in ROWS:
        old = _fmt(before[key]) if before and key in before else "-"
        print(f"{label:<42} {old:<32} {_fmt(results.get(key, '-')):<32} {target}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clips", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--work_dir", default="/tmp/msmix-bench-extraction")
    parser.add_argument("--two_process", choices=("torchrun", "num_proc"), default="torchrun")
    parser.add_argument("--parts", choices=("all", "two", "startup"), default="all",
                        help="two: only the 2-process figures; startup: only the start-up breakdown")
    parser.add_argument("--save", help="write the figures to this JSON file")
    parser.add_argument("--compare", help="JSON file of earlier figures, printed beside the new ones")
    parser.add_argument("--show", help="print the figures of this JSON file instead of measuring")
    args = parser.parse_args()
    results = json.loads(Path(args.show).read_text()) if args.show else measure(args)
    if args.save:
        Path(args.save).write_text(json.dumps(results, indent=2))
    print_table(results, json.loads(Path(args.compare).read_text()) if args.compare else None)


if __name__ == "__main__":
    main()
