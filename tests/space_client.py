"""The fresh process of ``test_demo_space.py``: the Space's copy of the demo, without msmix.

Run as ``python -I -S space_client.py SITE_DIRS SPACE_DIR MODEL_DIR CLIP TRANSCRIPT`` from a folder
outside the repository (``-I -S``: no ``PYTHONPATH``, no ``.pth`` files, so the editable msmix
install is inactive; see ``remote_code_client.py``). ``SPACE_DIR`` (what ``build_space_files``
wrote) goes first on the path, as in a Space. The script records whether any msmix package can be
found, builds the page with the model's own code (``trust_remote_code``), analyses the clip through
the page's model call and prints what it got as one JSON line.
"""

import importlib.util
import json
import os
import sys

sys.path.extend(sys.argv[1].split(os.pathsep))
sys.path.insert(0, sys.argv[2])
PROJECT_PACKAGES = ("modeling_msmix", "data_processing", "hub_cards", "trainer")
findable = {name: importlib.util.find_spec(name) is not None for name in PROJECT_PACKAGES}

import demo.app  # noqa: E402

model_dir, clip, transcript = sys.argv[3:6]
args = demo.app.DemoArguments(model=model_dir, trust_remote_code=True)
models = demo.app.SentimentModels(trust_remote_code=True)
demo.app.build_demo(args, models)
result = models.analyse_clip(model_dir, clip, transcript)
print(json.dumps({
    "findable": findable,
    "demo_file": demo.app.__file__,
    "pipeline_class": f"{type(models.pipeline(model_dir)).__module__}.{type(models.pipeline(model_dir)).__name__}",
    "sentiment": result["sentiment"],
    "label": result["label"],
    "face_crops": len(result["details"]["face_crops"]),
}))
