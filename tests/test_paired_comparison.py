"""Paired differences from ``none``: hand-computed means, t-intervals and verdicts."""

import math

import pytest

from trainer.paired_comparison import (
    HELPS,
    HURTS,
    NO_DIFFERENCE,
    format_difference,
    paired_against_none,
    paired_difference,
    paired_markdown,
)

T_975_DF2 = 4.302652729911275  # Student t, 97.5 % quantile, 2 degrees of freedom


def test_interval_by_hand_and_lower_mae_helps():
    difference = paired_difference({1: 0.90, 2: 0.91, 3: 0.89}, {1: 0.95, 2: 0.94, 3: 0.96}, "MAE")
    # differences -0.05, -0.03, -0.07: mean -0.05, sample std 0.02, half-width t * 0.02 / sqrt(3)
    half = T_975_DF2 * 0.02 / math.sqrt(3)
    assert difference["n"] == 3
    assert difference["mean"] == pytest.approx(-0.05)
    assert difference["std"] == pytest.approx(0.02)
    assert (difference["low"], difference["high"]) == pytest.approx((-0.05 - half, -0.05 + half))
    assert difference["verdict"] == HELPS  # -0.05 + 0.0497 < 0
    assert format_difference(difference) == "-0.050 [-0.100, -0.000] (n=3) helps"


def test_direction_follows_the_metric_and_zero_inside_is_no_difference():
    higher_corr = paired_difference({1: 0.70, 2: 0.72, 3: 0.71}, {1: 0.60, 2: 0.61, 3: 0.62}, "Corr")
    assert higher_corr["verdict"] == HELPS
    assert paired_difference({1: 1.0, 2: 1.1, 3: 1.05}, {1: 0.9, 2: 0.95, 3: 0.92}, "MAE")["verdict"] == HURTS
    mixed = paired_difference({1: 0.9, 2: 1.0}, {1: 0.95, 2: 0.95}, "MAE")
    assert mixed["mean"] == pytest.approx(0.0) and mixed["verdict"] == NO_DIFFERENCE
    single = paired_difference({1: 0.5}, {1: 0.9, 2: 0.8}, "MAE")  # one shared key: no interval
    assert (single["n"], single["std"], single["verdict"]) == (1, None, NO_DIFFERENCE)
    assert format_difference(single) == "-0.400 (n=1)"


def test_runs_pair_by_data_and_seed():
    def run(data, seed, mae):
        return {"data": data, "seed": seed, "test": {"MAE": mae}}

    runs = {
        "lmf + none": [run("d0", 1, 0.9), run("d0", 2, 1.0), run("d1", 1, 0.8)],
        "lmf + msmix": [run("d0", 1, 0.85), run("d0", 2, 0.97), run("d1", 1, 0.78), run("d1", 2, 0.5)],
        "tfn + msmix": [run("d0", 1, 0.1)],  # no tfn + none: no row
    }
    table = paired_against_none(runs, ("MAE",))
    assert list(table) == ["lmf + msmix - none"]
    row = table["lmf + msmix - none"]["MAE"]
    assert row["n"] == 3  # (d1, 2) has no none run
    assert row["mean"] == pytest.approx((-0.05 - 0.03 - 0.02) / 3)
    markdown = paired_markdown(table, ("MAE",))
    assert markdown.splitlines()[2].startswith("| lmf + msmix | -0.033 [")
