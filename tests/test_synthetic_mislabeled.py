"""The ``mosi_mislabeled`` profile: ``mosi_reliability``'s data with a share of train/validation labels permuted."""

import numpy as np
import pytest

from data_processing.loading import load_msa_dataset
from data_processing.schema import read_metadata
from data_processing.synthetic import MislabeledConfig, ReliabilityConfig, generate_default_dataset
from data_processing.synthetic.save import main as save_profile

SMALL = dict(train_size=600, validation_size=200, test_size=60, train_speakers=20, validation_speakers=8,
             test_speakers=6, text_dim=16, vision_dim=12, max_text_length=6, max_audio_length=6,
             max_vision_length=6, min_audio_length=3, min_vision_length=3)


def columns(dataset, split):
    return dataset[split].with_format("numpy")[:]


@pytest.fixture(scope="module")
def pair():
    return (generate_default_dataset(ReliabilityConfig(seed=5, **SMALL)),
            generate_default_dataset(MislabeledConfig(seed=5, p_mislabeled=0.4, **SMALL)))


def test_features_ids_and_the_test_split_are_mosi_reliability_s(pair):
    reliable, mislabeled = pair
    for split in ("train", "validation", "test"):
        a, b = columns(reliable, split), columns(mislabeled, split)
        assert list(a["id"]) == list(b["id"]) and list(a["text"]) == list(b["text"])
        for modality in ("text", "audio", "vision"):
            for x, y in zip(a[f"{modality}_features"], b[f"{modality}_features"]):
                np.testing.assert_array_equal(x, y)
    np.testing.assert_array_equal(columns(reliable, "test")["label"], columns(mislabeled, "test")["label"])


@pytest.mark.parametrize("split", ["train", "validation"])
def test_a_share_of_the_labels_is_permuted_and_the_label_distribution_kept(pair, split):
    right, wrong = columns(pair[0], split)["label"], columns(pair[1], split)["label"]
    np.testing.assert_array_equal(np.sort(right), np.sort(wrong))
    changed = np.mean(right != wrong)
    # 40 % of the rows are chosen; a chosen row keeps its label when its permuted label happens to equal it.
    assert 0.25 < changed < 0.45


def test_no_share_is_mosi_reliability_and_a_share_outside_0_1_is_refused():
    reliable = columns(generate_default_dataset(ReliabilityConfig(seed=6, **SMALL)), "train")["label"]
    unchanged = columns(generate_default_dataset(MislabeledConfig(seed=6, p_mislabeled=0.0, **SMALL)), "train")
    np.testing.assert_array_equal(reliable, unchanged["label"])
    with pytest.raises(ValueError, match="p_mislabeled must lie in \\[0, 1\\], got 1.5"):
        MislabeledConfig(p_mislabeled=1.5)


def test_save_sets_a_config_field_and_records_it(tmp_path):
    sizes = [f"{key}={value}" for key, value in SMALL.items()]
    save_profile(["--profile", "mosi_mislabeled", "--seed", "3", "--output_dir", str(tmp_path / "d"),
                  "--set", "p_mislabeled=0.5", *sizes])
    metadata = read_metadata(load_msa_dataset(str(tmp_path / "d")))
    assert metadata.notes["profile"] == "mosi_mislabeled"
    assert metadata.notes["generator_config"]["p_mislabeled"] == 0.5
    assert metadata.notes["generator_config"]["seed"] == 3
    with pytest.raises(SystemExit, match="--set 'p_wrong=0.5'.*p_mislabeled"):
        save_profile(["--profile", "mosi_mislabeled", "--output_dir", str(tmp_path / "e"), "--set", "p_wrong=0.5"])
    with pytest.raises(SystemExit, match="--set 'p_mislabeled=half': the value is not JSON"):
        save_profile(["--profile", "mosi_mislabeled", "--output_dir", str(tmp_path / "e"), "--set", "p_mislabeled=half"])
    with pytest.raises(SystemExit, match="--set: p_mislabeled must lie in"):
        save_profile(["--profile", "mosi_mislabeled", "--output_dir", str(tmp_path / "e"), "--set", "p_mislabeled=2"])
