"""MS-Mix and the baseline mixups, checked against hand-computed numbers on 4-6 sample batches."""

import math

import pytest
import torch
from torch import nn

from modeling_msmix import AUGMENTATIONS, MSAConfig, MSAPreTrainedModel, build_augmentation
from modeling_msmix.mixing_base import MixResult, RandomDraws
from modeling_msmix.mixing_baselines import AdvMixup, MultiMix, PowMix, VanillaMixup
from modeling_msmix.mixing_msmix import (
    IntensityPredictor,
    MSMix,
    PartnerSelector,
    adaptive_ratio,
    minmax_batch,
    modality_similarity,
    normalise_similarity,
    sentiment_alignment_loss,
)

# Four 2-d unit vectors with easy cosines: c01 = .6, c02 = 0, c03 = -.6, c12 = .8, c13 = .28, c23 = .8.
UNIT = torch.tensor([[1.0, 0.0], [0.6, 0.8], [0.0, 1.0], [-0.6, 0.8]])
COSINE = UNIT @ UNIT.T
# Min-max over the off-diagonal entries: (c + 0.6) / 1.4, diagonal 0.
NORMALISED = torch.tensor([
    [0.0, 6 / 7, 3 / 7, 0.0],
    [6 / 7, 0.0, 1.0, 0.88 / 1.4],
    [3 / 7, 1.0, 0.0, 1.0],
    [0.0, 0.88 / 1.4, 1.0, 0.0],
])


