"""trainer.study_statistics: data-set-level differences, Holm's correction and the four verdicts, by hand.

With 2 degrees of freedom Student's t has a closed form: P(|T| > t) = 1 - t / sqrt(t^2 + 2), and the
two-sided (1 - L) quantile is (1 - L) * sqrt(2) / sqrt(1 - (1 - L)^2); the expected values below use it.
"""

import math

import pytest

from trainer.study_statistics import (
    BETTER,
    EQUIVALENT,
    INCONCLUSIVE,
    WORSE,
    Comparison,
    comparisons_markdown,
    compare_settings,
    dataset_differences,
    holm,
    parse_comparisons,
    t_test,
    verdict,
)


def p_value_df2(t: float) -> float:
    return 1 - t / math.sqrt(t * t + 2)


def quantile_df2(level: float) -> float:
    return (1 - level) * math.sqrt(2) / math.sqrt(1 - (1 - level) ** 2)


def run(data: str, seed: int, mae: float) -> dict:
    return {"data": data, "seed": seed, "test": {"MAE": mae}}


NONE_MAE = {("d0", 1): 1.0, ("d0", 2): 0.9, ("d1", 1): 0.8, ("d1", 2): 0.9, ("d2", 1): 1.1, ("d2", 2): 1.0,
            ("d3", 1): 0.5}
A_STEPS = {("d0", 1): -0.04, ("d0", 2): -0.06, ("d1", 1): -0.02, ("d1", 2): -0.04, ("d2", 1): -0.08, ("d2", 2): -0.06}
B_STEPS = {("d0", 1): 0.01, ("d0", 2): 0.01, ("d1", 1): -0.01, ("d1", 2): -0.01, ("d2", 1): 0.0, ("d2", 2): 0.0}
RUNS = {
    "lmf + none": [run(d, s, mae) for (d, s), mae in NONE_MAE.items()],
    # (d0, 3) has no none run and d3 no A run: both are left out
    "lmf + a": [run(d, s, NONE_MAE[d, s] + step) for (d, s), step in A_STEPS.items()] + [run("d0", 3, 9.0)],
    "lmf + b": [run(d, s, NONE_MAE[d, s] + step) for (d, s), step in B_STEPS.items()],
}


def test_seeds_are_averaged_within_each_data_set_first():
    values = {key: NONE_MAE[key] + step for key, step in A_STEPS.items()} | {("d0", 3): 9.0}
    per_dataset = dataset_differences(values, NONE_MAE)
    assert list(per_dataset) == ["d0", "d1", "d2"]
    assert [entry["seeds"] for entry in per_dataset.values()] == [2, 2, 2]
    assert [entry["difference"] for entry in per_dataset.values()] == pytest.approx([-0.05, -0.03, -0.07])


def test_t_test_by_hand_and_degenerate_spreads():
    test = t_test([-0.05, -0.03, -0.07])  # mean -0.05, std 0.02, t = 0.05 / (0.02 / sqrt 3)
    assert (test["n"], test["mean"], test["std"]) == pytest.approx((3, -0.05, 0.02))
    assert test["p_value"] == pytest.approx(p_value_df2(0.05 / (0.02 / math.sqrt(3))))
    assert t_test([0.1, 0.1])["p_value"] == 0.0 and t_test([0.0, 0.0])["p_value"] == 1.0
    assert t_test([0.3]) == {"n": 1, "mean": 0.3, "std": None, "p_value": None}


