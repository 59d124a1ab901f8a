"""Small, exact checks of code that a hand-made mistake once changed with the whole suite still passing.

Each test names the mistake it catches; the numbers are worked out by hand in the comments.
"""

import dataclasses
import inspect

import pytest
import torch

from data_processing.schema import MODALITIES, feature_column, length_column
from modeling_msmix import LMFConfig
from modeling_msmix.augmentations import AUGMENTATIONS
from modeling_msmix.extraction_config import MODEL_FIELDS, ExtractionConfig
from modeling_msmix.mixing_base import RandomDraws
from modeling_msmix.mixing_msmix import MSMix, adaptive_ratio
from modeling_msmix.modality_masks import modality_present
from modeling_msmix.processing_msmix import MSMixProcessor
from trainer.metrics import compute_msa_metrics
from trainer.model_card import build_model_card
from trainer.msmix_health import SPREAD_FLOOR, health_findings
from trainer.paired_comparison import HELPS, NO_DIFFERENCE, paired_difference
from trainer.robustness_protocols import Perturbation

# --- MSMix.from_config: every config option reaches the mixing module ------------------------------

STATE_DIMS = (6, 3, 5)
READ_BY_THE_MODEL = frozenset({"mixed_loss_weight", "sal_weight"})
"""MS-Mix options that the model's loss reads, not the mixing module."""
CONSTRUCTOR_NAMES = {"sig_num_heads": "num_heads", "sass_threshold_quantile": "threshold_quantile",
                     "sig_ratio_weights": "ratio_weights"}
"""Config options whose ``MSMix.__init__`` argument has another name."""
FLIPPED = {"alpha": 0.5, "threshold": 0.9, "num_mix": 3, "sig_num_heads": 2, "sal_target": "per_sample",
           "sass_threshold_quantile": 0.1, "sig_ratio_weights": "intensity_scale"}
"""A value other than the default (the paper's setting) for each non-boolean option (booleans are negated)."""


def module_options() -> list[str]:
    """The registered MS-Mix options that ``MSMix.from_config`` must pass on."""
    return [name for name in AUGMENTATIONS["msmix"].option_fields if name not in READ_BY_THE_MODEL]


def msmix_config(**changes) -> LMFConfig:
    return LMFConfig(augmentation="msmix", **changes)


def flipped_value(option: str, config: LMFConfig):
    if option in FLIPPED:
        return FLIPPED[option]
    value = getattr(config, option)
    assert isinstance(value, bool), f"MS-Mix option {option!r} is new: give FLIPPED a value that changes the mixing"
    return not value


def built_directly(config: LMFConfig) -> MSMix:
    """The module ``MSMix.from_config`` should build: every option passed to the constructor by name."""
    arguments = {CONSTRUCTOR_NAMES.get(name, name): getattr(config, name) for name in module_options()}
    unknown = sorted(set(arguments) - set(inspect.signature(MSMix.__init__).parameters))
    assert not unknown, f"options {unknown} are no MSMix argument: add their argument names to CONSTRUCTOR_NAMES"
    return MSMix(STATE_DIMS, label_scale=config.label_scale, **arguments)


def mixing_outcome(build) -> list[torch.Tensor]:
    """What one forward pass of a freshly built module returns on a fixed batch with fixed draws, and the
    gradients that a fixed function of its outputs sends to the states and to SIG's parameters."""
    torch.manual_seed(0)  # the same SIG weights for every module of the same shapes
    module = build()
    generator = torch.Generator().manual_seed(0)
    states = (torch.randn(8, 6, generator=generator), torch.randn(8, 3, generator=generator),
              torch.randn(8, 2, 5, generator=generator))
    states = tuple(state.requires_grad_() for state in states)
    labels = torch.tensor([2.0, -1.0, 0.5, -2.5, 1.5, -0.5, 0.2, -1.2])
    result = module(states, labels, RandomDraws(torch.Generator().manual_seed(1), torch.device("cpu")))
    objective = result.extra_loss + result.mixed_labels.sum() + sum(
        (mixed * torch.randn(mixed.shape, generator=generator)).sum() for mixed in result.mixed_states)
    objective.backward()
    outputs = [result.index1, result.index2, result.label_lambda, result.mixed_labels, result.extra_loss,
               *result.mixed_states]
    gradients = [state.grad for state in states] + [parameter.grad for parameter in module.predictors.parameters()]
    return [tensor.detach() for tensor in outputs] + [torch.zeros(0) if g is None else g for g in gradients]


