"""The fresh process of ``test_pipeline_hub.py``: the published model's pipeline with remote code only.

Run as ``python -I -S remote_pipeline_client.py SITE_DIRS REQUESTS.json REPO`` from a folder outside
the repository, with ``HF_ENDPOINT`` pointing at the Hub stand-in (see ``remote_code_client.py`` for
what ``-I -S`` and ``SITE_DIRS`` do). It records whether any msmix package can be found, then runs
``pipeline(model=REPO, trust_remote_code=True)`` (no task: it comes from the repository's
``custom_pipelines``) on the requests with ``batch_size=2`` and prints a JSON report.
"""

import importlib.util
import json
import os
import sys

sys.path.extend(sys.argv[1].split(os.pathsep))
PROJECT_PACKAGES = ("modeling_msmix", "data_processing", "hub_cards", "trainer")
findable = {name: importlib.util.find_spec(name) is not None for name in PROJECT_PACKAGES}

from transformers import AutoProcessor, pipeline  # noqa: E402

with open(sys.argv[2], encoding="utf-8") as handle:
    requests = json.load(handle)
analyse = pipeline(model=sys.argv[3], trust_remote_code=True, device="cpu")
results = analyse(requests, batch_size=2)
processor = AutoProcessor.from_pretrained(sys.argv[3], trust_remote_code=True)
report = {
    "findable": findable,
    "imported": sorted(m for m in sys.modules if m.split(".")[0] in PROJECT_PACKAGES),
    "task": analyse.task,
    "pipeline_class": f"{type(analyse).__module__}.{type(analyse).__qualname__}",
    "processor_class": f"{type(processor).__module__}.{type(processor).__qualname__}",
    "processor": processor.to_dict(),
    "results": results,
}
print(json.dumps(report))
