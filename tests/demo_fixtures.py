"""A tiny untrained TFN + MS-Mix saved as ``push_trained_model`` uploads it (weights, processor with the
tiny local extractors of ``extraction_fixtures.py``, remote code, ``custom_pipelines``), for the demo tests."""

from __future__ import annotations

from pathlib import Path

import torch

import extraction_fixtures as fixtures
import modeling_msmix
from modeling_msmix.extraction_config import ExtractionConfig
from trainer.push_model import save_model_for_hub


def save_tiny_video_model(root: Path, repo_id: str = "someone/tfn-msmix") -> Path:
    """Write the tiny extractors under ``root/extractors`` and the model folder ``root/model``; return the latter."""
    extractors = fixtures.build_tiny_models(root / "extractors")
    config_class, model_class = modeling_msmix.BACKBONES["tfn"]
    config = config_class(augmentation="msmix", text_hidden_dim=8, text_out_dim=8, audio_hidden_dim=4,
                          vision_hidden_dim=4, post_fusion_dim=8)
    extraction = ExtractionConfig(text_model=extractors["text"], audio_model=extractors["audio"],
                                  vision_model=extractors["vision"], vision_fps=5.0).to_dict()
    config.apply_dataset_metadata({"dataset_kind": "mosi", "label_min": -3.0, "label_max": 3.0,
                                   "text_dim": fixtures.TEXT_DIM, "audio_dim": fixtures.AUDIO_DIM,
                                   "vision_dim": fixtures.VISION_DIM, "extraction": extraction, "source": "test"})
    torch.manual_seed(0)
    return save_model_for_hub(model_class(config).eval(), root / "model", repo_id=repo_id)