def unit_states() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Text scaled by 2, audio by 5, vision as [B, 2, 2] (each token the unit vector), all identical in
    direction, so S is the cosine matrix."""
    return 2 * UNIT, 5 * UNIT, UNIT[:, None, :].expand(-1, 2, -1).clone()


class ScriptedDraws(RandomDraws):
    """Random draws replaced by given values, to check the arithmetic that follows them."""

    def __init__(self, beta=None, rand=None):
        super().__init__(None, torch.device("cpu"))
        self._beta, self._rand = beta, rand

    def beta(self, alpha, *shape):
        return self._beta.reshape(shape)

    def rand(self, *shape):
        return self._rand.reshape(shape)


class ToyConfig(MSAConfig):
    model_type = "msmix_test_toy"
    hidden: int = 6


class ToyModel(MSAPreTrainedModel):
    """Mean-pooled linear encoders (vision state 3-D) and a linear fusion head."""

    config_class = ToyConfig

    def __init__(self, config: ToyConfig):
        super().__init__(config)
        self.text = nn.Linear(config.text_dim, config.hidden)
        self.audio = nn.Linear(config.audio_dim, config.hidden)
        self.vision = nn.Linear(config.vision_dim, config.hidden)
        self.head = nn.Linear(3 * config.hidden, 1)
        self.setup_augmentation((config.hidden, config.hidden, config.hidden))
        self.post_init()

    def encode(self, text_features, audio_features, vision_features, text_mask, audio_mask, vision_mask,
               input_ids=None, attention_mask=None):
        return self.text(text_features.mean(1)), self.audio(audio_features.mean(1)), self.vision(vision_features[:, :2])

    def fuse(self, z_t, z_a, z_v):
        return self.head(torch.cat([z_t, z_a, z_v.mean(1)], dim=-1)), None


def toy_batch(batch_size: int = 5, seed: int = 0) -> dict:
    generator = torch.Generator().manual_seed(seed)
    return {
        "text_features": torch.randn(batch_size, 4, 8, generator=generator),
        "audio_features": torch.randn(batch_size, 3, 5, generator=generator),
        "vision_features": torch.randn(batch_size, 2, 20, generator=generator),
        "labels": torch.tensor([2.0, -1.0, 0.5, -2.5, 1.5, -0.5])[:batch_size],
    }


def toy_model(**config) -> ToyModel:
    torch.manual_seed(0)
    return ToyModel(ToyConfig(text_dim=8, **config))


# --- SASS -----------------------------------------------------------------------------------


def test_similarity_averages_normalised_modalities():
    z_t, z_a, _ = unit_states()
    identical = torch.ones(4, 3)
    similarity = modality_similarity((z_t, z_a, identical))
    torch.testing.assert_close(similarity, (2 * COSINE + 1) / 3)
    assert similarity[0, 1].item() == pytest.approx((1.2 + 1) / 3)
    torch.testing.assert_close(modality_similarity(unit_states()), COSINE)


def test_similarity_normalisation_off_diagonal_minmax():
    torch.testing.assert_close(normalise_similarity(modality_similarity(unit_states())), NORMALISED)
    z_t, z_a, _ = unit_states()
    # The min-max is invariant to the affine (2c + 1) / 3 of the previous test.
    torch.testing.assert_close(normalise_similarity(modality_similarity((z_t, z_a, torch.ones(4, 3)))), NORMALISED)


def test_all_identical_features_normalise_to_one_half():
    same = torch.ones(5, 3)
    normalised = normalise_similarity(modality_similarity((same, 2 * same, same[:, None].expand(-1, 4, -1))))
    expected = torch.full((5, 5), 0.5).fill_diagonal_(0.0)
    torch.testing.assert_close(normalised, expected)


def test_candidates_at_the_threshold():
    selector = PartnerSelector(threshold=0.4)
    candidates, _ = selector.pools(NORMALISED, torch.zeros(4), count=4)
    expected = {(0, 1), (1, 0), (0, 2), (2, 0), (1, 2), (2, 1), (1, 3), (3, 1), (2, 3), (3, 2)}
    assert {tuple(p) for p in candidates.nonzero().tolist()} == expected
    # Strictly above: at delta = 6/7 the pair (0, 1) is no longer a candidate, at 1.0 nothing is.
    strict, _ = PartnerSelector(threshold=6 / 7).pools(NORMALISED, torch.zeros(4), count=4)
    assert {tuple(p) for p in strict.nonzero().tolist()} == {(1, 2), (2, 1), (2, 3), (3, 2)}
    none, _ = PartnerSelector(threshold=1.0).pools(NORMALISED, torch.zeros(4), count=4)
    assert not none.any()


def test_draw_takes_the_candidates_with_the_largest_keys():
    selector = PartnerSelector(threshold=0.4)
    keys = torch.zeros(16)
    keys[0 * 4 + 2], keys[3 * 4 + 1], keys[0 * 4 + 3] = 0.9, 0.8, 1.0  # (0, 3) is not a candidate
    index1, index2 = selector.select(NORMALISED, torch.zeros(4), 2, ScriptedDraws(rand=keys))
    assert list(zip(index1.tolist(), index2.tolist())) == [(0, 2), (3, 1)]


def test_fallback_takes_best_upper_pairs_and_never_self_pairs():
    # No candidate above 1.0; 2 * num_mix = 4 best upper-triangle pairs: (1,2), (2,3), (0,1), (1,3).
    selector = PartnerSelector(threshold=1.0)
    _, fallback = selector.pools(NORMALISED, torch.zeros(4), count=2)
    assert {tuple(p) for p in fallback.nonzero().tolist()} == {(1, 2), (2, 3), (0, 1), (1, 3)}
    seen = set()
    for seed in range(40):
        draws = RandomDraws(torch.Generator().manual_seed(seed), torch.device("cpu"))
        index1, index2 = selector.select(NORMALISED, torch.zeros(4), 2, draws)
        pairs = list(zip(index1.tolist(), index2.tolist()))
        assert len(pairs) == 2 and len(set(pairs)) == 2
        seen.update(pairs)
    assert seen == {(1, 2), (2, 3), (0, 1), (1, 3)}


def test_fallback_on_two_samples_gives_the_single_pair():
    normalised = normalise_similarity(modality_similarity((torch.eye(2),) * 3))
    index1, index2 = PartnerSelector(threshold=0.9).select(normalised, torch.zeros(2), 2, RandomDraws(None, "cpu"))
    assert (index1.tolist(), index2.tolist()) == ([0], [1])


def test_polarity_aware_selection_keeps_signs():
    labels = torch.tensor([2.0, -1.0, 0.5, -1.5])
    selector = PartnerSelector(threshold=0.0, polarity_aware=True)
    for seed in range(20):
        draws = RandomDraws(torch.Generator().manual_seed(seed), torch.device("cpu"))
        index1, index2 = selector.select(NORMALISED, labels, 4, draws)
        assert index1.numel() > 0
        assert torch.all((labels[index1] >= 0) == (labels[index2] >= 0))
        assert torch.all(index1 != index2)
    # No same-sign pair at all: nothing is mixed rather than a wrong pair.
    index1, _ = selector.select(NORMALISED[:2, :2], labels[:2], 2, RandomDraws(None, "cpu"))
    assert index1.numel() == 0


# --- ratios, mixed samples, SAL -------------------------------------------------------------

INTENSITIES = torch.tensor([[3.0, 1.0, -2.0], [-1.0, 1.0, 0.0], [0.0, 1.0, 1.0], [2.0, 1.0, 2.0]])
LABELS = torch.tensor([2.0, -1.0, 0.5, 1.5])


def test_minmax_and_adaptive_ratio_by_hand():
    torch.testing.assert_close(minmax_batch(INTENSITIES[:, 0].abs()), torch.tensor([1.0, 1 / 3, 0.0, 2 / 3]))
    torch.testing.assert_close(minmax_batch(INTENSITIES[:, 1].abs()), torch.zeros(4))
    ratio = adaptive_ratio(torch.tensor([1.0, 1 / 3, 0.0, 2 / 3]), torch.tensor([0, 2]), torch.tensor([1, 3]))
    torch.testing.assert_close(ratio, torch.tensor([0.75, 1.5e-8]))


def scripted_msmix(states, beta=(0.4, 0.6)) -> MixResult:
    module = MSMix((2, 2, 2), label_scale=3.0)
    module.intensities = lambda *_: INTENSITIES
    module.selector.select = lambda *args: (torch.tensor([0, 2]), torch.tensor([1, 3]))
    return module(states, LABELS, ScriptedDraws(beta=torch.tensor(beta)))


def test_ratios_mixed_states_and_labels_by_hand():
    z_t, z_a, z_v = unit_states()
    result = scripted_msmix((z_t, z_a, z_v))
    lam_t = torch.tensor([(0.4 + 0.75) / 2, (0.6 + 1.5e-8) / 2])
    lam_a = torch.tensor([0.45, 0.55])  # equal |I_a|: w = 0, adaptive ratio 0.5
    lam_v = torch.tensor([(0.4 + 1.0) / 2, (0.6 + 1 / 3) / 2])  # w_v = [1, 0, .5, 1]
    lam_y = (lam_t + lam_a + lam_v) / 3
    torch.testing.assert_close(lam_y, torch.tensor([0.575, (0.3 + 0.55 + 0.6 / 2 + 1 / 6) / 3]))
    torch.testing.assert_close(result.label_lambda, lam_y)
    torch.testing.assert_close(result.mixed_labels.squeeze(1), torch.tensor([0.725, lam_y[1] * 0.5 + (1 - lam_y[1]) * 1.5]))
    torch.testing.assert_close(result.mixed_states[0][0], 2 * (0.575 * UNIT[0] + 0.425 * UNIT[1]))
    torch.testing.assert_close(result.mixed_states[1][1], 5 * (0.55 * UNIT[2] + 0.45 * UNIT[3]))
    expected_v = lam_v[1] * UNIT[2] + (1 - lam_v[1]) * UNIT[3]
    torch.testing.assert_close(result.mixed_states[2][1], expected_v.expand(2, -1))
    # The mixed loss is the SPEC form: mean(lam_y l(o, y[i1]) + (1 - lam_y) l(o, y[i2])).
    predictions = torch.tensor([[1.0], [0.0]])
    expected = (0.575 * 1.0 + 0.425 * 2.0 + lam_y[1] * 0.5 + (1 - lam_y[1]) * 1.5) / 2
    loss = result.mixed_loss(predictions, LABELS, lambda p, y: (p - y).abs())
    assert loss.item() == pytest.approx(expected.item(), abs=1e-6)


def sal_by_formula(intensities, labels, scale):
    """sum_m sum_i P(y)_i log(P(y)_i / P(I_m)_i) / B in plain Python."""
    def distribution(values):
        exps = [math.exp(abs(v) / scale) for v in values]
        return [e / sum(exps) + 1e-8 for e in exps]

    target = distribution(labels)
    total = 0.0
    for column in zip(*intensities):
        predicted = distribution(column)
        total += sum(p * math.log(p / q) for p, q in zip(target, predicted)) / len(labels)
    return total


def test_sal_against_the_direct_formula():
    for scale in (3.0, 1.0):
        expected = sal_by_formula(INTENSITIES.tolist(), LABELS.tolist(), scale)
        assert sentiment_alignment_loss(INTENSITIES, LABELS, scale).item() == pytest.approx(expected, rel=1e-5)
    assert scripted_msmix(unit_states()).extra_loss.item() == pytest.approx(
        sal_by_formula(INTENSITIES.tolist(), LABELS.tolist(), 3.0), rel=1e-5)
    # Intensities whose magnitudes match the labels give a zero loss (up to the 1e-8 floor).
    assert sentiment_alignment_loss(LABELS[:, None].repeat(1, 3), LABELS, 3.0).item() == pytest.approx(0, abs=1e-7)


# --- SIG ------------------------------------------------------------------------------------


def test_sig_attends_within_each_sample():
    torch.manual_seed(0)
    predictor = IntensityPredictor(6, num_heads=4)  # 6 is padded to 8
    tokens = torch.randn(3, 5, 6)
    alone = predictor(tokens[:1])
    together = predictor(tokens)
    torch.testing.assert_close(together[:1], alone)
    assert together.shape == (3,) and torch.all(together.abs() < 3)
    wide = IntensityPredictor(2001)
    assert wide.reduce.out_features == 1024 and wide(torch.randn(2, 2001)).shape == (2,)


# --- reference mode -------------------------------------------------------------------------


def reference_by_formula(module, states, labels, alpha, threshold, num_mix):
    """SPEC section 4 on 2-D states, written out step by step with the reference's draw order."""
    batch = labels.shape[0]
    units = [s / s.norm(dim=1, keepdim=True) for s in states]
    sim = sum(u @ u.T for u in units) / 3
    off = [sim[i, j].item() for i in range(batch) for j in range(batch) if i != j]
    low, high = min(off), max(off)
    norm = [[0.0 if i == j else (sim[i, j].item() - low) / (high - low) for j in range(batch)] for i in range(batch)]
    pairs = [(i, j) for i in range(batch) for j in range(batch) if i != j and norm[i][j] > threshold]
    if len(pairs) < num_mix:
        upper = sorted(((norm[i][j], i, j) for i in range(batch) for j in range(i + 1, batch)), key=lambda t: -t[0])
        pairs = [(i, j) for _, i, j in upper[: 2 * num_mix]]
    chosen = [pairs[k] for k in torch.randperm(len(pairs))[:num_mix].tolist()]
    base = torch.distributions.Beta(torch.tensor(alpha), torch.tensor(alpha)).sample((len(chosen),))
    index1 = torch.tensor([i for i, _ in chosen])
    index2 = torch.tensor([j for _, j in chosen])
    intensities = torch.stack([p(s) for p, s in zip(module.predictors, states)], dim=1)
    lambdas = []
    for m in range(3):
        magnitude = intensities[:, m].abs()
        w = (magnitude - magnitude.min()) / (magnitude.max() - magnitude.min())
        lambdas.append((base + (w[index1] + 1e-8) / (w[index1] + w[index2] + 2e-8)) / 2)
    lam_y = sum(lambdas) / 3
    mixed = [lam[:, None] * s[index1] + (1 - lam[:, None]) * s[index2] for lam, s in zip(lambdas, states)]
    mixed_labels = lam_y * labels[index1] + (1 - lam_y) * labels[index2]
    sal = sal_by_formula(intensities.tolist(), labels.tolist(), 3.0)
    return index1, index2, mixed, mixed_labels, sal


