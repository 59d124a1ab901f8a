"""MSA metrics against values worked out by hand (SPEC section 2)."""

import math
from pathlib import Path

import evaluate
import numpy as np
import pytest

from trainer.metrics import MOSI_METRICS, SIMS_METRICS, compute_msa_metrics, msa_metric_path


def test_mosi_metrics_match_hand_computed_values():
    preds = [1.4, -0.6, 0.0, 2.5, -3.4]
    labels = [1.0, 0.0, -0.2, 3.0, -2.6]
    m = compute_msa_metrics(preds, labels, "mosi")
    assert tuple(m) == MOSI_METRICS
    # p >= 0: T F T T F; y >= 0: T T F T F -> 3 of 5; weighted F1 = (3 * 2/3 + 2 * 1/2) / 5
    assert m["Has0_acc_2"] == pytest.approx(0.6)
    assert m["Has0_F1_score"] == pytest.approx(0.6)
    # y == 0 dropped; the other four agree in sign
    assert m["Non0_acc_2"] == pytest.approx(1.0)
    assert m["Non0_F1_score"] == pytest.approx(1.0)
    # clip [-3, 3] then round half to even: p -> 1 -1 0 2 -3, y -> 1 0 0 3 -3
    assert m["Mult_acc_7"] == pytest.approx(0.6)
    # clip [-2, 2]: p -> 1 -1 0 2 -2, y -> 1 0 0 2 -2
    assert m["Mult_acc_5"] == pytest.approx(0.8)
    assert m["MAE"] == pytest.approx(2.5 / 5)
    p, y = np.array(preds), np.array(labels)
    corr = ((p - p.mean()) * (y - y.mean())).sum() / math.sqrt(
        ((p - p.mean()) ** 2).sum() * ((y - y.mean()) ** 2).sum()
    )
    assert m["Corr"] == pytest.approx(corr)


def test_rounding_is_half_to_even_like_the_field():
    m = compute_msa_metrics([0.5, 1.5, -2.5], [0.0, 2.0, -2.0], "mosei")
    assert m["Mult_acc_7"] == pytest.approx(1.0)


def test_ties_at_zero_count_as_positive_in_has0_and_are_dropped_in_non0():
    m = compute_msa_metrics([0.0, 0.0, -1.0], [0.0, 1.0, -1.0], "mosi")
    assert m["Has0_acc_2"] == pytest.approx(1.0)
    # Non0 keeps y = 1 (pred 0 is not > 0: wrong) and y = -1 (right)
    assert m["Non0_acc_2"] == pytest.approx(0.5)


def test_all_zero_labels_and_constant_predictions_report_nan_not_crash():
    m = compute_msa_metrics([0.3, -0.2, 0.1], [0.0, 0.0, 0.0], "mosi")
    assert math.isnan(m["Non0_acc_2"]) and math.isnan(m["Non0_F1_score"])
    assert math.isnan(m["Corr"])
    assert m["Has0_acc_2"] == pytest.approx(2 / 3)
    constant = compute_msa_metrics([1.0, 1.0, 1.0], [0.4, -1.0, 2.0], "mosi")
    assert math.isnan(constant["Corr"])
    assert constant["MAE"] == pytest.approx((0.6 + 2.0 + 1.0) / 3)


def test_sims_metrics_match_hand_computed_values():
    m = compute_msa_metrics([-0.95, -0.05, 0.05, 0.5, 1.3], [-0.8, 0.0, 0.2, 0.8, 1.0], "sims")
    assert tuple(m) == SIMS_METRICS
    assert m["Mult_acc_2"] == pytest.approx(1.0)
    assert m["F1_score"] == pytest.approx(1.0)
    assert m["Mult_acc_3"] == pytest.approx(0.8)
    assert m["Mult_acc_5"] == pytest.approx(0.6)
    assert m["MAE"] == pytest.approx(0.65 / 5)  # on values clipped to [-1, 1]


def test_sims_bins_are_right_closed():
    m = compute_msa_metrics([-0.1, 0.1, 0.0], [-0.5, 0.05, -0.3], "sims")
    assert m["Mult_acc_2"] == pytest.approx(1.0)
    assert m["Mult_acc_3"] == pytest.approx(2 / 3)


@pytest.mark.parametrize(
    "preds, labels, kind, message",
    [
        ([], [], "mosi", "no predictions"),
        ([1.0, 2.0], [1.0], "mosi", "2 predictions but 1 labels"),
        ([float("nan")], [1.0], "mosi", "finite"),
        ([1.0], [1.0], "iemocap", "unknown dataset_kind"),
    ],
)
def test_bad_input_fails_clearly(preds, labels, kind, message):
    with pytest.raises(ValueError, match=message):
        compute_msa_metrics(preds, labels, kind)


@pytest.fixture(scope="module")
def msa_module_dir():
    return msa_metric_path()


def test_evaluate_module_loads_from_any_directory_and_agrees(msa_module_dir, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    metric = evaluate.load(msa_module_dir, "sims")
    result = metric.compute(predictions=[-0.95, -0.05, 0.05, 0.5, 1.3], references=[-0.8, 0.0, 0.2, 0.8, 1.0])
    assert result["Mult_acc_5"] == pytest.approx(0.6)
    assert result["MAE"] == pytest.approx(0.13, abs=1e-6)
    assert "zadeh2016mosi" in metric.citation and "yu2020chsims" in metric.citation


@pytest.mark.parametrize(
    "kind, preds, labels",
    [
        ("sims", [0.05, 0.1, -0.7, 0.7], [0.1, 0.05, -0.7, 0.7]),  # on CH-SIMS's bin edges: float32 would move 0.1
        ("mosi", [0.5, -1.5, 2.5, 0.0, -0.3], [0.4, -1.0, 2.5, 0.1, 0.0]),
        ("mosei", [1.49999, -2.5, 0.51, 3.2], [1.5, -2.5, 0.5, 3.0]),
        ("custom", [0.1, -0.1, 0.7], [0.2, -0.3, 0.9]),
    ],
)
def test_evaluate_module_equals_compute_msa_metrics(msa_module_dir, kind, preds, labels):
    expected = compute_msa_metrics(preds, labels, kind)
    result = evaluate.load(msa_module_dir, kind).compute(predictions=preds, references=labels)
    assert result == expected
    if kind == "sims":
        assert result["Mult_acc_3"] == 1.0 and result["Mult_acc_5"] == 1.0


def test_evaluate_module_ships_with_its_card(msa_module_dir):
    folder = Path(msa_module_dir)
    assert (folder / "msa.py").is_file()
    card = (folder / "README.md").read_text()
    assert card.startswith("---") and "@inproceedings{yu2020chsims" in card and "float64" in card
