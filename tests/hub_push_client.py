"""The client side of ``test_hub_push.py``, run in a subprocess whose ``HF_ENDPOINT`` points at
the test's :class:`hub_server.LocalHub` (``huggingface_hub`` and ``datasets`` read it at import).

``python tests/hub_push_client.py OUT.json`` publishes a tiny dataset with ``push_dataset`` and
loads it back with ``load_dataset``, then publishes a tiny TFN + MS-Mix with
``push_trained_model`` and loads it back with ``AutoModel.from_pretrained(...,
trust_remote_code=True)``; it writes what it observed to OUT.json for the test to check (one
process for both, to pay the imports once), and the model's input batch and outputs as
``batch.safetensors`` and ``expected.safetensors`` beside it for the fresh-process check.
"""

import json
import sys
from pathlib import Path

import numpy as np
import torch

DATASET_REPO = "someone/msa-tiny"
MODEL_REPO = "someone/tfn-msmix-tiny"
RESULTS = {"test": {"MAE": {"mean": 0.74, "std": 0.03, "runs": 5}, "Corr": {"mean": 0.61, "std": 0.02, "runs": 5}}}


def tiny_dataset():
    from data_processing.synthetic import SyntheticConfig, generate_default_dataset

    return generate_default_dataset(SyntheticConfig(train_size=8, validation_size=4, test_size=4, text_dim=16,
                                                    max_text_length=10, max_audio_length=60, max_vision_length=60))


def dataset_round_trip() -> dict:
    from datasets import load_dataset

    from data_processing.loading import load_msa_dataset
    from data_processing.schema import read_metadata
    from hub_cards.push import push_dataset

    dataset = tiny_dataset()
    commit = push_dataset(dataset, DATASET_REPO, license="cc-by-4.0")
    loaded = load_dataset(DATASET_REPO)
    return {
        "commit_url": commit.commit_url,
        "metadata_equal": read_metadata(loaded) == read_metadata(dataset),
        "validated_kind": read_metadata(load_msa_dataset(DATASET_REPO)).dataset_kind,
        "features": {split: repr(loaded[split].features) for split in loaded},
        "expected_features": repr(dataset["train"].features),
        "rows": {split: loaded[split].num_rows for split in loaded},
        "vision_equal": all(
            np.array_equal(np.asarray(a), np.asarray(b))
            for a, b in zip(loaded["validation"]["vision_features"], dataset["validation"]["vision_features"])
        ),
        "labels_equal": loaded["test"]["label"] == dataset["test"]["label"],
    }


def tiny_model():
    from modeling_msmix import BACKBONES

    config_class, model_class = BACKBONES["tfn"]
    config = config_class(text_dim=16, audio_dim=5, vision_dim=20, text_hidden_dim=8, text_out_dim=8,
                          audio_hidden_dim=4, vision_hidden_dim=4, post_fusion_dim=8, augmentation="msmix")
    config.apply_dataset_metadata({"dataset_kind": "mosi", "label_min": -3.0, "label_max": 3.0, "text_dim": 16,
                                   "audio_dim": 5, "vision_dim": 20, "extractors": {"text": "x@1"}})
    torch.manual_seed(0)
    return model_class(config).eval()


def fixed_batch() -> dict:
    generator = torch.Generator().manual_seed(1)
    batch = {}
    for name, (length, dim) in {"text": (7, 16), "audio": (11, 5), "vision": (9, 20)}.items():
        batch[f"{name}_features"] = torch.randn(3, length, dim, generator=generator)
        mask = torch.ones(3, length, dtype=torch.bool)
        mask[1, length // 2:] = False
        batch[f"{name}_mask"] = mask
    return batch


def model_round_trip(folder: Path) -> dict:
    from safetensors.torch import save_file
    from transformers import AutoModel

    from trainer.push_model import push_trained_model

    model, batch = tiny_model(), fixed_batch()
    with torch.no_grad():
        before = model(**batch)
    save_file(batch, folder / "batch.safetensors")
    save_file({"logits": before.logits, "intensities": before.intensities}, folder / "expected.safetensors")
    commit = push_trained_model(model, MODEL_REPO, dataset_id=DATASET_REPO, results=RESULTS,
                                training_args={"learning_rate": 1e-4, "seed": 1111})
    loaded = AutoModel.from_pretrained(MODEL_REPO, trust_remote_code=True).eval()
    with torch.no_grad():
        after = loaded(**batch)
    return {
        "commit_url": commit.commit_url,
        "loaded_class": f"{type(loaded).__module__}.{type(loaded).__qualname__}",
        "logits_identical": torch.equal(before.logits, after.logits),
        "intensities_identical": torch.equal(before.intensities, after.intensities),
        "logits": before.logits.flatten().tolist(),
        "extractors": loaded.config.dataset_metadata["extractors"],
    }


if __name__ == "__main__":
    out = Path(sys.argv[1])
    observed = {"dataset": dataset_round_trip(), "model": model_round_trip(out.parent)}
    with open(out, "w") as handle:
        json.dump(observed, handle)