@pytest.mark.parametrize("threshold", [0.4, 0.95])
def test_reference_mode_matches_the_direct_computation(threshold):
    config = ToyConfig(reference_mode=True, threshold=threshold, label_min=-1.0, label_max=1.0, num_mix=5)
    torch.manual_seed(3)
    module = build_augmentation(config, (7, 5, 9))
    states = (torch.randn(6, 7), torch.randn(6, 5), torch.randn(6, 9))
    labels = torch.tensor([0.9, -0.3, 0.1, 0.7, -0.8, 0.2])
    torch.manual_seed(11)
    result = module(states, labels, RandomDraws(None, torch.device("cpu")))
    torch.manual_seed(11)
    index1, index2, mixed, mixed_labels, sal = reference_by_formula(module, states, labels, 2.0, threshold, 5)
    assert result.index1.tolist() == index1.tolist() and result.index2.tolist() == index2.tolist()
    for got, want in zip(result.mixed_states, mixed):
        torch.testing.assert_close(got, want)
    torch.testing.assert_close(result.mixed_labels.squeeze(1), mixed_labels)
    assert result.extra_loss.item() == pytest.approx(sal, rel=1e-5)  # R = 3 although labels lie in [-1, 1]


# --- random draws ---------------------------------------------------------------------------


def test_generator_draws_follow_beta_and_gamma():
    draws = RandomDraws(torch.Generator().manual_seed(0), torch.device("cpu"))
    beta = draws.beta(2.0, 20000)
    assert beta.mean().item() == pytest.approx(0.5, abs=0.01)
    assert beta.var().item() == pytest.approx(1 / 20, abs=0.004)  # Beta(2, 2): 1 / (4 (2a + 1))
    gamma = draws.gamma(0.5, 20000)
    assert gamma.mean().item() == pytest.approx(0.5, abs=0.02) and gamma.min().item() >= 0
    torch.testing.assert_close(draws.dirichlet(1.0, 3, 6).sum(1), torch.ones(3))