def same_outcome(first: list[torch.Tensor], second: list[torch.Tensor]) -> bool:
    return all(a.shape == b.shape and torch.equal(a, b) for a, b in zip(first, second, strict=True))


@pytest.mark.parametrize("option", module_options())
def test_each_msmix_option_reaches_the_mixing_module(option):
    """Caught: ``from_config`` dropping ``use_sass`` (``msmix:no_sass`` would run the full method), or
    passing ``use_sass`` as ``use_sig``; likewise for every other option."""
    base = msmix_config()
    flipped = msmix_config(**{option: flipped_value(option, base)})
    from_config = mixing_outcome(lambda: MSMix.from_config(flipped, STATE_DIMS))
    assert same_outcome(from_config, mixing_outcome(lambda: built_directly(flipped))), option
    assert not same_outcome(from_config, mixing_outcome(lambda: MSMix.from_config(base, STATE_DIMS))), option


def test_the_label_range_reaches_sal_as_r():
    sims = msmix_config(label_min=-1.0, label_max=1.0)
    assert MSMix.from_config(sims, STATE_DIMS).label_scale == 1.0
    from_config = mixing_outcome(lambda: MSMix.from_config(sims, STATE_DIMS))
    assert same_outcome(from_config, mixing_outcome(lambda: built_directly(sims)))
    assert not same_outcome(from_config, mixing_outcome(lambda: MSMix.from_config(msmix_config(), STATE_DIMS)))


def test_the_ablation_switches_set_the_modules_switches():
    for changes, switches in (({"use_sass": False}, (False, True)), ({"use_sig": False}, (True, False))):
        module = MSMix.from_config(msmix_config(**changes), STATE_DIMS)
        assert (module.use_sass, module.use_sig) == switches, changes


# --- paired comparison: "helps" only when the whole interval is on the better side ------------------

T_975_DF1 = 12.706204736174698  # Student t, 97.5 % quantile, 1 degree of freedom
T_975_DF2 = 4.302652729911275  # 2 degrees of freedom


@pytest.mark.parametrize(("metric", "values", "reference"), [
    ("MAE", {1: 0.90, 2: 0.93, 3: 0.87}, {1: 0.95, 2: 0.95, 3: 0.95}),  # differences -0.05, -0.02, -0.08
    ("Corr", {1: 0.65, 2: 0.62, 3: 0.68}, {1: 0.60, 2: 0.60, 3: 0.60}),  # +0.05, +0.02, +0.08
])
def test_better_mean_with_zero_inside_the_interval_is_no_difference(metric, values, reference):
    """Caught: the verdict reading "helps" whenever the mean is on the better side."""
    difference = paired_difference(values, reference, metric)
    # |mean| 0.05, sample std 0.03, half-width t(2) * 0.03 / sqrt(3) = 0.0745: the interval holds 0.
    half = T_975_DF2 * 0.03 / 3 ** 0.5
    assert half == pytest.approx(0.074524, abs=1e-6)
    sign = -1 if metric == "MAE" else 1
    assert difference["mean"] == pytest.approx(sign * 0.05) and difference["std"] == pytest.approx(0.03)
    assert (difference["low"], difference["high"]) == pytest.approx((sign * 0.05 - half, sign * 0.05 + half))
    assert difference["verdict"] == NO_DIFFERENCE


