"""Every backbone saved with ``save_pretrained`` loads in a fresh Python process that cannot import
this package, through ``AutoModel.from_pretrained(dir, trust_remote_code=True)``, and predicts
what the original predicted (logits and MS-Mix intensities) to float32 rounding: the weights
are bit-identical, but the reloaded tensors sit at other memory alignments (safetensors
offsets), which can make the CPU matmul kernels round the last bit differently (seen: 2.7e-7 on
intensities near 2, one or two ulps). The tolerance below is 1e-6, a few ulps at these magnitudes.

The subprocess (``remote_code_client.py``) runs with ``python -I -S`` from a temporary folder:
no ``PYTHONPATH``, no script folder, no ``.pth`` files (so the editable install is inactive),
with only the venv's site-packages put on ``sys.path``. It reports that none of the project's
packages is findable, and which modules it imported.
"""

import json
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file
from transformers import BertConfig

from modeling_msmix import BACKBONES

CLIENT = Path(__file__).with_name("remote_code_client.py")
ULP_TOLERANCE = 1e-6
SMALL = {"tfn": {"text_hidden_dim": 8, "text_out_dim": 8, "audio_hidden_dim": 4, "vision_hidden_dim": 4,
                 "post_fusion_dim": 8}}
TINY_BERT = BertConfig(vocab_size=50, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                       intermediate_size=32, max_position_embeddings=16)


def model_settings() -> dict[str, tuple[str, dict]]:
    """Directory name -> (backbone, config kwargs): all six backbones, plus ALMT with a text encoder."""
    settings = {name: (name, SMALL.get(name, {})) for name in BACKBONES}
    settings["almt_bert"] = ("almt", {"text_encoder_config": TINY_BERT.to_dict()})
    return settings


def fixed_batch() -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(3)
    batch = {}
    for name, (length, dim) in {"text": (7, 16), "audio": (11, 5), "vision": (9, 20)}.items():
        batch[f"{name}_features"] = torch.randn(3, length, dim, generator=generator)
        mask = torch.ones(3, length, dtype=torch.bool)
        mask[2, length // 3:] = False
        batch[f"{name}_mask"] = mask
    batch["input_ids"] = torch.randint(1, 50, (3, 7), generator=generator)
    batch["attention_mask"] = batch["text_mask"].long()
    return batch


@pytest.fixture(scope="module")
def round_trip(tmp_path_factory):
    """Save every model, run the fresh process on them; return originals, reloaded outputs, report."""
    root = tmp_path_factory.mktemp("remote_code")
    batch = fixed_batch()
    save_file(batch, root / "batch.safetensors")
    expected, dirs = {}, []
    for dir_name, (backbone, kwargs) in model_settings().items():
        config_class, model_class = BACKBONES[backbone]
        config = config_class(text_dim=16, audio_dim=5, vision_dim=20, augmentation="msmix", **kwargs)
        torch.manual_seed(0)
        model = model_class(config).eval()
        with torch.no_grad():
            expected[dir_name] = model(**batch)
        model.save_pretrained(root / dir_name)
        dirs.append(str(root / dir_name))
    workdir = root / "elsewhere"
    workdir.mkdir()
    site_dirs = os.pathsep.join(dict.fromkeys([sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]]))
    env = {key: value for key, value in os.environ.items() if not key.startswith("PYTHON")}
    env.update({"HF_HOME": str(root / "hf"), "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"})
    done = subprocess.run(
        [sys.executable, "-I", "-S", str(CLIENT), site_dirs, str(root / "batch.safetensors"),
         str(root / "out.safetensors"), *dirs],
        cwd=workdir, env=env, capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    return expected, load_file(root / "out.safetensors"), report, str(workdir)


def test_the_fresh_process_cannot_import_the_package(round_trip):
    _, _, report, workdir = round_trip
    assert report["findable"] == {"modeling_msmix": False, "data_processing": False, "hub_cards": False,
                                  "trainer": False}
    assert report["imported"] == []
    assert report["cwd"] == workdir


@pytest.mark.parametrize("dir_name", list(model_settings()))
def test_remote_code_model_predicts_identically(round_trip, dir_name):
    expected, reloaded, report, _ = round_trip
    backbone = model_settings()[dir_name][0]
    assert report["classes"][dir_name].startswith("transformers_modules.")
    assert report["classes"][dir_name].endswith(f"modeling_{backbone}.{BACKBONES[backbone][1].__name__}")
    for field in ("logits", "intensities"):
        torch.testing.assert_close(reloaded[f"{dir_name}.{field}"], getattr(expected[dir_name], field),
                                   rtol=0.0, atol=ULP_TOLERANCE)
    assert expected[dir_name].intensities.shape == (3, 3)
    assert expected[dir_name].logits.std() > 100 * ULP_TOLERANCE