# --- baselines ------------------------------------------------------------------------------


def test_vanilla_mixup_one_ratio_no_self_pairs():
    states = unit_states()
    result = VanillaMixup(alpha=2.0)(states, LABELS, RandomDraws(torch.Generator().manual_seed(1), "cpu"))
    assert torch.all(result.index1 != result.index2) and result.index1.tolist() == [0, 1, 2, 3]
    assert torch.all(result.label_lambda == result.label_lambda[0])
    lam = result.label_lambda[:, None]
    torch.testing.assert_close(result.mixed_states[0], lam * states[0][result.index1] + (1 - lam) * states[0][result.index2])


def test_multimix_convex_weights_over_the_batch():
    states = unit_states()
    result = MultiMix(alpha=1.0, num_mix=7)(states, LABELS, RandomDraws(torch.Generator().manual_seed(1), "cpu"))
    weights = result.label_weights
    assert weights.shape == (7, 4) and torch.all(weights >= 0)
    torch.testing.assert_close(result.mixed_states[1], weights @ states[1])
    torch.testing.assert_close(result.mixed_labels.squeeze(1), weights @ LABELS)
    predictions = torch.zeros(7, 1)
    expected = (weights * LABELS.abs()).sum(1).mean()
    torch.testing.assert_close(result.mixed_loss(predictions, LABELS, lambda p, y: (p - y).abs()), expected)