def test_worse_mean_with_zero_inside_the_interval_is_no_difference():
    difference = paired_difference({1: 1.00, 2: 0.97, 3: 1.03}, {1: 0.95, 2: 0.95, 3: 0.95}, "MAE")
    assert difference["low"] == pytest.approx(0.05 - T_975_DF2 * 0.03 / 3 ** 0.5)  # -0.0245
    assert difference["verdict"] == NO_DIFFERENCE


def test_two_pairs_both_better_are_still_no_difference_and_a_tight_interval_helps():
    # Differences -0.10, -0.12: mean -0.11, std 0.01414, half-width 12.706 * 0.01414 / sqrt(2) = 0.127.
    two = paired_difference({1: 0.80, 2: 0.78}, {1: 0.90, 2: 0.90}, "MAE")
    assert two["high"] == pytest.approx(-0.11 + T_975_DF1 * 0.02 / 2 ** 0.5 / 2 ** 0.5)  # +0.0171
    assert two["verdict"] == NO_DIFFERENCE
    # Differences -0.10, -0.11, -0.12: std 0.01, half-width 4.303 * 0.01 / sqrt(3) = 0.0248, high -0.0852.
    three = paired_difference({1: 0.80, 2: 0.79, 3: 0.78}, {1: 0.90, 2: 0.90, 3: 0.90}, "MAE")
    assert three["high"] == pytest.approx(-0.11 + T_975_DF2 * 0.01 / 3 ** 0.5)
    assert three["verdict"] == HELPS


# --- robustness protocols: the rate is the share removed ---------------------------------------------

def full_batch(size: int, steps: int = 10) -> dict[str, torch.Tensor]:
    """``size`` samples whose three modalities have ``steps`` real, non-zero steps."""
    batch = {}
    for modality, dim in zip(MODALITIES, (4, 3, 2)):
        batch[feature_column(modality)] = torch.ones(size, steps, dim)
        batch[f"{modality}_mask"] = torch.ones(size, steps, dtype=torch.bool)
    return batch


def test_random_modality_missing_removes_the_share_p():
    """Caught: the protocol applying missing rate p as 1 - p."""
    size, p = 600, 0.2
    ids = [f"s{i}" for i in range(size)]
    perturbed = Perturbation("random_modality_missing", p, seed=5).apply(full_batch(size), ids)
    present = torch.stack([modality_present(perturbed[feature_column(m)], perturbed[f"{m}_mask"])
                           for m in MODALITIES], dim=1)
    assert present.any(dim=1).all()
    # Each modality drops with p; when all three drop (p^3) one comes back: p - p^3 / 3 = 0.1973 missing.
    assert 1 - present.float().mean().item() == pytest.approx(p - p ** 3 / 3, abs=0.03)


def test_random_step_missing_removes_the_share_r():
    size, r = 200, 0.2
    ids = [f"s{i}" for i in range(size)]
    perturbed = Perturbation("random_step_missing", r, seed=5).apply(full_batch(size), ids)
    for modality in MODALITIES:
        kept = perturbed[f"{modality}_mask"].float().mean().item()  # 10 real steps per row: about 8 stay
        assert kept == pytest.approx(1 - r, abs=0.03), modality


# --- CH-SIMS Mult_acc_5: bins at -0.7, -0.1, 0.1, 0.7 (SPEC section 2) --------------------------------

def test_sims_five_class_edges_are_at_0_7():
    """Caught: ``Mult_acc_5`` edges at +-0.5 instead of +-0.7."""
    preds = [0.6, -0.6, 0.75, 0.69, 0.7, -0.7]
    labels = [0.4, -0.3, 0.9, 0.72, 0.65, -0.75]
    # Bins [-1, -.7], (-.7, -.1], (-.1, .1], (.1, .7], (.7, 1]: pairs 1, 2, 3, 5, 6 share a bin, pair 4
    # (0.69 | 0.72) does not. With edges at +-0.5 pairs 1 and 2 would differ and pair 4 agree: 4/6.
    metrics = compute_msa_metrics(preds, labels, "sims")
    assert metrics["Mult_acc_5"] == pytest.approx(5 / 6)
    assert metrics["Mult_acc_3"] == pytest.approx(1.0)