@pytest.mark.parametrize("low, high, metric, margin, expected", [
    (-0.5, -2**-20, "MAE", 0.0, BETTER),
    (-0.5, 0.0, "MAE", 0.0, INCONCLUSIVE),  # an endpoint at 0 does not exclude 0
    (2**-20, 0.5, "MAE", 0.0, WORSE),
    (0.0, 0.5, "MAE", 0.0, INCONCLUSIVE),
    (2**-20, 0.5, "Corr", 0.0, BETTER),  # higher Corr is better
    (-0.5, -2**-20, "Corr", 0.0, WORSE),
    (-0.125, 0.125, "MAE", 0.25, EQUIVALENT),
    (-0.25, 0.125, "MAE", 0.25, INCONCLUSIVE),  # low exactly at -margin: not inside the band
    (-0.125, 0.25, "MAE", 0.25, INCONCLUSIVE),  # high exactly at +margin
    (-0.25 + 2**-20, 0.25 - 2**-20, "MAE", 0.25, EQUIVALENT),
    (-0.125, -2**-20, "MAE", 0.25, EQUIVALENT),  # excludes 0 but inside the band: a negligible difference
    (-0.25, -2**-20, "MAE", 0.25, BETTER),  # reaches the margin: better
    (2**-20, 0.25, "Corr", 0.25, BETTER),
    (2**-20, 0.25, "MAE", 0.25, WORSE),
    (-0.5, 0.5, "MAE", 0.25, INCONCLUSIVE),
    (0.0, 0.0, "MAE", 0.0, INCONCLUSIVE),  # margin 0: nothing is equivalent
    (None, None, "MAE", 0.25, INCONCLUSIVE),
])
def test_verdict_at_its_boundaries(low, high, metric, margin, expected):
    assert verdict(low, high, metric, margin) == expected


def test_negative_margin_is_refused():
    with pytest.raises(ValueError, match="margin must be >= 0, got -0.1"):
        verdict(-1.0, 1.0, "MAE", -0.1)


def test_holm_by_hand():
    steps = holm({"a": 0.01, "b": 0.04, "c": 0.03})  # order a, c, b; levels 0.05/3, 0.05/2, 0.05
    assert [steps[n]["step"] for n in "acb"] == [1, 2, 3]
    assert [steps[n]["rejected"] for n in "acb"] == [True, False, False]  # 0.03 >= 0.025 stops at step 2
    assert [steps[n]["level"] for n in "acb"] == pytest.approx([0.05 / 3, 0.025, 0.025])  # b keeps step 2's level
    assert [steps[n]["adjusted_p"] for n in "acb"] == pytest.approx([0.03, 0.06, 0.06])  # 3*.01; 2*.03; .04 < .06
    every = holm({"a": 0.01, "b": 0.02, "c": 0.03})
    assert all(step["rejected"] for step in every.values())
    assert [every[n]["level"] for n in "abc"] == pytest.approx([0.05 / 3, 0.025, 0.05])


def test_holm_boundary_and_missing_p_values():
    tied = holm({"x": 0.025, "y": 0.025})  # p equal to step 1's level 0.05 / 2: not below it, nothing rejected
    assert not tied["x"]["rejected"] and not tied["y"]["rejected"]
    assert [tied[n]["adjusted_p"] for n in "xy"] == pytest.approx([0.05, 0.05])
    below = holm({"x": 0.025 - 1e-12, "y": 0.05 - 1e-12})
    assert below["x"]["rejected"] and below["y"]["rejected"]
    partial = holm({"one_data_set": None, "z": 0.001})
    assert partial["z"] == {"step": 1, "level": 0.025, "adjusted_p": pytest.approx(0.002), "rejected": True}
    assert partial["one_data_set"] == {"step": 2, "level": 0.05, "adjusted_p": None, "rejected": False}