def test_powmix_per_modality_ratios_and_mean_label_ratio():
    states = unit_states()
    result = PowMix()(states, LABELS, ScriptedDraws(beta=torch.tensor([[0.1, 0.2, 0.3, 0.4], [0.5, 0.6, 0.7, 0.8],
                                                                           [0.9, 0.1, 0.2, 0.3]])))
    torch.testing.assert_close(result.label_lambda, torch.tensor([0.5, 0.3, 0.4, 0.5]))
    expected_a = 0.5 * states[1][0] + 0.5 * states[1][result.index2[0]]
    torch.testing.assert_close(result.mixed_states[1][0], expected_a)


def test_advmixup_step_size_is_epsilon_times_rms():
    module = AdvMixup(epsilon=0.1)
    state = torch.tensor([[3.0, 4.0], [1.0, 1.0]])
    gradient = torch.tensor([[1.0, 0.0], [0.0, -2.0]])
    moved = module.perturb((state,) * 3, (gradient,) * 3)[0]
    rms = torch.tensor([(12.5) ** 0.5, 1.0])
    expected_step = torch.tensor([[2 ** 0.5, 0.0], [0.0, -(2 ** 0.5)]]) * 0.1 * rms[:, None]
    torch.testing.assert_close(moved - state, expected_step)


# --- inside the model -----------------------------------------------------------------------


