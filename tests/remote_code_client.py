"""The fresh process of ``test_remote_code.py``: load saved msmix models with remote code only.

Run as ``python -I -S remote_code_client.py SITE_DIRS BATCH OUT MODEL_DIR...`` from a folder
outside the repository. ``-I`` ignores ``PYTHONPATH``, the user site and the script's folder;
``-S`` skips ``site``, so no ``.pth`` file runs and the editable install of msmix (a ``.pth``
finder) is inactive. The venv's site-packages (``SITE_DIRS``, joined by ``os.pathsep``) are
appended by hand so that torch and transformers import. The script first records whether any
msmix package can be found, then loads each model with ``AutoModel.from_pretrained(dir,
trust_remote_code=True)`` and saves its predictions on the batch.
"""

import importlib.util
import json
import os
import sys

sys.path.extend(sys.argv[1].split(os.pathsep))
PROJECT_PACKAGES = ("modeling_msmix", "data_processing", "hub_cards", "trainer")
findable = {name: importlib.util.find_spec(name) is not None for name in PROJECT_PACKAGES}

import torch  # noqa: E402
from safetensors.torch import load_file, save_file  # noqa: E402
from transformers import AutoModel  # noqa: E402

batch = load_file(sys.argv[2])
outputs, classes = {}, {}
for model_dir in sys.argv[4:]:
    model = AutoModel.from_pretrained(model_dir, trust_remote_code=True).eval()
    with torch.no_grad():
        output = model(**batch)
    name = os.path.basename(model_dir)
    outputs[f"{name}.logits"] = output.logits.contiguous()
    outputs[f"{name}.intensities"] = output.intensities.contiguous()
    classes[name] = f"{type(model).__module__}.{type(model).__qualname__}"
save_file(outputs, sys.argv[3])
report = {
    "findable": findable,
    "imported": sorted(m for m in sys.modules if m.split(".")[0] in PROJECT_PACKAGES),
    "classes": classes,
    "cwd": os.getcwd(),
}
print(json.dumps(report))