# --- model card: MS-Mix health shares in per cent ----------------------------------------------------

def test_model_card_shows_health_shares_in_per_cent():
    """Caught: the bound share printed as a fraction with "%", and SASS's rejected share printed as passed."""
    summary = {"logs": 4, "bound_share": {"text": 0.25, "audio": 0.125, "vision": 1.0},
               "intensity_spread": {"text": 1.2, "audio": 0.04, "vision": 0.0}, "sass_above_threshold": 0.375,
               "flagged": {"at_bound:vision": 4, "collapsed:audio": 4}}
    card = str(build_model_card(msmix_config(), mixing_health=summary))
    assert "| text | 25.0 % | 1.2 |" in card
    assert "| audio | 12.5 % | 0.04 |" in card
    assert "| vision | 100.0 % | 0 |" in card
    assert "SASS passed 37.5 % of the pairs." in card


# --- processor: one step is a modality, zero steps a missing one --------------------------------------

def test_a_modality_with_one_step_is_not_missing():
    """Caught: the processor reporting a modality with one step as missing."""
    row = {length_column("text"): 1, length_column("audio"): 0, length_column("vision"): 2}
    assert MSMixProcessor.missing_modalities(row) == ["audio"]
    assert MSMixProcessor.missing_modalities({length_column(m): 1 for m in MODALITIES}) == []


# --- intensity_scale ratio weights: |I| / 3 ----------------------------------------------------------

def test_intensity_scale_weights_use_the_size_of_the_intensity():
    """Caught: ``intensity_scale`` weights computed from signed instead of absolute intensities."""
    module = MSMix((4, 4, 4), ratio_weights="intensity_scale")
    weights = module.ratio_weight(torch.tensor([-1.5, 3.0, -0.3, 0.0]), None)
    torch.testing.assert_close(weights, torch.tensor([0.5, 1.0, 0.1, 0.0]))
    # A pair with intensities -1.5 and 3.0: lam_adapt = 0.5 / (0.5 + 1.0) = 1/3 (signed weights give -1).
    ratio = adaptive_ratio(weights, torch.tensor([0]), torch.tensor([1]))
    assert ratio.item() == pytest.approx(1 / 3, abs=1e-6)


# --- health check: the spread floor 0.05 ---------------------------------------------------------------

def test_spread_floor_flags_below_005_only():
    """Caught: ``<=`` for ``<`` at the floor, or a floor other than 0.05."""
    assert SPREAD_FLOOR == 0.05
    below = health_findings({"msmix_intensity_spread_text": 0.049}, step=2)
    assert [(f.key, f.figure, f.step) for f in below] == [("collapsed:text", 0.049, 2)]
    assert "collapsed to 0.049 (< 0.05)" in below[0].message()
    assert health_findings({"msmix_intensity_spread_text": 0.05}, step=2) == []
    assert health_findings({"msmix_intensity_spread_text": 0.049}, step=2, ratio_weights="intensity_scale") == []


# --- extraction fingerprint: every extractor counts -------------------------------------------------------

@pytest.mark.parametrize("field", sorted(MODEL_FIELDS.values()))
def test_fingerprint_changes_with_each_extractor(field):
    """Caught: the extraction fingerprint leaving out ``text_model`` (another model's features would be reused)."""
    config = ExtractionConfig()
    assert ExtractionConfig(**config.to_dict()).fingerprint() == config.fingerprint()
    assert len(config.fingerprint()) == 16
    other = dataclasses.replace(config, **{field: "someone/other-model"})
    assert other.fingerprint() != config.fingerprint()
    revision = field.replace("_model", "_revision")
    assert dataclasses.replace(config, **{revision: "v2"}).fingerprint() != config.fingerprint()
