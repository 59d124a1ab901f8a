"""The files the guides' commands name, made tiny: what a docs page's folder starts with.

``MOSI/unaligned_50.pkl`` (an MMSA-layout pickle of a small clean-profile dataset) and ``data/mosi``
imported from it; ``features.csv`` with its ``.npy`` files; the tiny local extractors of
``extraction_fixtures.py`` in ``models/``; talking-face clips with ``clips.csv``, ``clip.mp4``,
``clip1.mp4``/``clip2.mp4`` and their transcripts; ``data/my_msa`` extracted from the clips; and
``trainer`` and ``benchmarks`` linked to the repository's (``trainer/run.py``, recipes, accelerate
configs; the benchmark scripts run from the repository root).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

import extraction_fixtures as fixtures

REPO = Path(__file__).resolve().parents[1]

TRANSCRIPT = "i really love this movie"
NPY_DIMS = {"text": 8, "audio": 4, "vision": 4}


def write_mmsa_pickle(root: Path) -> None:
    from data_processing.mmsa_pickle import export_mmsa_pickle, import_mmsa_pickle
    from data_processing.saving import save_dataset
    from data_processing.synthetic import SyntheticConfig, generate_default_dataset

    shape = SyntheticConfig(train_size=96, validation_size=32, test_size=32, max_text_length=12, max_audio_length=20,
                            max_vision_length=20, min_text_length=4, min_audio_length=5, min_vision_length=5)
    (root / "MOSI").mkdir()
    export_mmsa_pickle(generate_default_dataset(shape), root / "MOSI" / "unaligned_50.pkl", padded_lengths=(12, 20, 20))
    save_dataset(import_mmsa_pickle(root / "MOSI" / "unaligned_50.pkl", "mosi"), root / "data" / "mosi")


def write_npy_manifest(root: Path) -> None:
    rng = np.random.default_rng(0)
    (root / "npy").mkdir()
    lines = ["id,split,label,text,text_features,audio_features,vision_features"]
    for index, split in enumerate(["train"] * 6 + ["validation"] * 3 + ["test"] * 3):
        paths = []
        for modality, dim in NPY_DIMS.items():
            path = Path("npy") / f"s{index}_{modality}.npy"
            np.save(root / path, rng.normal(size=(3 + index % 4, dim)).astype(np.float32))
            paths.append(str(path))
        lines.append(f"s{index},{split},{rng.uniform(-3, 3):.1f},a sentence,{','.join(paths)}")
    (root / "features.csv").write_text("\n".join(lines) + "\n")


def write_clips(root: Path) -> dict[str, str]:
    """Clips, manifests and transcripts; returns the tiny extractors {text, audio, vision: folder}."""
    models = fixtures.build_tiny_models(root / "models")
    (root / "clips").mkdir()
    sources = [fixtures.write_talking_clip(root / "clips", f"talk{i}", 1.0, seed=i) for i in range(2)]
    rows = [("a", "train", 2.0, 0), ("b", "train", -1.0, 1), ("c", "train", 1.0, 0), ("d", "train", -2.0, 1),
            ("e", "validation", 1.0, 0), ("f", "validation", -1.0, 1), ("g", "test", -2.0, 1), ("h", "test", 2.0, 0)]
    lines = ["id,video,text,label,split"] + [f"{name},clips/{sources[c].name},{TRANSCRIPT},{label},{split}"
                                             for name, split, label, c in rows]
    (root / "clips.csv").write_text("\n".join(lines) + "\n")
    for name, source in (("clip", sources[0]), ("clip1", sources[0]), ("clip2", sources[1])):
        shutil.copy(source, root / f"{name}.mp4")
        (root / f"{name}.txt").write_text(TRANSCRIPT + "\n")
    return models


def build_inputs(root: Path) -> dict[str, str]:
    """Write every input into ``root``; returns the tiny extractors."""
    from data_processing.extract import main as extract_main

    root.mkdir(parents=True, exist_ok=True)
    write_mmsa_pickle(root)
    write_npy_manifest(root)
    models = write_clips(root)
    assert extract_main(["--manifest", str(root / "clips.csv"), "--output", str(root / "data" / "my_msa"),
                         "--cache_dir", str(root / "extraction-cache"), "--vision_fps", "5", "--device", "cpu",
                         *(f"--{m}_model={path}" for m, path in models.items())]) == 0
    return models


def page_folder(inputs: Path, folder: Path) -> Path:
    """A fresh copy of ``inputs`` at ``folder`` with ``trainer`` and ``benchmarks`` linked to the repository's."""
    shutil.copytree(inputs, folder, ignore=shutil.ignore_patterns("extraction-cache", "models"))
    (folder / "models").symlink_to(inputs / "models", target_is_directory=True)
    for linked in ("trainer", "benchmarks"):  # run from the repository root, as the guides say
        (folder / linked).symlink_to(REPO / linked, target_is_directory=True)
    return folder
