"""The publishing side of ``test_pipeline_hub.py``, run in a subprocess whose ``HF_ENDPOINT`` points at
the test's :class:`hub_server.LocalHub`.

``python tests/pipeline_hub_client.py WORKDIR`` (from WORKDIR): uploads the tiny extractor models
as Hub repositories, extracts a dataset from generated videos naming the extractors by Hub id
(their revisions get pinned), trains a TFN + MS-Mix on it with ``trainer/run.py --push_to_hub``
(model, processor, modeling/processing/pipeline code and card go to the Hub), then runs the
``multimodal-sentiment`` pipeline in this process (msmix's classes, no remote code) on two new
videos with ``batch_size=2``. It writes ``observed.json`` into WORKDIR.
"""

import importlib.util
import json
import sys
from pathlib import Path

from huggingface_hub import HfApi

HERE = Path(__file__).parent
MODEL_REPO = "someone/tfn-msmix-video"
SMALL_TFN = "text_hidden_dim=8,text_out_dim=8,audio_hidden_dim=4,vision_hidden_dim=4,post_fusion_dim=8"
TRANSCRIPTS = ("i really love this movie", "terrible acting and boring")

_spec = importlib.util.spec_from_file_location("extraction_fixtures", HERE / "extraction_fixtures.py")
fixtures = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fixtures)


def upload_extractors(folder: Path) -> dict[str, str]:
    """The tiny extractors as Hub repositories ``someone/tiny-<modality>``; returns their ids."""
    api = HfApi()
    ids = {}
    for modality, path in fixtures.build_tiny_models(folder).items():
        ids[modality] = api.create_repo(f"someone/tiny-{modality}", exist_ok=True).repo_id
        api.upload_folder(repo_id=ids[modality], folder_path=path)
    return ids


def main(workdir: Path) -> None:
    from data_processing.extract import main as extract_main
    from trainer.predict import load_sentiment_pipeline
    from trainer.run import main as train_main

    extractors = upload_extractors(workdir / "extractors")
    clips = [fixtures.write_talking_clip(workdir, f"clip{i}", 1.0 + 0.25 * (i % 3), seed=i) for i in range(4)]
    rows = ["id,video,text,label,split"] + [
        f"c{i},{clip.name},{TRANSCRIPTS[i % 2]},{(-1) ** i * 1.5},{split}"
        for i, (clip, split) in enumerate(zip(clips, ["train", "train", "validation", "test"]))
    ]
    (workdir / "clips.csv").write_text("\n".join(rows) + "\n")
    assert extract_main(["--manifest", "clips.csv", "--output", "data", "--text_model", extractors["text"],
                         "--audio_model", extractors["audio"], "--vision_model", extractors["vision"],
                         "--vision_fps", "5", "--device", "cpu"]) == 0
    results = train_main(["--dataset", "data", "--backbone", "tfn", "--augmentation", "msmix", "--config_overrides",
                          SMALL_TFN, "--seeds", "1111", "--num_train_epochs", "1", "--per_device_train_batch_size",
                          "2", "--output_dir", "run", "--report_to", "none", "--push_to_hub", "--hub_model_id",
                          MODEL_REPO])
    videos = [fixtures.write_talking_clip(workdir, "new-a", 1.5, seed=11),
              fixtures.write_talking_clip(workdir, "new-b", 0.75, seed=12)]
    requests = [{"video": str(video), "transcript": text} for video, text in zip(videos, TRANSCRIPTS)]
    analyse = load_sentiment_pipeline(MODEL_REPO, device="cpu")
    observed = {
        "extractors": extractors,
        "weights_seed": results["best_seed"]["seed"],
        "requests": requests,
        "results": analyse(requests, batch_size=2),
        "pipeline_class": f"{type(analyse).__module__}.{type(analyse).__qualname__}",
        "processor": analyse.processor.to_dict(),
    }
    (workdir / "observed.json").write_text(json.dumps(observed))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
