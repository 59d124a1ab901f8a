"""A Hugging Face Space for a published model: the msmix demo page (:mod:`demo.app`) next to the model.

``build_space_files(model_id, folder)`` writes what the Space repo holds:

- ``app.py``: starts :func:`demo.app.main` on the model, with the model repo's own code
  (``trust_remote_code``: msmix is not installed in the Space, the model repo carries the
  processor and pipeline) on ``0.0.0.0`` as Spaces expect;
- ``demo/``: the demo package's modules, copied as they are;
- ``requirements.txt``: what the page and the model's remote code import (Gradio itself comes
  from the card's ``sdk_version``);
- ``README.md``: the Space card, front matter ``sdk: gradio``, ``sdk_version``, ``app_file``,
  ``models: [model_id]``.

``push_space(model_id)`` uploads them to ``<model_id>-demo`` (or ``space_id``) in one commit.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import gradio
from huggingface_hub import CommitInfo, HfApi, SpaceCard, SpaceCardData

import demo

SPACE_REQUIREMENTS: tuple[str, ...] = (
    "torch>=2.4",
    "transformers>=5.0,<6",
    "huggingface_hub>=1.0",
    "safetensors>=0.6",
    "opencv-python-headless>=4.10,<5",
    "librosa>=0.11",
    "imageio-ffmpeg>=0.6",
    "numpy>=1.26",
    "matplotlib>=3.8",
)

_APP = '''"""Hugging Face Space of {model_id}: the msmix demo page (the code is in demo/)."""

from demo.app import main

main(["--model", "{model_id}", "--trust_remote_code", "true", "--host", "0.0.0.0", "--max_seconds", "{max_seconds:g}"])
'''

_CARD_BODY = """
# {title}

Upload or record a short clip, type what is said, and see the multimodal sentiment that
[{model_id}](https://huggingface.co/{model_id}) predicts: the score on its dataset's scale with the
7-class label, MS-Mix's per-modality intensities (text, audio, vision), the face crops its vision
encoder saw, the audio waveform and any extraction warnings. Several clips at once give a table.

The page runs the model's own `multimodal-sentiment` pipeline and processor, the same ones as

```python
from transformers import pipeline
analyse = pipeline(model="{model_id}", trust_remote_code=True)
analyse({{"video": "clip.mp4", "transcript": "I loved it"}})
```

on CPU; clips longer than {max_seconds:g} s are refused. Method: MS-Mix, emotion-aware Mixup for
multimodal sentiment analysis (arXiv 2510.11579).
"""


def space_card(model_id: str, *, max_seconds: float = 60.0, license: str | None = "apache-2.0") -> SpaceCard:
    """The Space's ``README.md``: Gradio front matter that names the model, and what the page shows."""
    title = f"{model_id.split('/')[-1]} demo"
    data = SpaceCardData(
        title=title,
        sdk="gradio",
        sdk_version=gradio.__version__,
        app_file="app.py",
        license=license,
        models=[model_id],
        tags=["multimodal-sentiment", "msmix"],
        emoji="🎬",
        colorFrom="blue",
        colorTo="green",
        pinned=False,
        short_description="Multimodal sentiment of a video clip (text, voice, face)",
    )
    content = f"---\n{data.to_yaml()}\n---\n" + _CARD_BODY.format(title=title, model_id=model_id,
                                                                    max_seconds=max_seconds)
    return SpaceCard(content)


def build_space_files(model_id: str, folder: str | Path, *, max_seconds: float = 60.0,
                      license: str | None = "apache-2.0") -> Path:
    """Write the Space repo's files for the Hub model ``model_id`` into ``folder``; return it."""
    folder = Path(folder)
    (folder / "demo").mkdir(parents=True, exist_ok=True)
    for module in sorted(Path(demo.__file__).parent.glob("*.py")):
        shutil.copyfile(module, folder / "demo" / module.name)
    (folder / "app.py").write_text(_APP.format(model_id=model_id, max_seconds=max_seconds), encoding="utf-8")
    (folder / "requirements.txt").write_text("\n".join(SPACE_REQUIREMENTS) + "\n", encoding="utf-8")
    space_card(model_id, max_seconds=max_seconds, license=license).save(folder / "README.md")
    return folder


def push_space(
    model_id: str,
    space_id: str | None = None,
    *,
    max_seconds: float = 60.0,
    license: str | None = "apache-2.0",
    private: bool | None = None,
    token: str | None = None,
    endpoint: str | None = None,
    commit_message: str = "Upload the msmix demo page",
) -> CommitInfo:
    """Create (if needed) the Gradio Space ``space_id`` (default ``<model_id>-demo``) and upload its files.

    Returns:
        The ``CommitInfo`` of the upload.
    """
    api = HfApi(endpoint=endpoint, token=token)
    space_url = api.create_repo(space_id or f"{model_id}-demo", repo_type="space", space_sdk="gradio",
                                private=private, exist_ok=True)
    with tempfile.TemporaryDirectory() as folder:
        build_space_files(model_id, folder, max_seconds=max_seconds, license=license)
        return api.upload_folder(repo_id=space_url.repo_id, repo_type="space", folder_path=folder,
                                 commit_message=commit_message)