@pytest.mark.parametrize("augmentation", AUGMENTATIONS)
def test_every_augmentation_trains_and_eval_never_mixes(augmentation):
    model = toy_model(augmentation=augmentation)
    batch = toy_batch()
    model.train()
    output = model(**batch, mix_seed=torch.tensor(5))
    assert torch.isfinite(output.loss) and output.logits.shape == (5, 1)
    torch.testing.assert_close(output.loss, sum(output.loss_parts.values()))
    assert ("mixed" in output.loss_parts) == (augmentation != "none")
    assert ("sal" in output.loss_parts) == (augmentation == "msmix")
    assert (output.intensities is not None) == (augmentation == "msmix")
    output.loss.backward()
    again = model(**batch, mix_seed=torch.tensor(5))
    torch.testing.assert_close(again.loss, output.loss)
    model.eval()
    first, second = model(**batch), model(**batch)
    assert set(first.loss_parts) == {"task"}
    torch.testing.assert_close(first.logits, second.logits)
    direct = model.fuse(*model.encode(batch["text_features"], batch["audio_features"], batch["vision_features"],
                                      *(torch.ones(5, n, dtype=torch.bool) for n in (4, 3, 2))))[0]
    torch.testing.assert_close(first.logits, direct)


def test_gradients_reach_the_intensity_predictors_through_the_ratios_and_sal():
    for sal_weight in (500.0, 0.0):
        model = toy_model(sal_weight=sal_weight)
        model.train()
        model(**toy_batch(), mix_seed=torch.tensor(1)).loss.backward()
        for predictor in model.augmentation.predictors:
            assert predictor.head.weight.grad is not None and predictor.head.weight.grad.abs().sum() > 0


def test_mix_seed_makes_mixing_reproducible():
    model = toy_model(augmentation="msmix")
    model.train()
    losses = [model(**toy_batch(), mix_seed=torch.tensor(seed)).loss_parts["mixed"].item() for seed in (7, 7, 8)]
    assert losses[0] == losses[1] != losses[2]


def test_polarity_aware_batch_without_same_sign_pairs_has_zero_mixed_loss():
    model = toy_model(polarity_aware=True)
    model.train()
    batch = {**toy_batch(2), "labels": torch.tensor([1.0, -1.0])}
    output = model(**batch, mix_seed=torch.tensor(0))
    assert output.loss_parts["mixed"].item() == 0.0 and torch.isfinite(output.loss)
    output.loss.backward()


def test_one_sample_batch_skips_mixing():
    model = toy_model()
    model.train()
    output = model(**toy_batch(1))
    assert set(output.loss_parts) == {"task"} and output.intensities.shape == (1, 3)
    output.loss.backward()


def test_identical_features_mix_to_themselves():
    model = toy_model(num_mix=4)
    model.train()
    batch = toy_batch(4)
    for key in ("text_features", "audio_features", "vision_features"):
        batch[key] = batch[key][:1].expand_as(batch[key]).clone()
    output = model(**batch, mix_seed=torch.tensor(0))
    assert torch.isfinite(output.loss)
    states = (output.text_state, output.audio_state, output.vision_state)
    result = model.augmentation(states, batch["labels"], RandomDraws(torch.Generator().manual_seed(0), "cpu"))
    assert torch.all(result.index1 != result.index2) and result.index1.numel() == 4
    for original, mixed in zip(states, result.mixed_states):
        torch.testing.assert_close(mixed, original[:1].expand_as(mixed))


def test_predict_intensities_matches_forward_and_bad_input_fails_clearly():
    model = toy_model()
    model.eval()
    batch = toy_batch()
    torch.testing.assert_close(model.predict_intensities(batch["text_features"], batch["audio_features"],
                                                         batch["vision_features"]), model(**batch).intensities)
    with pytest.raises(ValueError, match="audio_features must be"):
        model(batch["text_features"], batch["audio_features"][..., :3], batch["vision_features"])
    with pytest.raises(ValueError, match="labels must hold one value"):
        model(**{**batch, "labels": torch.zeros(3)})
    with pytest.raises(ValueError, match="intensities need augmentation='msmix'"):
        toy_model(augmentation="mixup").predict_intensities(batch["text_features"], batch["audio_features"],
                                                            batch["vision_features"])