def test_a_family_widens_the_intervals_and_changes_the_verdicts():
    comparisons = [Comparison("lmf + a", "lmf + none"), Comparison("lmf + b", "lmf + none")]
    alone = compare_settings(RUNS, comparisons, "MAE", margin=0.02)
    a = alone["lmf + a - lmf + none"]
    half = quantile_df2(0.05) * 0.02 / math.sqrt(3)  # 4.3027 * 0.02 / sqrt 3 = 0.0497
    assert a["per_dataset"] == {d: {"difference": pytest.approx(v), "seeds": 2}
                                for d, v in (("d0", -0.05), ("d1", -0.03), ("d2", -0.07))}
    assert (a["n"], a["mean"], a["std"]) == pytest.approx((3, -0.05, 0.02))
    assert (a["low"], a["high"]) == pytest.approx((-0.05 - half, -0.05 + half))
    assert (a["confidence"], a["verdict"]) == (pytest.approx(0.95), BETTER)
    assert "adjusted_p" not in a

    family = compare_settings(RUNS, comparisons, "MAE", margin=0.02, family=True)
    a, b = family["lmf + a - lmf + none"], family["lmf + b - lmf + none"]
    p_a = p_value_df2(0.05 / (0.02 / math.sqrt(3)))  # 0.0494 >= 0.05 / 2: Holm stops at step 1
    assert (a["step"], a["rejected"], a["adjusted_p"]) == (1, False, pytest.approx(2 * p_a))
    assert (b["step"], b["adjusted_p"]) == (2, pytest.approx(1.0))  # mean 0: p = 1
    half = quantile_df2(0.025) * 0.02 / math.sqrt(3)  # both at step 1's level 0.025: 6.2053 * 0.02 / sqrt 3
    assert (a["level"], a["low"], a["high"]) == pytest.approx((0.025, -0.05 - half, -0.05 + half))
    assert a["verdict"] == INCONCLUSIVE
    b_half = quantile_df2(0.025) * 0.01 / math.sqrt(3)  # differences +0.01, -0.01, 0: std 0.01, interval ±0.0358
    assert (b["mean"], b["low"], b["high"]) == pytest.approx((0.0, -b_half, b_half))
    assert b["verdict"] == INCONCLUSIVE  # 0.0358 reaches beyond the margin 0.02
    wide_margin = compare_settings(RUNS, comparisons, "MAE", margin=0.04, family=True)
    assert wide_margin["lmf + b - lmf + none"]["verdict"] == EQUIVALENT
    table = comparisons_markdown(family.values())
    assert "| lmf + a - lmf + none | MAE | -0.050 [-0.122, +0.022] (97.5 %, n=3 data sets, adj. p 0.0988) " \
           "inconclusive |" in table


def test_direct_contrast_between_any_two_settings():
    contrast = compare_settings(RUNS, [Comparison("lmf + a", "lmf + b")], "MAE")["lmf + a - lmf + b"]
    # per data set: -0.05 - 0.01, -0.03 + 0.01, -0.07 - 0 = -0.06, -0.02, -0.07
    assert [v["difference"] for v in contrast["per_dataset"].values()] == pytest.approx([-0.06, -0.02, -0.07])
    assert contrast["mean"] == pytest.approx(-0.05)
    single = compare_settings({"x": [run("d0", 1, 0.5)], "y": [run("d0", 1, 0.7)]}, [Comparison("x", "y")], "MAE")
    assert (single["x - y"]["n"], single["x - y"]["low"], single["x - y"]["verdict"]) == (1, None, INCONCLUSIVE)


def test_comparisons_parse_on_every_backbone_or_by_full_name():
    settings = ["lmf + none", "lmf + msmix", "lmf + msmix:no_sal", "tfn + none", "tfn + msmix", "tfn + msmix:no_sal"]
    assert parse_comparisons(["msmix - msmix:no_sal"], settings) == [
        Comparison("lmf + msmix", "lmf + msmix:no_sal"), Comparison("tfn + msmix", "tfn + msmix:no_sal")]
    assert parse_comparisons(["tfn + msmix - lmf + msmix"], settings) == [Comparison("tfn + msmix", "lmf + msmix")]
    with pytest.raises(ValueError, match=r"comparison 'msmix' must be '<setting> - <reference>'"):
        parse_comparisons(["msmix"], settings)
    with pytest.raises(ValueError, match=r"comparison 'cmixup - none' names settings with no runs: \['lmf \+ cmixup'"):
        parse_comparisons(["cmixup - none"], settings)
